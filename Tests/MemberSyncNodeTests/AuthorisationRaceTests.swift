import MemberSyncHarness
import XCTest
import MemberSyncCrypto
import MemberSyncModel
import MemberSyncWire
@testable import MemberSyncEngine
@testable import MemberSyncNode

/// Deterministic authorisation (MSP 11.7): an edit racing the removal of its writer's right,
/// an op racing its origin's revocation, concurrent lead changes and a member lying about its
/// past all end with every node holding the same ops, refusing the same ones, and showing the
/// same state, whatever the order of arrival.
final class AuthorisationRaceTests: XCTestCase {
    let everyone = ["brussels", "asker", "baerum"]

    func key(_ s: String) -> RecordKey { try! RecordKey(parsing: s) }

    /// Hub + asker + baerum, secure, admitted, optionally fallback peers of each other.
    func federation(peers: Bool = false) throws -> SimulatedNetwork {
        var net = SimulatedNetwork()
        net.addNode("brussels", role: .hub, secure: true, organisation: "oslo-region-european-office")
        net.addNode("asker", role: .member, hubs: ["brussels"], peers: peers ? ["baerum"] : [], secure: true)
        net.addNode("baerum", role: .member, hubs: ["brussels"], peers: peers ? ["asker"] : [], secure: true)
        for m in ["asker", "baerum"] {
            try net.write("brussels", "nodes/\(m)", [
                .assign(field: "organisation", value: .string(m)), .assign(field: "role", value: .string("member")),
                .assign(field: "signing_key", value: .string(Hex.encode(net.keys[m]!.publicKey))),
            ])
        }
        net.run(milliseconds: 500)
        return net
    }

    func value(_ net: SimulatedNetwork, _ node: String, _ k: String, _ field: String) -> Value? {
        net.engines[node]!.replica.view(key(k))?.field(field)?.value
    }

    func partners(_ net: SimulatedNetwork, _ node: String, _ k: String) -> [String] {
        net.engines[node]!.replica.view(key(k))?.field("partners")?.members ?? []
    }

    /// Every node holds every op (versions equal), shows the same state, and has nothing
    /// pending or left to fetch.
    func assertSettled(_ net: SimulatedNetwork, _ nodes: [String], file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertEqual(net.digests(nodes).count, 1, "digests differ", file: file, line: line)
        XCTAssertEqual(Set(nodes.map { net.engines[$0]!.replica.version }).count, 1, "versions differ", file: file, line: line)
        XCTAssertEqual(Set(nodes.map { net.engines[$0]!.replica.withheld }).count, 1, "nodes refuse different ops", file: file, line: line)
        for n in nodes { XCTAssertEqual(net.engines[n]!.pendingCount, 0, "\(n) has ops pending", file: file, line: line) }
    }

    func rejections(_ net: SimulatedNetwork, _ node: String) -> UInt64 {
        net.engines[node]!.counters.opsRejected.values.reduce(0, +)
    }

    /// The hub removes asker from a project while asker, offline, edits it. Every node refuses
    /// the edit, asker included: its own replica takes it back; nothing is pushed again.
    func testAnEditRacingTheHubsRemovalOfItsWriterIsRefusedEverywhere() throws {
        var net = try federation()
        try net.write("brussels", "projects/catchmr", [.assign(field: "title", value: .string("CatchMR")), .assign(field: "status", value: .string("running")),
                                                       .assign(field: "lead", value: .string("baerum")), .add(field: "partners", element: "asker")])
        net.run(milliseconds: 300)
        net.down.insert("asker")
        let edit = try net.write("asker", "projects/catchmr", [.assign(field: "status", value: .string("closed")), .add(field: "topics", element: "mine")])
        XCTAssertEqual(value(net, "asker", "projects/catchmr", "status"), .string("closed"), "applied locally at once")
        try net.write("brussels", "projects/catchmr", [.remove(field: "partners", element: "asker")])
        net.run(milliseconds: 300)
        net.down.remove("asker")
        net.run(milliseconds: 1500)
        assertSettled(net, everyone)
        for n in everyone {
            XCTAssertEqual(value(net, n, "projects/catchmr", "status"), .string("running"), n)
            XCTAssertNil(net.engines[n]!.replica.view(key("projects/catchmr"))?.field("topics"), n)
            XCTAssertTrue(net.engines[n]!.replica.withheld.contains(edit.dot), n)
        }
        // Refused once per node, not once per retry.
        let before = everyone.map { rejections(net, $0) }
        net.run(milliseconds: 3000)
        XCTAssertEqual(everyone.map { rejections(net, $0) }, before)
        assertSettled(net, everyone)
    }

