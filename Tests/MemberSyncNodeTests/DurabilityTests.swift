import XCTest
import Logging
@testable import MemberSyncConfig
import MemberSyncControl
import MemberSyncCrypto
@testable import MemberSyncDirectory
import MemberSyncHarness
import MemberSyncModel
import MemberSyncWire
@testable import MemberSyncStore
@testable import MemberSyncEngine
@testable import MemberSyncNode

#if canImport(Glibc)
import Glibc
#endif

/// Nothing acknowledged is lost and nothing refused appears later: records rebuilt from the
/// log are checkpointed, a failed commit is taken back, damage and a lost database stop the
/// start, and the data directory is the node's user's alone. (Crash tests with real daemons:
/// EndToEndTests/CrashConsistencyTests.)
final class DurabilityTests: XCTestCase {
    var dir: String!

    override func setUpWithError() throws {
        dir = NSTemporaryDirectory() + "durability-\(UUID().uuidString.prefix(8))"
    }

    override func tearDown() { try? FileManager.default.removeItem(atPath: dir) }

    func config(role: NodeRole = .member, secure: Bool = false) -> NodeConfig {
        var c = NodeConfig(nodeID: role == .hub ? "brussels" : "asker", organisation: role == .hub ? "oslo-region-european-office" : "asker",
                           role: role, dataDir: dir, listen: "tcp://127.0.0.1:\(LoopbackPorts.freePair())")
        c.insecure = !secure
        return c
    }

    /// A node on `dir`; dropping it without `run` is a crash: no shutdown checkpoint.
    func node(role: NodeRole = .member, secure: Bool = false, repair: Bool = false) throws -> Node {
        if secure {
            try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
            _ = try NodeKeys.ensureSigningKey(dataDir: dir)
            _ = try NodeKeys.ensureCurveKey(dataDir: dir)
        }
        return try Node(config: config(role: role, secure: secure), logger: Logger(label: "test"), repair: repair)
    }

    var storePath: String { dir + "/" + Store.fileName }

    func reloaded(_ id: ReplicaID) throws -> Replica { try loadedStore(id).replica }

    /// What a load of the node's store gives, read beside the node.
    func loadedStore(_ id: ReplicaID) throws -> LoadedReplica { try Store(path: storePath).load(id: id, wallClock: { 0 }) }

    /// One bulk write of `contacts(range, name)` at `n`, committed as the CLI's batches are.
    func writeBatch(_ n: Node, _ range: Range<Int>, _ name: String, file: StaticString = #filePath, line: UInt = #line) throws {
        let (_, commit, failure) = n.engine.localWriteBatch(contacts(range, name), now: wallClockMilliseconds())
        XCTAssertNil(failure, file: file, line: line)
        try n.commitLocal(try XCTUnwrap(commit, file: file, line: line))
    }

    func contacts(_ range: Range<Int>, _ name: String) -> [(key: RecordKey, changes: [FieldChange])] {
        range.map { (RecordKey(collection: "contacts", id: "c\($0)"), [.assign(field: "name", value: .string("\(name) \($0)"))]) }
    }

    /// Issue 12, item 1: a bulk commit defers its records; the node dies before a checkpoint;
    /// the restart rebuilds them from the op log. The next checkpoint must write them too:
    /// it records a version that covers their ops, so a later load no longer replays them.
    func testANodeDroppedWithoutRunningReleasesItsDirectory() throws {
        weak var dropped: Node?
        do {
            let n = try node()
            dropped = n
        }
        XCTAssertNil(dropped, "nothing keeps a node alive")
    }

