import XCTest
import MemberSyncModel
@testable import MemberSyncStore

/// Records changed by stored ops may be written later, at a checkpoint: a reload rebuilds them
/// from the ops the checkpoint does not cover.
final class StoreCheckpointTests: XCTestCase {
    var dir: String!

    override func setUpWithError() throws {
        dir = NSTemporaryDirectory() + "checkpoint-\(UUID().uuidString.prefix(8))"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
    }

    override func tearDown() { try? FileManager.default.removeItem(atPath: dir) }

    func testOpsWithoutRecordStatesRebuildTheRecordsOnLoad() throws {
        let store = try Store(path: dir + "/r.sqlite")
        let id = try store.identity(node: "asker")
        var replica = try store.loadReplica(id: id, wallClock: { 1_000 })
        let asker = RecordKey(collection: "organisations", id: "asker")
        let hamar = RecordKey(collection: "organisations", id: "hamar")

        // Before any checkpoint: ops only, no record rows at all.
        let first = try replica.write(asker, [.assign(field: "name", value: .string("Asker")), .add(field: "topics", element: "climate")])
        try store.commit(ops: [first], records: [], version: replica.version)
        XCTAssertEqual(try store.loadReplica(id: id, wallClock: { 0 }).digest(), replica.digest(), "no checkpoint: every op is replayed")

        // A checkpoint writes the records and the version they reflect.
        try store.commit(ops: [], records: replica.records.map { ($0.key, $0.value) }, version: replica.version, checkpoint: replica.version)
        let atCheckpoint = replica.digest()

        // After it: more ops, records not written; one record edited again, one new.
        let second = try replica.write(asker, [.assign(field: "name", value: .string("Asker kommune")), .remove(field: "topics", element: "climate")])
        let third = try replica.write(hamar, [.assign(field: "name", value: .string("Hamar"))])
        try store.commit(ops: [second, third], records: [], version: replica.version)
        XCTAssertNotEqual(replica.digest(), atCheckpoint)

        let loaded = try Store(path: dir + "/r.sqlite").loadReplica(id: id, wallClock: { 0 })
        XCTAssertEqual(loaded.digest(), replica.digest(), "ops after the checkpoint are joined in again")
        XCTAssertEqual(loaded.record(asker), replica.record(asker))
        XCTAssertEqual(loaded.record(hamar), replica.record(hamar))
        XCTAssertEqual(loaded.version, replica.version)
        XCTAssertEqual(loaded.logCount, 3, "the log itself is unchanged by the replay")
    }

    func testCheckpointTextRoundTripsAndDamageIsReported() throws {
        let v = VersionVector([ReplicaID(node: "asker", epoch: 0xbeef): 12, ReplicaID(node: "brussels", epoch: 1): 3])
        XCTAssertEqual(try Store.parseVersion(Store.formatVersion(v)), v)
        XCTAssertEqual(try Store.parseVersion(""), VersionVector())
        XCTAssertNil(try Store.parseVersion(nil))
        XCTAssertThrowsError(try Store.parseVersion("asker@1=x")) {
            guard case .corrupt? = $0 as? StoreError else { return XCTFail("\($0)") }
        }
    }
}
