import MemberSyncHarness
import XCTest
@testable import MemberSyncModel

/// The join laws on randomly generated states: commutative, associative, idempotent.
final class CRDTLawTests: XCTestCase {
    func forEachSeed(_ count: Int = 60, _ body: (UInt64, inout Simulation) throws -> Void) rethrows {
        for seed in 1...UInt64(count) {
            var sim = Simulation(seed: seed, replicaCount: 3)
            sim.run(steps: 60)
            try body(seed, &sim)
        }
    }

    func testRegisterJoinLaws() {
        forEachSeed { seed, sim in
            for _ in 0..<10 {
                let field = Simulation.orgFields.randomElement(using: &sim.rng)!
                let a = sim.randomRegister(field: field), b = sim.randomRegister(field: field), c = sim.randomRegister(field: field)
                XCTAssertEqual(a.joined(with: b), b.joined(with: a), "commutativity, seed \(seed)")
                XCTAssertEqual(a.joined(with: b).joined(with: c), a.joined(with: b.joined(with: c)), "associativity, seed \(seed)")
                XCTAssertEqual(a.joined(with: a), a, "idempotence, seed \(seed)")
            }
        }
    }

    func testSetJoinLaws() {
        forEachSeed { seed, sim in
            for _ in 0..<10 {
                let a = sim.randomSet(), b = sim.randomSet(), c = sim.randomSet()
                XCTAssertEqual(a.joined(with: b), b.joined(with: a), "commutativity, seed \(seed)")
                XCTAssertEqual(a.joined(with: b).joined(with: c), a.joined(with: b.joined(with: c)), "associativity, seed \(seed)")
                XCTAssertEqual(a.joined(with: a), a, "idempotence, seed \(seed)")
            }
        }
    }

    func testRecordJoinLaws() {
        forEachSeed { seed, sim in
            for _ in 0..<10 {
                let a = sim.randomRecord(), b = sim.randomRecord(), c = sim.randomRecord()
                XCTAssertEqual(a.joined(with: b), b.joined(with: a), "commutativity, seed \(seed)")
                XCTAssertEqual(a.joined(with: b).joined(with: c), a.joined(with: b.joined(with: c)), "associativity, seed \(seed)")
                XCTAssertEqual(a.joined(with: a), a, "idempotence, seed \(seed)")
            }
        }
    }

    /// The simulation must actually produce the interesting cases, or the laws prove little.
    func testGeneratorProducesConflictsAndRemovals() {
        var conflicts = 0, tombstones = 0
        forEachSeed(20) { _, sim in
            for r in sim.replicas {
                conflicts += r.conflicts().count
                for record in r.records.values {
                    tombstones += record.set("topics").elements.values.filter { !$0.siblings.contains { $0.value } }.count
                }
            }
        }
        XCTAssertGreaterThan(conflicts, 0)
        XCTAssertGreaterThan(tombstones, 0)
    }
}
