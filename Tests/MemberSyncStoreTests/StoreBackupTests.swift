import Foundation
import MemberSyncModel
import MemberSyncStore
import XCTest

/// A store's backup (what `membersync hub snapshot` writes) is a database that loads back into
/// the same replica, op log included, which is what `hub restore` and `history` rely on.
final class StoreBackupTests: XCTestCase {
    var dir: String!

    override func setUpWithError() throws {
        dir = NSTemporaryDirectory() + "msync-store-\(UUID().uuidString.prefix(8))"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
    }

    override func tearDown() {
        try? FileManager.default.removeItem(atPath: dir)
    }

    func testBackupLoadsBackIntoTheSameReplicaWithItsHistory() throws {
        let store = try Store(path: dir + "/replica.sqlite")
        let id = try store.identity(node: "brussels")
        var replica = Replica(id: id, wallClock: { 1_700_000_000_000 })
        let asker = RecordKey(collection: "organisations", id: "asker")
        var ops: [Op] = []
        ops.append(try replica.write(asker, [.assign(field: "name", value: .string("Asker"))]))
        ops.append(try replica.write(RecordKey(collection: "organisations", id: "oslo"), [.assign(field: "name", value: .string("Oslo"))]))
        ops.append(try replica.write(asker, [.add(field: "topics", element: "climate")]))
        ops.append(try replica.delete(asker))
        try store.commit(ops: ops, records: replica.records.map { ($0.key, $0.value) }, version: replica.version)

        let backup = dir + "/backup.sqlite"
        try store.backup(to: backup)
        let copy = try Store(path: backup)
        XCTAssertEqual(try copy.meta("replica"), id.description)
        XCTAssertEqual(try copy.opCount(), 4)
        let loaded = try copy.loadReplica(id: id, wallClock: { 0 })
        XCTAssertEqual(loaded.digest(), replica.digest())
        XCTAssertEqual(loaded.version, replica.version)
        // The history of one record: its three ops, oldest first, the other record's op left out.
        XCTAssertEqual(loaded.heldOps(for: asker).map(\.counter), [1, 3, 4])
        XCTAssertEqual(loaded.heldOps().count, 4)
    }

    func testCompactedOpsLeaveTheHistory() throws {
        var replica = Replica(id: ReplicaID(node: "brussels", epoch: 1), wallClock: { 1_700_000_000_000 })
        let key = RecordKey(collection: "projects", id: "catchmr")
        for status in ["idea", "proposal", "running"] {
            _ = try replica.write(key, [.assign(field: "status", value: .string(status))])
        }
        replica.compact(below: VersionVector([replica.id: 2]))
        XCTAssertEqual(replica.heldOps(for: key).map(\.counter), [3])
        XCTAssertEqual(replica.logFloor[replica.id], 2)
    }
}
