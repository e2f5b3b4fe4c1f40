import Foundation
@testable import MemberSyncConfig
import MemberSyncNode
import XCTest

/// The shipped example configs load with the real loader, and config mistakes name the file
/// and the key.
final class DeployConfigTests: XCTestCase {
    static let repoRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent().path

    func testHubExampleLoads() throws {
        let c = try NodeConfig.load(path: Self.repoRoot + "/Deploy/config/hub.toml")
        XCTAssertEqual(c.role, .hub)
        XCTAssertEqual(c.nodeID, "brussels")
        XCTAssertEqual(c.dataDir, "/var/lib/membersync", "the systemd unit's StateDirectory")
        XCTAssertEqual(c.listen, "tcp://0.0.0.0:7400")
        XCTAssertTrue(c.hubEndpoints.isEmpty)
        XCTAssertEqual(c.metricsListen, ListenAddress(host: "127.0.0.1", port: 9464))
    }

    func testMemberExampleLoads() throws {
        let c = try NodeConfig.load(path: Self.repoRoot + "/Deploy/config/member.toml")
        XCTAssertEqual(c.role, .member)
        XCTAssertEqual(c.dataDir, "/var/lib/membersync")
        XCTAssertFalse(c.hubEndpoints.isEmpty, "a member needs a hub")
        XCTAssertFalse(c.peers.isEmpty, "the example shows fallback peers")
        XCTAssertEqual(c.peerEntries, [.node("baerum"), .node("lillestrom")], "named by id: no key copied by hand")
        XCTAssertTrue(c.peerKeys.isEmpty)
        XCTAssertEqual(c.linkTimeoutMilliseconds, 5000)
        XCTAssertNotNil(c.metricsListen)
    }

    func testMetricsListenIsOffByDefault() throws {
        let c = try load("node_id = \"asker\"\nlisten = \"tcp://127.0.0.1:7400\"\n")
        XCTAssertNil(c.metricsListen)
    }

    func testMetricsListenAcceptsNumericAddresses() throws {
        XCTAssertEqual(try ListenAddress(parsing: "127.0.0.1:9464"), ListenAddress(host: "127.0.0.1", port: 9464))
        XCTAssertEqual(try ListenAddress(parsing: "0.0.0.0:1"), ListenAddress(host: "0.0.0.0", port: 1))
        XCTAssertEqual(try ListenAddress(parsing: "[::1]:9464"), ListenAddress(host: "::1", port: 9464))
        XCTAssertEqual(ListenAddress(host: "::1", port: 9464).description, "[::1]:9464")
    }

    func testBadMetricsListenNamesFileAndKey() throws {
        for bad in ["\"nowhere\"", "\"127.0.0.1\"", "\"127.0.0.1:0\"", "\"127.0.0.1:70000\"", "\"localhost:9464\"",
                    "\"::1:9464\"", "\"[::1]9464\"", "9464"] {
            XCTAssertThrowsError(try load("node_id = \"asker\"\nlisten = \"tcp://127.0.0.1:7400\"\nmetrics_listen = \(bad)\n"), bad) { error in
                let text = "\(error)"
                XCTAssertTrue(text.contains("metrics_listen"), "\(bad): \(text)")
                XCTAssertTrue(text.contains("membersync.toml"), "\(bad): \(text)")
            }
        }
    }

    func testInitTemplateRoundTripsWithAndWithoutMetrics() throws {
        var c = NodeConfig(nodeID: "asker", organisation: "asker", role: .member, dataDir: "/tmp/asker",
                           listen: "tcp://127.0.0.1:7400", hubEndpoints: ["tcp://127.0.0.1:7500"])
        c.insecure = true  // the keys' round trip is ConfigTests' job
        XCTAssertTrue(c.tomlText().contains("# metrics_listen = \"127.0.0.1:9464\""), "the template shows the option, off")
        XCTAssertEqual(try load(c.tomlText()), c)
        c.metricsListen = ListenAddress(host: "::1", port: 9100)
        XCTAssertEqual(try load(c.tomlText()), c)
    }

    private func load(_ text: String) throws -> NodeConfig {
        let dir = NSTemporaryDirectory() + "msync-config-\(UUID().uuidString.prefix(8))"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let path = dir + "/" + NodeConfig.fileName
        try text.write(toFile: path, atomically: true, encoding: .utf8)
        return try NodeConfig.load(path: path)
    }
}
