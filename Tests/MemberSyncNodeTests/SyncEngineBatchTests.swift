@testable import MemberSyncConfig
@testable import MemberSyncEngine
import MemberSyncModel
import MemberSyncNode
import MemberSyncWire
import XCTest

/// Batched local writes and paged snapshots through the pure sync engine.
final class SyncEngineBatchTests: XCTestCase {
    static let t: @Sendable () -> UInt64 = { 1_700_000_000_000 }

    func engine(_ name: String, hub: Bool) -> SyncEngine {
        var config = NodeConfig(nodeID: name, organisation: name, role: hub ? .hub : .member, dataDir: "/nonexistent",
                                listen: "tcp://127.0.0.1:7400", hubEndpoints: hub ? [] : ["tcp://127.0.0.1:7500"], pageSize: 3)
        config.insecure = true  // batching mechanics, not write rules (SecurityTests cover those)
        return SyncEngine(config: config, replica: Replica(id: ReplicaID(node: name, epoch: 1), wallClock: Self.t))
    }

    func testBatchPersistsOnce() throws {
        var e = engine("asker", hub: false)
        let good = (RecordKey(collection: "contacts", id: "a"), [FieldChange.assign(field: "name", value: .string("A"))])
        let (ops, commit, failure) = e.localWriteBatch([good, good, good], now: 1)
        XCTAssertNil(failure)
        XCTAssertEqual(ops.map(\.counter), [1, 2, 3])
        let directives = try XCTUnwrap(commit).directives
        XCTAssertEqual(directives.first, .persist(ops: ops.map(EncodedOp.init), keys: [good.0]))
        XCTAssertEqual(directives.filter { if case .persist = $0 { return true } else { return false } }.count, 1)
    }

    /// All or nothing: a bad edit takes back the edits before it, so nothing of the batch is
    /// applied, stored or sent, and the next write reuses the counters.
    func testABadEditTakesBackTheWholeBatch() throws {
        var e = engine("asker", hub: false)
        let before = e.replica.digest()
        let good = (RecordKey(collection: "contacts", id: "a"), [FieldChange.assign(field: "name", value: .string("A"))])
        let bad = (RecordKey(collection: "contacts", id: "b"), [FieldChange]())
        let (ops, commit, failure) = e.localWriteBatch([good, good, bad, good], now: 1)
        XCTAssertEqual(failure?.index, 2)
        XCTAssertTrue(ops.isEmpty)
        XCTAssertNil(commit)
        XCTAssertEqual(e.replica.version[e.replica.id], 0)
        XCTAssertNil(e.replica.record(good.0), "the first two edits were taken back")
        XCTAssertEqual(e.replica.digest(), before)
        XCTAssertEqual(e.replica.logCount, 0)
        XCTAssertEqual(e.counters.localWrites, 0)
        let (op, _) = try e.localWrite(good.0, good.1, now: 2)
        XCTAssertEqual(op.counter, 1, "the next write takes the first counter again")
    }

    func testSnapshotPagesCoverEveryRecordInKeyOrder() {
        var hub = engine("brussels", hub: true)
        var keys: [String] = []
        for i in 0..<23 {
            let k = RecordKey(collection: i % 2 == 0 ? "contacts" : "projects", id: "r\(i)")
            keys.append(k.description)
            _ = hub.localWriteBatch([(k, [.assign(field: i % 2 == 0 ? "name" : "title", value: .string("x\(i)"))])], now: 1)
        }
        var after = "", got: [String] = [], done = false, pages = 0
        while !done && pages < 100 {
            let out = hub.onRequest(from: Array("asker".utf8), .snapshotRequest(after: after, maxRecords: 5), now: 2)
            guard case .reply(_, .snapshotPage(let page))? = out.first else { return XCTFail("no page") }
            got += page.records.map(\.key.description)
            after = page.lastKey
            done = page.done
            pages += 1
            if pages == 2 {
                // A record added between pages shows up in a later page, in order.
                let k = RecordKey(collection: "projects", id: "zz")
                keys.append(k.description)
                _ = hub.localWriteBatch([(k, [.assign(field: "title", value: .string("late"))])], now: 2)
            }
        }
        XCTAssertEqual(got, keys.sorted())
        XCTAssertEqual(pages, 5)
    }
}

/// A Pull is sent again only after twice the last one's round trip (at least the retry
/// interval): a page that takes long to serve and cross is not asked for a second time by
/// the next heartbeat, which would make the member decode and compare every op twice.
final class PullRetryTests: XCTestCase {
    func testAPullIsNotSentAgainBeforeTwiceTheLastRoundTrip() throws {
        var net = SimulatedNetwork()
        net.addNode("brussels", role: .hub, secure: true)
        net.addNode("asker", role: .member, hubs: ["brussels"], secure: true)
        net.run(milliseconds: 500)
        var member = net.engines["asker"]!
        XCTAssertNotNil(member.authority, "a secure member: signed ops, write rules")
        let hub = net.engines["brussels"]!.replica.id
        func pulls(_ out: [Directive]) -> Int { out.filter { if case .send(_, .pull) = $0 { return true } else { return false } }.count }
        func heartbeat(ahead counter: UInt64) -> Message {
            var v = member.replica.version
            v.add(Dot(hub, counter))
            return .heartbeat(Heartbeat(nodeID: "brussels", replica: hub, role: "hub", version: v, pending: 0))
        }
        let t0 = net.now
        // The hub says it holds more: a Pull goes out; its answer takes 3 s.
        XCTAssertEqual(pulls(member.onSubscription(.hub(0), heartbeat(ahead: 5000), now: t0)), 1)
        _ = member.onLinkMessage(.hub(0), .opBatch(ops: [], more: false, senderVersion: VersionVector()), now: t0 + 3000)
        XCTAssertEqual(pulls(member.onSubscription(.hub(0), heartbeat(ahead: 5000), now: t0 + 3100)), 1, "nothing in flight: pulled")
        // Within twice the last round trip, heartbeats (every 200 ms, so the link stays up)
        // do not ask again.
        for t in stride(from: t0 + 3300, to: t0 + 9100, by: 200) {
            XCTAssertEqual(pulls(member.onSubscription(.hub(0), heartbeat(ahead: 5000), now: t)), 0, "at +\(t - t0) ms")
        }
        XCTAssertEqual(pulls(member.onSubscription(.hub(0), heartbeat(ahead: 5000), now: t0 + 9200)), 1, "after 6 s: sent again")
    }
}
