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

    func permissions(_ n: Node, _ key: String, changes: [String]? = nil) throws -> PermissionsResult {
        let p = try n.handle(Control.Permissions(key: key, changes: changes))
        XCTAssertEqual(p.key, key, "the answer is about the record asked about")
        return p
    }

    func field(_ p: PermissionsResult, _ name: String) -> PermissionsResult.Answer? { p.fields[name] }

    /// Serves a request given as JSON as the control socket does: read into its command type
    /// (which refuses a malformed one), then handled.
    func serve(_ n: Node, _ request: [String: JSONValue]) throws {
        _ = try n.handle(ControlRequest(object: request).command)
    }

    func testPermissionsSayWhatSetWouldRefuseWithTheSameReason() throws {
        let n = try node()
        let before = n.engine.replica.version
        // Another office's record: every field read-only, with the rule's reason.
        let other = try permissions(n, "organisations/baerum")
        XCTAssertEqual(other.rules, "enforced")
        XCTAssertEqual(other.edit.writable, false)
        let reason = try XCTUnwrap(other.edit.reason)
        XCTAssertTrue(reason.contains("may write only its own organisation record organisations/asker"), reason)
        XCTAssertEqual(field(other, "name")?.writable, false)
        XCTAssertEqual(field(other, "name")?.reason, reason, "each field carries the reason")
        XCTAssertEqual(field(other, "topics")?.writable, false, "set fields too")
        XCTAssertThrowsError(try n.handle(Control.SetFields(key: "organisations/baerum", changes: ["name=X"]))) { error in
            XCTAssertEqual("\(error)", reason, "set refuses with exactly that sentence")
        }
        // Its own organisation: everything writable.
        let own = try permissions(n, "organisations/asker")
        for name in ["name", "kind", "population", "joined", "topics", "networks"] {
            XCTAssertEqual(field(own, name)?.writable, true, name)
            XCTAssertNil(field(own, name)?.reason, name)
        }
        XCTAssertEqual(field(own, "population")?.type, "integer")
        // Nothing was written or counted by asking.
        XCTAssertEqual(n.engine.replica.version, before)
        XCTAssertNil(n.engine.replica.record(RecordKey(collection: "organisations", id: "asker")))
        XCTAssertEqual(n.engine.counters.localWrites, 0)
    }

    func testPermissionsOfANewContactDependOnTheOrganisationItNames() throws {
        let n = try node()
        let bare = try permissions(n, "contacts/kari")
        XCTAssertEqual(field(bare, "name")?.writable, false)
        XCTAssertTrue((field(bare, "name")?.reason ?? "").contains("set organisation=asker"))
        let mine = try permissions(n, "contacts/kari", changes: ["organisation=asker"])
        XCTAssertEqual(mine.edit.writable, true)
        XCTAssertEqual(field(mine, "email")?.writable, true)
        let theirs = try permissions(n, "contacts/kari", changes: ["organisation=baerum"])
        XCTAssertEqual(theirs.edit.writable, false)
        // Once the contact exists as asker's, its fields are writable without naming it again.
        _ = try n.handle(Control.SetFields(key: "contacts/kari", changes: ["name=Kari", "organisation=asker"]))
        let existing = try permissions(n, "contacts/kari")
        XCTAssertEqual(field(existing, "role")?.writable, true)
        XCTAssertEqual(existing.delete?.writable, true)
        XCTAssertEqual(existing.exists, true)
    }

    func testOnlyTheHubWritesTheRosterAndTheHubWritesEverything() throws {
        let member = try node()
        let roster = try permissions(member, "nodes/baerum")
        XCTAssertTrue((field(roster, "revoked")?.reason ?? "").contains("only the hub operator writes nodes"))
        let writer = roster.writer
        XCTAssertEqual(writer.hubOperator, false)
        XCTAssertEqual(writer.organisation, "asker")
    }

    func testTheHubMayWriteEverything() throws {
        let hub = try node(role: .hub)
        for key in ["nodes/baerum", "organisations/baerum", "offices/brussels"] {
            let p = try permissions(hub, key)
            XCTAssertEqual(p.edit.writable, true, key)
            XCTAssertTrue(p.fields.values.allSatisfy(\.writable), key)
        }
    }

    func testPermissionsRefuseBadRequestsWithReasons() throws {
        let n = try node()
        XCTAssertThrowsError(try serve(n, ["command": "permissions"])) { XCTAssertTrue("\($0)".contains("missing 'key'")) }
        XCTAssertThrowsError(try n.handle(Control.Permissions(key: "planets/mars"))) { XCTAssertTrue("\($0)".contains("unknown collection")) }
        XCTAssertThrowsError(try serve(n, ["command": "permissions", "key": "contacts/kari", "changes": "name=x"])) {
            XCTAssertTrue("\($0)".contains("'changes' must be a list"))
        }
        XCTAssertThrowsError(try n.handle(Control.Permissions(key: "contacts/kari", changes: ["planet=mars"]))) {
            XCTAssertTrue("\($0)".contains("unknown field"), "\($0)")
        }
    }

    func testWithSecurityOffEverythingIsWritable() throws {
        let n = try node(insecure: true)
        let p = try permissions(n, "organisations/baerum")
        XCTAssertEqual(p.rules, "off (insecure)")
        XCTAssertEqual(field(p, "name")?.writable, true)
    }

    func testMetricsCarryTheExpositionAndTheHealthVerdict() throws {
        let n = try node(role: .hub)
        let m = try n.handle(Control.Metrics())
        let text = m.text
        XCTAssertFalse(text.isEmpty)
        XCTAssertTrue(text.contains("membersync_build_info{"), text)
        XCTAssertTrue(text.contains("membersync_healthy 1"), text)
        XCTAssertEqual(m.health, "healthy")
        XCTAssertEqual(m.reasons, [])
        XCTAssertEqual(m.contentType, PrometheusText.contentType)
    }

    func testLagIsEmptyWithoutNodesThatSaidHello() throws {
        let n = try node(role: .hub)
        XCTAssertEqual(try n.handle(Control.Lag()).count, 0)
    }

    func testLagCountsOpsAndSecondsBehindPerNodeThatSaidHello() throws {
        let n = try node(role: .hub, insecure: true)
        _ = try n.handle(Control.SetFields(key: "contacts/kari", changes: ["name=Kari"]))
        _ = try n.handle(Control.SetFields(key: "contacts/ola", changes: ["name=Ola"]))
        usleep(300_000)
        let hello = Hello(nodeID: "baerum", replica: ReplicaID(node: "baerum", epoch: 7), role: "member", organisation: "baerum",
                          softwareVersion: "0.1.0", version: VersionVector())
        _ = n.engine.onRequest(from: Array("baerum".utf8), .hello(hello), now: wallClockMilliseconds())
        let rows = try n.handle(Control.Lag())
        XCTAssertEqual(rows.count, 1)
        XCTAssertEqual(rows.first?.nodeID, "baerum")
        XCTAssertEqual(rows.first?.opsBehind, 2)
        XCTAssertLessThan(rows.first?.lastSeenSeconds ?? .infinity, 30, "it said hello just now")
        let lag = try XCTUnwrap(rows.first?.lagSeconds)
        XCTAssertGreaterThanOrEqual(lag, 0.25, "the oldest op baerum lacks was written 0.3 s ago")
        XCTAssertLessThan(lag, 30)
    }
}
