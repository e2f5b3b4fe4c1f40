import MemberSyncHarness
import XCTest
@testable import MemberSyncModel

/// The status summary is kept as records change (`StateSummary`): whenever it is refreshed,
/// and whatever happened in between (ops in any order, withholding and releasing, a rolled
/// back write, a snapshot), it equals the summary computed from scratch.
final class StateSummaryTests: XCTestCase {
    /// The summary of the same records, computed from nothing.
    func fromScratch(_ r: Replica) -> (String, Int, Int) {
        var scratch = r
        scratch.summary = StateSummary()
        return (scratch.digest(), scratch.existingRecordCount, scratch.conflictCount)
    }

    func assertCurrent(_ r: Replica, _ what: String, file: StaticString = #filePath, line: UInt = #line) {
        let (digest, existing, conflicts) = fromScratch(r)
        XCTAssertEqual(r.digest(), digest, what, file: file, line: line)
        XCTAssertEqual(r.existingRecordCount, existing, what, file: file, line: line)
        XCTAssertEqual(r.existingRecordCount, r.records.values.filter(\.exists).count, what, file: file, line: line)
        XCTAssertEqual(r.conflictCount, conflicts, what, file: file, line: line)
        XCTAssertEqual(r.conflictCount, r.conflicts().count, what, file: file, line: line)
    }

    /// A record's share is the SHA-256 of what `Replica.view` shows of it, in the form the
    /// digest has always had (this is the code that built a view for it); the share is now
    /// hashed without building one, and must not move any digest.
    static func shareFromView(_ key: RecordKey, _ record: Record) -> StateSummary.Lanes {
        var hasher = SHA256Hasher()
        hasher.update(key.description)
        if case .register(let e)? = record.fields[Record.existsField], e.isConflicted {
            hasher.update("$exists-conflict")
            for s in e.siblings { hasher.update(s.dot.description); hasher.update(StateSummary.valueTag(s.value)) }
        }
        for f in Replica.view(key: key, record: record).fields {
            hasher.update(f.name)
            if let v = f.value { hasher.update("v"); hasher.update(StateSummary.valueTag(v)) }
            if let m = f.members { hasher.update("m"); hasher.update(UInt64(m.count)); m.forEach { hasher.update($0) } }
            if let c = f.conflict {
                hasher.update("c")
                for s in c { hasher.update(s.dot.description); hasher.update(StateSummary.valueTag(s.value)) }
            }
        }
        let bytes = hasher.finalize()
        func word(_ lane: Int) -> UInt64 { (0..<8).reduce(UInt64(0)) { $0 << 8 | UInt64(bytes[lane * 8 + $1]) } }
        return StateSummary.Lanes(a: word(0), b: word(1), c: word(2), d: word(3))
    }

    func testAShareIsTheHashOfTheRecordsView() throws {
        var compared = 0, conflicted = 0
        for seed in UInt64(1)...30 {
            var sim = Simulation(seed: seed, replicaCount: 3, keyCount: 4)
            sim.run(steps: 150)
            for replica in sim.replicas {
                for (key, record) in replica.records {
                    guard record.exists else { continue }
                    let share = StateSummary.share(key, record)
                    XCTAssertEqual(share.hash, Self.shareFromView(key, record), "seed \(seed), \(key)")
                    compared += 1
                    if share.conflicts > 0 { conflicted += 1 }
                }
            }
        }
        XCTAssertGreaterThan(compared, 100)
        XCTAssertGreaterThan(conflicted, 10, "conflicts are hashed too")
    }

    /// A summary built from scratch over many records hashes them on all cores
    /// (`StateSummary.allShares`); it must equal the one kept record by record, conflicts and
    /// deletions included.
    func testSharesHashedOnAllCoresEqualTheOnesKeptRecordByRecord() throws {
        var a = Replica(id: ReplicaID(node: "asker", epoch: 1), wallClock: { 1_000 })
        var b = Replica(id: ReplicaID(node: "baerum", epoch: 1), wallClock: { 1_000 })
        for i in 0..<6_000 {
            let key = RecordKey(collection: "contacts", id: "c\(i)")
            let op = try a.write(key, [.assign(field: "name", value: .string("Name \(i)")), .add(field: "topics", element: "t\(i % 7)")])
            if i % 10 == 0 {
                // A concurrent write of the same field at baerum: a conflict once both meet.
                let other = try b.write(key, [.assign(field: "name", value: .string("Other \(i)"))])
                _ = try a.apply(other)
            }
            _ = try b.apply(op)
            if i % 13 == 0 { _ = try a.delete(key) }
        }
        _ = a.digest()  // folds the summary kept record by record
        XCTAssertGreaterThanOrEqual(a.records.count, 6_000)
        XCTAssertGreaterThan(a.conflictCount, 500)
        let parallel = StateSummary.allShares(a.records)
        XCTAssertEqual(parallel.count, a.records.count)
        for ((key, record), share) in zip(a.records, parallel) { XCTAssertEqual(share, StateSummary.share(key, record), "\(key)") }
        assertCurrent(a, "6,000 records folded from scratch")
    }