    func testRecordsRebuiltFromTheLogAtStartAreWrittenByTheNextCheckpoint() throws {
        var id: ReplicaID
        do {
            let first = try node()
            id = first.engine.replica.id
            try writeBatch(first, 0..<100, "First")
            XCTAssertEqual(first.dirtyRecords.count, 100, "a bulk commit defers its records")
        }
        let expected: String
        do {
            let second = try node()
            XCTAssertEqual(second.engine.replica.records.count, 100, "rebuilt from the op log")
            XCTAssertEqual(second.dirtyRecords.count, 100, "and still waiting for a checkpoint")
            try writeBatch(second, 100..<200, "Second")
            second.checkpoint()
            XCTAssertTrue(second.dirtyRecords.isEmpty)
            expected = second.engine.replica.digest()
        }
        let third = try reloaded(id)
        XCTAssertEqual(third.records.count, 200, "the first 100 records survive the checkpoint")
        XCTAssertEqual(third.digest(), expected)
    }

    /// A store whose rows have no status shares (one written before format 2) gets them at
    /// the node's next start, except for the records the start rebuilt from ops, whose rows
    /// the next checkpoint writes whole, share included; after it, every row has its share
    /// and a load's summary is the node's.
    func testANodeStoresTheStatusSharesItsStoreLacks() throws {
        var id: ReplicaID
        do {
            let first = try node(role: .hub, secure: true)
            id = first.engine.replica.id
            try writeBatch(first, 0..<100, "First")
            first.checkpoint()
            // Ops past the checkpoint: these records are rebuilt at the next start.
            try writeBatch(first, 0..<70, "Later")
            XCTAssertEqual(first.dirtyRecords.count, 70)
        }
        try Store(path: storePath).executeRaw("UPDATE records SET share = x'', share_sum = 0")
        let second = try node(role: .hub, secure: true)
        XCTAssertEqual(second.dirtyRecords.count, 70)
        let afterStart = try loadedStore(id).rowsWithoutShares
        XCTAssertEqual(Set(afterStart.map(\.key)), Set(contacts(0..<70, "").map(\.key)), "only the rebuilt records' rows still lack one")
        second.checkpoint()
        let loaded = try loadedStore(id)
        XCTAssertEqual(loaded.rowsWithoutShares, [])
        XCTAssertEqual(loaded.replayedKeys, [])
        XCTAssertEqual(loaded.replica.digest(), second.engine.replica.digest())
        XCTAssertEqual(loaded.replica.records.count, 100)
    }

    /// Issue 12, item 2: on a full disk the CLI hears that the edit was not stored, and it
    /// never turns up later: not in memory, not after space is freed, not after a restart.
    func testAFailedCommitLeavesNoTrace() throws {
        let n = try node()
        let id = n.engine.replica.id
        _ = try n.handle(Control.SetFields(key: "contacts/kept", changes: ["name=Kept"]))
        try n.store.limitSize(pages: try n.store.pageCount())
        let big = String(repeating: "x", count: 4000)
        let requests: [any ControlCommand] = [
            Control.SetFields(key: "contacts/lost", changes: ["name=\(big)", "role=\(big)"]),
            Control.SetMany(edits: (0..<50).map { .init(key: "contacts/b\($0)", changes: ["name=\(big)"]) }),
            Control.Import(records: (0..<50).map { ["key": .string("contacts/i\($0)"), "fields": ["name": .string(big)]] }),
        ]
        for (i, request) in requests.enumerated() {
            XCTAssertThrowsError(try n.handle(request), "request \(i)") { error in
                XCTAssertTrue("\(error)".contains("not stored"), "\(error)")
            }
        }
        XCTAssertNotNil(n.storageFailure, "the node reports the storage failure")
        XCTAssertNil(n.engine.replica.record(RecordKey(collection: "contacts", id: "lost")))
        XCTAssertNil(n.engine.replica.record(RecordKey(collection: "contacts", id: "b0")))
        XCTAssertNil(n.engine.replica.record(RecordKey(collection: "contacts", id: "i0")))
        XCTAssertEqual(n.engine.replica.version[id], 1, "the refused writes gave back their counters")
        try n.store.limitSize(pages: 1_000_000)
        let result = try n.handle(Control.SetFields(key: "contacts/after", changes: ["name=After"]))
        XCTAssertEqual(result.key, "contacts/after")
        XCTAssertEqual(result.counter, 2)
        XCTAssertNil(n.storageFailure)
        n.checkpoint()
        let stored = try reloaded(id)
        XCTAssertEqual(stored.keys(in: "contacts").map(\.id), ["after", "kept"])
        XCTAssertEqual(stored.digest(), n.engine.replica.digest())
    }