    /// The lead (baerum, offline) removes asker while asker's edit reaches the hub and baerum's
    /// peers first: when the removal arrives, every node that had applied the edit takes it
    /// back; baerum, receiving the edit after its removal, refuses it at once.
    func testAnEditAppliedBeforeTheLeadsConcurrentRemovalArrivesIsTakenBack() throws {
        var net = try federation()
        try net.write("brussels", "projects/catchmr", [.assign(field: "title", value: .string("CatchMR")),
                                                       .assign(field: "lead", value: .string("baerum")), .add(field: "partners", element: "asker")])
        net.run(milliseconds: 300)
        net.down.insert("baerum")
        try net.write("baerum", "projects/catchmr", [.remove(field: "partners", element: "asker")])
        let edit = try net.write("asker", "projects/catchmr", [.assign(field: "title", value: .string("Asker's now"))])
        net.run(milliseconds: 300)
        XCTAssertEqual(value(net, "brussels", "projects/catchmr", "title"), .string("Asker's now"), "the hub applied it: asker was a partner")
        net.down.remove("baerum")
        net.run(milliseconds: 1500)
        assertSettled(net, everyone)
        for n in everyone {
            XCTAssertEqual(value(net, n, "projects/catchmr", "title"), .string("CatchMR"), n)
            XCTAssertEqual(partners(net, n, "projects/catchmr"), [], n)
            XCTAssertTrue(net.engines[n]!.replica.withheld.contains(edit.dot), n)
        }
        XCTAssertTrue(net.events["brussels", default: []].contains {
            if case .opRejected(_, _, _, .unauthorised, let detail) = $0 { return detail.hasPrefix("withdrawn after the fact") } else { return false }
        })
    }

    /// With the hub unreachable, asker's new op reaches baerum through their peer link while
    /// the hub revokes asker. Once the revocation reaches everyone, every node refuses exactly
    /// asker's ops after the counters the revocation accepts; the earlier ones stay.
    func testAnOpRacingItsOriginsRevocationIsRefusedByEveryNodeAlike() throws {
        var net = try federation(peers: true)
        try net.write("asker", "organisations/asker", [.assign(field: "name", value: .string("Asker"))])
        net.run(milliseconds: 500)
        net.down.insert("brussels")
        net.run(milliseconds: 1000)
        let late = try net.write("asker", "organisations/asker", [.assign(field: "name", value: .string("Asker, revoked"))])
        net.run(milliseconds: 500)
        XCTAssertEqual(value(net, "baerum", "organisations/asker", "name"), .string("Asker, revoked"), "came through the peer link")
        // The hub, cut off from both, revokes asker: it accepts asker's ops up to the first.
        let revocation = try net.write("brussels", "nodes/asker", [.assign(field: "revoked", value: .bool(true))])
        guard case .register(let r)? = revocation.fields["accepted_through"], case .string(let accepted)? = r.siblings.first?.value else {
            return XCTFail("the revocation records what it accepts")
        }
        XCTAssertEqual(accepted, "\(net.engines["asker"]!.replica.id)=1")
        net.down.remove("brussels")
        net.run(milliseconds: 2000)
        // Everyone but asker: nothing reaches a revoked node any more (it was offline when
        // revoked, so it was not told either; see HostileTests for one that is).
        let others = ["brussels", "baerum"]
        assertSettled(net, others)
        for n in others {
            XCTAssertEqual(value(net, n, "organisations/asker", "name"), .string("Asker"), n)
            XCTAssertTrue(net.engines[n]!.replica.withheld.contains(late.dot), n)
        }
        XCTAssertGreaterThan(net.engines["baerum"]!.counters.opsRejected["revoked"] ?? 0, 0, "baerum took it back")
        XCTAssertTrue(net.engines["brussels"]!.replica.holds(late.dot), "the hub holds it too (from baerum), refused")
    }

