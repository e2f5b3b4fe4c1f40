import Foundation
import XCTest

#if canImport(Glibc)
import Glibc
#endif

/// The operator's and editor's view of the CLI (issue 17), driven against real daemons in the
/// secure configuration: search folding, clearing fields and values from files, the schema,
/// global options, status when unreachable, CSV round trips, lag and who is online.
final class OperatorUXTests: XCTestCase {
    var fed: Federation!

    override func setUpWithError() throws {
        fed = try Federation(secure: true)
    }

    override func tearDown() {
        fed?.shutdown()
    }

    static let seedPath = CLITests.seedPath

    /// A secure hub on its own, holding the seed directory.
    func startSeededHub() throws {
        try fed.initNode("brussels", hub: true, organisation: "oslo-region-european-office")
        try fed.start("brussels")
        let r = fed.on("brussels", "import", Self.seedPath, "--json")
        XCTAssertEqual(r.status, 0, r.stderr)
    }

    func write(_ name: String, _ text: String) -> String {
        let path = fed.root + "/" + name
        FileManager.default.createFile(atPath: path, contents: Data(text.utf8))
        return path
    }

    func fields(_ node: String, _ key: String) -> [String: Any]? {
        (fed.on(node, "get", key, "--json").json as? [String: Any])?["fields"] as? [String: Any]
    }

    /// Search hits as key -> the fields that matched.
    func search(_ text: String) -> [String: Set<String>] {
        let r = fed.on("brussels", "search", text, "--json")
        XCTAssertEqual(r.status, 0, r.stderr)
        var out: [String: Set<String>] = [:]
        for hit in r.json as? [[String: Any]] ?? [] {
            out[hit["key"] as? String ?? ""] = Set((hit["matches"] as? [[String: Any]] ?? []).compactMap { $0["field"] as? String })
        }
        return out
    }

    // MARK: search

    func testSearchFoldsNorwegianLettersAccentsAndCaseBothWays() throws {
        try startSeededHub()
        // Names are found by their ASCII spelling, not only ids.
        XCTAssertEqual(search("goteborg")["organisations/goteborg"]?.contains("name"), true, "\(search("goteborg"))")
        XCTAssertEqual(search("goteborg")["networks/g-o-cooperation"]?.contains("description"), true)
        XCTAssertEqual(search("GÖTEBORG")["organisations/goteborg"]?.contains("name"), true)
        XCTAssertEqual(search("lillestrom")["organisations/lillestrom"]?.contains("name"), true)
        XCTAssertEqual(search("oyvind")["contacts/ora-oyvind"]?.contains("name"), true)
        for query in ["baerum", "Bærum", "BÆRUM"] {
            let hits = search(query)
            XCTAssertEqual(hits["organisations/baerum"], ["name", "id"], "\(query): \(hits)")
        }
        // And the other way: a letter in the query finds the ASCII spelling in a text.
        XCTAssertEqual(fed.on("brussels", "set", "projects/baerum-pilot", "title=Baerum pilot", "lead=baerum").status, 0)
        XCTAssertEqual(search("Bærum")["projects/baerum-pilot"], ["title", "id"])
        // The snippet shows the original text around the match.
        let hits = fed.on("brussels", "search", "goteborg", "--in", "networks", "--json").json as? [[String: Any]] ?? []
        let snippet = ((hits.first?["matches"] as? [[String: Any]])?.first?["text"] as? String) ?? ""
        XCTAssertTrue(snippet.contains("Gøteborg"), snippet)
        XCTAssertTrue(search("gøteborgx").isEmpty)
    }
}