    /// Issue 12, item 5: a restored backup holding ops this node refuses left rejection
    /// directives queued, and the next batch write was applied in memory but never stored.
    func testABatchAfterRestoringABackupWithRefusedOpsIsStored() throws {
        let hub = try node(role: .hub, secure: true)
        // A backup from a replica nobody admitted: its op is refused (unknown origin), its
        // record state is joined like a snapshot.
        let backupPath = NSTemporaryDirectory() + "backup-\(UUID().uuidString.prefix(8)).sqlite"
        defer { try? FileManager.default.removeItem(atPath: backupPath) }
        do {
            let store = try Store(path: backupPath)
            let stranger = ReplicaID(node: "stranger", epoch: 5)
            try store.setMeta("replica", stranger.description)
            var r = Replica(id: stranger, wallClock: { 1_700_000_000_000 })
            let op = try r.write(RecordKey(collection: "contacts", id: "from-backup"), [.assign(field: "name", value: .string("B"))])
            try store.commit(ops: [op], records: r.records.map { ($0.key, $0.value) }, version: r.version)
        }
        let report = try hub.handle(Control.Restore(path: backupPath))
        XCTAssertEqual(report.path, backupPath)
        XCTAssertEqual(report.opsRejected, 1)
        _ = try hub.handle(Control.Import(records: (0..<3).map { ["key": .string("contacts/n\($0)"), "fields": ["name": .string("N \($0)")]] }))
        _ = try hub.handle(Control.SetMany(edits: [.init(key: "contacts/m", changes: ["name=M"])]))
        hub.checkpoint()
        let stored = try reloaded(hub.engine.replica.id)
        for id in ["n0", "n1", "n2", "m"] {
            XCTAssertNotNil(stored.record(RecordKey(collection: "contacts", id: id)), "\(id) is stored")
        }
        XCTAssertEqual(stored.digest(), hub.engine.replica.digest())
    }

    /// Issue 12, item 6: a heartbeat carries its sender's node id; sent by another
    /// connection it must not move that node's version (the hub compacts by it).
    func testAHeartbeatInAnotherNodesNameIsRefused() throws {
        var config = NodeConfig(nodeID: "brussels", organisation: "oslo-region-european-office", role: .hub, dataDir: "/nonexistent",
                                listen: "tcp://127.0.0.1:1")
        config.insecure = true
        var hub = SyncEngine(config: config, replica: Replica(id: ReplicaID(node: "brussels", epoch: 1), wallClock: { 1 }))
        for name in ["asker", "baerum"] {
            _ = hub.onRequest(from: Array(name.utf8), .hello(Hello(nodeID: name, replica: ReplicaID(node: name, epoch: 1), role: "member",
                                                                   organisation: name, softwareVersion: "t", version: VersionVector())), now: 1)
        }
        var claimed = VersionVector()
        claimed[ReplicaID(node: "brussels", epoch: 1)] = 17
        let out = hub.onRequest(from: Array("baerum".utf8), .heartbeat(Heartbeat(nodeID: "asker", replica: ReplicaID(node: "asker", epoch: 1),
                                                                                 role: "member", version: claimed, pending: 0)), now: 2)
        guard case .reply(_, .error(let code, _, _))? = out.first else { return XCTFail("expected an error reply, got \(out)") }
        XCTAssertEqual(code, .rejected)
        XCTAssertEqual(hub.clients["asker"]?.version, VersionVector(), "asker's version is what asker said")
        XCTAssertEqual(hub.clients["asker"]?.identity, Array("asker".utf8))
        _ = hub.onRequest(from: Array("asker".utf8), .heartbeat(Heartbeat(nodeID: "asker", replica: ReplicaID(node: "asker", epoch: 1),
                                                                          role: "member", version: claimed, pending: 0)), now: 3)
        XCTAssertEqual(hub.clients["asker"]?.version, claimed, "its own heartbeat counts")
    }

