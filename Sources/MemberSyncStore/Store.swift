import Foundation
import MemberSyncCrypto
import MemberSyncModel
import MemberSyncWire

/// Why the store could not do what was asked.
public enum StoreError: Error, CustomStringConvertible {
    case sqlite(SQLiteError)
    case corrupt(String)
    /// A row whose checksum does not match its contents: the disk or someone editing the file
    /// changed it. `key` names the row (a record key, `origin#counter`, a meta key).
    case damaged(table: String, key: String)
    /// An existing replica was expected (the data directory has one) but the file is missing
    /// or holds no tables.
    case missing(String)
    /// The file was written by a newer release whose format this one does not know.
    case newerFormat(found: Int32, known: Int32)
    case identityMismatch(stored: String, configured: String)

    public var description: String {
        switch self {
        case .sqlite(let e): return e.description
        case .corrupt(let why): return "replica database is damaged: \(why)"
        case .damaged(let table, let key):
            return "replica database is damaged: the \(table) row \(key) does not match its checksum"
        case .missing(let why): return why
        case .newerFormat(let found, let known):
            return "replica database has format \(found), newer than this release knows (\(known)): run the release that wrote it"
        case .identityMismatch(let stored, let configured):
            return "this data directory belongs to node '\(stored)', not '\(configured)'"
        }
    }
}

/// A replica as loaded from the store, with the records the load rebuilt from ops that the
/// last record checkpoint does not cover: their rows are stale until the next checkpoint
/// writes them, so the node must treat them as not yet written.
public struct LoadedReplica {
    public var replica: Replica
    public var replayedKeys: Set<RecordKey>
    /// Record rows that held no usable status share (written before format 2, or a share
    /// that failed its checksum): the replica computes theirs, and `storeShares` keeps them.
    public var rowsWithoutShares: [StoredRecordRow]
}

/// A record row as it was read: its key and the checksum of its contents. A status share
/// stored for it later (`Store.storeShares`) is bound to that checksum, so it can never be
/// taken for the share of another state of the record.
public struct StoredRecordRow: Sendable, Equatable {
    public let key: RecordKey
    let sum: Int64
}

/// The durable replica: op log per origin, record states, version vector with log floors,
/// node metadata and the peers a node has seen, in one SQLite database in WAL mode with full
/// fsync, so a write acknowledged to the CLI survives a crash or power cut.
///
/// Every op, record, version and meta row carries a checksum of its contents (see
/// `Checksum`), checked when it is read: damage is reported with the row it hit instead of
/// loading wrong data. The file's format version is SQLite's `PRAGMA user_version`; older
/// formats are migrated when opened (see `migrate`).
public final class Store {
    private let db: SQLiteDatabase
    public let path: String
    private let insertOp: Statement
    private let upsertRecord: Statement
    private let upsertVersion: Statement
    private let upsertMeta: Statement
    /// Log floors as stored, per origin: a commit never lowers one.
    private var storedFloor = VersionVector()
    /// Set by `checkpointInBackground`: who moves the WAL into the database file.
    private var checkpointer: WALCheckpointer?

    public static let fileName = "replica.sqlite"
    /// The format this release writes. 0: the first release (no checksums); 1: checksums;
    /// 2: each record row keeps its status share (`RecordShare`), so a restart need not hash
    /// every record again.
    public static let currentFormat: Int32 = 2

    /// Called with a label at points inside every write path (`LABEL.mid` inside the
    /// transaction, `LABEL.committed` right after it); nil except in crash tests, where the
    /// daemon sets it once at startup, before any other thread runs (see `CrashPoint`).
    nonisolated(unsafe) public static var faultPoint: ((String) -> Void)?

