import Foundation
import Logging
import MemberSyncControl
@testable import MemberSyncConfig
import MemberSyncHarness
import MemberSyncNode
import XCTest
@testable import MemberSyncWeb

#if canImport(Glibc)
import Glibc
#endif

/// The web page served over real HTTP by `WebServer` beside a running node: login, pages,
/// live events when the node changes, and a fast stop even with a page listening.
final class WebServerTests: XCTestCase {
    func testServesPagesAndPushesLiveChangesAndStopsFast() throws {
        let node = try RunningNode()
        defer { node.stop() }
        let server = WebServer(address: ListenAddress(host: "127.0.0.1", port: 0), dataDir: node.dir,
                               logger: Logger(label: "web-test"), identity: node.identity)
        let bound = try server.start()
        XCTAssertNotEqual(bound.port, 0, "the real port of an ephemeral bind")
        let http = RawHTTP(port: bound.port)
        let (token, base) = try WebLoginFile.read(dataDir: node.dir)
        XCTAssertEqual(base, "http://127.0.0.1:\(bound.port)", "the login link names the bound port")

        XCTAssertTrue(http.request("GET", "/health").hasPrefix("HTTP/1.1 200"), "health needs no session")
        let login = http.request("GET", "/login?token=\(token)")
        XCTAssertTrue(login.hasPrefix("HTTP/1.1 303"), login)
        let cookieLine = try XCTUnwrap(login.components(separatedBy: "\r\n").first { $0.lowercased().hasPrefix("set-cookie:") })
        let cookie = String(cookieLine.dropFirst("set-cookie: ".count).split(separator: ";")[0])
        let home = http.request("GET", "/", headers: ["Cookie": cookie])
        XCTAssertTrue(home.hasPrefix("HTTP/1.1 200"), home)
        XCTAssertTrue(home.lowercased().contains("content-security-policy: default-src 'none'"), "security headers on the wire")
        let big = http.request("POST", "/r/organisations/asker", headers: ["Cookie": cookie, "Content-Type": "application/x-www-form-urlencoded"],
                               body: String(repeating: "a", count: 300 * 1024))
        XCTAssertTrue(big.hasPrefix("HTTP/1.1 413"), "an oversized body is refused: \(big.prefix(80))")

        // A page listening for live events hears the node change.
        let events = try XCTUnwrap(http.open("GET /events HTTP/1.1\r\nHost: 127.0.0.1:\(bound.port)\r\nCookie: \(cookie)\r\nAccept: text/event-stream\r\n\r\n"))
        defer { close(events) }
        let opening = http.read(events, timeout: 5) { $0.contains("event: status") }
        XCTAssertTrue(opening.text.contains("text/event-stream"), opening.text)
        XCTAssertTrue(opening.text.contains("event: status"), "the current status at once: \(opening.text)")
        XCTAssertTrue(opening.text.contains("\"pending_text\""), opening.text)
        try node.call(Control.SetFields(key: "organisations/asker", changes: ["name=Asker kommune"]))
        let change = http.read(events, timeout: 5) { $0.contains("event: change") }
        XCTAssertTrue(change.text.contains("event: change"), "an edit reaches the open page within a second or so: \(change.text)")

        // Stopping ends the open stream and returns quickly.
        let started = Date()
        server.stop()
        XCTAssertLessThan(Date().timeIntervalSince(started), 1.5, "the daemon's stop stays fast")
        let end = http.read(events, timeout: 3)
        XCTAssertTrue(end.closed, "the event stream was closed by the stop")
        XCTAssertNil(http.open("GET /health HTTP/1.1\r\nHost: x\r\n\r\n").flatMap { fd -> Int32? in
            defer { close(fd) }
            return http.read(fd, timeout: 1).text.isEmpty ? nil : fd
        }, "nothing answers after the stop")
    }

    func testAnAddressInUseIsReported() throws {
        let node = try RunningNode()
        defer { node.stop() }
        let first = WebServer(address: ListenAddress(host: "127.0.0.1", port: 0), dataDir: node.dir, logger: Logger(label: "a"), identity: node.identity)
        let bound = try first.start()
        defer { first.stop() }
        let second = WebServer(address: bound, dataDir: node.dir, logger: Logger(label: "b"), identity: node.identity)
        XCTAssertThrowsError(try second.start()) { error in
            XCTAssertTrue("\(error)".contains("cannot listen on 127.0.0.1:\(bound.port)"), "\(error)")
        }
    }
}
