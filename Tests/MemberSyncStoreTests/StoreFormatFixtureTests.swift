import Foundation
import XCTest
import MemberSyncModel
import MemberSyncWire
@testable import MemberSyncStore

/// A database written by release 0.1.0 (store format 1, ops made before hash chains) is
/// committed under `Fixtures/`, and every later release must open it: load the same replica,
/// pass the integrity check and take new commits. A format change must come with a migration
/// (`Store.migrate`, `PRAGMA user_version`) that keeps this test passing; the file itself is
/// never regenerated. It was written once with `MEMBERSYNC_WRITE_STORE_FIXTURE=1`.
final class StoreFormatFixtureTests: XCTestCase {
    static let fixture = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        .appendingPathComponent("Fixtures/release-0.1.0-format-1.sqlite").path
    static let asker = ReplicaID(node: "asker", epoch: 0x2a)
    static let brussels = ReplicaID(node: "brussels", epoch: 7)

    func key(_ s: String) -> RecordKey { try! RecordKey(parsing: s) }

    /// The history in the fixture: asker's organisation and a contact, a topic added and
    /// removed, and one op of the hub.
    func history() throws -> (asker: Replica, ops: [Op]) {
        var asker = Replica(id: Self.asker, wallClock: { 1_764_547_200_000 })
        var hub = Replica(id: Self.brussels, wallClock: { 1_764_547_200_500 })
        var ops: [Op] = []
        ops.append(try asker.write(key("organisations/asker"), [.assign(field: "name", value: .string("Asker kommune")), .add(field: "topics", element: "climate")]))
        ops.append(try asker.write(key("contacts/kari"), [.assign(field: "name", value: .string("Kari Nordmann")), .assign(field: "organisation", value: .string("asker"))]))
        ops.append(try asker.write(key("organisations/asker"), [.remove(field: "topics", element: "climate")]))
        let hubOp = try hub.write(key("networks/eurocities"), [.assign(field: "name", value: .string("Eurocities"))])
        try asker.apply(hubOp)
        ops.append(hubOp)
        return (asker, ops)
    }

    func testWriteTheFixtureOnlyWhenAskedAndMissing() throws {
        guard ProcessInfo.processInfo.environment["MEMBERSYNC_WRITE_STORE_FIXTURE"] == "1",
              !FileManager.default.fileExists(atPath: Self.fixture) else { return }
        let (asker, ops) = try history()
        let store = try Store(path: Self.fixture)
        try store.setMeta("replica", Self.asker.description)
        try store.commit(ops: ops, records: asker.records.map { ($0.key, $0.value) }, version: asker.version)
        try store.executeRaw("PRAGMA wal_checkpoint(TRUNCATE)")
    }

    func testTheDatabaseOfRelease010OpensLoadsAndTakesNewCommits() throws {
        XCTAssertTrue(FileManager.default.fileExists(atPath: Self.fixture), "the fixture is committed")
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("store-fixture-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let path = dir + "/replica.sqlite"
        try FileManager.default.copyItem(atPath: Self.fixture, toPath: path)

        let (expected, ops) = try history()
        let store = try Store(path: path, mustExist: true)
        XCTAssertEqual(try store.storedFormat(), Store.currentFormat)
        XCTAssertEqual(try store.integrityCheck(), "ok")
        XCTAssertEqual(try store.storedIdentity(), Self.asker)
        var loaded = try store.loadReplica(id: Self.asker, wallClock: { 1_764_547_300_000 })
        XCTAssertEqual(loaded.version, expected.version)
        XCTAssertEqual(loaded.digest(), expected.digest())
        XCTAssertEqual(loaded.view(key("organisations/asker"))?.field("name")?.value, .string("Asker kommune"))
        XCTAssertEqual(loaded.view(key("organisations/asker"))?.field("topics")?.members ?? [], [], "the topic was removed")
        XCTAssertEqual(Set(loaded.heldOps()), Set(ops), "every op of release 0.1.0 decodes as it was written")
        XCTAssertTrue(ops.allSatisfy { $0.prev.isEmpty }, "ops from before hash chains carry no link")

        // The replica goes on: a new op is stored next to the old ones and reloads.
        let next = try loaded.write(key("contacts/ola"), [.assign(field: "name", value: .string("Ola")), .assign(field: "organisation", value: .string("asker"))])
        try store.commit(ops: [next], records: [(next.key, loaded.record(next.key)!)], version: loaded.version)
        let again = try Store(path: path, mustExist: true).loadReplica(id: Self.asker, wallClock: { 1_764_547_300_000 })
        XCTAssertEqual(again.digest(), loaded.digest())
        XCTAssertEqual(again.heldOps().count, ops.count + 1)

        // Format 1 kept no status shares: the rows written then are reported once, and the
        // shares stored for them are read from then on.
        let withoutShares = try Store(path: path, mustExist: true).load(id: Self.asker, wallClock: { 0 })
        XCTAssertEqual(Set(withoutShares.rowsWithoutShares.map(\.key)), Set(expected.records.keys), "the rows of release 0.1.0 (the new one has its share)")
        try store.storeShares(withoutShares.sharesOfRowsWithout())
        let third = try Store(path: path, mustExist: true).load(id: Self.asker, wallClock: { 0 })
        XCTAssertEqual(third.rowsWithoutShares, [])
        XCTAssertEqual(third.replica.digest(), loaded.digest())
    }
}
