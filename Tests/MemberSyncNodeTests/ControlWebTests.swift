import Foundation
import Logging
@testable import MemberSyncConfig
import MemberSyncControl
@testable import MemberSyncDirectory
import MemberSyncHarness
import MemberSyncModel
import MemberSyncWire
import XCTest
@testable import MemberSyncNode

/// The control commands the web page asks: `permissions` answers what `set` would refuse and
/// why, without writing anything; `metrics` carries the metrics listener's text and verdict;
/// `lag` reports ops and seconds behind per node.
final class ControlWebTests: XCTestCase {
    var dir: String!

    override func setUpWithError() throws {
        dir = NSTemporaryDirectory() + "controlweb-\(UUID().uuidString.prefix(8))"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
    }

    override func tearDown() { try? FileManager.default.removeItem(atPath: dir) }

    /// A member (asker) or hub with security on: its own writes obey the write rules.
    func node(role: NodeRole = .member, insecure: Bool = false) throws -> Node {
        _ = try NodeKeys.ensureSigningKey(dataDir: dir)
        _ = try NodeKeys.ensureCurveKey(dataDir: dir)
        var c = NodeConfig(nodeID: role == .hub ? "brussels" : "asker", organisation: role == .hub ? "oslo-region-european-office" : "asker",
                           role: role, dataDir: dir, listen: "tcp://127.0.0.1:\(LoopbackPorts.freePair())")
        c.insecure = insecure
        return try Node(config: c, logger: Logger(label: "test"))
    }

    func permissions(_ n: Node, _ key: String, changes: [String]? = nil) throws -> JSONObject {
        var request: JSONObject = ["command": "permissions", "key": key]
        if let changes { request["changes"] = changes }
        return try XCTUnwrap(n.handleControl(request) as? JSONObject)
    }

    func field(_ p: JSONObject, _ name: String) -> JSONObject { (p["fields"] as? JSONObject)?[name] as? JSONObject ?? [:] }

    func testPermissionsSayWhatSetWouldRefuseWithTheSameReason() throws {
        let n = try node()
        let before = n.engine.replica.version
        // Another office's record: every field read-only, with the rule's reason.
        let other = try permissions(n, "organisations/baerum")
        XCTAssertEqual(other["rules"] as? String, "enforced")
        XCTAssertEqual((other["edit"] as? JSONObject)?["writable"] as? Bool, false)
        let reason = try XCTUnwrap((other["edit"] as? JSONObject)?["reason"] as? String)
        XCTAssertTrue(reason.contains("may write only its own organisation record organisations/asker"), reason)
        XCTAssertEqual(field(other, "name")["writable"] as? Bool, false)
        XCTAssertEqual(field(other, "name")["reason"] as? String, reason, "each field carries the reason")
        XCTAssertEqual(field(other, "topics")["writable"] as? Bool, false, "set fields too")
        XCTAssertThrowsError(try n.handleControl(["command": "set", "key": "organisations/baerum", "changes": ["name=X"]])) { error in
            XCTAssertEqual("\(error)", reason, "set refuses with exactly that sentence")
        }
        // Its own organisation: everything writable.
        let own = try permissions(n, "organisations/asker")
        for name in ["name", "kind", "population", "joined", "topics", "networks"] {
            XCTAssertEqual(field(own, name)["writable"] as? Bool, true, name)
            XCTAssertNil(field(own, name)["reason"], name)
        }
        XCTAssertEqual(field(own, "population")["type"] as? String, "integer")
        // Nothing was written or counted by asking.
        XCTAssertEqual(n.engine.replica.version, before)
        XCTAssertNil(n.engine.replica.record(RecordKey(collection: "organisations", id: "asker")))
        XCTAssertEqual(n.engine.counters.localWrites, 0)
    }

    func testPermissionsOfANewContactDependOnTheOrganisationItNames() throws {
        let n = try node()
        let bare = try permissions(n, "contacts/kari")
        XCTAssertEqual(field(bare, "name")["writable"] as? Bool, false)
        XCTAssertTrue((field(bare, "name")["reason"] as? String ?? "").contains("set organisation=asker"))
        let mine = try permissions(n, "contacts/kari", changes: ["organisation=asker"])
        XCTAssertEqual((mine["edit"] as? JSONObject)?["writable"] as? Bool, true)
        XCTAssertEqual(field(mine, "email")["writable"] as? Bool, true)
        let theirs = try permissions(n, "contacts/kari", changes: ["organisation=baerum"])
        XCTAssertEqual((theirs["edit"] as? JSONObject)?["writable"] as? Bool, false)
        // Once the contact exists as asker's, its fields are writable without naming it again.
        _ = try n.handleControl(["command": "set", "key": "contacts/kari", "changes": ["name=Kari", "organisation=asker"]])
        let existing = try permissions(n, "contacts/kari")
        XCTAssertEqual(field(existing, "role")["writable"] as? Bool, true)
        XCTAssertEqual((existing["delete"] as? JSONObject)?["writable"] as? Bool, true)
        XCTAssertEqual(existing["exists"] as? Bool, true)
    }