    /// Opens (or, unless `mustExist`, creates) the database at `path`. With `mustExist` a
    /// missing or empty file is an error rather than a new, empty replica: a data directory
    /// that had a replica must not silently start over.
    public init(path: String, mustExist: Bool = false) throws(StoreError) {
        self.path = path
        if mustExist {
            let size = (try? FileManager.default.attributesOfItem(atPath: path)[.size] as? NSNumber)?.intValue
            guard let size else { throw .missing("the replica database \(path) is missing") }
            guard size > 0 else { throw .missing("the replica database \(path) is empty (0 bytes)") }
        }
        do {
            let db = try SQLiteDatabase(path: path, create: !mustExist)
            self.db = db
            try db.execute("PRAGMA journal_mode=WAL")
            try db.execute("PRAGMA synchronous=FULL")
            var tables = 0
            try db.prepare("SELECT count(*) FROM sqlite_master WHERE type = 'table'").query { tables = Int($0.int(0)) }
            var format: Int32 = 0
            try db.prepare("PRAGMA user_version").query { format = Int32(truncatingIfNeeded: $0.int(0)) }
            if tables == 0 {
                if mustExist { throw StoreError.missing("the replica database \(path) holds no tables") }
                try db.transaction {
                    try db.execute(Self.schema)
                    try db.execute("PRAGMA user_version = \(Self.currentFormat)")
                }
            } else if format < Self.currentFormat {
                try Self.migrate(db, from: format)
            } else if format > Self.currentFormat {
                throw StoreError.newerFormat(found: format, known: Self.currentFormat)
            }
            insertOp = try db.prepare("INSERT OR IGNORE INTO ops(origin, counter, body, sum) VALUES (?, ?, ?, ?)")
            upsertRecord = try db.prepare("""
                INSERT INTO records(key, body, sum, share, share_sum) VALUES (?, ?, ?, ?, ?)
                ON CONFLICT(key) DO UPDATE SET body = excluded.body, sum = excluded.sum,
                                               share = excluded.share, share_sum = excluded.share_sum
                """)
            upsertVersion = try db.prepare("""
                INSERT INTO version(origin, counter, floor, sum) VALUES (?, ?, ?, ?)
                ON CONFLICT(origin) DO UPDATE SET counter = excluded.counter, floor = excluded.floor, sum = excluded.sum
                """)
            upsertMeta = try db.prepare("""
                INSERT INTO meta(key, value, sum) VALUES (?, ?, ?)
                ON CONFLICT(key) DO UPDATE SET value = excluded.value, sum = excluded.sum
                """)
            var floors = VersionVector()
            try db.prepare("SELECT origin, floor FROM version").query { row in
                if let origin = ReplicaID(parsing: row.text(0)) { floors[origin] = UInt64(max(0, row.int(1))) }
            }
            storedFloor = floors
        } catch let e as SQLiteError {
            throw .sqlite(e)
        } catch let e as StoreError {
            throw e
        } catch {
            throw .corrupt("\(error)")
        }
    }

    deinit { checkpointer?.stop(restoringAutomaticOn: db) }

    /// Checkpoints run by the background thread and inline (nil without one); for tests.
    var backgroundCheckpointCounts: (thread: Int, inline: Int)? { checkpointer?.counts }

    /// From now on the WAL is checkpointed by a thread of its own instead of inside the
    /// commit that fills it (see `WALCheckpointer`): the daemon calls this, so no edit's
    /// commit pays for a checkpoint. Tools that open a store briefly need not.
    public func checkpointInBackground() throws(StoreError) {
        try checkpointInBackground(wakeAtPages: WALCheckpointer.defaultWakeAtPages, inlineAtPages: WALCheckpointer.defaultInlineAtPages)
    }

    /// The same with other thresholds (tests use them to exercise each path).
    func checkpointInBackground(wakeAtPages: Int32, inlineAtPages: Int32) throws(StoreError) {
        guard checkpointer == nil else { return }
        checkpointer = try WALCheckpointer.start(for: db, path: path, synchronous: "FULL", wakeAtPages: wakeAtPages, inlineAtPages: inlineAtPages)
    }

    /// The tables of the current format.
    static let schema = """
        CREATE TABLE meta(key TEXT PRIMARY KEY, value TEXT NOT NULL, sum INTEGER NOT NULL);
        CREATE TABLE ops(origin TEXT NOT NULL, counter INTEGER NOT NULL, body BLOB NOT NULL, sum INTEGER NOT NULL,
                         PRIMARY KEY(origin, counter)) WITHOUT ROWID;
        CREATE TABLE records(key TEXT PRIMARY KEY, body BLOB NOT NULL, sum INTEGER NOT NULL,
                             share BLOB NOT NULL DEFAULT x'', share_sum INTEGER NOT NULL DEFAULT 0) WITHOUT ROWID;
        CREATE TABLE version(origin TEXT PRIMARY KEY, counter INTEGER NOT NULL, floor INTEGER NOT NULL DEFAULT 0,
                             sum INTEGER NOT NULL);
        CREATE TABLE IF NOT EXISTS peers(node_id TEXT PRIMARY KEY, info TEXT NOT NULL);
        """

