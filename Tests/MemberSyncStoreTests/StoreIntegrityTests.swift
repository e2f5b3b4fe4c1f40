import XCTest
import MemberSyncModel
import MemberSyncWire
@testable import MemberSyncStore

/// Damage is found and named, not loaded: every row carries a checksum, a missing or empty
/// database is not mistaken for a new one when one is expected, and a file written by the
/// first release (no checksums) is migrated when opened.
final class StoreIntegrityTests: XCTestCase {
    var dir: String!
    var path: String { dir + "/r.sqlite" }

    override func setUpWithError() throws {
        dir = NSTemporaryDirectory() + "integrity-\(UUID().uuidString.prefix(8))"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
    }

    override func tearDown() { try? FileManager.default.removeItem(atPath: dir) }

    /// A store holding one organisation (as a record and as an op) and its replica.
    func filledStore() throws -> (ReplicaID, Replica) {
        let store = try Store(path: path)
        let id = try store.identity(node: "asker")
        var replica = try store.loadReplica(id: id, wallClock: { 1_000 })
        let op = try replica.write(RecordKey(collection: "organisations", id: "asker"), [.assign(field: "name", value: .string("Asker kommune"))])
        try store.commit(ops: [op], records: replica.records.map { ($0.key, $0.value) }, version: replica.version, checkpoint: replica.version)
        return (id, replica)
    }

    func assertDamaged(table: String, key: String, file: StaticString = #filePath, line: UInt = #line) throws {
        let id = try XCTUnwrap(try Store(path: path).storedIdentity())
        XCTAssertThrowsError(try Store(path: path).loadReplica(id: id, wallClock: { 0 }), file: file, line: line) { error in
            guard case StoreError.damaged(let t, let k) = error else { return XCTFail("expected damage, got \(error)", file: file, line: line) }
            XCTAssertEqual(t, table, file: file, line: line)
            XCTAssertEqual(k, key, file: file, line: line)
            XCTAssertTrue("\(error)".contains(key), "the message names the damaged row: \(error)", file: file, line: line)
        }
    }

    /// One changed character inside a stored value: `PRAGMA integrity_check` says ok (the
    /// b-tree is sound), yet the load refuses the row and names it.
    func testOneChangedCharacterInAStoredValueIsFoundAndNamed() throws {
        let (id, _) = try filledStore()
        let raw = try Store(path: path)
        // "Asker kommune" -> "Asker kommunf" inside the encoded record and op bodies.
        try raw.executeRaw("UPDATE records SET body = CAST(replace(CAST(body AS TEXT), 'kommune', 'kommunf') AS BLOB)")
        XCTAssertEqual(try raw.integrityCheck(), "ok")
        try assertDamaged(table: "records", key: "organisations/asker")
        try Store(path: path).executeRaw("UPDATE ops SET body = CAST(replace(CAST(body AS TEXT), 'kommune', 'kommunf') AS BLOB)")
        try Store(path: path).executeRaw("DELETE FROM records")
        try assertDamaged(table: "ops", key: "\(id)#1")
    }

    /// A load checks and decodes its rows in batches spread over the cores: with two damaged
    /// rows in different parts of one batch, the row reported is still the first in the
    /// table's order, and an undamaged store of several batches loads every record as it was
    /// committed.
    func testALoadOverManyBatchesNamesTheFirstDamagedRowAndOtherwiseLoadsEveryRecord() throws {
        let store = try Store(path: path)
        let id = try store.identity(node: "asker")
        var replica = try store.loadReplica(id: id, wallClock: { 1_000 })
        let count = Store.recordLoadBatch * 2 + 500
        for i in 0..<count {
            let key = RecordKey(collection: "contacts", id: String(format: "c%06d", i))
            _ = try replica.write(key, [.assign(field: "name", value: .string("Contact \(i)")), .assign(field: "organisation", value: .string("asker"))])
        }
        try store.commit(ops: [], records: replica.records.map { ($0.key, $0.value) }, version: replica.version, checkpoint: replica.version)
        let first = String(format: "contacts/c%06d", Store.recordLoadBatch + 10), later = String(format: "contacts/c%06d", Store.recordLoadBatch + 7_000)
        try store.executeRaw("UPDATE records SET sum = sum + 1 WHERE key IN ('\(first)', '\(later)')")
        try assertDamaged(table: "records", key: first)
        try store.executeRaw("UPDATE records SET sum = sum - 1 WHERE key = '\(first)'")
        try assertDamaged(table: "records", key: later)
        try store.executeRaw("UPDATE records SET sum = sum - 1 WHERE key = '\(later)'")
        let loaded = try Store(path: path).loadReplica(id: id, wallClock: { 0 })
        XCTAssertEqual(loaded.records.count, count)
        XCTAssertEqual(loaded.records, replica.records)
    }

