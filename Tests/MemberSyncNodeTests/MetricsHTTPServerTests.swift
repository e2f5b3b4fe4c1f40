import Foundation
@testable import MemberSyncNode
import XCTest
@testable import MemberSyncConfig
import ZeroMQ

#if canImport(Glibc)
import Glibc
#endif

/// The metrics listener answers what it should and survives what it should not get. The test
/// thread plays the reactor (polling the server like `Node.run` does); clients run on other
/// threads with plain blocking sockets.
final class MetricsHTTPServerTests: XCTestCase {
    var server: MetricsHTTPServer!

    override func setUpWithError() throws {
        server = try MetricsHTTPServer(address: ListenAddress(host: "127.0.0.1", port: 0))
    }

    override func tearDown() {
        server?.close()
    }

    func respond(_ r: MetricsHTTPServer.Request) -> MetricsHTTPServer.Response {
        switch r.path {
        case "/metrics": return .init(status: 200, contentType: PrometheusText.contentType, body: "membersync_records 3\n")
        case "/health": return .init(status: 503, body: "degraded: no hub reachable\n")
        default: return .init(status: 404, body: "not found\n")
        }
    }

    /// Polls the server like the reactor does until `done` or the deadline.
    func pump(until done: () -> Bool, seconds: Double = 5) {
        let deadline = Date().addingTimeInterval(seconds)
        while !done() && Date() < deadline {
            let set = server.pollSet(now: wallClockMilliseconds())
            var poller = Poller()
            for item in set { poller.add(.fileDescriptor(item.fd), events: item.writable ? .writable : .readable) }
            guard let ready = try? poller.poll(timeoutMilliseconds: 10) else { continue }
            for i in ready { server.handle(fd: set[i].fd, now: wallClockMilliseconds(), respond: respond) }
            server.expire(now: wallClockMilliseconds())
        }
    }

