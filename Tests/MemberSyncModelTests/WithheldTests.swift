import XCTest
@testable import MemberSyncModel

/// Taking an op's effect back (withhold) and giving it again (release): with the whole history
/// in the log, a rebuilt record is exactly the join of the ops that are not withheld, whatever
/// order they were applied in, and values the withheld op had replaced come back.
final class WithheldTests: XCTestCase {
    let key = RecordKey(collection: "projects", id: "catchmr")

    func replica(_ node: String) -> Replica { Replica(id: ReplicaID(node: node, epoch: 1), wallClock: { 1_700_000_000_000 }) }

    /// Ops from three writers, some replacing others' values, some concurrent.
    func history() throws -> [Op] {
        var hub = replica("brussels"), asker = replica("asker"), baerum = replica("baerum")
        var ops: [Op] = []
        ops.append(try hub.write(key, [.assign(field: "title", value: .string("CatchMR")), .assign(field: "status", value: .string("running")),
                                       .add(field: "partners", element: "asker"), .add(field: "topics", element: "mobility")]))
        for op in ops { try asker.apply(op); try baerum.apply(op) }
        // asker replaces title and status and removes a topic; baerum, concurrently, edits status.
        ops.append(try asker.write(key, [.assign(field: "title", value: .string("Asker's")), .assign(field: "status", value: .string("closed")),
                                         .remove(field: "topics", element: "mobility"), .add(field: "topics", element: "mine")]))
        ops.append(try baerum.write(key, [.assign(field: "status", value: .string("proposal"))]))
        try hub.apply(ops[1]); try hub.apply(ops[2])
        // The hub, having seen both, writes the description.
        ops.append(try hub.write(key, [.assign(field: "description", value: .string("About"))]))
        return ops
    }

    /// Applies `ops` in the given order as far as causal delivery allows: an op whose causal
    /// past is not held yet waits until it is (as the sync engine's wait buffer does).
    func deliver(_ ops: [Op], to r: inout Replica) throws {
        var pending = ops
        while !pending.isEmpty {
            var waiting: [Op] = []
            for op in pending {
                do { try r.apply(op) } catch ModelError.refused(.causality, _) { waiting.append(op) }
            }
            XCTAssertLessThan(waiting.count, pending.count, "some op must be deliverable")
            if waiting.count == pending.count { return }
            pending = waiting
        }
    }

    /// The plain join of `ops`' states (no delivery rules: the reference the rebuild must equal,
    /// also for a set of ops missing one that a later op saw).
    func joined(_ ops: [Op]) throws -> Replica {
        var r = replica("fresh")
        r.rejoin(ops)
        return r
    }

    func testWithholdingRebuildsTheJoinOfTheOtherOpsAndReleasingRestoresIt() throws {
        let ops = try history()
        for order in [ops, ops.reversed(), [ops[2], ops[0], ops[3], ops[1]]] {
            var r = replica("node")
            try deliver(order, to: &r)
            r.indexHistory(of: ["projects": ["lead", "partners"]])
            let all = r.record(key)
            XCTAssertEqual(r.withhold([ops[1].dot]), [key])
            let without = try joined(ops.filter { $0.dot != ops[1].dot })
            XCTAssertEqual(r.view(key), without.view(key), "rebuilt = join of the rest")
            XCTAssertEqual(r.digest(), without.digest())
            // The values asker's op had replaced are back: the hub's title, the topic.
            XCTAssertEqual(r.view(key)?.field("title")?.value, .string("CatchMR"))
            XCTAssertEqual(r.view(key)?.field("topics")?.members, ["mobility"])
            XCTAssertTrue(r.holds(ops[1].dot), "still held: served, never fetched again")
            XCTAssertEqual(r.release(ops[1].dot), key)
            XCTAssertEqual(r.view(key), Replica.view(key: key, record: all!))
            XCTAssertTrue(r.withheld.isEmpty)
        }
    }

    func testAHeldOpNeverTouchesTheRecordUntilReleased() throws {
        let ops = try history()
        var r = replica("node")
        try r.apply(ops[0])
        try r.hold(ops[1])
        XCTAssertTrue(r.holds(ops[1].dot))
        XCTAssertEqual(r.view(key)?.field("title")?.value, .string("CatchMR"))
        XCTAssertEqual(r.ops(since: VersionVector()), .ops([ops[1], ops[0]]), "served like any held op (origins in replica-id order)")
        try r.apply(ops[2]); try r.apply(ops[3])  // ops[3] has seen ops[1]: held counts
        r.release(ops[1].dot)
        XCTAssertEqual(r.digest(), try joined(ops).digest())
    }

    func testWithoutTheWholeHistoryWhatOnlyTheRecordKnewStays() throws {
        let ops = try history()
        // A node that got the hub's first op inside a snapshot: the log does not hold it.
        var source = replica("hub-copy")
        try source.apply(ops[0])
        var r = replica("node")
        try r.load(source.snapshot())
        try r.apply(ops[2])
        r.indexHistory(of: ["projects": ["lead", "partners"]])
        try r.apply(ops[1])
        try r.apply(ops[3])  // causal delivery: the hub's later op comes after what it saw
        _ = r.withhold([ops[1].dot])
        // Values from the snapshot that asker's op did not replace, and the others' ops, stay.
        XCTAssertEqual(r.view(key)?.field("description")?.value, .string("About"))
        XCTAssertEqual(r.view(key)?.field("partners")?.members, ["asker"])
        XCTAssertEqual(r.view(key)?.field("status")?.value, .string("proposal"))
        XCTAssertNil(r.view(key)?.field("topics")?.members?.first { $0 == "mine" })
    }
}