    func testAChangedVersionOrMetaRowIsFound() throws {
        let (id, _) = try filledStore()
        try Store(path: path).executeRaw("UPDATE version SET counter = counter + 5")
        try assertDamaged(table: "version", key: id.description)
        try Store(path: path).executeRaw("UPDATE version SET counter = counter - 5")
        XCTAssertNoThrow(try Store(path: path).loadReplica(id: id, wallClock: { 0 }), "restored, the row matches again")
        try Store(path: path).executeRaw("UPDATE meta SET value = 'baerum@1' WHERE key = 'replica'")
        XCTAssertThrowsError(try Store(path: path).storedIdentity()) { error in
            guard case StoreError.damaged(table: "meta", key: "replica") = error else { return XCTFail("\(error)") }
        }
    }

    /// Where a database is expected, a missing file, an empty (0-byte) file or one without
    /// tables is an error, never a fresh, empty replica.
    func testAnExpectedDatabaseThatIsMissingOrEmptyIsRefused() throws {
        XCTAssertThrowsError(try Store(path: path, mustExist: true)) { error in
            guard case StoreError.missing(let why) = error else { return XCTFail("\(error)") }
            XCTAssertTrue(why.contains("missing"), why)
        }
        XCTAssertFalse(FileManager.default.fileExists(atPath: path), "nothing was created")
        _ = try filledStore()
        try Data().write(to: URL(fileURLWithPath: path))
        for suffix in ["-wal", "-shm"] { try? FileManager.default.removeItem(atPath: path + suffix) }
        XCTAssertThrowsError(try Store(path: path, mustExist: true)) { error in
            guard case StoreError.missing(let why) = error else { return XCTFail("\(error)") }
            XCTAssertTrue(why.contains("empty"), why)
        }
    }

    /// A database written by the first release (format 0: the same tables without checksum
    /// columns) opens: it is migrated to the current format, loads the same replica, and is
    /// protected from then on.
    func testAStoreOfTheFirstFormatIsMigratedAndThenProtected() throws {
        var replica = Replica(id: ReplicaID(node: "asker", epoch: 0x2a), wallClock: { 1_000 })
        let key = RecordKey(collection: "organisations", id: "asker")
        let op = try replica.write(key, [.assign(field: "name", value: .string("Asker")), .add(field: "topics", element: "climate")])
        do {
            let db = try SQLiteDatabase(path: path)
            try db.execute("PRAGMA journal_mode=WAL")
            try db.execute("""
                CREATE TABLE meta(key TEXT PRIMARY KEY, value TEXT NOT NULL);
                CREATE TABLE ops(origin TEXT NOT NULL, counter INTEGER NOT NULL, body BLOB NOT NULL,
                                 PRIMARY KEY(origin, counter)) WITHOUT ROWID;
                CREATE TABLE records(key TEXT PRIMARY KEY, body BLOB NOT NULL) WITHOUT ROWID;
                CREATE TABLE version(origin TEXT PRIMARY KEY, counter INTEGER NOT NULL, floor INTEGER NOT NULL DEFAULT 0);
                CREATE TABLE peers(node_id TEXT PRIMARY KEY, info TEXT NOT NULL);
                """)
            try db.prepare("INSERT INTO meta VALUES ('replica', ?)").run([.text(replica.id.description)])
            try db.prepare("INSERT INTO ops VALUES (?, 1, ?)").run([.text(replica.id.description), .blob(WireCodec.encodeOp(op))])
            try db.prepare("INSERT INTO records VALUES (?, ?)").run([.text(key.description), .blob(WireCodec.encodeRecord(key, replica.records[key]!))])
            try db.prepare("INSERT INTO version VALUES (?, 1, 0)").run([.text(replica.id.description)])
        }
        let store = try Store(path: path, mustExist: true)
        XCTAssertEqual(try store.storedFormat(), Store.currentFormat)
        XCTAssertEqual(try store.storedIdentity(), replica.id)
        let loaded = try store.loadReplica(id: replica.id, wallClock: { 0 })
        XCTAssertEqual(loaded.digest(), replica.digest())
        XCTAssertEqual(loaded.version, replica.version)
        try store.executeRaw("UPDATE records SET body = CAST(replace(CAST(body AS TEXT), 'Asker', 'Askir') AS BLOB)")
        try assertDamaged(table: "records", key: key.description)
    }

    func testAFileOfANewerFormatIsRefused() throws {
        _ = try filledStore()
        try Store(path: path).executeRaw("PRAGMA user_version = 99")
        XCTAssertThrowsError(try Store(path: path)) { error in
            guard case StoreError.newerFormat(found: 99, known: Store.currentFormat) = error else { return XCTFail("\(error)") }
        }
    }
}
