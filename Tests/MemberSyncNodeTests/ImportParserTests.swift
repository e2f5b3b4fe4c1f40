import Foundation
@testable import MemberSyncConfig
import MemberSyncControl
@testable import MemberSyncDirectory
@testable import MemberSyncEngine
import MemberSyncModel
import MemberSyncWire
import XCTest

@testable import MemberSyncNode

/// The import/export format, CSV cells, and the engine's bulk paths (batched local writes,
/// merging a backup), without sockets or disks.
final class ImportParserTests: XCTestCase {
    func replica(_ node: String, epoch: UInt32 = 1) -> Replica {
        Replica(id: ReplicaID(node: node, epoch: epoch), wallClock: { 1_700_000_000_000 })
    }

    func testParseReportsEveryProblemWithItsLineAndField() {
        let text = """
            {"key":"organisations/asker","fields":{"name":"Asker","population":94000,"topics":["climate"]}}

            {"key":"organisations/x","fields":{"population":"many","topics":"climate","colour":1}}
            [1, 2]
            {"key":"organisations/asker","fields":{"name":"again"}}
            {"key":"nodes/n","fields":{"revoked":"yes","role":"boss"}}
            """
        let (records, problems) = ImportFormat.parse(Data(text.utf8))
        XCTAssertEqual(records.map(\.key.description), ["organisations/asker"])
        XCTAssertEqual(records.first?.scalars["population"], .int(94000))
        XCTAssertEqual(records.first?.sets["topics"], ["climate"])
        XCTAssertEqual(Set(problems.map(\.line)), [3, 4, 5, 6], "blank line 2 is skipped, line 1 is fine")
        XCTAssertEqual(Set(problems.filter { $0.line == 3 }.compactMap(\.field)), ["population", "topics", "colour"])
        XCTAssertEqual(Set(problems.filter { $0.line == 6 }.compactMap(\.field)), ["role"], "'yes' is a boolean")
        XCTAssertTrue(problems.contains { $0.line == 5 && $0.message.contains("first on line 1") })
    }

