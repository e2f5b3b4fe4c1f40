import MemberSyncHarness
import XCTest
@testable import MemberSyncModel

/// The sorted-array version vector against a plain dictionary model of the same operations.
final class VersionVectorTests: XCTestCase {
    func testOperationsMatchADictionaryModel() {
        var rng = SeededRandom(seed: 0x7765)
        let replicas = (0..<12).map { ReplicaID(node: "node-\($0 % 6)", epoch: UInt32($0 / 6)) }
        func randomPair() -> (VersionVector, [ReplicaID: UInt64]) {
            var v = VersionVector()
            var model: [ReplicaID: UInt64] = [:]
            for _ in 0..<Int(rng.next() % 10) {
                let r = replicas[Int(rng.next() % UInt64(replicas.count))]
                let c = rng.next() % 5
                if rng.next() % 2 == 0 {
                    v[r] = c
                    model[r] = c == 0 ? nil : c
                } else {
                    v.add(Dot(r, c))
                    if c > (model[r] ?? 0) { model[r] = c }
                }
            }
            return (v, model)
        }
        for _ in 0..<2_000 {
            let (a, ma) = randomPair(), (b, mb) = randomPair()
            XCTAssertEqual(a.entries, ma)
            XCTAssertEqual(a, VersionVector(ma), "equal whatever the order of construction")
            XCTAssertEqual(a.hashValue, VersionVector(ma).hashValue)
            XCTAssertEqual(a.sorted.map(\.replica), a.sorted.map(\.replica).sorted())
            let merged = a.merging(b)
            XCTAssertEqual(merged.entries, ma.merging(mb) { max($0, $1) })
            XCTAssertEqual(a.dominates(b), mb.allSatisfy { (ma[$0.key] ?? 0) >= $0.value })
            let meetModel = Dictionary(uniqueKeysWithValues: ma.compactMap { k, c -> (ReplicaID, UInt64)? in
                let m = min(c, mb[k] ?? 0)
                return m > 0 ? (k, m) : nil
            })
            XCTAssertEqual(a.meet(b).entries, meetModel)
            XCTAssertEqual(a.missing(from: b), mb.reduce(0) { $0 + ($1.value > (ma[$1.key] ?? 0) ? $1.value - (ma[$1.key] ?? 0) : 0) })
            for r in replicas { XCTAssertEqual(a[r], ma[r] ?? 0) }
        }
    }

    func testStrictlyIncreasingInitRefusesDisorderAndDuplicates() {
        let a = ReplicaID(node: "asker", epoch: 1), b = ReplicaID(node: "baerum", epoch: 1)
        XCTAssertEqual(VersionVector(strictlyIncreasing: [(a, 2), (b, 0)]), VersionVector([a: 2]), "zero entries are dropped")
        XCTAssertNil(VersionVector(strictlyIncreasing: [(b, 1), (a, 2)]))
        XCTAssertNil(VersionVector(strictlyIncreasing: [(a, 1), (a, 2)]))
    }
}
