import XCTest
import MemberSyncModel
import MemberSyncWire
@testable import MemberSyncStore

final class StoreTests: XCTestCase {
    var dir: String!

    override func setUpWithError() throws {
        dir = NSTemporaryDirectory() + "store-\(UUID().uuidString.prefix(8))"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
    }

    override func tearDown() { try? FileManager.default.removeItem(atPath: dir) }

    func testCommitThenReloadGivesTheSameReplica() throws {
        let store = try Store(path: dir + "/r.sqlite")
        let id = try store.identity(node: "asker")
        XCTAssertEqual(try store.identity(node: "asker"), id, "identity is stable")
        var replica = try store.loadReplica(id: id, wallClock: { 1_000 })
        let key = RecordKey(collection: "organisations", id: "asker")
        var ops: [Op] = []
        ops.append(try replica.write(key, [.assign(field: "name", value: .string("Asker")), .add(field: "topics", element: "climate")]))
        ops.append(try replica.write(key, [.assign(field: "population", value: .int(95_000))]))
        // A remote op arriving ahead of a gap is stored and still counted as held after reload.
        var other = Replica(id: ReplicaID(node: "baerum", epoch: 2), wallClock: { 2_000 })
        let o1 = try other.write(RecordKey(collection: "organisations", id: "baerum"), [.assign(field: "name", value: .string("Bærum"))])
        let o2 = try other.write(RecordKey(collection: "organisations", id: "baerum"), [.assign(field: "county", value: .string("Viken"))])
        try replica.apply(o2)
        ops.append(o2)
        try store.commit(ops: ops, records: replica.records.map { ($0.key, $0.value) }, version: replica.version)

        let reopened = try Store(path: dir + "/r.sqlite")
        var loaded = try reopened.loadReplica(id: id, wallClock: { 500 })
        XCTAssertEqual(loaded.digest(), replica.digest())
        XCTAssertEqual(loaded.version, replica.version)
        XCTAssertTrue(loaded.holds(o2.dot))
        XCTAssertGreaterThan(loaded.clock.latest, HLC(raw: 0), "the clock resumes past stored timestamps")
        try loaded.apply(o1)
        XCTAssertEqual(loaded.version[other.id], 2, "the gap closes after reload")
        XCTAssertEqual(try reopened.opCount(), 3)
        XCTAssertEqual(try reopened.integrityCheck(), "ok")
    }

    func testDirectoryOfAnotherNodeIsRefused() throws {
        let store = try Store(path: dir + "/r.sqlite")
        _ = try store.identity(node: "asker")
        XCTAssertThrowsError(try store.identity(node: "baerum")) { error in
            XCTAssertTrue("\(error)".contains("asker"))
        }
    }

    func testCompactionDropsOpsAndRaisesTheFloor() throws {
        let store = try Store(path: dir + "/r.sqlite")
        let id = try store.identity(node: "hub")
        var replica = try store.loadReplica(id: id, wallClock: { 1 })
        var ops: [Op] = []
        for i in 0..<10 { ops.append(try replica.write(RecordKey(collection: "networks", id: "n\(i)"), [.assign(field: "name", value: .string("N\(i)"))])) }
        try store.commit(ops: ops, records: replica.records.map { ($0.key, $0.value) }, version: replica.version)
        replica.compact(below: VersionVector([id: 6]))
        try store.compact(floor: replica.logFloor, version: replica.version)
        XCTAssertEqual(try store.opCount(), 4)
        let loaded = try store.loadReplica(id: id, wallClock: { 1 })
        XCTAssertEqual(loaded.logFloor[id], 6)
        XCTAssertEqual(loaded.ops(since: VersionVector()), .needsSnapshot)
        XCTAssertEqual(loaded.digest(), replica.digest())
    }

    func testDamagedRowsStopTheLoadInsteadOfDroppingData() throws {
        let store = try Store(path: dir + "/r.sqlite")
        let id = try store.identity(node: "asker")
        try store.commit(ops: [], records: [(RecordKey(collection: "offices", id: "mesh"), Record())], version: VersionVector())
        let db = try SQLiteDatabase(path: dir + "/r.sqlite")
        try db.execute("UPDATE records SET body = x'ffffffff'")
        XCTAssertThrowsError(try store.loadReplica(id: id, wallClock: { 1 })) { error in
            XCTAssertTrue("\(error)".contains("damaged"), "\(error)")
        }
    }

    func testBackupIsAConsistentCopy() throws {
        let store = try Store(path: dir + "/r.sqlite")
        let id = try store.identity(node: "hub")
        var replica = try store.loadReplica(id: id, wallClock: { 1 })
        let op = try replica.write(RecordKey(collection: "offices", id: "nordic-house"), [.assign(field: "city", value: .string("Brussels"))])
        try store.commit(ops: [op], records: replica.records.map { ($0.key, $0.value) }, version: replica.version)
        try store.backup(to: dir + "/backup.sqlite")
        let copy = try Store(path: dir + "/backup.sqlite")
        XCTAssertEqual(try copy.loadReplica(id: try copy.identity(node: "hub"), wallClock: { 1 }).digest(), replica.digest())
    }
}
