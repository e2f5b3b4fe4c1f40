import MemberSyncHarness
import XCTest
@testable import MemberSyncModel

/// N replicas receiving the same ops in different orders, with duplicates and delays, converge.
final class ConvergenceTests: XCTestCase {
    func testRandomDeliveryOrdersConverge() throws {
        for seed in UInt64(1)...40 {
            var sim = Simulation(seed: seed, replicaCount: 4, keyCount: 4)
            sim.run(steps: 150)
            let ops = sim.allOps
            var rng = SeededRandom(seed: seed &* 7919)
            var finals: [Replica] = []
            for i in 0..<5 {
                var r = Replica(id: ReplicaID(node: "observer-\(i)", epoch: 1), wallClock: { 0 })
                var buffer = CausalBuffer()
                // Random order, about a third delivered twice, some held back and delivered last.
                var stream = ops.shuffled(using: &rng)
                stream += stream.filter { _ in Int.random(in: 0..<3, using: &rng) == 0 }
                var delayed: [Op] = []
                for op in stream {
                    if Int.random(in: 0..<5, using: &rng) == 0 { delayed.append(op) } else { try Self.deliver(op, to: &r, &buffer) }
                }
                for op in delayed.shuffled(using: &rng) { try Self.deliver(op, to: &r, &buffer) }
                XCTAssertTrue(buffer.isEmpty, "seed \(seed): every waiting op applied once its causal past arrived")
                finals.append(r)
            }
            // The writers themselves, after an anti-entropy round, must agree with the observers.
            for i in sim.replicas.indices {
                for op in ops { try sim.replicas[i].apply(op) }
                finals.append(sim.replicas[i])
            }
            let digest = finals[0].digest()
            let conflicts = finals[0].conflicts()
            for r in finals {
                XCTAssertEqual(r.digest(), digest, "seed \(seed): \(r.id) diverged")
                XCTAssertEqual(r.conflicts(), conflicts, "seed \(seed): \(r.id) lists other conflicts")
                XCTAssertEqual(r.version, finals[0].version, "seed \(seed)")
            }
        }
    }

    /// Delivers an op as a node does: one whose causal past is not all here waits in the
    /// buffer, and applies as soon as it is.
    static func deliver(_ op: Op, to r: inout Replica, _ buffer: inout CausalBuffer) throws {
        do {
            try r.apply(op)
        } catch .refused(.causality, _) {
            buffer.hold(op)
            return
        }
        var ready = buffer.takeReady(for: r)
        while !ready.isEmpty {
            for o in ready {
                do { try r.apply(o) } catch .refused(.causality, _) { buffer.hold(o) }
            }
            ready = buffer.takeReady(for: r)
        }
    }

    func testConcurrentWritesConflictEverywhereAndLaterWriteResolves() throws {
        let t: @Sendable () -> UInt64 = { 1_000 }
        var a = Replica(id: ReplicaID(node: "asker", epoch: 1), wallClock: t)
        var b = Replica(id: ReplicaID(node: "baerum", epoch: 1), wallClock: t)
        var c = Replica(id: ReplicaID(node: "hamar", epoch: 1), wallClock: t)
        let key = RecordKey(collection: "projects", id: "catchmr")
        let base = try a.write(key, [.assign(field: "title", value: .string("CatchMR"))])
        try b.apply(base); try c.apply(base)
        let fromA = try a.write(key, [.assign(field: "status", value: .string("running"))])
        let fromB = try b.write(key, [.assign(field: "status", value: .string("closed"))])
        for op in [fromA, fromB] { try a.apply(op); try b.apply(op); try c.apply(op) }
        for r in [a, b, c] {
            let conflicts = r.conflicts()
            XCTAssertEqual(conflicts.count, 1)
            XCTAssertEqual(conflicts.first?.field, "status")
            XCTAssertEqual(Set(conflicts.first?.siblings.map(\.value) ?? []), [.string("running"), .string("closed")])
            XCTAssertEqual(Set(conflicts.first?.siblings.map(\.dot.replica.node) ?? []), ["asker", "baerum"])
        }
        XCTAssertEqual(a.view(key)?.field("status")?.value, b.view(key)?.field("status")?.value)
        // c saw both and writes again: the conflict is resolved everywhere.
        let resolve = try c.write(key, [.assign(field: "status", value: .string("running"))])
        try a.apply(resolve); try b.apply(resolve)
        for r in [a, b, c] {
            XCTAssertTrue(r.conflicts().isEmpty)
            XCTAssertEqual(r.view(key)?.field("status")?.value, .string("running"))
        }
        XCTAssertEqual(a.digest(), c.digest())
    }

    func testAddWinsAndUpdateWinsOverDelete() throws {
        let t: @Sendable () -> UInt64 = { 5 }
        var a = Replica(id: ReplicaID(node: "oslo", epoch: 1), wallClock: t)
        var b = Replica(id: ReplicaID(node: "drammen", epoch: 1), wallClock: t)
        let key = RecordKey(collection: "organisations", id: "drammen")
        let create = try a.write(key, [.assign(field: "name", value: .string("Drammen")), .add(field: "topics", element: "education")])
        try b.apply(create)
        let remove = try a.write(key, [.remove(field: "topics", element: "education")])
        let readd = try b.write(key, [.add(field: "topics", element: "education")])
        try a.apply(readd); try b.apply(remove)
        XCTAssertEqual(a.view(key)?.field("topics")?.members, ["education"])
        XCTAssertEqual(b.view(key)?.field("topics")?.members, ["education"])
        let del = try a.delete(key)
        let edit = try b.write(key, [.assign(field: "name", value: .string("Drammen kommune"))])
        try a.apply(edit); try b.apply(del)
        XCTAssertNotNil(a.view(key), "an edit concurrent with a delete keeps the record")
        XCTAssertEqual(a.conflicts().map(\.field), [Record.existsField])
        XCTAssertEqual(a.digest(), b.digest())
        // A delete that saw everything removes it for good.
        let del2 = try a.delete(key)
        try b.apply(del2)
        XCTAssertNil(a.view(key)); XCTAssertNil(b.view(key))
        XCTAssertTrue(a.keys(in: "organisations").isEmpty)
    }
}
