import XCTest
import MemberSyncModel
import MemberSyncWire
@testable import MemberSyncEngine
@testable import MemberSyncNode

/// The sync engine as a pure state machine, driven without sockets.
final class SyncEngineTests: XCTestCase {
    func federation(members: [String], peers: Bool = false, pageSize: Int = 1000) -> SimulatedNetwork {
        var net = SimulatedNetwork()
        net.addNode("brussels", role: .hub)
        for m in members {
            net.addNode(m, role: .member, hubs: ["brussels"], peers: peers ? members.filter { $0 != m } : [], pageSize: pageSize)
        }
        net.run(milliseconds: 500)
        return net
    }

    func name(_ s: String) -> [FieldChange] { [.assign(field: "name", value: .string(s))] }

    func testHelloWelcomeThenLiveRelayReachesEveryone() throws {
        var net = federation(members: ["asker", "baerum", "hamar"])
        for m in ["asker", "baerum", "hamar"] {
            XCTAssertEqual(net.engines[m]!.activeHub(now: net.now), 0, "\(m) is linked to the hub")
        }
        XCTAssertEqual(Set(net.engines["brussels"]!.clients.keys), ["asker", "baerum", "hamar"])
        try net.write("asker", "organisations/asker", name("Asker"))
        // Delivered immediately through push + relay, before any heartbeat.
        XCTAssertEqual(net.digests(["brussels", "asker", "baerum", "hamar"]).count, 1)
        XCTAssertNotNil(net.engines["hamar"]!.replica.view(try RecordKey(parsing: "organisations/asker")))
        XCTAssertEqual(net.engines["asker"]!.pendingCount, 0, "the hub acknowledged the push")
    }

    func testDroppedPublicationsAreRepairedByHeartbeatGapDetection() throws {
        var net = federation(members: ["asker", "baerum", "hamar"])
        net.publishLoss = 0.6
        for i in 0..<60 {
            try net.write(["asker", "baerum", "hamar"][i % 3], "contacts/c\(i)", name("Contact \(i)"))
        }
        let lossy = net.digests(["brussels", "asker", "baerum", "hamar"]).count
        XCTAssertGreaterThan(lossy, 1, "with 60% loss the replicas must differ before repair")
        net.run(milliseconds: 2000)
        XCTAssertEqual(net.digests(["brussels", "asker", "baerum", "hamar"]).count, 1)
        XCTAssertEqual(net.engines["hamar"]!.replica.keys(in: "contacts").count, 60)
    }

    func testOfflineMemberCatchesUpInPagesAndPushesItsOfflineEdits() throws {
        var net = federation(members: ["asker", "baerum"], pageSize: 7)
        net.down.insert("baerum")
        for i in 0..<50 { try net.write("asker", "contacts/c\(i)", name("C\(i)")) }
        try net.write("baerum", "organisations/baerum", name("Bærum"))  // offline edit
        XCTAssertEqual(net.engines["baerum"]!.pendingCount, 1)
        net.run(milliseconds: 400)
        net.down.remove("baerum")
        net.run(milliseconds: 1500)
        XCTAssertEqual(net.digests(["brussels", "asker", "baerum"]).count, 1)
        XCTAssertEqual(net.engines["baerum"]!.replica.keys(in: "contacts").count, 50)
        XCTAssertNotNil(net.engines["asker"]!.replica.view(try RecordKey(parsing: "organisations/baerum")))
        XCTAssertEqual(net.engines["baerum"]!.pendingCount, 0)
    }