    /// Brings a database of an older format to the current one, in one transaction. Format 0
    /// (the first release) had no checksums: they are computed from the rows as they are.
    /// Format 1 kept no status shares: its rows get empty ones, which a load reports
    /// (`LoadedReplica.rowsWithoutShares`) and the node fills in once.
    static func migrate(_ db: SQLiteDatabase, from format: Int32) throws {
        try db.transaction {
            if format < 1 {
                for table in ["meta", "ops", "records", "version"] {
                    try db.execute("ALTER TABLE \(table) ADD COLUMN sum INTEGER NOT NULL DEFAULT 0")
                }
                var metaRows: [(String, String)] = []
                try db.prepare("SELECT key, value FROM meta").query { metaRows.append(($0.text(0), $0.text(1))) }
                let setMeta = try db.prepare("UPDATE meta SET sum = ? WHERE key = ?")
                for (k, v) in metaRows { try setMeta.run([.int(metaSum(k, v)), .text(k)]) }
                var versionRows: [(String, Int64, Int64)] = []
                try db.prepare("SELECT origin, counter, floor FROM version").query { versionRows.append(($0.text(0), $0.int(1), $0.int(2))) }
                let setVersion = try db.prepare("UPDATE version SET sum = ? WHERE origin = ?")
                for (o, c, f) in versionRows { try setVersion.run([.int(versionSum(o, c, f)), .text(o)]) }
                // Ops and records may be many: one pass each, reading and updating row by row.
                var opRows: [(String, Int64, Int64)] = []
                try db.prepare("SELECT origin, counter, body FROM ops").query { row in
                    opRows.append((row.text(0), row.int(1), opSum(row.text(0), row.int(1), row.blob(2))))
                }
                let setOp = try db.prepare("UPDATE ops SET sum = ? WHERE origin = ? AND counter = ?")
                for (o, c, s) in opRows { try setOp.run([.int(s), .text(o), .int(c)]) }
                var recordRows: [(String, Int64)] = []
                try db.prepare("SELECT key, body FROM records").query { recordRows.append(($0.text(0), recordSum($0.text(0), $0.blob(1)))) }
                let setRecord = try db.prepare("UPDATE records SET sum = ? WHERE key = ?")
                for (k, s) in recordRows { try setRecord.run([.int(s), .text(k)]) }
            }
            if format < 2 {
                try db.execute("ALTER TABLE records ADD COLUMN share BLOB NOT NULL DEFAULT x''")
                try db.execute("ALTER TABLE records ADD COLUMN share_sum INTEGER NOT NULL DEFAULT 0")
            }
            try db.execute("PRAGMA user_version = \(currentFormat)")
        }
    }

    // Row checksums: a tag per table, the row's key and its contents.
    static func metaSum(_ key: String, _ value: String) -> Int64 { Checksum.of(Array("meta".utf8), Array(key.utf8), Array(value.utf8)) }
    static func opSum(_ origin: String, _ counter: Int64, _ body: [UInt8]) -> Int64 {
        Checksum.of(Array("op".utf8), Array(origin.utf8), Array(String(counter).utf8), body)
    }
    static func recordSum(_ key: String, _ body: [UInt8]) -> Int64 { Checksum.of(Array("record".utf8), Array(key.utf8), body) }
    /// A status share's checksum covers the checksum of the row's contents it was computed
    /// from, so a share is only ever used with that state of the record.
    static func shareSum(_ key: String, rowSum: Int64, _ share: [UInt8]) -> Int64 {
        Checksum.of(Array("share".utf8), Array(key.utf8), withUnsafeBytes(of: rowSum.littleEndian, Array.init), share)
    }
    static func versionSum(_ origin: String, _ counter: Int64, _ floor: Int64) -> Int64 {
        Checksum.of(Array("version".utf8), Array(origin.utf8), Array("\(counter):\(floor)".utf8))
    }

