import XCTest
import MemberSyncConfig
import MemberSyncCrypto
import MemberSyncModel
import MemberSyncWire
@testable import MemberSyncEngine
@testable import MemberSyncNode

/// A secure node's own ops form a hash chain (MSP 5.9): each names the hash of the one before, through
/// batches, writes taken back, compaction and a store reload.
final class OpChainTests: XCTestCase {
    /// A secure hub engine (signing key, write rules): its own ops are signed, then linked.
    func engine(role: NodeRole) throws -> SyncEngine {
        let config = NodeConfig(nodeID: "brussels", organisation: "oslo-region-european-office", role: role, dataDir: "/tmp/unused",
                                listen: "tcp://127.0.0.1:7400", hubEndpoints: role == .hub ? [] : ["tcp://127.0.0.1:7500"])
        XCTAssertFalse(config.insecure, "security is on by default")
        return SyncEngine(config: config, replica: Replica(id: ReplicaID(node: "brussels", epoch: 3), wallClock: { 1_700_000_000_000 }),
                          signingKey: try SigningKeyPair.generate())
    }

    func key(_ s: String) -> RecordKey { try! RecordKey(parsing: s) }
    func name(_ s: String) -> [FieldChange] { [.assign(field: "name", value: .string(s))] }

    /// Every own op links to the one before: `prev` is the hash of its canonical bytes.
    func assertChained(_ ops: [Op], file: StaticString = #filePath, line: UInt = #line) {
        if ops.first?.counter == 1 { XCTAssertEqual(ops.first?.prev, OpChain.genesis, file: file, line: line) }
        for (before, op) in zip(ops, ops.dropFirst()) {
            XCTAssertEqual(op.counter, before.counter + 1, file: file, line: line)
            XCTAssertEqual(op.prev, SyncEngine.chainHash(before), "op \(op.counter)", file: file, line: line)
        }
    }

    func testSingleAndBatchedWritesAndDeletesFormOneChain() throws {
        var e = try engine(role: .hub)
        var ops: [Op] = []
        ops.append(try e.localWrite(key("networks/eurocities"), name("Eurocities"), now: 1).0)
        XCTAssertEqual(ops[0].prev, OpChain.genesis, "the first op links to no predecessor")
        let batch = e.localWriteBatch((0..<5).map { (key("networks/n\($0)"), name("N\($0)")) }, now: 2)
        ops += batch.ops
        ops.append(try e.localDelete(key("networks/n2"), now: 3).0)
        XCTAssertEqual(ops.count, 7)
        XCTAssertTrue(ops.allSatisfy { $0.signature.count == SigningKeyPair.signatureBytes }, "signed, then linked")
        assertChained(ops)
        XCTAssertEqual(ops.map { e.replica.chainFit($0) }, Array(repeating: .fits, count: 7))
    }

    /// A write taken back (its commit failed) leaves the chain at the op before it: the next
    /// write reuses the counter and links to what is still held.
    func testAWriteTakenBackLeavesNoLinkToIt() throws {
        var e = try engine(role: .hub)
        let first = try e.localWrite(key("networks/a"), name("A"), now: 1).0
        let (gone, commit) = try e.localWrite(key("networks/b"), name("B"), now: 2)
        e.rollBack(commit)
        let next = try e.localWrite(key("networks/c"), name("C"), now: 3).0
        XCTAssertEqual(next.counter, gone.counter)
        XCTAssertEqual(next.prev, SyncEngine.chainHash(first))
        XCTAssertNotEqual(next.prev, SyncEngine.chainHash(gone))
    }

    /// Compaction keeps every origin's newest op, so a hub's next op still links after its
    /// log was compacted, and a reloaded replica links to what its store holds.
    func testTheNewestOpSurvivesCompactionAndTheChainGoesOn() throws {
        var e = try engine(role: .hub)
        var ops = try (0..<4).map { try e.localWrite(key("networks/n\($0)"), name("N\($0)"), now: 1).0 }
        e.replica.compact(below: e.replica.version)
        XCTAssertEqual(e.replica.logFloor[e.replica.id], 3)
        XCTAssertEqual(e.replica.op(ops[3].dot), ops[3], "the newest op stays")
        var reloaded = Replica(restoring: e.replica.id, wallClock: { 1_700_000_000_000 }, records: e.replica.records,
                               version: e.replica.version, floor: e.replica.logFloor, ops: e.replica.heldOps())
        reloaded.chainHasher = SyncEngine.chainHash
        ops.append(reloaded.commitLocal(try reloaded.prepareWrite(key("networks/n4"), name("N4"))))
        assertChained(ops)
    }

    /// A local op is encoded once, as it is signed: its commit carries those bytes, which are
    /// its encoding whole, what the next op's `prev` hashes and what its publication carries.
    func testALocalOpIsEncodedOnceForItsChainItsStoreAndItsMessages() throws {
        var e = try engine(role: .hub)
        let (op, commit) = try e.localWrite(key("networks/a"), name("A"), now: 1)
        XCTAssertEqual(commit.encodedOps.map(\.op), [op])
        let bytes = try XCTUnwrap(commit.encodedOps.first?.bytes)
        XCTAssertEqual(bytes, WireCodec.encodeOp(op))
        XCTAssertEqual(commit.after.first, .publishOp(commit.encodedOps[0]))
        let next = try e.localWriteBatch([(key("networks/b"), name("B"))], now: 2)
        XCTAssertEqual(next.ops.first?.prev, SHA256Digest.of(bytes))
        XCTAssertEqual(next.commit?.encodedOps.map(\.bytes), next.ops.map(WireCodec.encodeOp))
    }
}
