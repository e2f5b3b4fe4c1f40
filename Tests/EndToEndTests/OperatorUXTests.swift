import Foundation
import MemberSyncHarness
import MemberSyncModel
import XCTest

#if canImport(Glibc)
import Glibc
#endif

/// The operator's and editor's view of the CLI (issue 17), driven against real daemons in the
/// secure configuration: search folding, clearing fields and values from files, the schema,
/// global options, status when unreachable, CSV round trips, lag and who is online.
final class OperatorUXTests: FederationTestCase {
    static let seedPath = CLITests.seedPath

    /// A secure hub on its own, holding the seed directory.
    func startSeededHub() throws {
        try fed.initNode("brussels", hub: true, organisation: "oslo-region-european-office")
        try fed.start("brussels")
        let r = fed.on("brussels", "import", Self.seedPath, "--json")
        XCTAssertEqual(r.status, 0, r.stderr)
    }

    /// A secure hub and admitted members, all running.
    func startSecure(members: [String]) throws {
        try fed.initNode("brussels", hub: true, organisation: "oslo-region-european-office")
        for m in members { try fed.initNode(m, hubs: ["brussels"]) }
        try fed.start("brussels")
        for m in members { fed.admit(m) }
        for m in members { try fed.start(m) }
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

    // MARK: clearing fields and values from files

    func testEmptyValueClearsAFieldOnEveryNodeAndAtValueReadsAFile() throws {
        try startSecure(members: ["asker"])
        let text = "Asker is a municipality in Akershus.\nIt works on climate, welfare technology and Europe.\n"
        let file = write("asker.txt", text)
        let set = fed.on("asker", "set", "organisations/asker", "name=Asker", "population=94000", "website=https://www.asker.kommune.no",
                         "description=@" + file, "county=@@viken")
        XCTAssertEqual(set.status, 0, set.stderr)
        XCTAssertNotNil(fed.converge(["brussels", "asker"]))
        let before = try XCTUnwrap(fields("brussels", "organisations/asker"))
        XCTAssertEqual(before["description"] as? String, String(text.dropLast()), "the file's text, final line break dropped")
        XCTAssertEqual(before["county"] as? String, "@viken", "@@ escapes a leading @")
        XCTAssertEqual(before["population"] as? Int, 94000)

        // The member clears two fields of its own record; the clear replicates through the hub.
        let clear = fed.on("asker", "set", "organisations/asker", "population=", "website=")
        XCTAssertEqual(clear.status, 0, clear.stderr)
        XCTAssertNotNil(fed.converge(["brussels", "asker"]))
        for node in ["brussels", "asker"] {
            let f = try XCTUnwrap(fields(node, "organisations/asker"), node)
            XCTAssertNil(f["population"], "\(node): \(f)")
            XCTAssertNil(f["website"], "\(node): \(f)")
            XCTAssertEqual(f["name"] as? String, "Asker")
            let exported = fed.on(node, "export", "organisations")
            XCTAssertEqual(exported.status, 0, exported.stderr)
            XCTAssertFalse(exported.stdout.contains("website") || exported.stdout.contains("population"), exported.stdout)
            let csv = fed.on(node, "export", "--format", "csv", "organisations").stdout
            XCTAssertTrue(csv.contains("organisations/asker,Asker,"), csv)
            XCTAssertFalse(csv.contains("94000") || csv.contains("kommune.no"), csv)
            XCTAssertTrue(fed.conflicts(node).isEmpty)
            let missing = fed.on(node, "list", "organisations", "--where", "website=", "--json")
            XCTAssertEqual((missing.json as? [[String: Any]])?.compactMap { $0["key"] as? String }, ["organisations/asker"])
        }
        XCTAssertNil((fed.status("brussels")["ops_rejected"] as? [String: Any])?.first, "the hub applied the clear")
        let history = fed.on("asker", "history", "organisations/asker")
        XCTAssertTrue(history.stdout.contains("population cleared") && history.stdout.contains("website cleared"), history.stdout)

        // Refusals: a required field, files that cannot be read.
        let required = fed.on("asker", "set", "organisations/asker", "name=")
        XCTAssertEqual(required.status, 1)
        XCTAssertTrue(required.stderr.contains("organisations.name: is required and cannot be cleared"), required.stderr)
        let missingFile = fed.on("asker", "set", "organisations/asker", "description=@" + fed.root + "/no-such.txt")
        XCTAssertEqual(missingFile.status, 1)
        XCTAssertTrue(missingFile.stderr.contains("cannot read \(fed.root)/no-such.txt for description: no such file"), missingFile.stderr)
        let directory = fed.on("asker", "set", "organisations/asker", "description=@" + fed.root)
        XCTAssertEqual(directory.status, 1)
        XCTAssertTrue(directory.stderr.contains("is a directory"), directory.stderr)
        let unreadable = write("secret.txt", "x")
        chmod(unreadable, 0o000)
        if getuid() != 0 {
            let denied = fed.on("asker", "set", "organisations/asker", "description=@" + unreadable)
            XCTAssertEqual(denied.status, 1)
            XCTAssertTrue(denied.stderr.contains("permission denied"), denied.stderr)
        }
        XCTAssertEqual(fields("asker", "organisations/asker")?["description"] as? String, String(text.dropLast()), "refused edits change nothing")
    }

    // MARK: schema

    func testSchemaListsEveryCollectionFieldKindAndTheLimitsWritesAreCheckedAgainst() throws {
        let r = fed.cli(["schema", "--json"])
        XCTAssertEqual(r.status, 0, r.stderr)
        let listing = try XCTUnwrap(r.json as? [String: Any])
        let collections = listing["collections"] as? [[String: Any]] ?? []
        XCTAssertEqual(collections.compactMap { $0["name"] as? String }, Schema.memberSync.collections.keys.sorted())
        for c in collections {
            let name = c["name"] as? String ?? ""
            let schema = try XCTUnwrap(Schema.memberSync.collections[name])
            let fields = c["fields"] as? [[String: Any]] ?? []
            XCTAssertEqual(Set(fields.compactMap { $0["name"] as? String }), Set(schema.fields.keys), name)
            XCTAssertEqual(fields.first?["name"] as? String, schema.titleField, "the title field comes first")
            for f in fields where (f["required"] as? Bool) == true {
                XCTAssertTrue(schema.required.contains(f["name"] as? String ?? ""))
            }
        }
        let organisations = collections.first { $0["name"] as? String == "organisations" }?["fields"] as? [[String: Any]] ?? []
        let byName = Dictionary(organisations.map { ($0["name"] as? String ?? "", $0) }, uniquingKeysWith: { a, _ in a })
        XCTAssertEqual(byName["kind"]?["kind"] as? String, "one-of")
        XCTAssertEqual(byName["kind"]?["options"] as? [String], ["municipality", "county", "university", "city", "office", "alliance", "association", "agency"])
        XCTAssertEqual(byName["networks"]?["kind"] as? String, "reference-set")
        XCTAssertEqual(byName["networks"]?["target"] as? String, "networks")
        XCTAssertEqual(byName["population"]?["kind"] as? String, "integer")
        XCTAssertEqual(byName["name"]?["required"] as? Bool, true)
        XCTAssertEqual(byName["website"]?["required"] as? Bool, false)
        let limits = listing["limits"] as? [String: Any] ?? [:]
        for row in Limits.table { XCTAssertNotNil(limits[row.name], "limit \(row.name) is listed") }
        XCTAssertEqual(limits["max_set_elements"] as? Int, Limits.maxSetElements)
        let textLimit = try XCTUnwrap(byName["description"]?["max_bytes"] as? Int)
        let elementLimit = try XCTUnwrap(byName["topics"]?["max_element_bytes"] as? Int)

        // The listed limits are the ones a node enforces.
        try fed.initNode("brussels", hub: true, organisation: "oslo-region-european-office")
        try fed.start("brussels")
        let atLimit = fed.on("brussels", "set", "organisations/asker", "name=Asker", "description=" + String(repeating: "x", count: textLimit),
                             "topics+=" + String(repeating: "t", count: elementLimit))
        XCTAssertEqual(atLimit.status, 0, atLimit.stderr)
        let over = fed.on("brussels", "set", "organisations/asker", "description=" + String(repeating: "x", count: textLimit + 1))
        XCTAssertEqual(over.status, 1)
        XCTAssertTrue(over.stderr.contains("\(textLimit)"), over.stderr)
        XCTAssertEqual(fed.on("brussels", "set", "organisations/asker", "topics+=" + String(repeating: "t", count: elementLimit + 1)).status, 1)

        let human = fed.cli(["schema", "organisations"])
        XCTAssertEqual(human.status, 0)
        XCTAssertTrue(human.stdout.contains("population") && human.stdout.contains("integer") && human.stdout.contains("required"), human.stdout)
        XCTAssertFalse(human.stdout.contains("contacts"), "one collection only")
        let unknown = fed.cli(["schema", "people"])
        XCTAssertEqual(unknown.status, 1)
        XCTAssertTrue(unknown.stderr.contains("unknown collection 'people'"), unknown.stderr)
    }

    // MARK: global options, status when unreachable

    func testSharedOptionsWorkBeforeTheSubcommand() throws {
        try fed.initNode("brussels", hub: true, organisation: "oslo-region-european-office")
        try fed.start("brussels")
        let dir = fed.dataDir("brussels")
        let status = fed.cli(["--data-dir", dir, "status", "--json"])
        XCTAssertEqual(status.status, 0, status.stderr)
        XCTAssertEqual((status.json as? [String: Any])?["node_id"] as? String, "brussels")
        XCTAssertEqual(fed.cli(["--data-dir=\(dir)", "--json", "set", "organisations/asker", "name=Asker"]).status, 0)
        let stats = fed.cli(["--json", "--data-dir", dir, "hub", "stats"])
        XCTAssertEqual(stats.status, 0, stats.stderr)
        XCTAssertEqual(((stats.json as? [String: Any])?["records"] as? [String: Any])?["organisations"] as? Int, 1)
        let get = fed.cli(["--data-dir", dir, "get", "organisations/asker"])
        XCTAssertTrue(get.stdout.contains("Asker"), get.stdout)
        // Errors keep their statuses: no such record (1), and a usage error (64) for a command
        // without the option.
        XCTAssertEqual(fed.cli(["--data-dir", dir, "get", "organisations/nowhere"]).status, 1)
        XCTAssertEqual(fed.cli(["--data-dir", dir, "init", fed.root + "/x", "--id", "x", "--organisation", "x", "--hub",
                                "--listen", "tcp://127.0.0.1:7999"]).status, 64)
        XCTAssertEqual(fed.cli(["--data-dir", dir, "no-such-command"]).status, 64)
    }

    func testStatusJSONIsJSONWhenTheNodeIsUnreachable() throws {
        let nowhere = fed.root + "/nowhere"
        try FileManager.default.createDirectory(atPath: nowhere, withIntermediateDirectories: true)
        let none = fed.cli(["status", "--data-dir", nowhere, "--json"])
        XCTAssertEqual(none.status, 2)
        let report = try XCTUnwrap(none.json as? [String: Any], "stdout: \(none.stdout)")
        XCTAssertEqual(report["health"] as? String, "unreachable")
        XCTAssertTrue((report["error"] as? String ?? "").contains("no node is running"), "\(report)")
        XCTAssertTrue(none.stderr.contains("no node is running"), "humans still read it on stderr")
        XCTAssertEqual(fed.cli(["status", "--data-dir", nowhere]).stdout, "", "without --json nothing goes to stdout")

        // A node that does not answer in time.
        try fed.initNode("brussels", hub: true, organisation: "oslo-region-european-office")
        try fed.start("brussels")
        fed.signal("brussels", SIGSTOP)
        defer { fed.signal("brussels", SIGCONT) }
        let stopped = fed.cli(["status", "--data-dir", fed.dataDir("brussels"), "--json", "--timeout", "1"])
        XCTAssertEqual(stopped.status, 2)
        let late = try XCTUnwrap(stopped.json as? [String: Any], "stdout: \(stopped.stdout)")
        XCTAssertEqual(late["health"] as? String, "unreachable")
        XCTAssertTrue((late["error"] as? String ?? "").contains("did not answer"), "\(late)")
        fed.signal("brussels", SIGCONT)
        XCTAssertTrue(waitUntil(timeout: 10) { self.fed.status("brussels")["health"] as? String == "healthy" })
    }

    // MARK: CSV round trip

    func testImportReadsTheCSVThatExportWrites() throws {
        try startSeededHub()
        // Values that test the quoting: a comma, quotes, a line break, a cleared field.
        XCTAssertEqual(fed.on("brussels", "set", "projects/catchmr", "description=Line one, with \"quotes\"\nline two",
                              "programme=").status, 0)
        let collections = Schema.memberSync.collections.keys.sorted()
        var files: [String] = []
        for c in collections {
            let path = fed.root + "/\(c).csv"
            let r = fed.on("brussels", "export", "--format", "csv", c, "--output", path)
            XCTAssertEqual(r.status, 0, r.stderr)
            files.append(path)
        }
        // Re-importing the export changes nothing.
        for file in files {
            let again = fed.on("brussels", "import", file, "--json")
            XCTAssertEqual(again.status, 0, again.stderr)
            XCTAssertEqual((again.json as? [String: Any])?["ops"] as? Int, 0, "\(file): \(again.stdout)")
        }
        // Into an empty node: the same state.
        try fed.initNode("spare", hub: true, organisation: "oslo-region-european-office")
        try fed.start("spare")
        for file in files {
            let r = fed.on("spare", "import", file)
            XCTAssertEqual(r.status, 0, r.stderr)
        }
        XCTAssertEqual(fed.digest("spare"), fed.digest("brussels"), "export --format csv, then import, reproduces the state")
        XCTAssertEqual(fields("spare", "projects/catchmr")?["description"] as? String, "Line one, with \"quotes\"\nline two")

        // Edited in a spreadsheet: a changed cell is written, an emptied one cleared.
        let edited = write("edit.csv", "key,name,population,website\norganisations/drammen,Drammen,70000,\n")
        XCTAssertEqual(fed.on("spare", "set", "organisations/drammen", "website=https://www.drammen.kommune.no").status, 0)
        let r = fed.on("spare", "import", edited, "--json")
        XCTAssertEqual((r.json as? [String: Any])?["updated"] as? Int, 1, r.stdout + r.stderr)
        let drammen = fields("spare", "organisations/drammen") ?? [:]
        XCTAssertEqual(drammen["population"] as? Int, 70000)
        XCTAssertNil(drammen["website"])
        // Bad rows are reported with their line, and nothing is written; --format overrides the name.
        let bad = write("bad.txt", "key,name,population\norganisations/x,X,many\n")
        let refused = fed.on("spare", "import", bad, "--format", "csv")
        XCTAssertEqual(refused.status, 1)
        XCTAssertTrue(refused.stderr.contains("\(bad):2: field population"), refused.stderr)
        XCTAssertEqual(fed.on("spare", "get", "organisations/x").status, 1)
    }

    // MARK: lag and who is online

    func testMemberStatusShowsLastExchangeAndLagAndNodesShowsWhoIsOnline() throws {
        try fed.initNode("brussels", hub: true, organisation: "oslo-region-european-office")
        try fed.initNode("asker", hubs: ["brussels"])
        // Small catch-up pages on the member and a small PUB queue on the hub, so a member that
        // stalls loses live ops and catches up long enough to be seen behind.
        for (node, line) in [("asker", "page_size = 5"), ("brussels", "pub_high_water_mark = 10")] {
            let config = fed.dataDir(node) + "/membersync.toml"
            try (try String(contentsOfFile: config, encoding: .utf8) + line + "\n").write(toFile: config, atomically: true, encoding: .utf8)
        }
        try fed.start("brussels")
        fed.admit("asker")
        try fed.start("asker")
        func hub() -> [String: Any] { fed.status("asker")["hub"] as? [String: Any] ?? [:] }
        XCTAssertTrue(waitUntil(timeout: 10) { hub()["connected"] as? Bool == true && hub()["behind_ops"] as? Int == 0 }, "\(hub())")
        let synced = hub()
        XCTAssertEqual(synced["node_id"] as? String, "brussels")
        XCTAssertLessThan(synced["last_exchange_seconds_ago"] as? Double ?? 99, 2)
        XCTAssertEqual(synced["behind_seconds"] as? Double, 0)
        let human = fed.on("asker", "status")
        XCTAssertTrue(human.stdout.contains("last exchange") && human.stdout.contains("ago with brussels") && human.stdout.contains("0 ops behind"), human.stdout)

        // The hub gets 2,000 records while asker is stopped; asker then pulls them five at a time.
        var lines: [String] = []
        for i in 0..<2000 { lines.append(#"{"key":"contacts/c-\#(i)","fields":{"name":"C \#(i)","organisation":"oslo"}}"#) }
        fed.signal("asker", SIGSTOP)
        let imported = fed.on("brussels", "import", write("many.jsonl", lines.joined(separator: "\n")))
        fed.signal("asker", SIGCONT)
        XCTAssertEqual(imported.status, 0, imported.stderr)
        var maxBehind = 0
        var sawSeconds = false
        XCTAssertTrue(waitUntil(timeout: 60) {
            let h = hub()
            let behind = h["behind_ops"] as? Int ?? 0
            maxBehind = max(maxBehind, behind)
            if behind > 0, (h["behind_seconds"] as? Double ?? 0) > 0 { sawSeconds = true }
            return maxBehind > 0 && behind == 0 && self.fed.digest("asker") == self.fed.digest("brussels")
        }, "asker never caught up: \(hub())")
        XCTAssertGreaterThan(maxBehind, 0, "asker was seen behind while catching up")
        XCTAssertTrue(sawSeconds, "and for how long")

        // Who is online: the member sees its hub over its hub link; the hub sees the member.
        func nodes(_ node: String) -> [String: [String: Any]] {
            let list = fed.on(node, "nodes", "--json").json as? [[String: Any]] ?? []
            return Dictionary(list.map { ($0["node_id"] as? String ?? "", $0) }, uniquingKeysWith: { a, _ in a })
        }
        var seen: [String: [String: Any]] = [:]
        XCTAssertTrue(waitUntil(timeout: 10) { seen = nodes("asker"); return seen["brussels"]?["online"] as? Bool == true }, "\(seen)")
        XCTAssertEqual(seen["brussels"]?["via"] as? [String], ["hub link"])
        XCTAssertEqual(seen["asker"]?["self"] as? Bool, true)
        XCTAssertTrue(waitUntil(timeout: 10) { nodes("brussels")["asker"]?["online"] as? Bool == true })
        XCTAssertEqual(nodes("brussels")["asker"]?["via"] as? [String], ["client"])
        let table = fed.on("asker", "nodes")
        XCTAssertEqual(table.status, 0, table.stderr)
        XCTAssertTrue(table.stdout.contains("ONLINE") && table.stdout.contains("hub link"), table.stdout)

        // The hub stops answering: the time since the last exchange grows, the hub shows offline.
        fed.signal("brussels", SIGSTOP)
        defer { fed.signal("brussels", SIGCONT) }
        XCTAssertTrue(waitUntil(timeout: 10) { hub()["connected"] as? Bool == false })
        sleep(1)
        XCTAssertGreaterThanOrEqual(hub()["last_exchange_seconds_ago"] as? Double ?? 0, 1)
        XCTAssertEqual(nodes("asker")["brussels"]?["online"] as? Bool, false)
        XCTAssertEqual(fed.on("asker", "status").status, 1, "degraded without its hub")
        fed.signal("brussels", SIGCONT)
        XCTAssertTrue(waitUntil(timeout: 10) { nodes("asker")["brussels"]?["online"] as? Bool == true })
    }

    /// A member that holds its own revocation says so. Insecure on purpose: with security on, the
    /// hub closes a revoked node's connections at once, so the revocation reaches it only if it
    /// already held it (e.g. from a restored copy); the plumbing is the same.
    func testStatusSaysRevokedWhenTheRosterRevokesThisNode() throws {
        fed.shutdown()
        fed = try Federation(secure: false)
        try fed.initNode("brussels", hub: true, organisation: "oslo-region-european-office")
        try fed.initNode("asker", hubs: ["brussels"])
        try fed.start("brussels")
        try fed.start("asker")
        XCTAssertNotEqual(fed.status("asker")["revoked"] as? Bool, true)
        // `hub admit` names an organisation the directory holds.
        XCTAssertEqual(fed.on("brussels", "set", "organisations/asker", "name=Asker kommune").status, 0)
        XCTAssertEqual(fed.cli(["hub", "admit", "asker", "--organisation", "asker", "--data-dir", fed.dataDir("brussels")]).status, 0)
        XCTAssertEqual(fed.cli(["hub", "revoke", "asker", "--data-dir", fed.dataDir("brussels")]).status, 0)
        XCTAssertTrue(waitUntil(timeout: 10) { self.fed.status("asker")["revoked"] as? Bool == true })
        let human = fed.on("asker", "status")
        XCTAssertTrue(human.stdout.contains("revoked") && human.stdout.contains("the hub operator revoked this node"), human.stdout)
    }

    // MARK: small truths

    func testSnapshotsArePrivateStatsSaySinceStartAndHistorySaysWhyItIsEmpty() throws {
        try fed.initNode("brussels", hub: true, organisation: "oslo-region-european-office")
        try fed.initNode("asker", hubs: ["brussels"])
        try fed.start("brussels")
        fed.admit("asker")
        try fed.start("asker")
        XCTAssertEqual(fed.on("asker", "set", "organisations/asker", "name=Asker").status, 0)
        XCTAssertNotNil(fed.converge(["brussels", "asker"]))

        // Snapshot files are 0600, also when replacing one.
        let snapshot = fed.root + "/hub.sqlite"
        for extra in [[], ["--force"]] {
            let r = fed.cli(["hub", "snapshot", snapshot, "--data-dir", fed.dataDir("brussels")] + extra)
            XCTAssertEqual(r.status, 0, r.stderr)
            let mode = (try FileManager.default.attributesOfItem(atPath: snapshot)[.posixPermissions] as? NSNumber)?.intValue
            XCTAssertEqual(mode, 0o600, "snapshot mode \(String(mode ?? 0, radix: 8))")
        }
        let leftovers = try FileManager.default.contentsOfDirectory(atPath: fed.root).filter { $0.hasPrefix(".membersync-snapshot") }
        XCTAssertEqual(leftovers, [], "no temporary directory is left behind")
        XCTAssertEqual(fed.cli(["hub", "restore", snapshot, "--data-dir", fed.dataDir("brussels")]).status, 0, "the private copy restores")

        // Stats say their counters count since the start.
        let stats = fed.cli(["hub", "stats", "--data-dir", fed.dataDir("brussels")])
        XCTAssertTrue(stats.stdout.contains("ops applied") && stats.stdout.contains("since start"), stats.stdout)
        let statsJSON = fed.cli(["hub", "stats", "--data-dir", fed.dataDir("brussels"), "--json"]).json as? [String: Any]
        XCTAssertNotNil(statsJSON?["counters_since"] as? String)

        // Once the hub compacted, its history is empty and says why; the member still has it.
        // Compaction keeps each origin's newest op (MSP 5.9): asker's is then a contact.
        XCTAssertEqual(fed.on("asker", "set", "contacts/kari", "name=Kari", "organisation=asker").status, 0)
        XCTAssertNotNil(fed.converge(["brussels", "asker"]))
        XCTAssertTrue(waitUntil(timeout: 10) {
            (self.fed.cli(["hub", "compact", "--data-dir", self.fed.dataDir("brussels"), "--json"]).json as? [String: Any])?["ops_in_log"] as? Int == 2
        })
        let hubHistory = fed.on("brussels", "history", "organisations/asker")
        XCTAssertTrue(hubHistory.stdout.hasPrefix("history of organisations/asker: 0 op(s) held: this hub compacted its op log"), hubHistory.stdout)
        let memberHistory = fed.on("asker", "history", "organisations/asker")
        XCTAssertTrue(memberHistory.stdout.hasPrefix("history of organisations/asker: 1 op(s) held\n"), memberHistory.stdout)
    }

    func testInstallHelpPrintsTheUsageAndNoCode() throws {
        let script = URL(fileURLWithPath: CLITests.seedPath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().appendingPathComponent("scripts/install.sh").path
        let r = CommandRunner.run("/bin/bash", [script, "--help"], timeout: 20, scratchDir: fed.root)
        XCTAssertEqual(r.status, 0, r.stderr)
        XCTAssertTrue(r.stdout.contains("--role ROLE") && r.stdout.contains("Run it again to upgrade"), r.stdout)
        XCTAssertFalse(r.stdout.contains("set -euo pipefail"), r.stdout)
        XCTAssertFalse(r.stdout.contains("#"), "comment markers are stripped: \(r.stdout)")
    }

    // MARK: rebuilding a lost hub

    /// The README's route: a fresh data directory with the hub's four key files, the hub's
    /// `init` again, start, `hub restore` the latest snapshot. Members are not touched.
    func testALostHubIsRebuiltFromItsKeysAndASnapshotWithoutTouchingMembers() throws {
        try startSecure(members: ["asker", "baerum"])
        XCTAssertEqual(fed.on("asker", "set", "organisations/asker", "name=Asker").status, 0)
        XCTAssertEqual(fed.on("brussels", "set", "projects/catchmr", "title=CatchMR", "partners+=asker").status, 0)
        XCTAssertNotNil(fed.converge(["brussels", "asker", "baerum"]))
        let snapshot = fed.root + "/hub-backup.sqlite"
        XCTAssertEqual(fed.cli(["hub", "snapshot", snapshot, "--data-dir", fed.dataDir("brussels")]).status, 0)
        let memberConfig = try String(contentsOfFile: fed.dataDir("asker") + "/membersync.toml", encoding: .utf8)
        let hubCurve = fed.curveKeys["brussels"]

        // The hub's machine is lost; the member edits on meanwhile.
        fed.killHard("brussels")
        let lost = fed.root + "/brussels-lost"
        try FileManager.default.moveItem(atPath: fed.dataDir("brussels"), toPath: lost)
        XCTAssertEqual(fed.on("asker", "set", "organisations/asker", "population=94000").status, 0)
        XCTAssertEqual(fed.on("baerum", "set", "organisations/baerum", "name=Bærum").status, 0)

        // Rebuild: empty directory, the key files back, init again, start, restore.
        try FileManager.default.createDirectory(atPath: fed.dataDir("brussels"), withIntermediateDirectories: false,
                                                attributes: [.posixPermissions: 0o700])
        for (file, mode) in [("curve.key", 0o600), ("curve.pub", 0o644), ("signing.key", 0o600), ("signing.pub", 0o644)] {
            try FileManager.default.copyItem(atPath: lost + "/" + file, toPath: fed.dataDir("brussels") + "/" + file)
            XCTAssertEqual(chmod(fed.dataDir("brussels") + "/" + file, mode_t(mode)), 0)
        }
        try fed.initNode("brussels", hub: true, organisation: "oslo-region-european-office")
        XCTAssertEqual(fed.curveKeys["brussels"], hubCurve, "init keeps the keys it finds")
        try fed.start("brussels")
        let restored = fed.cli(["hub", "restore", snapshot, "--data-dir", fed.dataDir("brussels"), "--json"])
        XCTAssertEqual(restored.status, 0, restored.stderr)

        // The members reconnect unchanged, push their offline edits, and all agree.
        XCTAssertNotNil(fed.converge(["brussels", "asker", "baerum"], timeout: 30), "\(fed.status("asker"))")
        XCTAssertEqual(fields("brussels", "organisations/asker")?["population"] as? Int, 94000)
        XCTAssertEqual(fields("asker", "organisations/baerum")?["name"] as? String, "Bærum")
        XCTAssertEqual(fields("brussels", "projects/catchmr")?["title"] as? String, "CatchMR")
        // (A 100 ms heartbeat can miss a beat on a loaded machine: wait rather than sample once.)
        XCTAssertTrue(waitUntil(timeout: 10) { self.fed.status("asker")["mode"] as? String == "via-hub" })
        XCTAssertEqual(try String(contentsOfFile: fed.dataDir("asker") + "/membersync.toml", encoding: .utf8), memberConfig)
    }

    // MARK: doctor

    func testDoctorPassesOnAHealthyMemberAndNamesEachProblemWithAFix() throws {
        try startSecure(members: ["asker"])
        try fed.initNode("oslomet", hubs: ["brussels"])  // never admitted
        try fed.start("oslomet")
        XCTAssertEqual(fed.on("asker", "set", "organisations/asker", "name=Asker").status, 0)
        XCTAssertNotNil(fed.converge(["brussels", "asker"]))
        func doctor(_ node: String) -> (status: Int32, checks: [String: [String: Any]], text: String) {
            let r = fed.on(node, "doctor", "--json")
            let list = (r.json as? [String: Any])?["checks"] as? [[String: Any]] ?? []
            return (r.status, Dictionary(list.map { ($0["name"] as? String ?? "", $0) }, uniquingKeysWith: { a, _ in a }), fed.on(node, "doctor").stdout)
        }
        let hubCheck = "hub \(fed.endpoint("brussels"))"
        var healthy = doctor("asker")
        XCTAssertTrue(waitUntil(timeout: 10) { healthy = doctor("asker"); return healthy.status == 0 }, healthy.text)
        for name in ["config", "data directory", "signing.key", "curve.key", "node", "store", hubCheck, "roster", "lag"] {
            XCTAssertEqual(healthy.checks[name]?["ok"] as? Bool, true, "\(name): \(healthy.text)")
        }
        XCTAssertTrue(healthy.text.contains("checks passed"), healthy.text)
        XCTAssertEqual(doctor("brussels").status, 0, doctor("brussels").text)

        // A secret key others can read.
        let key = fed.dataDir("asker") + "/curve.key"
        chmod(key, 0o644)
        let loose = doctor("asker")
        chmod(key, 0o600)
        XCTAssertEqual(loose.status, 1)
        XCTAssertEqual(loose.checks["curve.key"]?["ok"] as? Bool, false)
        XCTAssertTrue((loose.checks["curve.key"]?["fix"] as? String ?? "").contains("chmod 600"), loose.text)
        XCTAssertTrue(loose.text.contains("FAIL curve.key") && loose.text.contains("fix: chmod 600"), loose.text)

        // A member the hub never admitted: reachable, but its link stays down; no roster entry.
        let refused = doctor("oslomet")
        XCTAssertEqual(refused.status, 1, refused.text)
        XCTAssertTrue((refused.checks[hubCheck]?["detail"] as? String ?? "").contains("reachable over TCP, but the link is down"), refused.text)
        XCTAssertTrue((refused.checks[hubCheck]?["fix"] as? String ?? "").contains("not admitted"), refused.text)
        XCTAssertEqual(refused.checks["roster"]?["ok"] as? Bool, false)

        // The hub is gone: not reachable at all.
        fed.stop("brussels")
        XCTAssertTrue(waitUntil(timeout: 10) { (self.fed.status("asker")["hub"] as? [String: Any])?["connected"] as? Bool == false })
        let gone = doctor("asker")
        XCTAssertEqual(gone.status, 1)
        XCTAssertTrue((gone.checks[hubCheck]?["detail"] as? String ?? "").contains("not reachable over TCP"), gone.text)

        // No node at all, no config.
        let empty = fed.root + "/empty"
        try FileManager.default.createDirectory(atPath: empty, withIntermediateDirectories: true)
        let none = fed.cli(["doctor", "--data-dir", empty])
        XCTAssertEqual(none.status, 1)
        XCTAssertTrue(none.stdout.contains("FAIL config") && none.stdout.contains("membersync init"), none.stdout)
        fed.stop("asker")
        let stopped = fed.on("asker", "doctor")
        XCTAssertEqual(stopped.status, 1)
        XCTAssertTrue(stopped.stdout.contains("FAIL node") && stopped.stdout.contains("membersyncd --config"), stopped.stdout)
    }
}