    /// Tests only: caps the database at `pages` pages, so commits fail as on a full disk
    /// (SQLite error 13).
    func limitSize(pages: Int) throws {
        try db.execute("PRAGMA max_page_count = \(pages)")
    }

    /// Tests only: the database's size in pages.
    func pageCount() throws -> Int {
        var n = 0
        try db.prepare("PRAGMA page_count").query { n = Int($0.int(0)) }
        return n
    }

    /// Tests only: runs raw SQL on the database, to damage it the way a disk or an editor would.
    func executeRaw(_ sql: String) throws {
        try db.execute(sql)
    }

    /// Tests only: reads rows of raw SQL.
    func readRaw(_ sql: String, _ row: (Statement) throws -> Void) throws {
        try db.prepare(sql).query([], row)
    }

    /// The format version stored in the file (`PRAGMA user_version`).
    public func storedFormat() throws(StoreError) -> Int32 {
        try wrap {
            var v: Int32 = 0
            try db.prepare("PRAGMA user_version").query { v = Int32(truncatingIfNeeded: $0.int(0)) }
            return v
        }
    }

    private func wrap<T>(_ body: () throws -> T) throws(StoreError) -> T {
        do { return try body() } catch let e as SQLiteError { throw .sqlite(e) } catch let e as StoreError { throw e } catch {
            throw .corrupt("\(error)")
        }
    }

    // MARK: metadata

    public func meta(_ key: String) throws(StoreError) -> String? {
        try wrap {
            var value: String?
            try db.prepare("SELECT value, sum FROM meta WHERE key = ?").query([.text(key)]) { row in
                guard Self.metaSum(key, row.text(0)) == row.int(1) else { throw StoreError.damaged(table: "meta", key: key) }
                value = row.text(0)
            }
            return value
        }
    }

    public func setMeta(_ key: String, _ value: String) throws(StoreError) {
        try wrap { try upsertMeta.run([.text(key), .text(value), .int(Self.metaSum(key, value))]) }
    }

    /// The replica id stored in this database, created (with a fresh random epoch) on first
    /// use. A directory created for one node id refuses to run as another.
    public func identity(node: String) throws(StoreError) -> ReplicaID {
        if let stored = try storedIdentity() {
            guard stored.node == node else { throw .identityMismatch(stored: stored.node, configured: node) }
            return stored
        }
        let id = ReplicaID(node: node, epoch: UInt32.random(in: 1...UInt32.max))
        try setMeta("replica", id.description)
        return id
    }

    /// The replica id stored in this database, if it has one yet.
    public func storedIdentity() throws(StoreError) -> ReplicaID? {
        guard let stored = try meta("replica") else { return nil }
        guard let id = ReplicaID(parsing: stored) else { throw .corrupt("bad replica id '\(stored)'") }
        return id
    }

    // MARK: replica

    /// Meta key of the record checkpoint: the version vector every op of which the records
    /// table already reflects (see `commit`).
    static let checkpointKey = "records_checkpoint"

    /// One row of the records table as stored: its key text, encoded state, checksum, and
    /// status share with its checksum (empty and 0 when the row has none).
    struct RecordRow: Sendable {
        let key: String
        let body: [UInt8]
        let sum: Int64
        var share: [UInt8] = []
        var shareSum: Int64 = 0
    }

    /// A decoded record row: the record, its stored status share when one is there and
    /// passes its checksum, and the row's checksum (what a share stored later is bound to).
    struct DecodedRecordRow: Sendable {
        let key: RecordKey
        let record: Record
        let share: RecordShare?
        let sum: Int64
    }

    /// Rows per batch of a load. Large enough that spreading a batch over the cores costs
    /// little beside its work, small enough that the copied rows stay a few megabytes.
    static let recordLoadBatch = 8_192

