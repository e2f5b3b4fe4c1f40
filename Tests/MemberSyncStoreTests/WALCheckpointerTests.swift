import XCTest
import MemberSyncModel
@testable import MemberSyncStore

/// A daemon's store checkpoints its WAL on a thread of its own: commits never do it, the WAL
/// stays bounded, and nothing committed is lost when the store closes and opens again.
final class WALCheckpointerTests: XCTestCase {
    var dir: String!

    override func setUpWithError() throws {
        dir = NSTemporaryDirectory() + "walckpt-\(UUID().uuidString.prefix(8))"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
    }

    override func tearDown() { try? FileManager.default.removeItem(atPath: dir) }

    private func size(_ path: String) -> Int {
        (try? FileManager.default.attributesOfItem(atPath: path)[.size] as? NSNumber)?.intValue ?? 0
    }

    /// Commits `batches` batches of 50 records of about 4 KB each (one WAL page or more per
    /// record), and returns the replica.
    private func fill(_ store: Store, batches: Int) throws -> Replica {
        let id = try store.identity(node: "asker")
        var replica = try store.loadReplica(id: id, wallClock: { 1_000 })
        let filler = String(repeating: "x", count: 4_000)
        for b in 0..<batches {
            var ops: [Op] = []
            var keys: [RecordKey] = []
            for i in 0..<50 {
                let key = RecordKey(collection: "contacts", id: "c\(b)-\(i)")
                ops.append(try replica.write(key, [.assign(field: "name", value: .string("\(filler) \(b) \(i)"))]))
                keys.append(key)
            }
            try store.commit(ops: ops, records: keys.map { ($0, replica.record($0)!) }, version: replica.version)
        }
        return replica
    }

    private func waitFor(_ what: String, _ condition: () -> Bool) {
        let deadline = Date().addingTimeInterval(10)
        while !condition() && Date() < deadline { usleep(10_000) }
        XCTAssertTrue(condition(), what)
    }

    func testTheThreadCheckpointsWhatCommitsWroteAndAReopenedStoreHoldsIt() throws {
        let path = dir + "/r.sqlite"
        var store: Store? = try Store(path: path)
        try store!.checkpointInBackground()
        let mainBefore = size(path)
        // 60 batches x 50 records of 4 KB: about 3,000 records' pages and their ops' pages,
        // several times the 1,000-page wake threshold.
        let replica = try fill(store!, batches: 60)
        waitFor("the thread ran a checkpoint") { (store!.backgroundCheckpointCounts?.thread ?? 0) > 0 }
        XCTAssertEqual(store!.backgroundCheckpointCounts?.inline, 0, "no commit checkpointed inline")
        waitFor("the pages reached the database file") { size(path) > mainBefore + 4_000_000 }
        XCTAssertLessThan(size(path + "-wal"), 64 << 20, "the WAL stays bounded")

        store = nil  // stops the thread, then closes the connection
        let reopened = try Store(path: path)
        let loaded = try reopened.loadReplica(id: try reopened.identity(node: "asker"), wallClock: { 0 })
        XCTAssertEqual(loaded.digest(), replica.digest())
        XCTAssertEqual(loaded.existingRecordCount, 3_000)
        XCTAssertEqual(try reopened.integrityCheck(), "ok")
    }

    func testACheckpointerThatIsNeverWokenLeavesTheCommitsToCheckpointInline() throws {
        let path = dir + "/r.sqlite"
        let store = try Store(path: path)
        // The thread is never woken; the inline safety net at 200 pages must keep the WAL small.
        try store.checkpointInBackground(wakeAtPages: .max, inlineAtPages: 200)
        _ = try fill(store, batches: 40)
        let counts = try XCTUnwrap(store.backgroundCheckpointCounts)
        XCTAssertEqual(counts.thread, 0)
        XCTAssertGreaterThan(counts.inline, 5, "the commits checkpointed inline")
        // A WAL that is restarted after each inline checkpoint never holds much more than the
        // threshold plus one commit (50 records and their ops: well under 200 pages more).
        XCTAssertLessThan(size(path + "-wal"), 500 * 4_096 * 2)
        XCTAssertEqual(try store.integrityCheck(), "ok")
    }
}