    /// Sends `request` (then half-closes if asked) and returns everything the server sent.
    func exchange(_ request: [UInt8], halfClose: Bool = false) -> String {
        let port = server.address.port
        let box = ResultBox()
        Thread.detachNewThread {
            let fd = connectTo(port: port)
            defer { close(fd) }
            _ = request.withUnsafeBytes { send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
            if halfClose { shutdown(fd, Int32(SHUT_WR)) }
            box.set(readAll(fd))
        }
        pump(until: { box.value != nil })
        return box.value ?? "<no answer>"
    }

    func get(_ path: String, method: String = "GET") -> String {
        exchange(Array("\(method) \(path) HTTP/1.1\r\nHost: localhost\r\nUser-Agent: test\r\n\r\n".utf8))
    }

    func testMetricsAndHealthAnswer() {
        let metrics = get("/metrics")
        XCTAssertTrue(metrics.hasPrefix("HTTP/1.1 200 OK\r\n"), metrics)
        XCTAssertTrue(metrics.contains("Content-Type: text/plain; version=0.0.4"), metrics)
        XCTAssertTrue(metrics.contains("Content-Length: 21\r\n"), metrics)
        XCTAssertTrue(metrics.hasSuffix("\r\n\r\nmembersync_records 3\n"), metrics)
        XCTAssertTrue(get("/metrics?name=x").hasPrefix("HTTP/1.1 200"), "query strings are ignored")
        XCTAssertTrue(get("/health").hasPrefix("HTTP/1.1 503 Service Unavailable"))
        let head = get("/metrics", method: "HEAD")
        XCTAssertTrue(head.hasPrefix("HTTP/1.1 200") && head.contains("Content-Length: 21") && head.hasSuffix("\r\n\r\n"), head)
        XCTAssertEqual(server.responses[200], 3)
    }

    func testUnknownPathsAndMethods() {
        XCTAssertTrue(get("/").hasPrefix("HTTP/1.1 404"))
        XCTAssertTrue(get("/metrics/../etc/passwd").hasPrefix("HTTP/1.1 404"))
        let post = get("/metrics", method: "POST")
        XCTAssertTrue(post.hasPrefix("HTTP/1.1 405") && post.contains("Allow: GET, HEAD"), post)
    }

    func testGarbageGetsBadRequestAndTheServerGoesOn() {
        for junk in ["\r\n\r\n", "GET\r\n\r\n", "GET /metrics\r\n\r\n", "GET metrics HTTP/1.1\r\n\r\n", "get /metrics HTTP/1.1\r\n\r\n",
                     "GET /metrics SPDY/3\r\n\r\n", "\u{0}\u{1}\u{2}\n\n"] {
            XCTAssertTrue(exchange(Array(junk.utf8)).hasPrefix("HTTP/1.1 400"), junk.debugDescription)
        }
        var binary = (0..<3000).map { _ in UInt8.random(in: 0...255) }
        binary += Array("\r\n\r\n".utf8)
        XCTAssertTrue(exchange(binary).hasPrefix("HTTP/1.1 4"))
        XCTAssertTrue(get("/metrics").hasPrefix("HTTP/1.1 200"), "still serving")
    }

    func testOversizedRequestIsRefused() {
        let huge = Array("GET /metrics HTTP/1.1\r\nX-Filler: \(String(repeating: "a", count: 20_000))\r\n\r\n".utf8)
        XCTAssertTrue(exchange(huge).hasPrefix("HTTP/1.1 431"))
        XCTAssertEqual(server.connectionCount, 0)
    }

    func testClientsThatLeaveEarlyOrStallCostNothing() {
        // Closes before sending a full request.
        XCTAssertEqual(exchange(Array("GET /met".utf8), halfClose: true), "")
        XCTAssertEqual(server.connectionCount, 0)
        // Connects and says nothing: dropped after the timeout.
        let fd = connectTo(port: server.address.port)
        defer { close(fd) }
        pump(until: { self.server.connectionCount == 1 }, seconds: 2)
        XCTAssertEqual(server.connectionCount, 1)
        server.expire(now: wallClockMilliseconds() + MetricsHTTPServer.connectionTimeoutMilliseconds + 1)
        XCTAssertEqual(server.connectionCount, 0)
        XCTAssertTrue(get("/metrics").hasPrefix("HTTP/1.1 200"))
    }

    func testConnectionLimitStopsAccepting() {
        var fds: [Int32] = []
        defer { fds.forEach { close($0) } }
        // Accept as we go: connect() itself would block once the kernel's accept queue is full.
        for _ in 0..<(MetricsHTTPServer.maxConnections + 8) {
            fds.append(connectTo(port: server.address.port))
            pump(until: { false }, seconds: 0.005)
        }
        pump(until: { self.server.connectionCount >= MetricsHTTPServer.maxConnections }, seconds: 3)
        pump(until: { false }, seconds: 0.2)
        XCTAssertEqual(server.connectionCount, MetricsHTTPServer.maxConnections)
        XCTAssertFalse(server.pollSet(now: wallClockMilliseconds()).contains { $0.fd == server.listenFD },
                       "a full server does not poll its listener (it would spin)")
        server.expire(now: wallClockMilliseconds() + MetricsHTTPServer.connectionTimeoutMilliseconds + 1)
        XCTAssertTrue(get("/metrics").hasPrefix("HTTP/1.1 200"), "serves again once stalled clients are gone")
    }

    func testLargeAnswerIsWrittenInPieces() {
        let big = String(repeating: "membersync_padding 1\n", count: 800_000) // 16 MB: more than loopback buffers hold
        let port = server.address.port
        let box = ResultBox()
        Thread.detachNewThread {
            let fd = connectTo(port: port)
            defer { close(fd) }
            _ = Array("GET /metrics HTTP/1.1\r\n\r\n".utf8).withUnsafeBytes { send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
            usleep(200_000) // let the server fill the socket buffer and wait for writability
            box.set(readAll(fd))
        }
        let deadline = Date().addingTimeInterval(10)
        var waitedToWrite = false
        while box.value == nil && Date() < deadline {
            let set = server.pollSet(now: wallClockMilliseconds())
            if set.contains(where: \.writable) { waitedToWrite = true }
            var poller = Poller()
            for item in set { poller.add(.fileDescriptor(item.fd), events: item.writable ? .writable : .readable) }
            for i in (try? poller.poll(timeoutMilliseconds: 10)) ?? [] {
                server.handle(fd: set[i].fd, now: wallClockMilliseconds()) { _ in .init(status: 200, body: big) }
            }
        }
        XCTAssertEqual(box.value?.hasSuffix(big), true)
        XCTAssertTrue(waitedToWrite, "the answer did not fit at once, so the server polled for writability")
    }
}

fileprivate final class ResultBox: @unchecked Sendable {
    private let lock = NSLock()
    private var v: String?
    var value: String? { lock.lock(); defer { lock.unlock() }; return v }
    func set(_ s: String) { lock.lock(); v = s; lock.unlock() }
}

fileprivate func connectTo(port: Int) -> Int32 {
    let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
    var timeout = timeval(tv_sec: 10, tv_usec: 0)
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
    var addr = sockaddr_in()
    addr.sin_family = sa_family_t(AF_INET)
    addr.sin_port = in_port_t(UInt16(port).bigEndian)
    addr.sin_addr.s_addr = inet_addr("127.0.0.1")
    _ = withUnsafePointer(to: &addr) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) } }
    return fd
}

fileprivate func readAll(_ fd: Int32) -> String {
    var out: [UInt8] = []
    var buf = [UInt8](repeating: 0, count: 65536)
    while true {
        let n = buf.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
        if n <= 0 { break }
        out += buf[0..<n]
    }
    return String(decoding: out, as: UTF8.self)
}