    /// asker names itself, goes offline, is revoked by the hub without being told, and renames
    /// itself again: the returned op was made while revoked.
    func revokedWhileOfflineAndEditing() throws -> (SimulatedNetwork, Op) {
        var net = try federation()
        try net.write("asker", "organisations/asker", [.assign(field: "name", value: .string("Asker"))])
        net.run(milliseconds: 500)
        net.down.insert("asker")
        try net.write("brussels", "nodes/asker", [.assign(field: "revoked", value: .bool(true))])
        net.run(milliseconds: 500)
        let whileRevoked = try net.write("asker", "organisations/asker", [.assign(field: "name", value: .string("Asker, while revoked"))])
        return (net, whileRevoked)
    }

    /// asker, offline and not told, keeps editing while the hub revokes it, then the hub
    /// re-admits it. What it wrote while revoked stays refused on every node, asker's own
    /// included (MSP 11.5, `revoked_spans`); its edits after the re-admission count; a second
    /// revocation does not bring the first one's refused edits back.
    func testEditsMadeWhileRevokedStayRefusedAfterTheReadmission() throws {
        var (net, whileRevoked) = try revokedWhileOfflineAndEditing()
        net.run(milliseconds: 500)
        let readmission = try net.write("brussels", "nodes/asker", [.assign(field: "revoked", value: .bool(false))])
        guard case .register(let r)? = readmission.fields["revoked_spans"], case .string(let spans)? = r.siblings.first?.value else {
            return XCTFail("the re-admission records the revocation it ends")
        }
        XCTAssertEqual(spans, "\(readmission.hlc.milliseconds):\(net.engines["asker"]!.replica.id)=1")
        net.down.remove("asker")
        net.run(milliseconds: 3000)
        assertSettled(net, everyone)
        for n in everyone {
            XCTAssertEqual(value(net, n, "organisations/asker", "name"), .string("Asker"), n)
            XCTAssertTrue(net.engines[n]!.replica.withheld.contains(whileRevoked.dot), n)
        }
        let after = try net.write("asker", "organisations/asker", [.assign(field: "name", value: .string("Asker, re-admitted"))])
        XCTAssertGreaterThanOrEqual(after.hlc.milliseconds, readmission.hlc.milliseconds, "asker's clock observed the re-admission")
        net.run(milliseconds: 2000)
        assertSettled(net, everyone)
        for n in everyone { XCTAssertEqual(value(net, n, "organisations/asker", "name"), .string("Asker, re-admitted"), n) }
        // Revoked again, online: the new cut covers the withheld op's counter, the span still refuses it.
        try net.write("brussels", "nodes/asker", [.assign(field: "revoked", value: .bool(true))])
        net.run(milliseconds: 2000)
        for n in ["brussels", "baerum"] {
            XCTAssertTrue(net.engines[n]!.replica.withheld.contains(whileRevoked.dot), n)
            XCTAssertFalse(net.engines[n]!.replica.withheld.contains(after.dot), n)
            XCTAssertEqual(value(net, n, "organisations/asker", "name"), .string("Asker, re-admitted"), n)
        }
    }

