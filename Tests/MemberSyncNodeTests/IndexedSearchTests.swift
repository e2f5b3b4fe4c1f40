import Foundation
import MemberSyncDirectory
import MemberSyncHarness
import MemberSyncModel
import MemberSyncStore
import XCTest

@testable import MemberSyncNode

/// The node's indexed search (`IndexedSearch`: FTS5 trigram candidates, the backlog, then
/// the exact match) answers what the plain scan answers, hit for hit and snippet for snippet.
final class IndexedSearchTests: XCTestCase {
    /// Pieces of text with what folding must bridge: Norwegian letters, accents (precomposed
    /// and combining), letters folded to two, hyphens and underscores, quotes (FTS5 syntax),
    /// other scripts, and pieces shorter than a trigram.
    static let words = ["Bærum", "Gøteborg", "Sør-Odal", "Lillestrøm", "Ålesund", "Tromsø", "café", "Œuvre", "Straße", "Þór",
                        "oslo", "Climate", "car-free", "welfare_technology", "x", "ab", "e\u{301}cole", "\"quoted\"", "İstanbul",
                        "日本語", "Øst", "AE", "ss", "co-op", "2026", "naïve", "Ærø"]

    func testIndexedSearchAnswersWhatTheScanAnswersThroughEditsAndDeletes() throws {
        let dir = NSTemporaryDirectory() + "indexed-search-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        var rng = SeededRandom(seed: 18)
        var replica = Replica(id: ReplicaID(node: "asker", epoch: 1), wallClock: { 1_764_000_000_000 })
        var other = Replica(id: ReplicaID(node: "baerum", epoch: 1), wallClock: { 1_764_000_000_000 })
        func text() -> String {
            let n = Int.random(in: 1...4, using: &rng)
            let sep = [" ", "-", "_", "", ", "].randomElement(using: &rng)!
            return (0..<n).map { _ in Self.words.randomElement(using: &rng)! }.joined(separator: sep)
        }
        func slug() -> String { SearchText.fold(text()).filter { $0.isASCII && ($0.isLetter || $0.isNumber) }.prefix(20) + "\(Int.random(in: 0..<1000, using: &rng))" }
        let collections = ["organisations", "contacts", "projects", "networks"]
        var keys: [RecordKey] = []
        /// A random edit of a random record (new or existing): a title, a description, a topic.
        func edit(_ r: inout Replica) throws -> Op {
            let key: RecordKey
            if keys.isEmpty || Int.random(in: 0..<3, using: &rng) == 0 {
                key = RecordKey(collection: collections.randomElement(using: &rng)!, id: slug())
                keys.append(key)
            } else {
                key = keys.randomElement(using: &rng)!
            }
            let title = key.collection == "projects" ? "title" : "name"
            var changes: [FieldChange] = [.assign(field: title, value: .string(text()))]
            if key.collection == "contacts" { changes.append(.assign(field: "organisation", value: .string("oslo"))) }
            if key.collection != "contacts" { changes.append(.assign(field: "description", value: .string(text()))) }
            if key.collection != "networks" { changes.append(.add(field: "topics", element: text())) }
            return try r.write(key, changes)
        }
        for _ in 0..<600 { _ = try edit(&replica) }
        _ = replica.foldChangedRecords()  // as a node does once it has loaded its replica

        var search = try IndexedSearch(dataDir: dir, replica: replica)
        XCTAssertEqual(search.backlog.count, replica.records.count, "a new index starts with every record to index")
        search.indexSome(replica, nanoseconds: .max)
        XCTAssertTrue(search.backlog.isEmpty)
        XCTAssertNil(search.failure)
        XCTAssertEqual(try search.index.count(), replica.records.values.filter(\.exists).count)

        /// Queries: pieces of the vocabulary (folded or not, cut short), ids, and nothing.
        func queries() -> [String] {
            var out = ["x", "ab", "oe", "æ", "ø", "sor odal", "SØR-ODAL", "\"", "quoted\"", "e\u{301}c", "ecole", "本語", "zzzz", "a"]
            for _ in 0..<40 {
                let w = text()
                let cut = String(w.prefix(Int.random(in: 1...max(1, w.count), using: &rng)))
                out.append(Bool.random(using: &rng) ? cut : SearchText.fold(cut).uppercased())
            }
            out += keys.prefix(10).map { String($0.id.dropFirst(2)) }
            return out
        }
        func assertSameAnswers(_ round: String, _ search: inout IndexedSearch) throws {
            for q in queries() where !q.trimmingCharacters(in: .whitespaces).isEmpty {
                for only in [nil, replica.schema.collections["projects"]] {
                    let scanned = try Directory.search(q, in: only, replica: replica)
                    let indexed = try search.search(q, in: only, replica: replica)
                    XCTAssertEqual(indexed, scanned, "\(round): '\(q)' in \(only?.name ?? "every collection")")
                }
            }
        }
        try assertSameAnswers("indexed", &search)
        XCTAssertFalse(try search.search("bærum", in: nil, replica: replica).isEmpty, "the vocabulary is found at all")
        let narrowed = try XCTUnwrap(try search.index.candidates(SearchText.fold("Lillestrøm")), "a query of 3+ characters is the index's")
        XCTAssertLessThan(narrowed.count, replica.records.count / 2, "the index narrows the records looked at")
        XCTAssertNil(try search.index.candidates("ab"), "shorter queries are left to the scan")

        // Edits, concurrent edits from another replica (conflicts) and deletes after indexing:
        // found through the backlog before the index takes them, and through the index after.
        for i in 0..<300 {
            switch i % 5 {
            case 0: _ = try replica.delete(keys.filter { replica.record($0)?.exists == true }.randomElement(using: &rng)!)
            case 1:
                let op = try edit(&other)
                _ = try replica.apply(op)
            default: _ = try edit(&replica)
            }
        }
        let changed = replica.foldChangedRecords()
        XCTAssertFalse(changed.isEmpty)
        search.noteChanged(changed)
        XCTAssertFalse(replica.conflicts().isEmpty, "the edits made conflicts")
        try assertSameAnswers("changed, not indexed yet", &search)
        // Closed before it has taken them, the index keeps its backlog for the next start,
        // which matches those records as it indexes them (no rebuild). A backlog of most
        // records is kept as the whole replica (cheaper to read back than its keys).
        XCTAssertGreaterThan(search.backlog.count * 2, replica.records.count, "most records changed")
        let indexedBefore = try search.index.count()
        search.close(replica, indexingUpTo: 0)
        search = try IndexedSearch(dataDir: dir, replica: replica)
        XCTAssertEqual(search.backlog, Set(replica.records.keys), "an index closed with a backlog of most records keeps them all")
        XCTAssertEqual(try search.index.count(), indexedBefore, "and keeps what it had indexed")
        try assertSameAnswers("reopened with its backlog", &search)
        XCTAssertTrue(search.wantsIdleTurns, "a backlog is indexed in the reactor's idle turns")
        var failing = search
        failing.noteFailure("disk full")
        XCTAssertFalse(failing.wantsIdleTurns, "a failing index is not retried in a busy loop")
        search.indexSome(replica, nanoseconds: 2_000_000)
        try assertSameAnswers("changed, partly indexed", &search)
        search.indexSome(replica, nanoseconds: .max)
        XCTAssertTrue(search.backlog.isEmpty)
        try assertSameAnswers("changed and indexed", &search)
        // A few changed records are kept by key.
        for _ in 0..<3 { _ = try edit(&replica) }
        let fewChanged = replica.foldChangedRecords()
        search.noteChanged(fewChanged)
        XCTAssertLessThan(fewChanged.count * 2, replica.records.count)
        search.close(replica, indexingUpTo: 0)
        search = try IndexedSearch(dataDir: dir, replica: replica)
        XCTAssertEqual(search.backlog, fewChanged, "an index closed with a small backlog keeps its keys")
        try assertSameAnswers("reopened with a small backlog", &search)
        search.indexSome(replica, nanoseconds: .max)

        // Closed complete, the index is kept for the same replica state; one that was not
        // closed (a crash) or was closed for another state is rebuilt.
        search.close(replica)
        var reopened = try IndexedSearch(dataDir: dir, replica: replica)
        XCTAssertTrue(reopened.backlog.isEmpty, "an index closed complete for this state is kept")
        try assertSameAnswers("reopened", &reopened)
        let crashed = try IndexedSearch(dataDir: dir, replica: replica)
        XCTAssertEqual(crashed.backlog.count, replica.records.count, "an index opened and never closed may lag: rebuilt")
        var rebuilt = crashed
        rebuilt.indexSome(replica, nanoseconds: .max)
        rebuilt.close(replica)
        _ = try replica.delete(keys.first { replica.record($0)?.exists == true }!)
        _ = replica.foldChangedRecords()
        let stale = try IndexedSearch(dataDir: dir, replica: replica)
        XCTAssertEqual(stale.backlog.count, replica.records.count, "an index closed for another state is rebuilt")
        try stale.index.markComplete(IndexedSearch.state(of: replica), backlog: ["contacts/x", "not a record key"])
        let unreadable = try IndexedSearch(dataDir: dir, replica: replica)
        XCTAssertEqual(unreadable.backlog.count, replica.records.count, "an index whose kept backlog does not read is rebuilt")
    }
}