    func testOnlyTheHubWritesTheRosterAndTheHubWritesEverything() throws {
        let member = try node()
        let roster = try permissions(member, "nodes/baerum")
        XCTAssertTrue((field(roster, "revoked")["reason"] as? String ?? "").contains("only the hub operator writes nodes"))
        let writer = roster["writer"] as? JSONObject ?? [:]
        XCTAssertEqual(writer["hub_operator"] as? Bool, false)
        XCTAssertEqual(writer["organisation"] as? String, "asker")
    }

    func testTheHubMayWriteEverything() throws {
        let hub = try node(role: .hub)
        for key in ["nodes/baerum", "organisations/baerum", "offices/brussels"] {
            let p = try permissions(hub, key)
            XCTAssertEqual((p["edit"] as? JSONObject)?["writable"] as? Bool, true, key)
            XCTAssertTrue((p["fields"] as? JSONObject ?? [:]).values.allSatisfy { ($0 as? JSONObject)?["writable"] as? Bool == true }, key)
        }
    }

    func testPermissionsRefuseBadRequestsWithReasons() throws {
        let n = try node()
        XCTAssertThrowsError(try n.handleControl(["command": "permissions"])) { XCTAssertTrue("\($0)".contains("missing 'key'")) }
        XCTAssertThrowsError(try n.handleControl(["command": "permissions", "key": "planets/mars"])) { XCTAssertTrue("\($0)".contains("unknown collection")) }
        XCTAssertThrowsError(try n.handleControl(["command": "permissions", "key": "contacts/kari", "changes": "name=x"])) {
            XCTAssertTrue("\($0)".contains("'changes' must be a list"))
        }
        XCTAssertThrowsError(try n.handleControl(["command": "permissions", "key": "contacts/kari", "changes": ["planet=mars"]])) {
            XCTAssertTrue("\($0)".contains("unknown field"), "\($0)")
        }
    }

    func testWithSecurityOffEverythingIsWritable() throws {
        let n = try node(insecure: true)
        let p = try permissions(n, "organisations/baerum")
        XCTAssertEqual(p["rules"] as? String, "off (insecure)")
        XCTAssertEqual(field(p, "name")["writable"] as? Bool, true)
    }

    func testMetricsCarryTheExpositionAndTheHealthVerdict() throws {
        let n = try node(role: .hub)
        let m = try XCTUnwrap(n.handleControl(["command": "metrics"]) as? JSONObject)
        let text = try XCTUnwrap(m["text"] as? String)
        XCTAssertTrue(text.contains("membersync_build_info{"), text)
        XCTAssertTrue(text.contains("membersync_healthy 1"), text)
        XCTAssertEqual(m["health"] as? String, "healthy")
        XCTAssertEqual(m["reasons"] as? [String], [])
        XCTAssertEqual(m["content_type"] as? String, PrometheusText.contentType)
    }

    func testLagIsEmptyWithoutNodesThatSaidHello() throws {
        let n = try node(role: .hub)
        XCTAssertEqual((try n.handleControl(["command": "lag"]) as? [JSONObject])?.count, 0)
    }

    func testLagCountsOpsAndSecondsBehindPerNodeThatSaidHello() throws {
        let n = try node(role: .hub, insecure: true)
        _ = try n.handleControl(["command": "set", "key": "contacts/kari", "changes": ["name=Kari"]])
        _ = try n.handleControl(["command": "set", "key": "contacts/ola", "changes": ["name=Ola"]])
        usleep(300_000)
        let hello = Hello(nodeID: "baerum", replica: ReplicaID(node: "baerum", epoch: 7), role: "member", organisation: "baerum",
                          softwareVersion: "0.1.0", version: VersionVector())
        _ = n.engine.onRequest(from: Array("baerum".utf8), .hello(hello), now: wallClockMilliseconds())
        let rows = try XCTUnwrap(n.handleControl(["command": "lag"]) as? [JSONObject])
        XCTAssertEqual(rows.count, 1)
        XCTAssertEqual(rows.first?["node_id"] as? String, "baerum")
        XCTAssertEqual(rows.first?["ops_behind"] as? UInt64, 2)
        let lag = try XCTUnwrap(rows.first?["lag_seconds"] as? Double)
        XCTAssertGreaterThanOrEqual(lag, 0.25, "the oldest op baerum lacks was written 0.3 s ago")
        XCTAssertLessThan(lag, 30)
    }
}
