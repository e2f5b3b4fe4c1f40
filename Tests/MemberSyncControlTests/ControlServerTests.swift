import Foundation
import Logging
@testable import MemberSyncConfig
import MemberSyncControl
import MemberSyncDirectory
import MemberSyncHarness
import MemberSyncServices
import XCTest
@testable import MemberSyncNode

/// The node's control server and the one client over a real control socket (a temp data
/// directory, an insecure node on a free loopback port, its reactor on a thread of its own).
final class ControlServerTests: XCTestCase {
    var dir: String!

    override func setUpWithError() throws {
        dir = NSTemporaryDirectory() + "controlserver-\(UUID().uuidString.prefix(8))"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
    }

    override func tearDown() { try? FileManager.default.removeItem(atPath: dir) }

    func config() -> NodeConfig {
        var c = NodeConfig(nodeID: "brussels", organisation: "oslo-region-european-office", role: .hub, dataDir: dir,
                           listen: "tcp://127.0.0.1:\(LoopbackPorts.freePair())")
        c.insecure = true
        return c
    }

    func node() throws -> Node { try Node(config: config(), logger: Logger(label: "test")) }

    func testMalformedFramesGetTheDocumentedErrorReply() throws {
        let n = try node()
        for (frame, message) in [("{", "request is not a JSON object"), (#"{"command":"fly"}"#, "unknown command 'fly'"),
                                 (#"{"key":"contacts/a"}"#, "missing 'command'"), (#"{"command":"get"}"#, "missing 'key' (COLLECTION/ID)"),
                                 (#"{"command":"get","key":"planets/mars"}"#, nil)] {
            let reply = JSONValue(parsing: n.serveControl(Array(frame.utf8)))
            XCTAssertEqual(reply?["ok"], .bool(false), frame)
            if let message { XCTAssertEqual(reply?["error"], .string(message), frame) } else { XCTAssertNotNil(reply?["error"]?.string, frame) }
            XCTAssertEqual(reply?.object?.count, 2, "only ok and error: \(frame)")
        }
        // The node still serves after them.
        let ok = JSONValue(parsing: n.serveControl(Control.Ping().requestBytes))
        XCTAssertEqual(ok, ["ok": true, "result": ["node_id": "brussels"]])
    }

    func testTheClientGetsTypedResultsAndErrorsOverTheSocket() throws {
        let c = config()
        let running = try InProcessNode { try Node(config: c, logger: Logger(label: "test")) }
        defer { running.stop() }
        let client = ControlClient(dataDir: dir, timeoutMilliseconds: 5000)
        XCTAssertEqual(try client.call(Control.Ping()).nodeID, "brussels")
        let w = try client.call(Control.SetFields(key: "contacts/kari", changes: ["name=Kari", "topics+=climate"]))
        XCTAssertEqual(w.key, "contacts/kari")
        let record = try client.call(Control.Get(key: "contacts/kari"))
        XCTAssertEqual(record.fields["name"], .value(.string("Kari")))
        XCTAssertEqual(record.fields["topics"], .members(["climate"]))
        XCTAssertEqual(try client.call(Control.List(collection: "contacts", where: ["topics=climate"])).map(\.key), ["contacts/kari"])
        XCTAssertEqual(try client.call(Control.Search(text: "kari")).first?.key, "contacts/kari")
        XCTAssertEqual(try client.call(Control.History(key: "contacts/kari")).ops.count, 1)
        XCTAssertEqual(try client.call(Control.StatusQuery()).mode, "hub")
        XCTAssertThrowsError(try client.call(Control.Get(key: "contacts/nobody"))) { error in
            XCTAssertEqual(error as? ControlClientError, .refused("no such record: contacts/nobody"))
        }
        XCTAssertEqual(try client.call(Control.VersionQuery()).records, 1, "version counts the record written")
    }
}
