@testable import MemberSyncConfig
import XCTest
@testable import MemberSyncNode

final class ConfigTests: XCTestCase {
    func write(_ text: String) throws -> String {
        let dir = NSTemporaryDirectory() + "cfg-\(UUID().uuidString.prefix(8))"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        let path = dir + "/membersync.toml"
        try text.write(toFile: path, atomically: true, encoding: .utf8)
        return path
    }

    func testInitTextLoadsBackToTheSameConfig() throws {
        let config = NodeConfig(nodeID: "asker", organisation: "asker", role: .member, dataDir: "/var/lib/membersync",
                                listen: "tcp://0.0.0.0:7410", hubEndpoints: ["tcp://hub.example:7400", "tcp://hub2.example:7400"],
                                peers: ["tcp://baerum.example:7410"], heartbeatMilliseconds: 500)
        var secure = config
        secure.hubKeys = ["rq:rM>}U?@Lns47E1%kR.o@n%FcmmsL/@{H8]yf7", "Yne@$w-vo<fVvi]a<NY6T1ed:M$fCG*[IaLV{hID"]
        secure.peerKeys = ["JTKVSB%%)wK0E.X)V>+}o?pNmC{O&4W4b!Ni{Lh6"]
        secure.hubSigningKeys = ["brussels": String(repeating: "ab", count: 32)]
        XCTAssertEqual(try NodeConfig.load(path: try write(secure.tomlText())), secure)
        XCTAssertThrowsError(try NodeConfig.load(path: try write(config.tomlText())), "no CURVE keys and not insecure") { error in
            XCTAssertTrue("\(error)".contains("insecure = true"), "\(error)")
        }
        var insecure = config
        insecure.insecure = true
        XCTAssertEqual(try NodeConfig.load(path: try write(insecure.tomlText())), insecure)
    }

    func testRelativeDataDirIsResolvedAgainstTheConfigFile() throws {
        let path = try write("node_id = \"hub\"\nrole = \"hub\"\nlisten = \"tcp://127.0.0.1:7400\"\ndata_dir = \"state\"\n")
        let c = try NodeConfig.load(path: path)
        XCTAssertEqual(c.dataDir, (path as NSString).deletingLastPathComponent + "/state")
        XCTAssertEqual(c.organisation, "hub")
        XCTAssertEqual(c.linkTimeoutMilliseconds, 3000)
    }

    func testBadConfigsNameTheProblem() throws {
        let cases: [(String, String)] = [
            ("listen = \"tcp://127.0.0.1:7400\"\n", "missing key 'node_id'"),
            ("node_id = \"Asker\"\nlisten = \"tcp://127.0.0.1:7400\"\n", "node_id"),
            ("node_id = \"a\"\nlisten = \"tcp://127.0.0.1\"\n", "numeric port"),
            ("node_id = \"a\"\nlisten = \"http://x:1\"\n", "tcp://HOST:PORT"),
            ("node_id = \"a\"\nrole = \"boss\"\nlisten = \"tcp://127.0.0.1:1\"\n", "role"),
            ("node_id = \"a\"\nlisten = \"tcp://127.0.0.1:1\"\ncolour = \"red\"\n", "unknown key 'colour'"),
            ("node_id = a\n", "line 1"),
            ("node_id = \"a\"\nnode_id = \"b\"\n", "given twice"),
            ("[server]\n", "tables"),
            ("node_id = \"a\"\nlisten = \"tcp://127.0.0.1:1\"\nheartbeat_ms = 5\n", "heartbeat_ms"),
        ]
        for (text, expected) in cases {
            XCTAssertThrowsError(try NodeConfig.load(path: try write(text)), text) { error in
                XCTAssertTrue("\(error)".contains(expected), "'\(error)' should mention \(expected)")
                XCTAssertTrue("\(error)".contains("membersync.toml"), "names the file")
            }
        }
    }

    /// A fallback peer named by node id needs no `peer_keys` entry (the roster has its key);
    /// the endpoint form keeps its key, and a name that is neither is refused with the reason.
    func testPeersByNodeIDTakeTheirKeyFromTheRosterAndBadNamesAreRefused() throws {
        let hubKey = "rq:rM>}U?@Lns47E1%kR.o@n%FcmmsL/@{H8]yf7", peerKey = "JTKVSB%%)wK0E.X)V>+}o?pNmC{O&4W4b!Ni{Lh6"
        let base = "node_id = \"asker\"\nlisten = \"tcp://127.0.0.1:7400\"\nhub_endpoints = [\"tcp://hub.example:7400\"]\nhub_keys = [\"\(hubKey)\"]\n"
        let mixed = try NodeConfig.load(path: try write(base + "peers = [\"baerum\", \"tcp://lillestrom.example:7400\"]\npeer_keys = [\"\(peerKey)\"]\n"))
        XCTAssertEqual(mixed.peerEntries, [.node("baerum"), .endpoint("tcp://lillestrom.example:7400")])
        XCTAssertNil(mixed.configuredPeerKey(0))
        XCTAssertEqual(mixed.configuredPeerKey(1), peerKey)
        XCTAssertEqual(try NodeConfig.load(path: try write(mixed.tomlText())), mixed, "init's text keeps peers by id")
        let cases: [(String, String)] = [
            ("peers = [\"Baerum\"]\n", "'Baerum' is neither an endpoint (tcp://HOST:PORT or ipc://PATH) nor a node id"),
            ("peers = [\"baerum.example:7400\"]\n", "neither an endpoint"),
            ("peers = [\"asker\"]\n", "'asker' is this node itself"),
            ("peers = [\"tcp://baerum.example\"]\npeer_keys = [\"\(peerKey)\"]\n", "numeric port"),
            ("peers = [\"baerum\"]\npeer_keys = [\"\(peerKey)\"]\n", "a peer named by its node id takes its key from the roster"),
        ]
        for (text, expected) in cases {
            XCTAssertThrowsError(try NodeConfig.load(path: try write(base + text)), text) { error in
                XCTAssertTrue("\(error)".contains(expected), "'\(error)' should mention \(expected)")
                XCTAssertTrue("\(error)".contains("membersync.toml"), "names the file")
            }
        }
    }

    /// The admit line carries where peers naming this node reach it; a wildcard listen address
    /// is not one, so the operator is shown where to put the office's address.
    func testTheAdmitLineNamesTheEndpointPeersConnectTo() {
        var c = NodeConfig(nodeID: "asker", organisation: "asker", role: .member, dataDir: "/d", listen: "tcp://0.0.0.0:7400")
        XCTAssertEqual(c.admitCommand(signingKey: "ab", curveKey: "K"),
                       "membersync hub admit asker --organisation asker --signing-key=ab '--curve-key=K' --endpoint tcp://THIS-OFFICE-HOST:7400")
        c.listen = "tcp://asker.example.org:7410"
        XCTAssertTrue(c.admitCommand(signingKey: "ab", curveKey: "K").hasSuffix("--endpoint tcp://asker.example.org:7410"))
    }

    func testPublisherEndpointConvention() throws {
        XCTAssertEqual(try Endpoint.publisher(for: "tcp://127.0.0.1:7400"), "tcp://127.0.0.1:7401")
        XCTAssertEqual(try Endpoint.publisher(for: "ipc:///run/ms/router"), "ipc:///run/ms/router.pub")
        XCTAssertThrowsError(try Endpoint.publisher(for: "tcp://127.0.0.1:65535"))
    }
}