    /// The same, with the hub operator accepting the edits made while revoked: they count again.
    func testAReadmissionThatAcceptsRevokedEditsReleasesThem() throws {
        var (net, whileRevoked) = try revokedWhileOfflineAndEditing()
        let readmission = try net.write("brussels", "nodes/asker", [.assign(field: "revoked", value: .bool(false))], acceptingRevokedEdits: true)
        XCTAssertNil(readmission.fields["revoked_spans"])
        net.down.remove("asker")
        net.run(milliseconds: 3000)
        assertSettled(net, everyone)
        for n in everyone {
            XCTAssertEqual(value(net, n, "organisations/asker", "name"), .string("Asker, while revoked"), n)
            XCTAssertFalse(net.engines[n]!.replica.withheld.contains(whileRevoked.dot), n)
        }
    }

    /// The hub gives the lead to oslo while the lead, baerum, offline, hands it to asker. The
    /// hub operator's write counts against baerum's (which did not see it): every node refuses
    /// baerum's handover.
    func testConcurrentLeadChangesByTheHubAndTheLeadEndWithTheHubs() throws {
        var net = try federation()
        try net.write("brussels", "projects/catchmr", [.assign(field: "title", value: .string("CatchMR")), .assign(field: "lead", value: .string("baerum"))])
        net.run(milliseconds: 300)
        net.down.insert("baerum")
        let handover = try net.write("baerum", "projects/catchmr", [.assign(field: "lead", value: .string("asker"))])
        try net.write("brussels", "projects/catchmr", [.assign(field: "lead", value: .string("oslo"))])
        net.run(milliseconds: 300)
        net.down.remove("baerum")
        net.run(milliseconds: 1500)
        assertSettled(net, everyone)
        for n in everyone {
            XCTAssertEqual(value(net, n, "projects/catchmr", "lead"), .string("oslo"), n)
            XCTAssertTrue(net.engines[n]!.replica.withheld.contains(handover.dot), n)
        }
        XCTAssertThrowsError(try net.write("asker", "projects/catchmr", [.assign(field: "title", value: .string("Mine"))]))
    }

    /// Two members create the same project, each with itself as lead, at the same time: the
    /// two creations refuse each other on every node (fail closed), whatever arrives first.
    func testConcurrentCreationsOfOneProjectByTwoMembersRefuseEachOther() throws {
        var net = try federation()
        net.down.insert("asker")
        let a = try net.write("asker", "projects/joint", [.assign(field: "lead", value: .string("asker")), .assign(field: "title", value: .string("A"))])
        let b = try net.write("baerum", "projects/joint", [.assign(field: "lead", value: .string("baerum")), .assign(field: "title", value: .string("B"))])
        net.run(milliseconds: 300)
        XCTAssertEqual(value(net, "brussels", "projects/joint", "lead"), .string("baerum"), "alone, baerum's creation stands")
        net.down.remove("asker")
        net.run(milliseconds: 1500)
        assertSettled(net, everyone)
        for n in everyone {
            XCTAssertNil(net.engines[n]!.replica.view(key("projects/joint")), n)
            XCTAssertTrue(net.engines[n]!.replica.withheld.isSuperset(of: [a.dot, b.dot]), n)
        }
        // The hub operator settles it; then the lead it chose writes again.
        try net.write("brussels", "projects/joint", [.assign(field: "lead", value: .string("asker"))])
        net.run(milliseconds: 500)
        try net.write("asker", "projects/joint", [.assign(field: "title", value: .string("Joint"))])
        net.run(milliseconds: 500)
        assertSettled(net, everyone)
        XCTAssertEqual(value(net, "baerum", "projects/joint", "title"), .string("Joint"))
    }

