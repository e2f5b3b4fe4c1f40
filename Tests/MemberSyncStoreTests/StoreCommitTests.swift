import Foundation
import MemberSyncModel
import MemberSyncStore
import XCTest

/// The store keeps what a batch commit gives it, in the form the direct encoder writes.
final class StoreCommitTests: XCTestCase {
    func testBatchCommitRoundTripsAndCompactionRaisesFloors() throws {
        let dir = NSTemporaryDirectory() + "msync-store-\(UUID().uuidString.prefix(8))"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let store = try Store(path: dir + "/" + Store.fileName)
        let id = try store.identity(node: "asker")
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
}
