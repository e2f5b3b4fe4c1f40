import Foundation
import MemberSyncModel
import MemberSyncStore
import XCTest

/// The store keeps what a batch commit gives it, in the form the direct encoder writes.
final class StoreCommitTests: XCTestCase {
    /// A new store in a temporary directory (removed after the test) and its replica id.
    func freshStore() throws -> (Store, ReplicaID) {
        let dir = NSTemporaryDirectory() + "msync-store-\(UUID().uuidString.prefix(8))"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        addTeardownBlock { try? FileManager.default.removeItem(atPath: dir) }
        let store = try Store(path: dir + "/" + Store.fileName)
        return (store, try store.identity(node: "asker"))
    }

    func testBatchCommitRoundTripsAndCompactionRaisesFloors() throws {
        let (store, id) = try freshStore()
        var replica = Replica(id: id, wallClock: { 1_700_000_000_000 })
        var ops: [Op] = []
        for i in 0..<50 {
            let key = RecordKey(collection: "contacts", id: "contact-\(i % 10)")
            ops.append(try replica.write(key, [.assign(field: "name", value: .string("Contact \(i)")), .add(field: "topics", element: "climate")]))
        }
        let keys = Set(ops.map(\.key))
        try store.commit(ops: ops, records: keys.map { ($0, replica.record($0)!) }, version: replica.version, floor: replica.logFloor)
        let loaded = try store.loadReplica(id: id, wallClock: { 1_700_000_000_000 })
        XCTAssertEqual(loaded.version, replica.version)
        XCTAssertEqual(loaded.digest(), replica.digest())
        XCTAssertEqual(try store.opCount(), 50)

        try store.compact(floor: replica.version, version: replica.version)
        XCTAssertEqual(try store.opCount(), 0)
        let compacted = try store.loadReplica(id: id, wallClock: { 1_700_000_000_000 })
        XCTAssertEqual(compacted.logFloor, replica.version)
        XCTAssertEqual(compacted.ops(since: VersionVector()), .needsSnapshot)
        XCTAssertEqual(compacted.digest(), replica.digest())
    }

    /// Compaction keeps the rights writes the replica retains (`Replica.retainedRights`): the
    /// store deletes the ops around them, and a reload holds them again, still not served.
    func testCompactionKeepsRetainedRightsWritesAcrossAReload() throws {
        let (store, id) = try freshStore()
        var replica = Replica(id: id, wallClock: { 1_700_000_000_000 })
        replica.indexHistory(of: ["contacts": ["organisation"]])
        var ops: [Op] = []
        for i in 0..<6 {
            // Contacts 0, 2, 4 are created with their organisation (rights writes); the others not.
            var changes: [FieldChange] = [.assign(field: "name", value: .string("Contact \(i)"))]
            if i % 2 == 0 { changes.append(.assign(field: "organisation", value: .string("asker"))) }
            ops.append(try replica.write(RecordKey(collection: "contacts", id: "c\(i)"), changes))
        }
        let last = try replica.write(RecordKey(collection: "contacts", id: "c0"), [.assign(field: "role", value: .string("Adviser"))])
        ops.append(last)
        let keys = Set(ops.map(\.key))
        try store.commit(ops: ops, records: keys.map { ($0, replica.record($0)!) }, version: replica.version, floor: replica.logFloor)
        var stable = VersionVector()
        stable[id] = 6
        replica.compact(below: stable)
        XCTAssertEqual(Set(replica.retainedRights.keys), Set([ops[0], ops[2], ops[4]].map(\.dot)))
        try store.compact(floor: replica.logFloor, version: replica.version, keep: Set(replica.retainedRights.keys))
        XCTAssertEqual(try store.opCount(), 4, "three retained rights writes and the op above the floor")
        var loaded = try store.loadReplica(id: id, wallClock: { 1_700_000_000_000 })
        loaded.indexHistory(of: ["contacts": ["organisation"]])
        XCTAssertEqual(Set(loaded.retainedRights.keys), Set(replica.retainedRights.keys))
        XCTAssertEqual(loaded.heldTrackedOps(on: RecordKey(collection: "contacts", id: "c0")).map(\.dot), [ops[0].dot])
        XCTAssertEqual(loaded.ops(since: VersionVector()), .needsSnapshot, "retained ops are not served")
        XCTAssertEqual(loaded.op(last.dot), last)
        XCTAssertEqual(loaded.digest(), replica.digest())
    }

    /// A commit that raises a floor without deleting (as a snapshot page does) leaves ops below
    /// it in the store; a reload takes only the rights writes among them as retained.
    func testOpsLeftBelowARaisedFloorAreNotTakenForRightsWrites() throws {
        let (store, id) = try freshStore()
        var replica = Replica(id: id, wallClock: { 1_700_000_000_000 })
        let claim = try replica.write(RecordKey(collection: "contacts", id: "c0"), [.assign(field: "name", value: .string("C0")), .assign(field: "organisation", value: .string("asker"))])
        let rename = try replica.write(RecordKey(collection: "contacts", id: "c0"), [.assign(field: "name", value: .string("C0 renamed"))])
        let keys = [claim.key]
        try store.commit(ops: [claim, rename], records: keys.map { ($0, replica.record($0)!) }, version: replica.version, floor: replica.logFloor)
        try store.commit(ops: [], records: [], version: replica.version, floor: replica.version)
        XCTAssertEqual(try store.opCount(), 2, "the raised floor deleted nothing")
        var loaded = try store.loadReplica(id: id, wallClock: { 1_700_000_000_000 })
        loaded.indexHistory(of: ["contacts": ["organisation"]])
        XCTAssertEqual(Set(loaded.retainedRights.keys), [claim.dot])
        XCTAssertNil(loaded.op(rename.dot))
    }
}