    /// Checks and decodes `rows`, on every core when there are enough of them (a profile of
    /// a member restarting with 200,000 records put the checksums and decoding at a third of
    /// its start, all on one thread). Each result is the row's record, or why it is refused.
    /// A share that fails its checksum is not an error: it is derived from the record, so
    /// the load leaves it out and the share is computed again.
    static func decodeRecordRows(_ rows: [RecordRow]) -> [Result<DecodedRecordRow, any Error>] {
        @Sendable func decode(_ row: RecordRow) -> Result<DecodedRecordRow, any Error> {
            guard recordSum(row.key, row.body) == row.sum else { return .failure(StoreError.damaged(table: "records", key: row.key)) }
            do {
                let (key, record) = try WireCodec.decodeRecord(row.body)
                guard key.description == row.key else { return .failure(StoreError.corrupt("record row \(row.key) holds \(key)")) }
                var share: RecordShare?
                if !row.share.isEmpty, shareSum(row.key, rowSum: row.sum, row.share) == row.shareSum {
                    share = RecordShare(bytes: row.share)
                    assert(share == nil || share == RecordShare(key, record), "the stored share of \(key) is not its record's")
                }
                return .success(DecodedRecordRow(key: key, record: record, share: share, sum: row.sum))
            } catch {
                return .failure(error)
            }
        }
        return rows.mapOnEveryCore(parts: 8, sequentialBelow: 1_024, decode)
    }

    /// Loads everything into an in-memory replica (see `load`).
    public func loadReplica(id: ReplicaID, schema: Schema = .memberSync, wallClock: @escaping @Sendable () -> UInt64) throws(StoreError) -> Replica {
        try load(id: id, schema: schema, wallClock: wallClock).replica
    }

    /// Loads everything into an in-memory replica. Undecodable rows, or rows whose checksum
    /// does not match, stop the load rather than silently dropping or serving wrong data. Ops
    /// the record checkpoint does not cover are joined into the records again (joins are
    /// idempotent, so an op whose effect was already stored changes nothing); without a
    /// checkpoint every held op is. The records so rebuilt are returned as `replayedKeys`.
    public func load(id: ReplicaID, schema: Schema = .memberSync, wallClock: @escaping @Sendable () -> UInt64) throws(StoreError) -> LoadedReplica {
        try wrap {
            // Sized up front: growing a dictionary of a million records rehashes it ~20 times
            // and briefly holds two tables.
            var count = 0
            try db.prepare("SELECT count(*) FROM records").query { count = Int($0.int(0)) }
            var records: [RecordKey: Record] = [:]
            records.reserveCapacity(count)
            var shares: [RecordKey: RecordShare] = [:]
            shares.reserveCapacity(count)
            var withoutShares: [StoredRecordRow] = []
            // Rows are copied out of SQLite on this thread, a batch at a time; each batch is
            // checked and decoded on every core, then inserted here in row order, so the
            // first bad row stops the load as it would one row at a time.
            var batch: [RecordRow] = []
            batch.reserveCapacity(Self.recordLoadBatch)
            func insertBatch() throws {
                for result in Self.decodeRecordRows(batch) {
                    let row = try result.get()
                    records[row.key] = row.record
                    if let share = row.share { shares[row.key] = share } else { withoutShares.append(StoredRecordRow(key: row.key, sum: row.sum)) }
                }
                batch.removeAll(keepingCapacity: true)
            }
            try db.prepare("SELECT key, body, sum, share, share_sum FROM records").query { row in
                batch.append(RecordRow(key: row.text(0), body: row.blob(1), sum: row.int(2), share: row.blob(3), shareSum: row.int(4)))
                if batch.count == Self.recordLoadBatch { try insertBatch() }
            }
            try insertBatch()
            var version = VersionVector(), floor = VersionVector()
            try db.prepare("SELECT origin, counter, floor, sum FROM version").query { row in
                let text = row.text(0)
                guard Self.versionSum(text, row.int(1), row.int(2)) == row.int(3) else { throw StoreError.damaged(table: "version", key: text) }
                guard let origin = ReplicaID(parsing: text) else { throw StoreError.corrupt("bad origin '\(text)'") }
                version[origin] = UInt64(max(0, row.int(1)))
                floor[origin] = UInt64(max(0, row.int(2)))
            }
            var ops: [Op] = []
            try db.prepare("SELECT origin, counter, body, sum FROM ops ORDER BY origin, counter").query { row in
                let origin = row.text(0), counter = row.int(1), body = row.blob(2)
                guard Self.opSum(origin, counter, body) == row.int(3) else { throw StoreError.damaged(table: "ops", key: "\(origin)#\(counter)") }
                let op = try WireCodec.decodeOp(body)
                guard op.origin.description == origin, op.counter == UInt64(max(0, counter)) else {
                    throw StoreError.corrupt("op row \(origin)#\(counter) holds \(op.origin)#\(op.counter)")
                }
                ops.append(op)
            }
            var replica = Replica(restoring: id, schema: schema, wallClock: wallClock, records: records, version: version, floor: floor, ops: ops)
            // The replica's table is then the only one: the replay changes it in place, not a copy.
            records = [:]
            // Before the replay, which marks the records it rebuilds as changed.
            replica.restoreSummary(kept: shares)
            let checkpoint = try Self.parseVersion(meta(Self.checkpointKey))
            let replay = ops.filter { checkpoint?.covers($0.dot) != true }
            replica.rejoin(replay)
            return LoadedReplica(replica: replica, replayedKeys: Set(replay.lazy.map(\.key)), rowsWithoutShares: withoutShares)
        }
    }

