import CSQLite
import Foundation

/// The node's search index: for every searchable record, the folded text search compares
/// (built by `Directory.searchText`), in an SQLite FTS5 table with the trigram tokenizer, so
/// a substring query finds its candidate records without reading every record.
///
/// It lives in a database file of its own next to the replica's, because it is derived data:
/// written without fsync, rebuilt whenever it may not match the replica (see `state`), and
/// never needed to recover anything. Its answers are candidates (a superset of the records
/// holding the text: every trigram of the query occurs in the record's text, not
/// necessarily in a row), which the caller checks exactly.
///
/// An index may be closed with records it has not taken yet (its backlog): their keys are
/// kept with the mark (`markComplete(_:backlog:)`), so the next start searches them by
/// matching and indexes them, instead of rebuilding the whole index.
public final class SearchIndex {
    public static let fileName = "search.sqlite"
    /// The layout and the text indexed; an index of another format is rebuilt. Bump it when
    /// `Directory.searchText` or `SearchText.fold` change what they produce. (2: the backlog
    /// is kept with the mark, which an index of format 1 would not read.)
    public static let format = 2

    private let db: SQLiteDatabase
    public let path: String
    private let findKey: Statement
    private let insertKey: Statement
    private let deleteKey: Statement
    private let insertText: Statement
    private let deleteText: Statement
    private let upsertMeta: Statement
    private let insertBacklog: Statement
    /// Set by `checkpointInBackground`.
    private var checkpointer: WALCheckpointer?

    /// Opens the index at `path`, creating the file (mode 0600: it holds the directory's
    /// text) and its tables when missing. A file that cannot be read as an index is replaced
    /// by an empty one (its `state` is then nil).
    public init(path: String) throws(StoreError) {
        self.path = path
        do {
            db = try Self.open(path)
        } catch {
            Self.remove(path)
            do { db = try Self.open(path) } catch let e as SQLiteError { throw .sqlite(e) } catch { throw .corrupt("\(error)") }
        }
        do {
            findKey = try db.prepare("SELECT id FROM keys WHERE key = ?")
            insertKey = try db.prepare("INSERT INTO keys(key) VALUES (?) RETURNING id")
            deleteKey = try db.prepare("DELETE FROM keys WHERE id = ?")
            insertText = try db.prepare("INSERT INTO text(rowid, body) VALUES (?, ?)")
            deleteText = try db.prepare("DELETE FROM text WHERE rowid = ?")
            upsertMeta = try db.prepare("INSERT INTO meta(key, value) VALUES (?, ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value")
            insertBacklog = try db.prepare("INSERT OR IGNORE INTO backlog(key) VALUES (?)")
        } catch let e as SQLiteError { throw .sqlite(e) } catch { throw .corrupt("\(error)") }
    }

    deinit { checkpointer?.stop(restoringAutomaticOn: db) }

    /// Moves the index's WAL checkpoints off the calling thread (see `WALCheckpointer`): the
    /// node indexes on its reactor between messages, and a checkpoint there delays the next one.
    public func checkpointInBackground() throws(StoreError) {
        guard checkpointer == nil else { return }
        checkpointer = try WALCheckpointer.start(for: db, path: path, synchronous: "OFF")
    }