    /// baerum hands its lead to asker, then signs, under a fresh replica and with an old
    /// timestamp, an op that claims never to have seen the handover and takes the lead back.
    /// Lying about its past does not help: the handover did not see the crafted op either, so
    /// it counts against it on every node.
    func testAMemberLyingAboutItsPastCannotTakeBackALeadItGaveAway() throws {
        var net = try federation()
        try net.write("brussels", "projects/catchmr", [.assign(field: "title", value: .string("CatchMR")), .assign(field: "lead", value: .string("baerum"))])
        net.run(milliseconds: 300)
        let before = net.engines["baerum"]!.replica
        try net.write("baerum", "projects/catchmr", [.assign(field: "lead", value: .string("asker"))])
        net.run(milliseconds: 300)
        // The lie: built on baerum's replica as it was before the handover, a new epoch, an old clock.
        var liar = Replica(id: ReplicaID(node: "baerum", epoch: 0), wallClock: { 1_600_000_000_000 })
        // Registered, as a Hello from that replica would have it (an unregistered epoch is
        // refused before any rule is judged: testOpsOfAnUnregisteredEpochAreRefused).
        try net.write("brussels", "nodes/baerum", [.add(field: "epochs", element: liar.id.description)])
        net.run(milliseconds: 300)
        for op in before.heldOps() { try liar.apply(op) }
        let key = net.keys["baerum"]!
        liar.signer = { key.sign(WireCodec.canonicalBytes($0)) }
        let grab = try liar.write(self.key("projects/catchmr"), [.assign(field: "lead", value: .string("baerum")), .add(field: "partners", element: "mallory")])
        var hub = net.engines["brussels"]!
        _ = hub.onRequest(from: Array("baerum".utf8), .push([grab]), now: net.now)
        net.engines["brussels"] = hub
        net.run(milliseconds: 1500)
        assertSettled(net, everyone)
        for n in everyone {
            XCTAssertEqual(value(net, n, "projects/catchmr", "lead"), .string("asker"), n)
            XCTAssertEqual(partners(net, n, "projects/catchmr"), [], n)
            XCTAssertTrue(net.engines[n]!.replica.withheld.contains(grab.dot), n)
        }
    }

    /// The hub compacts the contact's creation (baerum, offline, still needs asker's edit
    /// after it), then asker writes the contact's organisation again. The hub judges the edit in
    /// between again (a rights write arrived) against the creation it retained, not against no
    /// right at all: it keeps the edit, and agrees with baerum, which never compacted (the
    /// benchmarks found the hub withdrawing such edits).
    func testRightsWritesOutliveCompactionSoLaterRewritesTakeNothingBack() throws {
        var net = try federation()
        let creation = try net.write("asker", "contacts/kari", [.assign(field: "name", value: .string("Kari")), .assign(field: "organisation", value: .string("asker"))])
        net.run(milliseconds: 500)
        net.down.insert("baerum")
        let edit = try net.write("asker", "contacts/kari", [.assign(field: "role", value: .string("Adviser"))])
        net.run(milliseconds: 500)
        var hub = net.engines["brussels"]!
        let (dropped, _, _) = hub.compactNow(now: net.now)
        net.engines["brussels"] = hub
        XCTAssertGreaterThan(dropped, 0)
        XCTAssertNotNil(net.engines["brussels"]!.replica.retainedRights[creation.dot], "the creation is a rights write: retained")
        XCTAssertNotNil(net.engines["brussels"]!.replica.op(edit.dot), "baerum still needs the edit")
        try net.write("asker", "contacts/kari", [.assign(field: "organisation", value: .string("asker"))])
        net.run(milliseconds: 1000)
        XCTAssertFalse(net.engines["brussels"]!.replica.withheld.contains(edit.dot), "the edit is not taken back")
        XCTAssertEqual(value(net, "brussels", "contacts/kari", "role"), .string("Adviser"))
        net.down.remove("baerum")
        net.run(milliseconds: 2000)
        assertSettled(net, everyone)
        for n in everyone { XCTAssertEqual(value(net, n, "contacts/kari", "role"), .string("Adviser"), n) }
    }

