@testable import MemberSyncConfig
@testable import MemberSyncEngine
import MemberSyncModel
@testable import MemberSyncNode
import MemberSyncWire
import XCTest

/// The engine reports what an operator should see in the log, without logging itself: as
/// `Directive.event`, among the directives of the input that caused it.
final class EngineEventTests: XCTestCase {
    func engine(role: NodeRole = .member) -> SyncEngine {
        var config = NodeConfig(nodeID: "asker", organisation: "asker", role: role, dataDir: "/tmp/unused",
                                listen: "tcp://127.0.0.1:7400", hubEndpoints: role == .hub ? [] : ["tcp://127.0.0.1:7500"])
        config.insecure = true  // event reporting, not security (SecurityTests cover that)
        return SyncEngine(config: config, replica: Replica(id: ReplicaID(node: "asker", epoch: 1), wallClock: { 1_700_000_000_000 }))
    }

    func testRejectedOpsAreReportedWithTheirOrigin() throws {
        var e = engine()
        let evil = ReplicaID(node: "evil", epoch: 7)
        let bad = Op(origin: evil, counter: 1, hlc: HLC(raw: 1), key: try RecordKey(parsing: "organisations/asker"), fields: [:])
        let events = e.onRequest(from: Array("evil".utf8), .push([bad]), now: 1).compactMap(\.event)
        XCTAssertEqual(events.count, 1)
        guard case .opRejected(let origin, let counter, let key, let reason, let detail)? = events.first else {
            return XCTFail("expected opRejected, got \(events)")
        }
        XCTAssertEqual(origin, evil)
        XCTAssertEqual(counter, 1)
        XCTAssertEqual(key.description, "organisations/asker")
        XCTAssertEqual(reason, .malformed)
        XCTAssertTrue(detail.contains("changes no field"), detail)
        XCTAssertEqual(e.counters.opsRejected["malformed"], 1)
        XCTAssertTrue(e.onTick(now: 2).compactMap(\.event).isEmpty, "an event is reported once, by the input that caused it")
    }

    func testRefusedHelloIsReportedButRoutineErrorsAreNot() {
        var e = engine()
        let out = e.onLinkMessage(.hub(0), .error(code: .rejected, message: "not in the roster"), now: 1)
            + e.onLinkMessage(.hub(0), .error(code: .notReady, message: "say hello first"), now: 2)
        XCTAssertEqual(out.compactMap(\.event), [.linkError(.hub(0), node: nil, code: .rejected, message: "not in the roster")])
    }

    func testCompactionIsReported() throws {
        var e = engine(role: .hub)
        for i in 0..<3 {
            _ = try e.localWrite(try RecordKey(parsing: "organisations/o-\(i)"), [.assign(field: "name", value: .string("O \(i)"))], now: 1)
        }
        let hello = Hello(nodeID: "baerum", replica: ReplicaID(node: "baerum", epoch: 2), role: "member", organisation: "baerum",
                          softwareVersion: "0.1.0", version: e.replica.version)
        _ = e.onRequest(from: Array("baerum".utf8), .hello(hello), now: 2)
        XCTAssertEqual(e.pendingCount, 0, "a hub's own ops are not waiting for a hub")
        let out = e.compact(now: 3)
        XCTAssertEqual(out.filter { $0.event == nil }, [.persistCompaction])
        // The newest op of each origin stays: the next op of its chain links to it.
        XCTAssertEqual(out.compactMap(\.event), [.compacted(dropped: 2, held: 1)])
        let again = e.compact(now: 4)
        XCTAssertEqual(again, [], "nothing new to drop")
        XCTAssertTrue(again.compactMap(\.event).isEmpty)
    }

    func testLoadedSnapshotIsReported() throws {
        var source = Replica(id: ReplicaID(node: "brussels", epoch: 9), wallClock: { 1_700_000_000_000 })
        for i in 0..<4 { _ = try source.write(try RecordKey(parsing: "organisations/o-\(i)"), [.assign(field: "name", value: .string("O"))]) }
        var e = engine()
        let page = SnapshotPage(version: source.version, records: source.records.map { (key: $0.key, record: $0.value) },
                                lastKey: "organisations/o-3", done: true)
        // Pages are only accepted in answer to our own request, which SNAPSHOT_REQUIRED starts.
        let out = e.onLinkMessage(.hub(0), .error(code: .snapshotRequired, message: "compacted"), now: 4)
            + e.onLinkMessage(.hub(0), .snapshotPage(page), now: 5)
        XCTAssertEqual(out.compactMap(\.event).filter { if case .snapshotLoaded = $0 { return true } else { return false } },
                       [.snapshotLoaded(.hub(0), node: nil, records: 4)])
        XCTAssertEqual(e.counters.snapshotsLoaded, 1)
    }

    /// The engine reports every rejection; what the reactor keeps to log per pass is bounded.
    func testEventQueueIsBounded() throws {
        var e = engine()
        let ops = try (1...UInt64(EventLog.maxQueuedEvents + 50)).map {
            Op(origin: ReplicaID(node: "evil", epoch: 7), counter: $0, hlc: HLC(raw: $0), key: try RecordKey(parsing: "organisations/x"), fields: [:])
        }
        let out = e.onRequest(from: Array("evil".utf8), .push(ops), now: 1)
        XCTAssertEqual(out.compactMap(\.event).count, ops.count, "the engine reports every one")
        var log = EventLog()
        log.queue(ExecutionPlan(out).events)
        XCTAssertEqual(log.pending.count, EventLog.maxQueuedEvents)
        XCTAssertEqual(e.counters.opsRejected["malformed"], UInt64(ops.count), "counting is not bounded")
    }
}
