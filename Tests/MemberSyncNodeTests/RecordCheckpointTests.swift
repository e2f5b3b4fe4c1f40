import XCTest
import Logging
@testable import MemberSyncConfig
import MemberSyncHarness
import MemberSyncModel
import MemberSyncStore
@testable import MemberSyncNode

/// A node writes the records of bulk commits at a checkpoint, small commits at once; either
/// way a reload of its store gives back exactly the replica it holds.
final class RecordCheckpointTests: XCTestCase {
    func testBulkCommitsDeferRecordsAndTheStoreRebuildsThem() throws {
        let dir = NSTemporaryDirectory() + "checkpoint-node-\(UUID().uuidString.prefix(8))"
        defer { try? FileManager.default.removeItem(atPath: dir) }
        var config = NodeConfig(nodeID: "asker", organisation: "asker", role: .member, dataDir: dir,
                                listen: "tcp://127.0.0.1:\(LoopbackPorts.freePair())")
        config.insecure = true
        let node = try Node(config: config, logger: Logger(label: "test"))
        func reloaded() throws -> Replica {
            let store = try Store(path: dir + "/" + Store.fileName)
            return try store.loadReplica(id: node.engine.replica.id, wallClock: { 0 })
        }

        // A bulk write (more ops than `deferRecordsAboveOps`): ops stored, records deferred.
        let edits = (0..<100).map { i in
            (key: RecordKey(collection: "contacts", id: "c\(i % 40)"), changes: [FieldChange.assign(field: "name", value: .string("Name \(i)"))])
        }
        let (ops, commit, failure) = node.engine.localWriteBatch(edits, now: wallClockMilliseconds())
        XCTAssertNil(failure)
        XCTAssertEqual(ops.count, 100)
        try node.commitLocal(try XCTUnwrap(commit))
        XCTAssertEqual(node.dirtyRecords.count, 40, "the 40 records of the bulk commit wait for a checkpoint")
        XCTAssertEqual(try reloaded().digest(), node.engine.replica.digest(), "a reload replays the ops")

        // A single edit writes its record at once and leaves the others waiting.
        let (_, single) = try node.engine.localWrite(RecordKey(collection: "contacts", id: "c0"), [.assign(field: "role", value: .string("Adviser"))],
                                                     now: wallClockMilliseconds())
        try node.commitLocal(single)
        XCTAssertEqual(node.dirtyRecords.count, 39)
        XCTAssertEqual(try reloaded().digest(), node.engine.replica.digest())

        node.checkpoint()
        XCTAssertTrue(node.dirtyRecords.isEmpty)
        XCTAssertEqual(try reloaded().digest(), node.engine.replica.digest(), "after the checkpoint the records table alone is current")
    }
}