    /// A summary started from kept shares (what a store reads back) hashes nothing for the
    /// records it has a share of, folds the rest at the next refresh, and equals the summary
    /// from scratch; a share survives its byte form exactly, conflicts and deletions included.
    func testASummaryRestoredFromKeptSharesFoldsOnlyTheRecordsWithoutOne() throws {
        var sim = Simulation(seed: 7, replicaCount: 3, keyCount: 40)
        sim.run(steps: 400)
        let source = sim.replicas[0]
        XCTAssertGreaterThan(source.conflictCount, 0)
        XCTAssertTrue(source.records.values.contains { !$0.exists }, "a deleted record is among them")
        var kept: [RecordKey: RecordShare] = [:]
        for (key, record) in source.records {
            let share = RecordShare(key, record)
            XCTAssertEqual(RecordShare(bytes: share.bytes), share, "\(key)")
            XCTAssertEqual(share.bytes.count, RecordShare.byteCount)
            kept[key] = share
        }
        let withoutShare = Array(source.records.keys.prefix(5))
        for key in withoutShare { kept[key] = nil }

        var restored = source
        restored.restoreSummary(kept: kept)
        XCTAssertFalse(restored.summary.allDirty)
        XCTAssertEqual(restored.summary.dirty, Set(withoutShare), "only the records without a kept share wait to be hashed")
        assertCurrent(restored, "restored from kept shares")
        restored.refreshSummary()
        XCTAssertTrue(restored.summary.dirty.isEmpty)
        for (key, _) in source.records { XCTAssertEqual(restored.share(of: key), kept[key] ?? RecordShare(key, source.records[key]!)) }
        assertCurrent(restored, "after the fold")

        XCTAssertNil(RecordShare(bytes: Array(repeating: 0, count: RecordShare.byteCount - 1)), "too short")
        var badFlag = kept.values.first!.bytes
        badFlag[RecordShare.byteCount - 1] = 2
        XCTAssertNil(RecordShare(bytes: badFlag), "exists is 0 or 1")
        var deletedWithHash = Array(repeating: UInt8(0), count: RecordShare.byteCount)
        deletedWithHash[0] = 1
        XCTAssertNil(RecordShare(bytes: deletedWithHash), "a deleted record's hash is zero")
    }

    /// The share a store writes with a record row (`Replica.share(of:)`) is the kept one when
    /// the record has not changed since the last fold, and computed when it has.
    func testTheShareOfARecordIsItsCurrentOneBeforeAndAfterAFold() throws {
        var r = Replica(id: ReplicaID(node: "asker", epoch: 1), wallClock: { 1_000 })
        let key = RecordKey(collection: "contacts", id: "kari")
        _ = try r.write(key, [.assign(field: "name", value: .string("Kari"))])
        XCTAssertEqual(r.share(of: key), RecordShare(key, r.records[key]!), "before any fold")
        r.refreshSummary()
        _ = try r.write(key, [.assign(field: "name", value: .string("Kari Nordmann"))])
        XCTAssertEqual(r.share(of: key), RecordShare(key, r.records[key]!), "changed since the fold")
        r.refreshSummary()
        XCTAssertEqual(r.share(of: key), RecordShare(key, r.records[key]!), "kept")
        XCTAssertNil(r.share(of: RecordKey(collection: "contacts", id: "nobody")))
    }

