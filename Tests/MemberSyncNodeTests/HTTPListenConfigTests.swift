import Foundation
@testable import MemberSyncConfig
import MemberSyncNode
import XCTest

/// `http_listen`: the web page's address, on loopback by default, "off" to serve none; what
/// `membersync init --http-listen` writes reads back the same.
final class HTTPListenConfigTests: XCTestCase {
    func load(_ text: String) throws -> NodeConfig {
        let dir = NSTemporaryDirectory() + "httplisten-\(UUID().uuidString.prefix(8))"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let path = dir + "/membersync.toml"
        try text.write(toFile: path, atomically: true, encoding: .utf8)
        return try NodeConfig.load(path: path)
    }

    let base = "node_id = \"asker\"\nlisten = \"tcp://127.0.0.1:7400\"\ninsecure = true\n"

    func testDefaultIsLoopbackPort7480AndNotExplicit() throws {
        let c = try load(base)
        XCTAssertEqual(c.httpListen, ListenAddress(host: "127.0.0.1", port: 7480))
        XCTAssertFalse(c.httpListenExplicit, "a default that is taken is given up, not fatal")
    }

    func testAnAddressOrOff() throws {
        let c = try load(base + "http_listen = \"0.0.0.0:8080\"\n")
        XCTAssertEqual(c.httpListen, ListenAddress(host: "0.0.0.0", port: 8080))
        XCTAssertTrue(c.httpListenExplicit)
        let off = try load(base + "http_listen = \"off\"\n")
        XCTAssertNil(off.httpListen)
        XCTAssertTrue(off.httpListenExplicit)
    }

    func testABadAddressNamesTheKey() throws {
        for bad in ["\"localhost:80\"", "\"127.0.0.1\"", "\"127.0.0.1:99999\"", "7480"] {
            XCTAssertThrowsError(try load(base + "http_listen = \(bad)\n"), bad) { error in
                XCTAssertTrue("\(error)".contains("http_listen"), "\(bad): \(error)")
            }
        }
    }

    func testTheWrittenConfigReadsBackTheSame() throws {
        var c = NodeConfig(nodeID: "asker", organisation: "asker", role: .member, dataDir: "/tmp", listen: "tcp://127.0.0.1:7400")
        c.insecure = true
        XCTAssertTrue(c.tomlText().contains("# http_listen = \"127.0.0.1:7480\""), "the template shows the default, commented")
        XCTAssertEqual(try load(c.tomlText()).httpListen, NodeConfig.defaultHTTPListen)
        XCTAssertFalse(try load(c.tomlText()).httpListenExplicit)
        c.httpListen = ListenAddress(host: "127.0.0.1", port: 17480)
        c.httpListenExplicit = true
        XCTAssertEqual(try load(c.tomlText()).httpListen, ListenAddress(host: "127.0.0.1", port: 17480))
        c.httpListen = nil
        let off = try load(c.tomlText())
        XCTAssertNil(off.httpListen)
        XCTAssertTrue(off.httpListenExplicit)
    }
}