    /// Durably records a batch: the new ops, record states, and the replica's version and log
    /// floors. One transaction, one fsync. `label` names the write path for crash tests.
    ///
    /// A record whose change came from ops in the log need not be written with them: loading
    /// rebuilds it from the ops. That is what makes replication cheap (an op is a small append,
    /// a record state a whole re-encoded row), so the node writes such records in batches, as a
    /// checkpoint: all of them at once, with `checkpoint` set to the version every op of which
    /// the records table then reflects. Ops must not be compacted away before a checkpoint
    /// covers them.
    ///
    /// Each record row keeps the record's status share, which `shareOf` gives (by default it
    /// is computed; a node passes those of `Replica.sharesForStoring`).
    public func commit(ops: [Op], records: [(RecordKey, Record)], version: VersionVector, floor: VersionVector = VersionVector(),
                       checkpoint: VersionVector? = nil, label: String = "commit",
                       shareOf: (RecordKey, Record) -> RecordShare = RecordShare.init) throws(StoreError) {
        try commit(encodedOps: ops.map(EncodedOp.init), records: records, version: version, floor: floor, checkpoint: checkpoint,
                   label: label, shareOf: shareOf)
    }

    /// `commit(ops:...)` for ops whose encoding is made already (a local op's, made when it
    /// was signed): their bytes are stored as they are.
    public func commit(encodedOps ops: [EncodedOp], records: [(RecordKey, Record)], version: VersionVector, floor: VersionVector = VersionVector(),
                       checkpoint: VersionVector? = nil, label: String = "commit",
                       shareOf: (RecordKey, Record) -> RecordShare = RecordShare.init) throws(StoreError) {
        var floors = storedFloor
        try wrap {
            try db.transaction {
                if let checkpoint {
                    let text = Self.formatVersion(checkpoint)
                    try upsertMeta.run([.text(Self.checkpointKey), .text(text), .int(Self.metaSum(Self.checkpointKey, text))])
                }
                for encoded in ops {
                    let op = encoded.op, origin = op.origin.description, counter = Int64(op.counter), body = encoded.bytes
                    try insertOp.run([.text(origin), .int(counter), .blob(body), .int(Self.opSum(origin, counter, body))])
                }
                Self.faultPoint?("\(label).mid")
                for (key, record) in records {
                    let text = key.description, body = WireCodec.encodeRecord(key, record)
                    let sum = Self.recordSum(text, body), share = shareOf(key, record).bytes
                    try upsertRecord.run([.text(text), .blob(body), .int(sum), .blob(share), .int(Self.shareSum(text, rowSum: sum, share))])
                }
                for (origin, counter) in version.sorted {
                    floors[origin] = max(floors[origin], floor[origin])
                    try writeVersion(origin, counter, floors[origin])
                }
            }
        }
        storedFloor = floors
        Self.faultPoint?("\(label).committed")
    }

    /// Keeps status shares for rows that had none (`LoadedReplica.rowsWithoutShares`), each
    /// bound to the row as it was read: a row written since keeps the share written with it.
    public func storeShares(_ shares: [(row: StoredRecordRow, share: RecordShare)]) throws(StoreError) {
        guard !shares.isEmpty else { return }
        try wrap {
            try db.transaction {
                let update = try db.prepare("UPDATE records SET share = ?, share_sum = ? WHERE key = ? AND sum = ?")
                for (row, share) in shares {
                    let text = row.key.description, bytes = share.bytes
                    try update.run([.blob(bytes), .int(Self.shareSum(text, rowSum: row.sum, bytes)), .text(text), .int(row.sum)])
                }
            }
        }
    }

