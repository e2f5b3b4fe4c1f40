import Foundation
import MemberSyncModel
import MemberSyncWire

/// Why the store could not do what was asked.
public enum StoreError: Error, CustomStringConvertible {
    case sqlite(SQLiteError)
    case corrupt(String)
    case identityMismatch(stored: String, configured: String)

    public var description: String {
        switch self {
        case .sqlite(let e): return e.description
        case .corrupt(let why): return "replica database is damaged: \(why)"
        case .identityMismatch(let stored, let configured):
            return "this data directory belongs to node '\(stored)', not '\(configured)'"
        }
    }
}

/// The durable replica: op log per origin, record states, version vector with log floors,
/// node metadata and the peers a node has seen, in one SQLite database in WAL mode with full
/// fsync, so a write acknowledged to the CLI survives a crash or power cut.
public final class Store {
    private let db: SQLiteDatabase
    public let path: String
    private let insertOp: Statement
    private let upsertRecord: Statement
    private let upsertVersion: Statement

    public static let fileName = "replica.sqlite"

    public init(path: String) throws(StoreError) {
        self.path = path
        do {
            db = try SQLiteDatabase(path: path)
            try db.execute("PRAGMA journal_mode=WAL")
            try db.execute("PRAGMA synchronous=FULL")
            try db.execute("""
                CREATE TABLE IF NOT EXISTS meta(key TEXT PRIMARY KEY, value TEXT NOT NULL);
                CREATE TABLE IF NOT EXISTS ops(origin TEXT NOT NULL, counter INTEGER NOT NULL, body BLOB NOT NULL,
                                               PRIMARY KEY(origin, counter)) WITHOUT ROWID;
                CREATE TABLE IF NOT EXISTS records(key TEXT PRIMARY KEY, body BLOB NOT NULL) WITHOUT ROWID;
                CREATE TABLE IF NOT EXISTS version(origin TEXT PRIMARY KEY, counter INTEGER NOT NULL,
                                                   floor INTEGER NOT NULL DEFAULT 0);
                CREATE TABLE IF NOT EXISTS peers(node_id TEXT PRIMARY KEY, info TEXT NOT NULL);
                """)
            insertOp = try db.prepare("INSERT OR IGNORE INTO ops(origin, counter, body) VALUES (?, ?, ?)")
            upsertRecord = try db.prepare("INSERT INTO records(key, body) VALUES (?, ?) ON CONFLICT(key) DO UPDATE SET body = excluded.body")
            upsertVersion = try db.prepare("""
                INSERT INTO version(origin, counter, floor) VALUES (?, ?, ?)
                ON CONFLICT(origin) DO UPDATE SET counter = excluded.counter, floor = max(floor, excluded.floor)
                """)
        } catch let e as SQLiteError {
            throw .sqlite(e)
        } catch {
            throw .corrupt("\(error)")
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
            try db.prepare("SELECT value FROM meta WHERE key = ?").query([.text(key)]) { value = $0.text(0) }
            return value
        }
    }

    public func setMeta(_ key: String, _ value: String) throws(StoreError) {
        try wrap {
            try db.prepare("INSERT INTO meta(key, value) VALUES (?, ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value")
                .run([.text(key), .text(value)])
        }
    }

    /// The replica id stored in this database, created (with a fresh random epoch) on first
    /// use. A directory created for one node id refuses to run as another.
    public func identity(node: String) throws(StoreError) -> ReplicaID {
        if let stored = try meta("replica") {
            guard let id = ReplicaID(parsing: stored) else { throw .corrupt("bad replica id '\(stored)'") }
            guard id.node == node else { throw .identityMismatch(stored: id.node, configured: node) }
            return id
        }
        let id = ReplicaID(node: node, epoch: UInt32.random(in: 1...UInt32.max))
        try setMeta("replica", id.description)
        return id
    }

    // MARK: replica

    /// Meta key of the record checkpoint: the version vector every op of which the records
    /// table already reflects (see `commit`).
    static let checkpointKey = "records_checkpoint"