    func mode(_ path: String) -> mode_t {
        var st = stat()
        XCTAssertEqual(stat(path, &st), 0, path)
        return st.st_mode & 0o777
    }

    /// Issue 12, item 4: a data directory that exists as 0777 and database files at 0644 are
    /// tightened to 0700 and 0600 at start (another local user read a value from the WAL).
    func testTheDataDirectoryAndDatabaseFilesAreTightenedAtEveryStart() throws {
        do {
            let n = try node()
            _ = try n.handle(Control.SetFields(key: "contacts/secret", changes: ["name=Secret"]))
        }
        let db = dir + "/" + Store.fileName
        chmod(dir, 0o777)
        for file in [db, db + "-wal", db + "-shm"] where FileManager.default.fileExists(atPath: file) { chmod(file, 0o644) }
        XCTAssertEqual(mode(dir), 0o777)
        let n = try node()
        _ = try n.handle(Control.SetFields(key: "contacts/secret2", changes: ["name=Secret"]))
        XCTAssertEqual(mode(dir), 0o700)
        var checked = 0
        for file in [db, db + "-wal", db + "-shm"] where FileManager.default.fileExists(atPath: file) {
            XCTAssertEqual(mode(file), 0o600, file)
            checked += 1
        }
        XCTAssertGreaterThanOrEqual(checked, 2, "the database and its WAL")
    }

    /// Issue 12, item 3: a database truncated to 0 bytes, or deleted, in a directory that held
    /// a replica is refused (not a new, empty node); `repair` moves it aside and starts over.
    func testAnEmptyOrMissingDatabaseIsRefusedAndRepairStartsOver() throws {
        let firstID: ReplicaID
        do {
            let n = try node()
            firstID = n.engine.replica.id
            _ = try n.handle(Control.SetFields(key: "contacts/a", changes: ["name=A"]))
        }
        let db = dir + "/" + Store.fileName
        try Data().write(to: URL(fileURLWithPath: db))
        for suffix in ["-wal", "-shm"] { try? FileManager.default.removeItem(atPath: db + suffix) }
        XCTAssertThrowsError(try node()) { error in
            XCTAssertTrue("\(error)".contains("empty"), "\(error)")
            XCTAssertTrue("\(error)".contains("--repair"), "says the way out: \(error)")
        }
        try FileManager.default.removeItem(atPath: db)
        XCTAssertThrowsError(try node()) { error in XCTAssertTrue("\(error)".contains("missing"), "\(error)") }
        XCTAssertFalse(FileManager.default.fileExists(atPath: db), "a refused start creates nothing")
        let repaired = try node(repair: true)
        XCTAssertNotEqual(repaired.engine.replica.id, firstID, "a new replica: its old dots are never reused")
        XCTAssertEqual(repaired.engine.replica.records.count, 0)
    }

    /// Issue 12, item 3: one changed character in a stored value stops the start, naming the
    /// record; `repair` moves the damaged file aside, keeping it for inspection.
    func testADamagedRowStopsTheStartWithItsKey() throws {
        do {
            let n = try node()
            _ = try n.handle(Control.SetFields(key: "organisations/asker", changes: ["name=Asker kommune"]))
            n.checkpoint()
        }
        let db = dir + "/" + Store.fileName
        try Store(path: db).executeRaw("UPDATE records SET body = CAST(replace(CAST(body AS TEXT), 'kommune', 'kommunf') AS BLOB)")
        XCTAssertThrowsError(try node()) { error in
            XCTAssertTrue("\(error)".contains("organisations/asker"), "\(error)")
            XCTAssertTrue("\(error)".contains("refusing to start"), "\(error)")
        }
        _ = try node(repair: true)
        let aside = try FileManager.default.contentsOfDirectory(atPath: dir).filter { $0.hasPrefix(Store.fileName + ".damaged-") }
        XCTAssertFalse(aside.isEmpty, "the damaged file is kept")
    }
}