    func testHubCompactsOnlyBelowWhatEveryLiveNodeHoldsAndServesSnapshots() throws {
        var net = federation(members: ["asker", "baerum"])
        for i in 0..<30 { try net.write("asker", "projects/p\(i)", [.assign(field: "title", value: .string("P\(i)"))]) }
        net.run(milliseconds: 500)
        // baerum goes offline before the last writes: the hub may not compact past what it has.
        net.down.insert("baerum")
        let baerumVersion = net.engines["baerum"]!.replica.version
        for i in 30..<40 { try net.write("asker", "projects/p\(i)", [.assign(field: "title", value: .string("P\(i)"))]) }
        net.run(milliseconds: 11_000)
        let hub = net.engines["brussels"]!
        let asker = net.engines["asker"]!.replica.id
        XCTAssertEqual(hub.replica.logFloor[asker], baerumVersion[asker], "compaction stops at the slowest live node")
        XCTAssertEqual(hub.replica.logFloor[asker], 30)
        net.down.remove("baerum")
        net.run(milliseconds: 1000)
        XCTAssertEqual(net.digests(["brussels", "asker", "baerum"]).count, 1)

        // A brand-new member cannot get compacted ops: it bootstraps from a snapshot.
        net.addNode("oslomet", role: .member, hubs: ["brussels"])
        net.run(milliseconds: 11_000)
        XCTAssertEqual(net.engines["brussels"]!.replica.logFloor[asker], 39, "all but asker's newest op, which its next op links to")
        net.addNode("lillestrom", role: .member, hubs: ["brussels"])
        net.run(milliseconds: 1500)
        XCTAssertEqual(net.engines["lillestrom"]!.counters.snapshotsLoaded, 1)
        // oslomet joined after the first compaction (floor 30), so it needed one too.
        XCTAssertEqual(net.engines["oslomet"]!.counters.snapshotsLoaded, 1)
        XCTAssertEqual(net.engines["brussels"]!.counters.snapshotsServed, 2)
        XCTAssertEqual(net.digests(["brussels", "asker", "baerum", "oslomet", "lillestrom"]).count, 1)
        XCTAssertEqual(net.engines["lillestrom"]!.replica.version, net.engines["brussels"]!.replica.version)
    }

    func testFallbackPeersWhileHubIsDownThenHubCatchesUp() throws {
        var net = federation(members: ["asker", "baerum", "drammen"], peers: true)
        net.down.insert("brussels")
        net.run(milliseconds: 600)
        for m in ["asker", "baerum", "drammen"] {
            XCTAssertNil(net.engines[m]!.activeHub(now: net.now))
            XCTAssertFalse(net.engines[m]!.syncLinks(now: net.now).isEmpty, "\(m) syncs with peers")
        }
        try net.write("asker", "organisations/asker", name("Asker"))
        try net.write("drammen", "organisations/drammen", name("Drammen"))
        net.run(milliseconds: 500)
        XCTAssertEqual(net.digests(["asker", "baerum", "drammen"]).count, 1)
        XCTAssertEqual(net.engines["asker"]!.pendingCount, 1, "not acknowledged by a hub yet")
        net.down.remove("brussels")
        net.run(milliseconds: 1500)
        XCTAssertEqual(net.digests(["brussels", "asker", "baerum", "drammen"]).count, 1)
        XCTAssertEqual(net.engines["asker"]!.activeHub(now: net.now), 0)
        XCTAssertEqual(net.engines["asker"]!.pendingCount, 0)
    }

    func testBadRequestsAreAnsweredOrDroppedWithoutStoppingTheStream() throws {
        var net = federation(members: ["asker"])
        var hub = net.engines["brussels"]!
        let client = Array("asker".utf8)
        // An op that breaks the schema inside a push: dropped and counted; the good one applies.
        var writer = Replica(id: ReplicaID(node: "asker", epoch: 1), wallClock: { 1 })
        let good = try writer.write(try RecordKey(parsing: "organisations/asker"), name("Asker"))
        let bad = Op(origin: good.origin, counter: 99, hlc: good.hlc, key: try RecordKey(parsing: "planets/mars"), fields: good.fields)
        let out = hub.onRequest(from: client, .push([bad, good]), now: net.now)
        XCTAssertEqual(hub.counters.opsRejected["schema"], 1)
        XCTAssertEqual(hub.counters.opsApplied, 1)
        XCTAssertTrue(out.contains { if case .reply(_, .ack) = $0 { return true }; return false })
        // Version ranges that do not overlap are refused.
        let hello = Hello(nodeID: "future", replica: ReplicaID(node: "future", epoch: 1), role: "member", organisation: "x",
                          softwareVersion: "9", minProtocol: 5, maxProtocol: 7, version: VersionVector())
        let refused = hub.onRequest(from: Array("future".utf8), .hello(hello), now: net.now)
        guard case .reply(_, .error(let code, _, _))? = refused.first else { return XCTFail("\(refused)") }
        XCTAssertEqual(code, .unsupportedVersion)
        // A reply-type message sent as a request gets BAD_REQUEST.
        let wrong = hub.onRequest(from: client, .ack(VersionVector()), now: net.now)
        guard case .reply(_, .error(let code2, _, _))? = wrong.first else { return XCTFail() }
        XCTAssertEqual(code2, .badRequest)
        net.engines["brussels"] = hub
    }
}