    /// Loads everything into an in-memory replica. Undecodable rows mean a damaged file and
    /// stop the load rather than silently dropping data. Ops the record checkpoint does not
    /// cover are joined into the records again (joins are idempotent, so an op whose effect
    /// was already stored changes nothing); without a checkpoint every held op is.
    public func loadReplica(id: ReplicaID, schema: Schema = .memberSync, wallClock: @escaping @Sendable () -> UInt64) throws(StoreError) -> Replica {
        try wrap {
            // Sized up front: growing a dictionary of a million records rehashes it ~20 times
            // and briefly holds two tables.
            var count = 0
            try db.prepare("SELECT count(*) FROM records").query { count = Int($0.int(0)) }
            var records: [RecordKey: Record] = [:]
            records.reserveCapacity(count)
            try db.prepare("SELECT key, body FROM records").query { row in
                let (key, record) = try WireCodec.decodeRecord(row.blob(1))
                guard key.description == row.text(0) else { throw StoreError.corrupt("record row \(row.text(0)) holds \(key)") }
                records[key] = record
            }
            var version = VersionVector(), floor = VersionVector()
            try db.prepare("SELECT origin, counter, floor FROM version").query { row in
                guard let origin = ReplicaID(parsing: row.text(0)) else { throw StoreError.corrupt("bad origin '\(row.text(0))'") }
                version[origin] = UInt64(max(0, row.int(1)))
                floor[origin] = UInt64(max(0, row.int(2)))
            }
            var ops: [Op] = []
            try db.prepare("SELECT body FROM ops ORDER BY origin, counter").query { row in
                ops.append(try WireCodec.decodeOp(row.blob(0)))
            }
            var replica = Replica(restoring: id, schema: schema, wallClock: wallClock, records: records, version: version, floor: floor, ops: ops)
            let checkpoint = try Self.parseVersion(meta(Self.checkpointKey))
            replica.rejoin(ops.lazy.filter { checkpoint?.covers($0.dot) != true })
            return replica
        }
    }

    /// Durably records a batch: the new ops, record states, and the replica's version and log
    /// floors. One transaction, one fsync.
    ///
    /// A record whose change came from ops in the log need not be written with them: loading
    /// rebuilds it from the ops. That is what makes replication cheap (an op is a small append,
    /// a record state a whole re-encoded row), so the node writes such records in batches, as a
    /// checkpoint: all of them at once, with `checkpoint` set to the version every op of which
    /// the records table then reflects. Ops must not be compacted away before a checkpoint
    /// covers them.
    public func commit(ops: [Op], records: [(RecordKey, Record)], version: VersionVector, floor: VersionVector = VersionVector(),
                       checkpoint: VersionVector? = nil) throws(StoreError) {
        try wrap {
            try db.transaction {
                if let checkpoint {
                    try db.prepare("INSERT INTO meta(key, value) VALUES (?, ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value")
                        .run([.text(Self.checkpointKey), .text(Self.formatVersion(checkpoint))])
                }
                for op in ops {
                    try insertOp.run([.text(op.origin.description), .int(Int64(op.counter)), .blob(WireCodec.encodeOp(op))])
                }
                for (key, record) in records {
                    try upsertRecord.run([.text(key.description), .blob(WireCodec.encodeRecord(key, record))])
                }
                for (origin, counter) in version.sorted {
                    try upsertVersion.run([.text(origin.description), .int(Int64(counter)), .int(Int64(floor[origin]))])
                }
            }
        }
    }

    /// Drops ops at or below `floor` for each origin and remembers the floor.
    public func compact(floor: VersionVector, version: VersionVector) throws(StoreError) {
        try wrap {
            try db.transaction {
                let delete = try db.prepare("DELETE FROM ops WHERE origin = ? AND counter <= ?")
                for (origin, f) in floor.sorted {
                    try delete.run([.text(origin.description), .int(Int64(f))])
                    try upsertVersion.run([.text(origin.description), .int(Int64(version[origin])), .int(Int64(f))])
                }
            }
        }
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