    /// A member's Hello registers its replica id in its roster entry at the hub (MSP 11.2);
    /// ops signed with its key under any other epoch are refused by every node, and count once
    /// the hub registers that epoch (as a Hello from it would).
    func testOpsOfAnUnregisteredEpochAreRefused() throws {
        var net = try federation()
        let asker = net.engines["asker"]!.replica.id
        for n in everyone {
            XCTAssertEqual(net.engines[n]!.replica.view(key("nodes/asker"))?.field("epochs")?.members, [asker.description], n)
        }
        var minted = Replica(id: ReplicaID(node: "asker", epoch: 777), wallClock: { 1_700_000_000_000 })
        let signer = net.keys["asker"]!
        minted.signer = { signer.sign(WireCodec.canonicalBytes($0)) }
        let op = try minted.write(key("organisations/asker"), [.assign(field: "name", value: .string("Minted"))])
        var hub = net.engines["brussels"]!
        _ = hub.onRequest(from: Array("asker".utf8), .push([op]), now: net.now)
        net.engines["brussels"] = hub
        net.run(milliseconds: 500)
        XCTAssertFalse(net.engines["brussels"]!.replica.holds(op.dot))
        XCTAssertEqual(net.engines["brussels"]!.counters.opsRejected["unknown-origin"], 1)
        XCTAssertNil(value(net, "baerum", "organisations/asker", "name"))
        // Registered by the hub operator, the same op counts when it comes again.
        try net.write("brussels", "nodes/asker", [.add(field: "epochs", element: minted.id.description)])
        hub = net.engines["brussels"]!
        _ = hub.onRequest(from: Array("asker".utf8), .push([op]), now: net.now)
        net.engines["brussels"] = hub
        net.run(milliseconds: 1000)
        assertSettled(net, everyone)
        for n in everyone { XCTAssertEqual(value(net, n, "organisations/asker", "name"), .string("Minted"), n) }
    }

    /// A node restarting from its store (which keeps ops, not verdicts, and may rebuild
    /// records by joining every op not covered by its checkpoint, refused ones included)
    /// judges its log again and shows the same state as before.
    func testARestartedNodeJudgesItsLogAgainAndShowsTheSameState() throws {
        var net = try federation()
        try net.write("brussels", "projects/catchmr", [.assign(field: "title", value: .string("CatchMR")),
                                                       .assign(field: "lead", value: .string("baerum")), .add(field: "partners", element: "asker")])
        net.run(milliseconds: 300)
        net.down.insert("asker")
        try net.write("asker", "projects/catchmr", [.assign(field: "title", value: .string("Asker's"))])
        try net.write("brussels", "projects/catchmr", [.remove(field: "partners", element: "asker")])
        net.down.remove("asker")
        net.run(milliseconds: 1500)
        assertSettled(net, everyone)
        let old = net.engines["baerum"]!
        XCTAssertFalse(old.replica.withheld.isEmpty)
        // What a store would load: every held op joined into the records.
        var joined: [RecordKey: Record] = [:]
        for op in old.replica.heldOps() { joined[op.key, default: Record()].join(op.fields) }
        let restored = Replica(restoring: old.replica.id, wallClock: { 1_700_000_000_000 }, records: joined,
                               version: old.replica.version, floor: old.replica.logFloor, ops: old.replica.heldOps())
        XCTAssertNotEqual(restored.digest(), old.replica.digest(), "the refused edit is in the joined records")
        var fresh = SyncEngine(settings: old.settings, replica: restored)
        XCTAssertEqual(fresh.replica.digest(), old.replica.digest())
        XCTAssertEqual(fresh.replica.withheld, old.replica.withheld)
        // The rebuilt records are stored at the first tick.
        let out = fresh.onTick(now: net.now)
        XCTAssertTrue(out.contains { if case .persist(_, let keys) = $0 { return keys.contains(key("projects/catchmr")) } else { return false } })
        // Merging a backup whose records show the refused edit (made by a node that applied
        // everything) does not bring it back.
        var backup = Replica(id: ReplicaID(node: "old-copy", epoch: 1), wallClock: { 1_700_000_000_000 })
        for op in old.replica.heldOps() { try backup.apply(op) }
        XCTAssertNotEqual(backup.digest(), old.replica.digest())
        let (report, _) = try fresh.merge(backup: backup)
        XCTAssertEqual(report.opsAdded, 0)
        XCTAssertEqual(fresh.replica.digest(), old.replica.digest())
    }
}
