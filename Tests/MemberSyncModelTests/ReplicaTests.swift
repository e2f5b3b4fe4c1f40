import XCTest
import MemberSyncHarness
@testable import MemberSyncModel

final class ReplicaTests: XCTestCase {
    let t: @Sendable () -> UInt64 = { 42 }

    /// The roster's keys come from an index kept as records change, not from a scan of every
    /// record: after writes, a delete, a write taken back, a restore from a store and a
    /// snapshot, they are exactly the existing `nodes/…` records, sorted.
    func testRosterKeysFollowEveryWayARecordChanges() throws {
        func scanned(_ r: Replica) -> [RecordKey] { r.records.filter { $0.key.collection == "nodes" && $0.value.exists }.map(\.key).sorted() }
        let node = { (id: String) in RecordKey(collection: "nodes", id: id) }
        var a = Replica(id: ReplicaID(node: "brussels", epoch: 1), wallClock: { 1_000 })
        for id in ["hamar", "asker", "baerum"] { try a.write(node(id), [.assign(field: "role", value: .string("member"))]) }
        try a.write(RecordKey(collection: "contacts", id: "kari"), [.assign(field: "name", value: .string("Kari"))])
        try a.delete(node("baerum"))
        XCTAssertEqual(a.keys(in: "nodes"), [node("asker"), node("hamar")])
        var undo = a.undoPoint()
        a.commitLocal(try a.prepareWrite(node("oslomet"), [.assign(field: "role", value: .string("member"))]), undo: &undo)
        XCTAssertEqual(a.keys(in: "nodes"), [node("asker"), node("hamar"), node("oslomet")])
        a.rollBack(undo)
        XCTAssertEqual(a.keys(in: "nodes"), scanned(a), "a write taken back")
        let restored = Replica(restoring: a.id, wallClock: { 1_000 }, records: a.records, version: a.version, floor: a.logFloor, ops: [])
        XCTAssertEqual(restored.keys(in: "nodes"), scanned(a), "restored from a store")
        var b = Replica(id: ReplicaID(node: "asker", epoch: 1), wallClock: { 1_000 })
        try b.load(a.snapshot())
        XCTAssertEqual(b.keys(in: "nodes"), scanned(a), "from a snapshot")
        XCTAssertEqual(b.keys(in: "contacts"), [RecordKey(collection: "contacts", id: "kari")])
    }

    func testSchemaRefusalsNameCollectionFieldAndReason() {
        var r = Replica(id: ReplicaID(node: "asker", epoch: 1), wallClock: t)
        let org = RecordKey(collection: "organisations", id: "asker")
        func refusal(_ key: RecordKey, _ changes: [FieldChange]) -> SchemaError? {
            do { _ = try r.write(key, changes); return nil } catch {
                if case .schema(let e) = error { return e }
                return nil
            }
        }
        let e1 = refusal(org, [.assign(field: "population", value: .string("many"))])
        XCTAssertEqual(e1?.collection, "organisations"); XCTAssertEqual(e1?.field, "population")
        let e2 = refusal(org, [.assign(field: "colour", value: .string("red"))])
        XCTAssertEqual(e2?.field, "colour"); XCTAssertTrue(e2?.reason.contains("unknown field") ?? false)
        let e3 = refusal(RecordKey(collection: "planets", id: "mars"), [.assign(field: "name", value: .string("Mars"))])
        XCTAssertEqual(e3?.collection, "planets"); XCTAssertNil(e3?.field)
        let e4 = refusal(org, [.assign(field: "kind", value: .string("planet"))])
        XCTAssertTrue(e4?.reason.contains("municipality") ?? false)
        let e5 = refusal(org, [.assign(field: "joined", value: .string("2021-02-30"))])
        XCTAssertEqual(e5?.field, "joined")
        let e6 = refusal(org, [.add(field: "networks", element: "Not A Slug")])
        XCTAssertEqual(e6?.field, "networks")
        XCTAssertEqual(r.version, VersionVector(), "refused writes consume no counter")
        XCTAssertThrowsError(try r.write(org, []))
        XCTAssertThrowsError(try r.delete(org))
    }

    func testRemoteOpBreakingSchemaIsRefusedWhole() throws {
        var a = Replica(id: ReplicaID(node: "a", epoch: 1), wallClock: t)
        var b = Replica(id: ReplicaID(node: "b", epoch: 1), wallClock: t)
        let good = try a.write(RecordKey(collection: "organisations", id: "x"), [.assign(field: "name", value: .string("X"))])
        var fields = good.fields
        fields["population"] = .register(Register<Value>().writing(.string("lots"), dot: good.dot, hlc: good.hlc))
        let bad = Op(origin: good.origin, counter: good.counter, hlc: good.hlc, key: good.key, fields: fields)
        XCTAssertThrowsError(try b.apply(bad)) { error in
            guard case .schema(let e) = error as? ModelError else { return XCTFail("\(error)") }
            XCTAssertEqual(e.field, "population")
        }
        XCTAssertTrue(b.records.isEmpty, "nothing applied half-way")
        XCTAssertEqual(b.version, VersionVector())
        // A delta smuggling a sibling attributed to another event is malformed.
        let forged = Op(origin: good.origin, counter: good.counter, hlc: good.hlc, key: good.key,
                        fields: ["name": .register(Register<Value>().writing(.string("Y"), dot: Dot(ReplicaID(node: "c", epoch: 1), 9), hlc: good.hlc))])
        XCTAssertThrowsError(try b.apply(forged))
        XCTAssertEqual(try b.apply(good), .applied)
        XCTAssertEqual(try b.apply(good), .duplicate)
    }