    private static func open(_ path: String) throws -> SQLiteDatabase {
        if !FileManager.default.fileExists(atPath: path) {
            let fd = Foundation.open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o600)
            if fd >= 0 { close(fd) }
        }
        let db = try SQLiteDatabase(path: path)
        try db.execute("PRAGMA journal_mode=WAL")
        // Derived data: a crash may lose the latest writes, and `state` then says so.
        try db.execute("PRAGMA synchronous=OFF")
        try db.execute(schema)
        return db
    }

    /// The tables: each record's row id by key, its text by row id, and the keys of the
    /// records the index did not hold the current text of when it was marked. Trigrams of Unicode
    /// scalars as they are (the text is folded already); `detail = none` keeps no positions,
    /// which the queries (ANDs of trigrams) do not need.
    private static let schema = """
        CREATE TABLE IF NOT EXISTS meta(key TEXT PRIMARY KEY, value TEXT NOT NULL);
        CREATE TABLE IF NOT EXISTS keys(id INTEGER PRIMARY KEY, key TEXT NOT NULL UNIQUE);
        CREATE TABLE IF NOT EXISTS backlog(key TEXT PRIMARY KEY) WITHOUT ROWID;
        CREATE VIRTUAL TABLE IF NOT EXISTS text USING fts5(body, tokenize = 'trigram case_sensitive 1', detail = none);
        """

    private static func remove(_ path: String) {
        for suffix in ["", "-wal", "-shm"] { try? FileManager.default.removeItem(atPath: path + suffix) }
    }

    /// What the index was last marked as reflecting (`markComplete`), but for the records of
    /// its `backlog`, or nil: never marked, marked for another format, or changed since
    /// (`markIncomplete`).
    public func state() throws(StoreError) -> String? {
        var value: String?
        try wrap { try db.prepare("SELECT value FROM meta WHERE key = 'state'").query { value = $0.text(0) } }
        guard let value, let bar = value.firstIndex(of: "|"), value[..<bar] == "\(Self.format)" else { return nil }
        return String(value[value.index(after: bar)...])
    }

    /// Notes that the index reflects the replica state `state` names, but for the records
    /// named in `backlog` (kept for `backlog()`), in one transaction.
    public func markComplete(_ state: String, backlog: some Sequence<String> = [String]()) throws(StoreError) {
        try wrap {
            try db.transaction {
                try db.execute("DELETE FROM backlog")
                for key in backlog { try insertBacklog.run([.text(key)]) }
                try upsertMeta.run([.text("state"), .text("\(Self.format)|\(state)")])
            }
        }
    }

    /// The keys the last `markComplete` named as not indexed yet.
    public func backlog() throws(StoreError) -> [String] {
        var keys: [String] = []
        try wrap { try db.prepare("SELECT key FROM backlog").query { keys.append($0.text(0)) } }
        return keys
    }

    /// Notes that the index may lag the replica from now on (a node marks this as it starts
    /// using the index, so a crash leaves it marked for a rebuild).
    public func markIncomplete() throws(StoreError) {
        try wrap { try db.execute("DELETE FROM meta WHERE key = 'state'") }
    }

    /// Empties the index (dropping the tables: deleting a large FTS5 table's rows one by one
    /// would take long).
    public func removeAll() throws(StoreError) {
        try wrap {
            try db.transaction {
                try db.execute("DROP TABLE IF EXISTS text; DROP TABLE IF EXISTS keys; DROP TABLE IF EXISTS meta; DROP TABLE IF EXISTS backlog")
                try db.execute(Self.schema)
            }
        }
    }

    /// Sets the text of each record named, in one transaction; nil takes a record out (deleted,
    /// or not searchable).
    public func update(_ changes: [(key: String, text: String?)]) throws(StoreError) {
        var rest = changes[...]
        try update { rest.popFirst() }
    }

    /// Sets the text of each record `next` names until it returns nil, in one transaction
    /// (FTS5 writes a segment per transaction, so few large ones index faster than many
    /// small ones). NUL characters are indexed as spaces (SQLite reads text up to one).
    public func update(_ next: () -> (key: String, text: String?)?) throws(StoreError) {
        try wrap {
            try db.transaction {
                while let (key, text) = next() {
                    var id: Int64?
                    try findKey.query([.text(key)]) { id = $0.int(0) }
                    if let id { try deleteText.run([.int(id)]) }
                    guard let text else {
                        if let id { try deleteKey.run([.int(id)]) }
                        continue
                    }
                    if id == nil { try insertKey.query([.text(key)]) { id = $0.int(0) } }
                    guard let id else { throw StoreError.corrupt("search index: no row id for \(key)") }
                    try insertText.run([.int(id), .text(text.contains("\u{0}") ? text.replacingOccurrences(of: "\u{0}", with: " ") : text)])
                }
            }
        }
    }

    /// The keys of the records whose text holds every three-character piece of `folded`
    /// (a folded query): a superset of those holding `folded` itself. Nil when `folded` has
    /// fewer than three characters (Unicode scalars) or holds a NUL: the index cannot answer.
    public func candidates(_ folded: String) throws(StoreError) -> [String]? {
        let scalars = Array(folded.unicodeScalars)
        guard scalars.count >= 3, !scalars.contains("\u{0}") else { return nil }
        var terms = Set<String>()
        for i in 0...(scalars.count - 3) {
            var piece = String.UnicodeScalarView()
            piece.append(contentsOf: scalars[i..<(i + 3)])
            terms.insert("\"" + String(piece).replacingOccurrences(of: "\"", with: "\"\"") + "\"")
        }
        var out: [String] = []
        try wrap {
            try db.prepare("SELECT keys.key FROM text JOIN keys ON keys.id = text.rowid WHERE text MATCH ?")
                .query([.text(terms.sorted().joined(separator: " AND "))]) { out.append($0.text(0)) }
        }
        return out
    }

    /// Records in the index.
    public func count() throws(StoreError) -> Int {
        var n = 0
        try wrap { try db.prepare("SELECT count(*) FROM keys").query { n = Int($0.int(0)) } }
        return n
    }

    private func wrap<T>(_ body: () throws -> T) throws(StoreError) -> T {
        do { return try body() } catch let e as SQLiteError { throw .sqlite(e) } catch let e as StoreError { throw e } catch {
            throw .corrupt("\(error)")
        }
    }
}