    private func writeVersion(_ origin: ReplicaID, _ counter: UInt64, _ floor: UInt64) throws {
        let text = origin.description, c = Int64(counter), f = Int64(floor)
        try upsertVersion.run([.text(text), .int(c), .int(f), .int(Self.versionSum(text, c, f))])
    }

    /// Drops ops at or below `floor` for each origin and remembers the floor.
    /// `keep` names ops below the floor that stay stored (the rights writes the replica
    /// retains, `Replica.retainedRights`).
    public func compact(floor: VersionVector, version: VersionVector, keep: Set<Dot> = []) throws(StoreError) {
        var floors = storedFloor
        try wrap {
            try db.transaction {
                let delete = try db.prepare("DELETE FROM ops WHERE origin = ? AND counter <= ? AND counter > ?")
                var kept: [ReplicaID: [UInt64]] = [:]
                for d in keep { kept[d.replica, default: []].append(d.counter) }
                for (origin, f) in floor.sorted {
                    // Delete the runs between the kept counters (ascending), then above the last.
                    // From 0, not the stored floor: a commit may raise that without deleting
                    // (a snapshot page), and those ops go now.
                    var from: UInt64 = 0
                    for k in (kept[origin] ?? []).filter({ $0 <= f }).sorted() {
                        if k > from + 1 { try delete.run([.text(origin.description), .int(Int64(k - 1)), .int(Int64(from))]) }
                        from = k
                    }
                    try delete.run([.text(origin.description), .int(Int64(f)), .int(Int64(from))])
                    Self.faultPoint?("compaction.mid")
                    floors[origin] = max(floors[origin], f)
                    try writeVersion(origin, version[origin], floors[origin])
                }
            }
        }
        storedFloor = floors
        Self.faultPoint?("compaction.committed")
    }

    /// `node@epoch=counter,...`: a version vector as meta text.
    static func formatVersion(_ v: VersionVector) -> String {
        v.sorted.map { "\($0.replica)=\($0.counter)" }.joined(separator: ",")
    }

    static func parseVersion(_ text: String?) throws(StoreError) -> VersionVector? {
        guard let text else { return nil }
        var v = VersionVector()
        for entry in text.split(separator: ",") {
            guard let eq = entry.lastIndex(of: "="), let replica = ReplicaID(parsing: String(entry[..<eq])),
                  let counter = UInt64(entry[entry.index(after: eq)...]) else {
                throw .corrupt("bad record checkpoint '\(text.prefix(200))'")
            }
            v[replica] = counter
        }
        return v
    }

    public func opCount() throws(StoreError) -> Int {
        try wrap {
            var n = 0
            try db.prepare("SELECT count(*) FROM ops").query { n = Int($0.int(0)) }
            return n
        }
    }

    /// `PRAGMA integrity_check`: "ok" for a sound database.
    public func integrityCheck() throws(StoreError) -> String {
        try wrap {
            var lines: [String] = []
            try db.prepare("PRAGMA integrity_check").query { lines.append($0.text(0)) }
            return lines.joined(separator: "\n")
        }
    }

    /// Writes a consistent copy of the database to `path` (works while the node runs).
    public func backup(to path: String) throws(StoreError) {
        try wrap {
            try? FileManager.default.removeItem(atPath: path)
            try db.prepare("VACUUM INTO ?").run([.text(path)])
        }
    }

    // MARK: peers

    /// Saves what this node knows about another node (JSON text, free-form).
    public func savePeer(_ nodeID: String, info: String) throws(StoreError) {
        try wrap {
            try db.prepare("INSERT INTO peers(node_id, info) VALUES (?, ?) ON CONFLICT(node_id) DO UPDATE SET info = excluded.info")
                .run([.text(nodeID), .text(info)])
        }
    }

    public func peers() throws(StoreError) -> [String: String] {
        try wrap {
            var out: [String: String] = [:]
            try db.prepare("SELECT node_id, info FROM peers").query { out[$0.text(0)] = $0.text(1) }
            return out
        }
    }
}