    func testOpsSinceGapsSnapshotAndCompaction() throws {
        var a = Replica(id: ReplicaID(node: "a", epoch: 1), wallClock: t)
        let key = RecordKey(collection: "networks", id: "eurocities")
        var ops: [Op] = []
        for i in 1...10 { ops.append(try a.write(key, [.assign(field: "description", value: .string("v\(i)"))])) }
        guard case .ops(let all) = a.ops(since: VersionVector()) else { return XCTFail() }
        XCTAssertEqual(all.map(\.counter), Array(1...10))
        guard case .ops(let page) = a.ops(since: VersionVector([a.id: 3]), limit: 4) else { return XCTFail() }
        XCTAssertEqual(page.map(\.counter), [4, 5, 6, 7])

        // Out-of-order arrival: the vector only advances once the gap is filled.
        var b = Replica(id: ReplicaID(node: "b", epoch: 1), wallClock: t)
        try b.apply(ops[4]); try b.apply(ops[2])
        XCTAssertEqual(b.version[a.id], 0)
        XCTAssertEqual(b.logCount, 2, "held ahead of a gap, counted once each")
        try b.apply(ops[4])
        XCTAssertEqual(b.logCount, 2, "a duplicate is not counted again")
        XCTAssertTrue(b.holds(ops[4].dot))
        for op in ops[0..<4] { try b.apply(op) }
        XCTAssertEqual(b.version[a.id], 5)

        // Compaction: older ops are gone and a far-behind peer must take a snapshot.
        XCTAssertEqual(a.logCount, 10)
        a.compact(below: VersionVector([a.id: 6]))
        XCTAssertEqual(a.logCount, 4)
        b.compact(below: VersionVector([a.id: 3]))
        XCTAssertEqual(b.logCount, 2, "ops 4 and 5 remain")
        XCTAssertEqual(a.ops(since: VersionVector([a.id: 2])), .needsSnapshot)
        guard case .ops(let rest) = a.ops(since: VersionVector([a.id: 6])) else { return XCTFail() }
        XCTAssertEqual(rest.map(\.counter), [7, 8, 9, 10])

        var fresh = Replica(id: ReplicaID(node: "c", epoch: 1), wallClock: t)
        try fresh.load(a.snapshot())
        XCTAssertEqual(fresh.digest(), a.digest())
        XCTAssertEqual(fresh.version, a.version)
        XCTAssertEqual(fresh.ops(since: VersionVector()), .needsSnapshot, "ops inside a snapshot cannot be served")
        // Loading twice, or together with the ops, changes nothing: joins are idempotent.
        try fresh.load(a.snapshot())
        for op in ops { try fresh.apply(op) }
        XCTAssertEqual(fresh.digest(), a.digest())
    }

    func testHybridClockIsMonotonicAndPassesObservedTimestamps() {
        let wall = SimulatedClock(milliseconds: 10_000)
        var clock = HybridClock(wallClock: { wall.milliseconds })
        let t1 = clock.now()
        wall.milliseconds = 5  // wall clock jumps backwards
        let t2 = clock.now()
        XCTAssertGreaterThan(t2, t1)
        clock.observe(HLC(milliseconds: 5_000, logical: 7))
        let t3 = clock.now()
        XCTAssertGreaterThan(t3, HLC(milliseconds: 5_000, logical: 7))
    }

    func testSHA256KnownAnswers() {
        var h = SHA256Hasher()
        XCTAssertEqual(hexString(h.finalize()), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")
        var abc = SHA256Hasher()
        abc.update(Array("abc".utf8))
        XCTAssertEqual(hexString(abc.finalize()), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")
        var long = SHA256Hasher()
        long.update(Array("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq".utf8))
        XCTAssertEqual(hexString(long.finalize()), "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1")
    }

    func testSlugsAndDates() {
        XCTAssertTrue(isValidSlug("oslo-region-alliance"))
        XCTAssertFalse(isValidSlug("Oslo")); XCTAssertFalse(isValidSlug("-x")); XCTAssertFalse(isValidSlug(""))
        XCTAssertFalse(isValidSlug(String(repeating: "a", count: 65)))
        XCTAssertTrue(isValidDate("2024-02-29")); XCTAssertFalse(isValidDate("2023-02-29"))
        XCTAssertFalse(isValidDate("2023-13-01")); XCTAssertFalse(isValidDate("2023-1-01"))
        XCTAssertEqual(ReplicaID(parsing: "asker@1f"), ReplicaID(node: "asker", epoch: 31))
        XCTAssertNil(ReplicaID(parsing: "asker"))
    }
}
