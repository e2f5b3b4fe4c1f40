import XCTest
import MemberSyncModel
@testable import MemberSyncStore

/// Every record row keeps its record's status share (store format 2), so a restart reads the
/// shares instead of hashing every record; a row without a usable share (an older store, a
/// damaged share) loads all the same, is reported, and gets its share once; a share is only
/// ever used with the state of the record it was computed from.
final class StoreShareTests: XCTestCase {
    var dir: String!
    var path: String { dir + "/r.sqlite" }

    override func setUpWithError() throws {
        dir = NSTemporaryDirectory() + "shares-\(UUID().uuidString.prefix(8))"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
    }

    override func tearDown() { try? FileManager.default.removeItem(atPath: dir) }

    func key(_ id: String) -> RecordKey { RecordKey(collection: "contacts", id: id) }

    /// A store of `count` contacts written as a checkpoint, with a conflict on one and another
    /// deleted, and the replica it holds.
    func filledStore(count: Int = 50) throws -> (ReplicaID, Replica) {
        let store = try Store(path: path)
        let id = try store.identity(node: "asker")
        var replica = try store.loadReplica(id: id, wallClock: { 1_000 })
        var other = Replica(id: ReplicaID(node: "baerum", epoch: 1), wallClock: { 1_000 })
        for i in 0..<count {
            _ = try replica.write(key("c\(i)"), [.assign(field: "name", value: .string("Contact \(i)")), .add(field: "topics", element: "climate")])
        }
        _ = try replica.apply(try other.write(key("c0"), [.assign(field: "name", value: .string("Concurrent"))]))
        _ = try replica.delete(key("c1"))
        XCTAssertEqual(replica.conflictCount, 1)
        try store.commit(ops: [], records: replica.records.map { ($0.key, $0.value) }, version: replica.version, checkpoint: replica.version)
        return (id, replica)
    }

    func load(_ id: ReplicaID) throws -> LoadedReplica { try Store(path: path).load(id: id, wallClock: { 0 }) }

    func assertSameSummary(_ a: Replica, _ b: Replica, _ what: String, file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertEqual(a.digest(), b.digest(), what, file: file, line: line)
        XCTAssertEqual(a.existingRecordCount, b.existingRecordCount, what, file: file, line: line)
        XCTAssertEqual(a.conflictCount, b.conflictCount, what, file: file, line: line)
    }

    func testEveryWrittenRowKeepsItsShareAndALoadUsesThem() throws {
        let (id, replica) = try filledStore()
        var stored: [String: [UInt8]] = [:]
        try Store(path: path).readRaw("SELECT key, share FROM records") { stored[$0.text(0)] = $0.blob(1) }
        XCTAssertEqual(stored.count, replica.records.count)
        for (key, record) in replica.records {
            XCTAssertEqual(stored[key.description].flatMap(RecordShare.init(bytes:)), RecordShare(key, record), "\(key)")
        }
        let loaded = try load(id)
        XCTAssertEqual(loaded.rowsWithoutShares, [], "every row had its share")
        assertSameSummary(loaded.replica, replica, "the summary from the stored shares")
    }

    /// A store of format 1 (no shares; here its shares emptied as the migration leaves them)
    /// loads with the same summary and names every row; shares stored for them are read by
    /// the next load.
    func testRowsWithoutAShareAreComputedReportedAndThenKept() throws {
        let (id, replica) = try filledStore()
        try Store(path: path).executeRaw("UPDATE records SET share = x'', share_sum = 0")
        let first = try load(id)
        XCTAssertEqual(Set(first.rowsWithoutShares.map(\.key)), Set(replica.records.keys))
        assertSameSummary(first.replica, replica, "shares computed at load")

        try Store(path: path).storeShares(first.sharesOfRowsWithout())
        let second = try load(id)
        XCTAssertEqual(second.rowsWithoutShares, [], "kept from now on")
        assertSameSummary(second.replica, replica, "the kept shares")
    }

    /// A share whose checksum fails (the disk changed it) is not an error, since it is derived
    /// from the record: the load leaves it out, computes it and reports the row.
    func testADamagedShareIsLeftOutAndComputedAgain() throws {
        let (id, replica) = try filledStore()
        try Store(path: path).executeRaw("UPDATE records SET share = zeroblob(37) WHERE key = 'contacts/c5'")
        try Store(path: path).executeRaw("UPDATE records SET share_sum = share_sum + 1 WHERE key = 'contacts/c6'")
        let loaded = try load(id)
        XCTAssertEqual(Set(loaded.rowsWithoutShares.map(\.key)), [key("c5"), key("c6")])
        assertSameSummary(loaded.replica, replica, "the damaged shares were not used")
    }

    /// A share stored for a row as it was read does not attach to the row once the record was
    /// written again: that row keeps the share written with its new state.
    func testAShareIsBoundToTheStateOfTheRecordItWasComputedFor() throws {
        let (id, _) = try filledStore()
        try Store(path: path).executeRaw("UPDATE records SET share = x'', share_sum = 0 WHERE key = 'contacts/c7'")
        let loaded = try load(id)
        let row = try XCTUnwrap(loaded.rowsWithoutShares.first)
        XCTAssertEqual(row.key, key("c7"))
        var replica = loaded.replica
        replica.refreshSummary()
        let oldShare = try XCTUnwrap(replica.share(of: row.key))

        _ = try replica.write(row.key, [.assign(field: "name", value: .string("Renamed"))])
        let store = try Store(path: path)
        try store.commit(ops: [], records: [(row.key, replica.record(row.key)!)], version: replica.version, checkpoint: replica.version)
        try store.storeShares([(row, oldShare)])
        let again = try load(id)
        XCTAssertEqual(again.rowsWithoutShares, [])
        assertSameSummary(again.replica, replica, "the row's own share, not the one stored for its old state")
        XCTAssertNotEqual(again.replica.share(of: row.key), oldShare)
    }

    /// Records rebuilt from ops past the checkpoint are folded again at load: their stale
    /// rows' shares are not the records' any more.
    func testRecordsRebuiltFromOpsPastTheCheckpointAreFoldedAgain() throws {
        let (id, replica) = try filledStore()
        var next = replica
        let ops = try (0..<10).map { i in try next.write(key("c\(i + 2)"), [.assign(field: "role", value: .string("Adviser \(i)"))]) }
        try Store(path: path).commit(ops: ops, records: [], version: next.version)
        let loaded = try load(id)
        XCTAssertEqual(loaded.replayedKeys.count, 10)
        XCTAssertEqual(loaded.rowsWithoutShares, [])
        assertSameSummary(loaded.replica, next, "replayed records are hashed, not taken from their rows")
        XCTAssertNotEqual(loaded.replica.digest(), replica.digest())
    }
}

extension LoadedReplica {
    /// The shares of the rows this load found without one, for `Store.storeShares` (what a
    /// node stores after its start, `Node.storeMissingShares`).
    func sharesOfRowsWithout() -> [(row: StoredRecordRow, share: RecordShare)] {
        rowsWithoutShares.map { ($0, replica.share(of: $0.key)!) }
    }
}