    /// A store writing records changed in this turn hashes them (`sharesForStoring`), and
    /// the next fold takes those shares rather than hashing again; a change after that drops
    /// the early share, so the fold never keeps a stale one.
    func testSharesComputedForTheStoreAreTakenByTheFoldUnlessTheRecordChangesAgain() throws {
        var r = Replica(id: ReplicaID(node: "asker", epoch: 1), wallClock: { 1_000 })
        let kari = RecordKey(collection: "contacts", id: "kari"), ola = RecordKey(collection: "contacts", id: "ola")
        _ = try r.write(kari, [.assign(field: "name", value: .string("Kari"))])
        _ = try r.write(ola, [.assign(field: "name", value: .string("Ola"))])
        r.refreshSummary()

        _ = try r.write(kari, [.assign(field: "name", value: .string("Kari Nordmann"))])
        let stored = r.sharesForStoring([kari, ola, RecordKey(collection: "contacts", id: "nobody")])
        XCTAssertEqual(stored, [kari: RecordShare(kari, r.records[kari]!), ola: RecordShare(ola, r.records[ola]!)])
        XCTAssertEqual(Array(r.summary.computedAhead.keys), [kari], "only the changed record was hashed, and it is kept for the fold")
        r.refreshSummary()
        XCTAssertTrue(r.summary.computedAhead.isEmpty)
        assertCurrent(r, "the fold took the early share")

        _ = try r.write(ola, [.assign(field: "name", value: .string("Ola Nordmann"))])
        _ = r.sharesForStoring([ola])
        _ = try r.write(ola, [.assign(field: "role", value: .string("Adviser"))])
        XCTAssertTrue(r.summary.computedAhead.isEmpty, "the change after the store's share dropped it")
        r.refreshSummary()
        assertCurrent(r, "the fold hashed the record as it is now")
        XCTAssertEqual(r.share(of: ola), RecordShare(ola, r.records[ola]!))
    }

    func testTheKeptSummaryEqualsOneComputedFromScratch() throws {
        for seed in UInt64(1)...20 {
            var sim = Simulation(seed: seed, replicaCount: 3, keyCount: 5)
            sim.run(steps: 120)
            var rng = SeededRandom(seed: seed &* 31)
            var r = Replica(id: ReplicaID(node: "observer", epoch: 1), wallClock: { 0 })
            var buffer = CausalBuffer()
            for op in sim.allOps.shuffled(using: &rng) {
                try ConvergenceTests.deliver(op, to: &r, &buffer)
                // Refreshed now and then, as status calls do; read in between too.
                if Int.random(in: 0..<7, using: &rng) == 0 { r.refreshSummary() }
                if Int.random(in: 0..<5, using: &rng) == 0 { r.refreshSummary(limit: 2) }
                if Int.random(in: 0..<11, using: &rng) == 0 { assertCurrent(r, "seed \(seed), mid-stream") }
            }
            assertCurrent(r, "seed \(seed)")
            // Withholding and releasing rebuild records.
            let dots = Array(sim.allOps.map(\.dot).shuffled(using: &rng).prefix(5))
            _ = r.withhold(dots)
            assertCurrent(r, "seed \(seed), withheld")
            r.refreshSummary()
            for d in dots { _ = r.release(d) }
            assertCurrent(r, "seed \(seed), released")
            // A digest does not depend on the order ops came in.
            var inOrder = Replica(id: ReplicaID(node: "other", epoch: 1), wallClock: { 0 })
            var other = CausalBuffer()
            for op in sim.allOps { try ConvergenceTests.deliver(op, to: &inOrder, &other) }
            inOrder.refreshSummary()
            XCTAssertEqual(inOrder.digest(), r.digest(), "seed \(seed)")
        }
    }

    func testARolledBackWriteAndALoadedSnapshotKeepTheSummaryCurrent() throws {
        var a = Replica(id: ReplicaID(node: "asker", epoch: 1), wallClock: { 1_000 })
        let key = RecordKey(collection: "organisations", id: "asker")
        try a.write(key, [.assign(field: "name", value: .string("Asker"))])
        a.refreshSummary()
        let before = a.digest()
        var undo = a.undoPoint()
        a.commitLocal(try a.prepareWrite(key, [.assign(field: "name", value: .string("Asker kommune"))]), undo: &undo)
        XCTAssertNotEqual(a.digest(), before)
        a.refreshSummary()
        a.rollBack(undo)
        XCTAssertEqual(a.digest(), before, "taken back")
        assertCurrent(a, "after the rollback")

        // A restored replica's summary is built a few records at a time, and is exact throughout.
        var restored = Replica(restoring: a.id, wallClock: { 1_000 }, records: a.records, version: a.version, floor: a.logFloor, ops: [])
        restored.refreshSummary(limit: 0)
        assertCurrent(restored, "restored, nothing computed yet")
        XCTAssertEqual(restored.digest(), a.digest())

        var b = Replica(id: ReplicaID(node: "baerum", epoch: 1), wallClock: { 1_000 })
        b.refreshSummary()
        try b.load(a.snapshot())
        assertCurrent(b, "after a snapshot")
        XCTAssertEqual(b.digest(), a.digest())
        // A deleted record leaves the digest and the count of existing records.
        try b.delete(key)
        XCTAssertEqual(b.existingRecordCount, 0)
        XCTAssertEqual(b.digest(), Replica(id: ReplicaID(node: "empty", epoch: 1), wallClock: { 0 }).digest())
    }
}