    func testLinesWithBrokenUTF8OrControlCharactersAreProblemsThatSaySo() {
        var data = Data(#"{"key":"organisations/asker","fields":{"name":"Asker"}}"#.utf8)
        data.append(0x0A)
        data.append(Data(#"{"key":"organisations/baerum","fields":{"name":"B"#.utf8))
        data.append(contentsOf: [0xE6, 0x72])  // "æ" in Latin-1: not UTF-8
        data.append(Data(#"rum"}}"#.utf8))
        data.append(0x0A)
        data.append(Data(#"{"key":"organisations/hamar","fields":{"name":"\u001b[2JHamar","topics":["a\nb"]}}"#.utf8))
        let (records, problems) = ImportFormat.parse(data)
        XCTAssertEqual(records.map(\.key.description), ["organisations/asker"])
        XCTAssertTrue(problems.contains { $0.line == 2 && $0.message.contains("not valid UTF-8 (byte 50 of the line)") }, "\(problems)")
        XCTAssertTrue(problems.contains { $0.line == 3 && $0.field == "name" && $0.message.contains("U+001B (ESC)") }, "\(problems)")
        XCTAssertTrue(problems.contains { $0.line == 3 && $0.field == "topics" && $0.message.contains("U+000A") }, "\(problems)")
    }

    func testPackedRecordsReadBackAsTheSameCheckedRecords() throws {
        let text = """
            {"key":"organisations/asker","fields":{"name":"Asker — Æøå","population":-94000,"topics":["climate","b"],"description":null}}
            {"key":"nodes/asker","fields":{"revoked":false}}
            """
        let (records, problems) = ImportFormat.parse(Data(text.utf8))
        XCTAssertEqual(problems, [])
        let entries = try ImportPack.decode(ImportPack.encode(records))
        XCTAssertEqual(entries.map(\.line), [1, 2])
        let again = entries.map { e in ImportFormat.record(key: e.key, fields: e.fields, line: e.line) }
        XCTAssertEqual(try again.map { try $0.get() }, records)
    }

    func testPackedRecordsAreCheckedByTheNodeLikeJSONLinesWithTheirLines() throws {
        // The CLI types values before packing; a packed request is still checked in full.
        let bad = ImportRecord(line: 42, key: RecordKey(collection: "organisations", id: "asker"),
                               scalars: ["population": .string("many"), "colour": .string("red")], sets: [:])
        let entry = try XCTUnwrap(ImportPack.decode(ImportPack.encode([bad])).first)
        guard case .failure(let p) = ImportFormat.record(key: entry.key, fields: entry.fields, line: entry.line) else {
            return XCTFail("a packed record with bad fields passed")
        }
        XCTAssertEqual(Set(p.problems.map(\.line)), [42])
        XCTAssertEqual(Set(p.problems.compactMap(\.field)), ["population", "colour"])
    }

    func testMalformedPackedRecordsAreErrorsNeverCrashes() {
        let good = ImportPack.encode([ImportRecord(line: 3, key: RecordKey(collection: "contacts", id: "a"),
                                                   scalars: ["name": .string("A"), "phone": .absent], sets: ["topics": ["x", "y"]])])
        XCTAssertNoThrow(try ImportPack.decode(good))
        // Every truncation, and a byte too many, is refused.
        for n in 0..<good.count { XCTAssertThrowsError(try ImportPack.decode(Array(good.prefix(n))), "prefix \(n)") }
        XCTAssertThrowsError(try ImportPack.decode(good + [0]))
        // Counts larger than the input, bad UTF-8, unknown tags and versions.
        XCTAssertThrowsError(try ImportPack.decode([1, 0xFF, 0xFF, 0xFF, 0xFF, 0x0F]))
        XCTAssertThrowsError(try ImportPack.decode([1, 1, 3, 1, 0xC3, 0]))
        XCTAssertThrowsError(try ImportPack.decode([1, 1, 3, 1, 0x61, 1, 1, 0x6E, 9]))
        XCTAssertThrowsError(try ImportPack.decode([2, 0]))
        // Every single-byte change either reads (as at most the one record) or is refused.
        for i in good.indices {
            var mutated = good
            mutated[i] ^= 0xA5
            if let read = try? ImportPack.decode(mutated) { XCTAssertLessThanOrEqual(read.count, 1, "byte \(i)") }
        }
    }

    func testScalarsAreTypedByTheSchema() throws {
        func one(_ fields: String) -> Result<ImportRecord, ImportFormat.Problems> {
            let object = try! JSONSerialization.jsonObject(with: Data(#"{"key":"organisations/a","fields":\#(fields)}"#.utf8))
            return ImportFormat.record(object, line: 7)
        }
        XCTAssertEqual(try one(#"{"population":"68000"}"#).get().scalars["population"], .int(68000))
        XCTAssertEqual(try one(#"{"population":68000.0}"#).get().scalars["population"], .int(68000))
        XCTAssertThrowsError(try one(#"{"population":68000.5}"#).get())
        XCTAssertThrowsError(try one(#"{"population":true}"#).get())
        XCTAssertThrowsError(try one(#"{"name":null}"#).get())
        XCTAssertThrowsError(try one(#"{"joined":"2021-13-01"}"#).get())
        XCTAssertThrowsError(try one(#"{"networks":["Not A Slug"]}"#).get())
        guard case .failure(let p) = one(#"{"kind":"village"}"#) else { return XCTFail("village is no kind") }
        XCTAssertEqual(p.problems, [ImportProblem(line: 7, field: "kind", message: "'village' is not one of municipality, county, university, city, office, alliance, association, agency")])
    }

    func testActionWritesOnlyDifferencesAndMakesSetsExact() throws {
        var r = replica("a")
        let key = RecordKey(collection: "organisations", id: "asker")
        _ = try r.write(key, [.assign(field: "name", value: .string("Asker")), .add(field: "topics", element: "climate"),
                              .add(field: "topics", element: "transport")])
        let line = ImportRecord(line: 1, key: key, scalars: ["name": .string("Asker"), "population": .int(95000)],
                                sets: ["topics": ["climate", "housing"]])
        XCTAssertEqual(ImportFormat.action(for: line, current: r.record(key)), .write([
            .assign(field: "population", value: .int(95000)),
            .add(field: "topics", element: "housing"), .remove(field: "topics", element: "transport"),
        ], creates: false))
        let same = ImportRecord(line: 1, key: key, scalars: ["name": .string("Asker")], sets: ["topics": ["climate", "transport"]])
        XCTAssertEqual(ImportFormat.action(for: same, current: r.record(key)), .unchanged)
        let empty = ImportRecord(line: 1, key: RecordKey(collection: "offices", id: "o"), scalars: [:], sets: [:])
        XCTAssertEqual(ImportFormat.action(for: empty, current: nil), .write([], creates: true), "an empty record is still created")
    }

    func testExportLinesRoundTripThroughImport() throws {
        var source = replica("a")
        let key = RecordKey(collection: "projects", id: "catchmr")
        _ = try source.write(key, [.assign(field: "title", value: .string("Catch \"MR\" / Oslo")), .assign(field: "status", value: .string("running")),
                                   .add(field: "partners", element: "oslo"), .add(field: "partners", element: "asker")])
        let empty = RecordKey(collection: "offices", id: "empty")
        _ = try source.write(empty, [], allowEmpty: true)
        let lines = [key, empty].map { ImportFormat.line(source.view($0)!) }
        XCTAssertEqual(lines[0], #"{"key":"projects/catchmr","fields":{"partners":["asker","oslo"],"status":"running","title":"Catch \"MR\" / Oslo"}}"#)
        let (records, problems) = ImportFormat.parse(Data(lines.joined(separator: "\n").utf8))
        XCTAssertEqual(problems, [])
        var target = replica("b")
        for r in records {
            guard case .write(let changes, _) = ImportFormat.action(for: r, current: target.record(r.key)) else { return XCTFail() }
            _ = try target.write(r.key, changes, allowEmpty: true)
        }
        XCTAssertEqual(target.digest(), source.digest())
    }

    func testExportStringsSurviveAJSONParser() throws {
        for text in ["plain", "quote \" and \\ backslash", "tab\tnew\nline\r", "bell \u{07} nul \u{01}", "Bærum – Øvre Eiker 🌍", "a/b"] {
            let encoded = JSONText.string(text)
            XCTAssertEqual(try JSONSerialization.jsonObject(with: Data(encoded.utf8), options: [.fragmentsAllowed]) as? String, text, encoded)
        }
    }

    func testCSVQuotesOnlyWhatNeedsIt() {
        XCTAssertEqual(CSVFormat.cell("plain"), "plain")
        XCTAssertEqual(CSVFormat.cell("a,b"), "\"a,b\"")
        XCTAssertEqual(CSVFormat.cell("say \"hi\""), "\"say \"\"hi\"\"\"")
        XCTAssertEqual(CSVFormat.cell("two\r\nlines"), "\"two\r\nlines\"")
        XCTAssertEqual(CSVFormat.cell(" padded"), "\" padded\"")
        XCTAssertEqual(CSVFormat.columns(Schema.memberSync.collections["contacts"]!), ["key", "name", "email", "organisation", "phone", "role", "topics"])
    }

    // MARK: engine

    func engine(_ node: String, role: NodeRole = .hub, hubs: [String] = []) -> SyncEngine {
        var config = NodeConfig(nodeID: node, organisation: node, role: role, dataDir: "/nonexistent", listen: "tcp://127.0.0.1:1", hubEndpoints: hubs)
        config.insecure = true  // import mechanics, not write rules (SecurityTests cover those)
        return SyncEngine(config: config, replica: replica(node))
    }

    func testLocalWritesPersistABatchInOneStep() throws {
        var e = engine("brussels")
        let writes: [(key: RecordKey, changes: [FieldChange])] = (0..<50).map {
            (RecordKey(collection: "contacts", id: "c\($0)"), [.assign(field: "name", value: .string("C \($0)"))])
        }
        let (ops, commit, failure) = e.localWriteBatch(writes, allowEmpty: true, now: 1)
        XCTAssertNil(failure)
        XCTAssertEqual(ops.count, 50)
        let directives = try XCTUnwrap(commit).directives
        XCTAssertEqual(directives.filter { if case .persist = $0 { return true } else { return false } }.count, 1)
        guard case .persist(let persisted, let keys)? = directives.first else { return XCTFail("persist comes first") }
        XCTAssertEqual(persisted.count, 50)
        XCTAssertEqual(keys.count, 50)
        XCTAssertEqual(e.counters.localWrites, 50)
    }

    func testMergingABackupJoinsItsRecordsAndOpsOnce() throws {
        var old = replica("brussels", epoch: 7)
        for i in 0..<10 { _ = try old.write(RecordKey(collection: "contacts", id: "c\(i)"), [.assign(field: "name", value: .string("C \(i)"))]) }
        var e = engine("spare")
        _ = try e.localWrite(RecordKey(collection: "contacts", id: "mine"), [.assign(field: "name", value: .string("Mine"))], now: 1)
        let (report, commit) = try e.merge(backup: old)
        let directives = commit.directives
        XCTAssertEqual(report.opsAdded, 10)
        XCTAssertEqual(report.recordsCreated, 10)
        XCTAssertEqual(report.recordsChanged.count, 10)
        XCTAssertEqual(e.replica.keys(in: "contacts").count, 11, "its own record stays")
        XCTAssertEqual(e.replica.version[old.id], 10)
        guard case .persist(let ops, let keys)? = directives.first else { return XCTFail("persist comes first") }
        XCTAssertEqual(ops.count, 10)
        XCTAssertEqual(keys.count, 10)
        let (again, _) = try e.merge(backup: old)
        XCTAssertEqual(again.opsAdded, 0)
        XCTAssertEqual(again.recordsChanged, [])
    }

    func testAnOpBatchOfNothingNewDoesNotPullAgainAtOnce() throws {
        var hub = replica("brussels")
        var ops: [Op] = []
        for i in 0..<4 { ops.append(try hub.write(RecordKey(collection: "contacts", id: "c\(i)"), [.assign(field: "name", value: .string("C"))])) }
        var member = engine("asker", role: .member, hubs: ["tcp://127.0.0.1:2"])
        _ = member.onLinkMessage(.hub(0), .welcome(Welcome(nodeID: "brussels", replica: hub.id, role: "hub", softwareVersion: "0.1.0",
                                                           protocolVersion: ProtocolVersion.current, version: hub.version)), now: 10_000)
        func pulls(_ d: [Directive]) -> Int { d.filter { if case .send(_, .pull) = $0 { return true } else { return false } }.count }
        // A first page with news: pull the next at once.
        XCTAssertEqual(pulls(member.onLinkMessage(.hub(0), .opBatch(ops: Array(ops.prefix(2)), more: true, senderVersion: hub.version), now: 12_000)), 1)
        // The same page again (the answer to a retried pull): nothing new, no extra pull.
        XCTAssertEqual(pulls(member.onLinkMessage(.hub(0), .opBatch(ops: Array(ops.prefix(2)), more: true, senderVersion: hub.version), now: 14_000)), 0)
        // A heartbeat showing what is still missing resumes pulling.
        let hb = Heartbeat(nodeID: "brussels", replica: hub.id, role: "hub", version: hub.version, pending: 0)
        XCTAssertEqual(pulls(member.onLinkMessage(.hub(0), .heartbeat(hb), now: 16_000)), 1)
    }
}
