import Foundation
import MemberSyncModel
import MemberSyncStore
import XCTest

final class StoreSizeTests: XCTestCase {
    func testDiskBytesCountsDatabaseAndWALAndGrowsWithWrites() throws {
        let dir = NSTemporaryDirectory() + "msync-size-\(UUID().uuidString.prefix(8))"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let store = try Store(path: dir + "/" + Store.fileName)
        let empty = store.diskBytes()
        XCTAssertGreaterThan(empty, 0)

        var replica = Replica(id: try store.identity(node: "asker"), wallClock: { 1_700_000_000_000 })
        for i in 0..<50 {
            let key = try RecordKey(parsing: "contacts/c-\(i)")
            let op = try replica.write(key, [.assign(field: "name", value: .string(String(repeating: "x", count: 500)))])
            try store.commit(ops: [op], records: [(key, replica.records[key]!)], version: replica.version)
        }
        let files = try FileManager.default.contentsOfDirectory(atPath: dir).filter { $0.hasPrefix(Store.fileName) }
        let onDisk = try files.reduce(UInt64(0)) { sum, f in
            sum + ((try FileManager.default.attributesOfItem(atPath: dir + "/" + f)[.size] as? NSNumber)?.uint64Value ?? 0)
        }
        XCTAssertEqual(store.diskBytes(), onDisk, "database, -wal and -shm together")
        XCTAssertGreaterThan(store.diskBytes(), empty + 25_000)
    }
}
