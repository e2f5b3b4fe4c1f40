import Foundation
import MemberSyncHarness
import XCTest

#if canImport(Glibc)
import Glibc
#endif

/// The CLI driven end to end against real daemons: import/export, everyday queries, conflict
/// resolution and the hub operator's commands, including their errors and exit statuses.
final class CLITests: FederationTestCase {
    // MARK: helpers

    static let seedPath = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().appendingPathComponent("Deploy/seed/directory.jsonl").path

    /// The seed's records as parsed JSON, to compute expectations from the data itself.
    func seedRecords() throws -> [[String: Any]] {
        let text = try String(contentsOfFile: Self.seedPath, encoding: .utf8)
        return try text.split(separator: "\n").map {
            try XCTUnwrap(JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any])
        }
    }

    /// A standalone hub: a node with no links, enough for single-node commands.
    func startHub(_ name: String = "brussels") throws {
        try fed.initNode(name, hub: true, organisation: "oslo-region-european-office")
        try fed.start(name)
    }

    func startSeededHub() throws {
        try startHub()
        let r = fed.on("brussels", "import", Self.seedPath, "--json")
        XCTAssertEqual(r.status, 0, r.stderr)
    }

    func write(_ name: String, _ text: String) -> String {
        let path = fed.root + "/" + name
        FileManager.default.createFile(atPath: path, contents: Data(text.utf8))
        return path
    }

    /// `membersync hub SUB --data-dir <node> ARGS...`
    @discardableResult
    func hub(_ node: String, _ sub: String, _ args: String...) -> CLIResult {
        fed.cli(["hub", sub, "--data-dir", fed.dataDir(node)] + args)
    }

    func json(_ r: CLIResult, file: StaticString = #filePath, line: UInt = #line) -> [String: Any] {
        XCTAssertEqual(r.status, 0, r.stderr, file: file, line: line)
        return r.json as? [String: Any] ?? [:]
    }

    func keys(_ r: CLIResult) -> Set<String> {
        Set((r.json as? [[String: Any]] ?? []).compactMap { $0["key"] as? String })
    }

    func recordCount(_ node: String) -> Int? { fed.status(node)["records"] as? Int }

    /// Runs a shell command on a pseudo-terminal (script(1)) and returns what it drew.
    func onTerminal(_ command: String) -> (status: Int32, output: String)? {
        guard FileManager.default.isExecutableFile(atPath: "/usr/bin/script") else { return nil }
        let r = CommandRunner.run("/usr/bin/script", ["-qefc", command, "/dev/null"], timeout: 60, scratchDir: fed.root, mergingStderr: true)
        return r.status == -1 ? nil : (r.status, r.stdout)
    }

    // MARK: import

    /// The CLI depends on Control, Config and Directory only (README, Architecture): the
    /// binary holds no SQLite, SwiftProtobuf or engine symbol.
    func testTheCLILinksNeitherSQLiteNorProtobufNorTheEngine() throws {
        let nm = CommandRunner.run("/usr/bin/nm", [fed.binDir + "/membersync"], timeout: 60, scratchDir: fed.root)
        XCTAssertEqual(nm.status, 0, "nm could not read the CLI: \(nm.stderr)")
        let symbols = nm.stdout.split(separator: "\n")
        XCTAssertGreaterThan(symbols.count, 1000, "nm listed the CLI's symbols")
        XCTAssertTrue(symbols.contains { $0.contains("MemberSyncControl") }, "the CLI links the control client")
        for forbidden in ["sqlite3", "SwiftProtobuf", "MemberSyncEngine", "MemberSyncStore"] {
            XCTAssertFalse(symbols.contains { $0.contains(forbidden) }, "the CLI links \(forbidden)")
        }
    }

    func testImportReportsEveryBadLineAndWritesNothing() throws {
        try startHub()
        let file = write("bad.jsonl", """
            {"key":"organisations/good","fields":{"name":"Good","population":1200,"topics":["climate"]}}
            {"key":"organisations/Not A Slug","fields":{"name":"x"}}

            {"key":"people/someone","fields":{"name":"x"}}
            {"key":"organisations/pop","fields":{"population":"many","kind":"village","colour":"red"}}
            this is not json
            {"key":"projects/p","fields":{"start":"2021-02-30","partners":["Asker"]}}
            {"key":"organisations/good","fields":{"name":"Twice"}}
            {"key":"contacts/c","fields":{"topics":"climate"}}
            """)
        let human = fed.on("brussels", "import", file)
        XCTAssertEqual(human.status, 1)
        for line in [2, 4, 5, 6, 7, 8, 9] {
            XCTAssertTrue(human.stderr.contains("\(file):\(line):"), "line \(line) not reported:\n\(human.stderr)")
        }
        XCTAssertFalse(human.stderr.contains("\(file):1:"), "a good line was reported")
        XCTAssertTrue(human.stderr.contains("field population"), human.stderr)
        XCTAssertTrue(human.stderr.contains("nothing was imported"), human.stderr)

        let machine = fed.on("brussels", "import", file, "--json")
        XCTAssertEqual(machine.status, 1)
        let report = machine.json as? [String: Any] ?? [:]
        let problems = report["problems"] as? [[String: Any]] ?? []
        XCTAssertEqual(Set(problems.compactMap { $0["line"] as? Int }), [2, 4, 5, 6, 7, 8, 9])
        let line5 = Set(problems.filter { $0["line"] as? Int == 5 }.compactMap { $0["field"] as? String })
        XCTAssertEqual(line5, ["population", "kind", "colour"], "every bad field of a line is reported")
        XCTAssertEqual(report["bad_lines"] as? Int, 7)

        XCTAssertEqual(recordCount("brussels"), 0, "nothing may be written when a line is bad")
        XCTAssertEqual(fed.on("brussels", "get", "organisations/good").status, 1)
    }

    func testSeedImportsWithoutErrorsAndReimportAddsNothing() throws {
        try startHub()
        let seed = try seedRecords()
        let r = json(fed.on("brussels", "import", Self.seedPath, "--json"))
        XCTAssertEqual(r["records"] as? Int, seed.count)
        XCTAssertEqual(r["created"] as? Int, seed.count)
        XCTAssertEqual(r["ops"] as? Int, seed.count, "one op per record")
        XCTAssertEqual(recordCount("brussels"), seed.count)
        let before = fed.digest("brussels")
        let again = json(fed.on("brussels", "import", Self.seedPath, "--json"))
        XCTAssertEqual(again["unchanged"] as? Int, seed.count)
        XCTAssertEqual(again["ops"] as? Int, 0)
        XCTAssertEqual(fed.digest("brussels"), before)
        // Piped output carries no progress bar.
        let piped = fed.on("brussels", "import", Self.seedPath)
        XCTAssertFalse(piped.stdout.contains("\r") || piped.stdout.contains("\u{1B}"), piped.stdout)
        XCTAssertTrue(piped.stdout.hasPrefix("imported \(seed.count) record(s)"), piped.stdout)
    }

    func testImportChangesOnlyWhatDiffersAndSetsBecomeExact() throws {
        try startHub()
        let first = write("a.jsonl", #"{"key":"organisations/asker","fields":{"name":"Asker","topics":["climate","transport"],"population":"94000"}}"#)
        XCTAssertEqual(fed.on("brussels", "import", first).status, 0)
        let second = write("b.jsonl", #"{"key":"organisations/asker","fields":{"topics":["climate","housing"],"population":95000}}"#)
        let r = json(fed.on("brussels", "import", second, "--json"))
        XCTAssertEqual(r["updated"] as? Int, 1)
        let fields = (fed.on("brussels", "get", "organisations/asker", "--json").json as? [String: Any])?["fields"] as? [String: Any]
        XCTAssertEqual(fields?["topics"] as? [String], ["climate", "housing"])
        XCTAssertEqual(fields?["population"] as? Int, 95000)
        XCTAssertEqual(fields?["name"] as? String, "Asker", "fields a line does not mention are left alone")
    }

    // MARK: export

    func testExportThenImportIntoAnEmptyNodeGivesTheSameDigest() throws {
        try startSeededHub()
        // Some history beyond the seed: an edit, a set removal, a delete.
        XCTAssertEqual(fed.on("brussels", "set", "organisations/asker", "population=95000", "topics-=transport").status, 0)
        XCTAssertEqual(fed.on("brussels", "delete", "organisations/warsaw").status, 0)
        let exported = fed.root + "/export.jsonl"
        let e = json(fed.on("brussels", "export", "--output", exported, "--json"))
        let seedCount = try seedRecords().count
        XCTAssertEqual(e["records"] as? Int, seedCount - 1)

        try startHub("spare")
        XCTAssertEqual(fed.on("spare", "import", exported).status, 0)
        let digest = fed.digest("brussels")
        XCTAssertNotNil(digest)
        XCTAssertEqual(fed.digest("spare"), digest, "export then import must reproduce the state")
        // And the second export is byte for byte the first.
        let again = fed.on("spare", "export")
        XCTAssertEqual(again.status, 0)
        XCTAssertEqual(again.stdout, try String(contentsOfFile: exported, encoding: .utf8))

        // One collection only.
        let projects = fed.on("brussels", "export", "projects")
        XCTAssertEqual(projects.stdout.split(separator: "\n").count, try seedRecords().filter { ($0["key"] as? String)?.hasPrefix("projects/") ?? false }.count)
        XCTAssertTrue(projects.stdout.split(separator: "\n").allSatisfy { $0.hasPrefix(#"{"key":"projects/"#) })
    }

    func testCSVExportHasAHeaderQuotesCellsAndJoinsSets() throws {
        try startHub()
        XCTAssertEqual(fed.on("brussels", "set", "projects/quoted", "title=Say \"hi\", then go",
                              "topics+=climate", "topics+=transport", "status=running").status, 0)
        XCTAssertEqual(fed.on("brussels", "set", "projects/plain", "title=Plain").status, 0)
        let csv = fed.on("brussels", "export", "--format", "csv", "projects")
        XCTAssertEqual(csv.status, 0, csv.stderr)
        let lines = csv.stdout.split(separator: "\n").map(String.init)
        XCTAssertEqual(lines.first, "key,title,description,end,lead,partners,programme,start,status,topics")
        XCTAssertEqual(lines.count, 3)
        XCTAssertEqual(lines[1], "projects/plain,Plain,,,,,,,,")
        XCTAssertEqual(lines[2], #"projects/quoted,"Say ""hi"", then go",,,,,,,running,climate;transport"#)
        let noCollection = fed.on("brussels", "export", "--format", "csv")
        XCTAssertNotEqual(noCollection.status, 0)
        XCTAssertTrue(noCollection.stderr.contains("needs a COLLECTION"), noCollection.stderr)
    }

    // MARK: everyday queries

    func testListWhereFiltersScalarsAndSetMembership() throws {
        try startSeededHub()
        let expected = Set(try seedRecords().compactMap { r -> String? in
            let key = r["key"] as? String ?? "", f = r["fields"] as? [String: Any] ?? [:]
            guard key.hasPrefix("organisations/"), f["county"] as? String == "Viken",
                  (f["topics"] as? [String] ?? []).contains("climate") else { return nil }
            return key
        })
        XCTAssertFalse(expected.isEmpty, "the seed has Viken organisations working on climate")
        let r = fed.on("brussels", "list", "organisations", "--where", "county=Viken", "--where", "topics=climate", "--json")
        XCTAssertEqual(r.status, 0, r.stderr)
        XCTAssertEqual(keys(r), expected)
        // Typed comparison: an integer field matches a number.
        XCTAssertEqual(keys(fed.on("brussels", "list", "organisations", "--where", "population=68000", "--json")), ["organisations/drammen"])
        let unknown = fed.on("brussels", "list", "organisations", "--where", "colour=red")
        XCTAssertEqual(unknown.status, 1)
        XCTAssertTrue(unknown.stderr.contains("unknown field"), unknown.stderr)
        let badValue = fed.on("brussels", "list", "organisations", "--where", "population=many")
        XCTAssertEqual(badValue.status, 1)
        XCTAssertTrue(badValue.stderr.contains("not an integer"), badValue.stderr)
    }

    func testSearchIsCaseInsensitiveAndSaysWhereItMatched() throws {
        try startSeededHub()
        let hits = fed.on("brussels", "search", "EUROCITIES", "--json").json as? [[String: Any]] ?? []
        let byKey = Dictionary(hits.map { ($0["key"] as? String ?? "", $0) }, uniquingKeysWith: { a, _ in a })
        XCTAssertEqual(hits.first?["key"] as? String, "networks/eurocities", "a title match ranks first")
        XCTAssertEqual(byKey["networks/eurocities"]?["title"] as? String, "Eurocities")
        let fields = (byKey["projects/car-free-day"]?["matches"] as? [[String: Any]] ?? []).compactMap { $0["field"] as? String }
        XCTAssertEqual(fields, ["description"], "Car Free Day mentions Eurocities in its description")
        // Topics are searched too, and --in narrows to one collection.
        let topical = fed.on("brussels", "search", "welfare-TECHNOLOGY", "--in", "organisations", "--json").json as? [[String: Any]] ?? []
        XCTAssertTrue(topical.contains { $0["key"] as? String == "organisations/hamar" })
        XCTAssertTrue(topical.allSatisfy { ($0["key"] as? String ?? "").hasPrefix("organisations/") })
        let human = fed.on("brussels", "search", "eurocities")
        XCTAssertTrue(human.stdout.contains("networks/eurocities") && human.stdout.contains("MATCHED"), human.stdout)
        let none = fed.on("brussels", "search", "no-such-text-anywhere", "--json")
        XCTAssertEqual(none.status, 0)
        XCTAssertEqual((none.json as? [Any])?.count, 0)
    }

    func testShowResolvesReferencesAndRelatedRecords() throws {
        try startSeededHub()
        let oslo = json(fed.on("brussels", "show", "organisations/oslo", "--json"))
        let related = oslo["related"] as? [String: Any] ?? [:]
        func relatedKeys(_ name: String) -> Set<String> {
            Set((related[name] as? [[String: Any]] ?? []).compactMap { $0["key"] as? String })
        }
        XCTAssertTrue(relatedKeys("contacts").isSuperset(of: ["contacts/eldri-langaker", "contacts/anna-margrethe-rokseth"]))
        XCTAssertTrue(relatedKeys("networks").isSuperset(of: ["networks/eurocities", "networks/c40"]))
        let projects = related["projects"] as? [[String: Any]] ?? []
        let roles = Dictionary(projects.map { ($0["key"] as? String ?? "", $0["roles"] as? [String] ?? []) }, uniquingKeysWith: { a, _ in a })
        XCTAssertEqual(roles["projects/local-democracy-south-africa"], ["lead"])
        XCTAssertEqual(roles["projects/car-free-day"], ["partner"])
        // A network that lists Oslo among its members but is not in Oslo's own networks field.
        XCTAssertTrue(try seedRecords().contains { $0["key"] as? String == "networks/g-o-cooperation" })
        XCTAssertTrue(relatedKeys("networks").contains("networks/g-o-cooperation"))

        let project = json(fed.on("brussels", "show", "projects/international-brand-strategy", "--json"))
        let refs = project["references"] as? [String: Any] ?? [:]
        XCTAssertEqual((refs["lead"] as? [[String: Any]])?.first?["title"] as? String, "Oslo Region Alliance (Osloregionen)")
        XCTAssertEqual(Set((refs["partners"] as? [[String: Any]] ?? []).compactMap { $0["title"] as? String }), ["Oslo Business Region", "VisitOSLO"])

        let contact = fed.on("brussels", "show", "contacts/gunnar-selvik")
        XCTAssertEqual(contact.status, 0)
        XCTAssertTrue(contact.stdout.contains("Oslo Region European Office (oslo-region-european-office)"), contact.stdout)
        let card = fed.on("brussels", "show", "organisations/oslo")
        XCTAssertTrue(card.stdout.contains("Contacts (2)") && card.stdout.contains("Eldri Langåker"), card.stdout)
    }

    // MARK: history and compaction

    func testHistoryShowsWhoChangedWhatAndSaysWhenOpsWereCompacted() throws {
        try fed.startHubAndAdmitted(["asker"])
        XCTAssertEqual(fed.on("asker", "set", "organisations/asker", "name=Asker", "topics+=climate").status, 0)
        XCTAssertNotNil(fed.converge(["brussels", "asker"]))
        XCTAssertEqual(fed.on("brussels", "set", "organisations/asker", "population=95000", "topics-=climate").status, 0)
        XCTAssertNotNil(fed.converge(["brussels", "asker"]))

        let h = json(fed.on("brussels", "history", "organisations/asker", "--json"))
        let ops = h["ops"] as? [[String: Any]] ?? []
        XCTAssertEqual(ops.compactMap { $0["node"] as? String }, ["asker", "brussels"], "oldest first, with who wrote them")
        XCTAssertEqual((ops.first?["fields"] as? [String: Any])?["name"] as? String, "Asker")
        XCTAssertEqual(((ops.last?["fields"] as? [String: Any])?["topics"] as? [String: Any])?["removed"] as? [String], ["climate"])
        XCTAssertEqual((ops.last?["fields"] as? [String: Any])?["population"] as? Int, 95000)
        XCTAssertNotNil(ops.first?["time"] as? String)
        XCTAssertEqual(h["complete"] as? Bool, true)
        XCTAssertTrue(fed.on("brussels", "history", "organisations/asker").stdout.contains("complete"))

        // Compaction: asker holds everything, so every op is stable and goes, except each
        // origin's newest (the next op of its chain links to it, MSP 5.9): those are on other
        // records here.
        XCTAssertEqual(fed.on("asker", "set", "contacts/kari", "name=Kari", "organisation=asker").status, 0)
        XCTAssertEqual(fed.on("brussels", "set", "networks/eurocities", "name=Eurocities").status, 0)
        XCTAssertNotNil(fed.converge(["brussels", "asker"]))
        let opsBefore = fed.status("brussels")["ops_in_log"] as? Int ?? 0
        XCTAssertTrue(waitUntil(timeout: 10) {
            (self.hub("brussels", "nodes", "--json").json as? [[String: Any]] ?? []).contains { $0["node_id"] as? String == "asker" && $0["ops_behind"] as? Int == 0 }
        })
        let c = json(hub("brussels", "compact", "--json"))
        XCTAssertEqual(c["dropped"] as? Int, opsBefore - 2)
        XCTAssertEqual(c["ops_in_log"] as? Int, 2, "asker's and the hub's newest ops stay")
        XCTAssertEqual(c["ops_in_store"] as? Int, 2, "compaction reaches the store")
        let after = json(fed.on("brussels", "history", "organisations/asker", "--json"))
        XCTAssertEqual((after["ops"] as? [Any])?.count, 0)
        XCTAssertEqual(after["complete"] as? Bool, false)
        let text = fed.on("brussels", "history", "organisations/asker").stdout
        XCTAssertTrue(text.contains("were compacted and are gone"), text)
        // Members do not compact.
        let refused = hub("asker", "compact")
        XCTAssertEqual(refused.status, 1)
        XCTAssertTrue(refused.stderr.contains("hub only"), refused.stderr)
    }

    // MARK: conflicts

    func testResolveSettlesARealConflictBetweenTwoMembers() throws {
        try fed.startHubAndAdmitted(["asker", "baerum"])
        let all = ["brussels", "asker", "baerum"]
        // asker leads the project with baerum as partner; with the hub down they edit apart.
        XCTAssertEqual(fed.on("asker", "set", "projects/catchmr", "title=CatchMR", "status=proposal", "lead=asker", "partners+=baerum").status, 0)
        XCTAssertNotNil(fed.converge(all))
        fed.stop("brussels")
        XCTAssertEqual(fed.on("asker", "set", "projects/catchmr", "status=running").status, 0)
        XCTAssertEqual(fed.on("baerum", "set", "projects/catchmr", "status=closed").status, 0)
        try fed.start("brussels")
        XCTAssertNotNil(fed.converge(all))
        XCTAssertEqual(fed.conflicts("asker").first?["field"] as? String, "status")

        let notConflicted = fed.on("asker", "resolve", "projects/catchmr", "title", "CatchMR 2")
        XCTAssertEqual(notConflicted.status, 1)
        XCTAssertTrue(notConflicted.stderr.contains("not in conflict"), notConflicted.stderr)
        let setField = fed.on("asker", "resolve", "projects/catchmr", "topics", "x")
        XCTAssertEqual(setField.status, 1)
        XCTAssertTrue(setField.stderr.contains("is a set"), setField.stderr)

        let r = json(fed.on("asker", "resolve", "projects/catchmr", "status", "running", "--json"))
        XCTAssertEqual(Set((r["replaced"] as? [[String: Any]] ?? []).compactMap { $0["value"] as? String }), ["running", "closed"])
        XCTAssertNotNil(fed.converge(all))
        for node in all {
            XCTAssertTrue(fed.conflicts(node).isEmpty, node)
            let f = (fed.on(node, "get", "projects/catchmr", "--json").json as? [String: Any])?["fields"] as? [String: Any]
            XCTAssertEqual(f?["status"] as? String, "running", node)
        }
        XCTAssertEqual(fed.on("baerum", "resolve", "projects/catchmr", "title", "CatchMR", "--force").status, 0)
    }

    // MARK: hub operator commands

    func testHubNodesAdmitRevokeAndStats() throws {
        try fed.initNode("brussels", hub: true)
        try fed.initNode("asker", hubs: ["brussels"])
        try fed.start("brussels")
        try fed.start("asker")
        // Not admitted yet: its handshakes are refused, so the hub has never heard of it.
        sleep(1)
        XCTAssertFalse((hub("brussels", "nodes", "--json").json as? [[String: Any]] ?? []).contains { $0["node_id"] as? String == "asker" })

        let key = String(repeating: "x", count: 40)
        let askerCurve = fed.curveKeys["asker"] ?? "", askerSigning = fed.signingKeys["asker"] ?? ""
        // The organisation must exist in the directory, and keys must be well formed.
        let noOrg = hub("brussels", "admit", "asker", "--organisation", "asker", "--curve-key", key)
        XCTAssertEqual(noOrg.status, 1)
        XCTAssertTrue(noOrg.stderr.contains("no organisation 'asker' in the directory"), noOrg.stderr)
        for org in ["asker", "oslomet"] { XCTAssertEqual(fed.on("brussels", "set", "organisations/\(org)", "name=\(org)").status, 0) }
        let badSigning = hub("brussels", "admit", "asker", "--organisation", "asker", "--signing-key", "not-hex")
        XCTAssertEqual(badSigning.status, 1)
        XCTAssertTrue(badSigning.stderr.contains("64 hex digits"), badSigning.stderr)
        let nonHex = hub("brussels", "admit", "asker", "--organisation", "asker", "--signing-key", String(repeating: "g", count: 64))
        XCTAssertEqual(nonHex.status, 1)
        XCTAssertTrue(nonHex.stderr.contains("has other characters"), nonHex.stderr)
        let badCurve = hub("brussels", "admit", "asker", "--organisation", "asker", "--curve-key", String(repeating: "~", count: 40))
        XCTAssertEqual(badCurve.status, 1)
        XCTAssertTrue(badCurve.stderr.contains("outside Z85"), badCurve.stderr)
        XCTAssertNil((fed.on("brussels", "get", "nodes/asker", "--json").json as? [String: Any]), "nothing was written")
        XCTAssertEqual(json(hub("brussels", "admit", "asker", "--organisation", "asker", "--curve-key=\(askerCurve)",
                                "--signing-key=\(askerSigning)", "--json"))["updated"] as? Bool, false)
        XCTAssertEqual(json(hub("brussels", "admit", "oslomet", "--organisation", "oslomet", "--curve-key", key, "--json"))["node_id"] as? String, "oslomet")
        // Admitted, asker connects and says hello.
        var asker: [String: Any] = [:]
        XCTAssertTrue(waitUntil(timeout: 15) {
            let nodes = self.hub("brussels", "nodes", "--json").json as? [[String: Any]] ?? []
            asker = nodes.first { $0["node_id"] as? String == "asker" } ?? [:]
            return asker["connected"] as? Bool == true
        }, "asker never showed up as connected")
        XCTAssertEqual(asker["software_version"] as? String, "0.1.0")
        XCTAssertEqual(asker["protocol"] as? Int, 2, "protocol 2: ops carry their hash chain")
        XCTAssertNotNil(asker["last_seen"] as? String)
        var nodes = hub("brussels", "nodes", "--json").json as? [[String: Any]] ?? []
        let byID = Dictionary(nodes.map { ($0["node_id"] as? String ?? "", $0) }, uniquingKeysWith: { a, _ in a })
        XCTAssertEqual(byID["asker"]?["in_roster"] as? Bool, true)
        XCTAssertEqual(byID["asker"]?["curve_key"] as? String, askerCurve)
        XCTAssertEqual(byID["oslomet"]?["connected"] as? Bool, false, "admitted but never connected")
        XCTAssertEqual(byID["brussels"]?["self"] as? Bool, true)
        let roster = fed.on("brussels", "get", "nodes/asker", "--json").json as? [String: Any]
        XCTAssertEqual((roster?["fields"] as? [String: Any])?["revoked"] as? Bool, false)

        XCTAssertEqual(json(hub("brussels", "revoke", "asker", "--json"))["changed"] as? Bool, true)
        nodes = hub("brussels", "nodes", "--json").json as? [[String: Any]] ?? []
        XCTAssertEqual(nodes.first { $0["node_id"] as? String == "asker" }?["revoked"] as? Bool, true)
        XCTAssertTrue(hub("brussels", "nodes").stdout.contains("revoked"))
        // The roster replicates like any record.
        XCTAssertTrue(waitUntil(timeout: 10) {
            ((self.fed.on("asker", "get", "nodes/asker", "--json").json as? [String: Any])?["fields"] as? [String: Any])?["revoked"] as? Bool == true
        })

        let unknown = hub("brussels", "revoke", "nobody")
        XCTAssertEqual(unknown.status, 1)
        XCTAssertTrue(unknown.stderr.contains("no node 'nobody'"), unknown.stderr)
        let onMember = hub("asker", "admit", "someone", "--organisation", "asker")
        XCTAssertEqual(onMember.status, 1)
        XCTAssertTrue(onMember.stderr.contains("hub only"), onMember.stderr)
        XCTAssertEqual(hub("asker", "revoke", "asker").status, 1)
        XCTAssertNotEqual(hub("brussels", "admit", "Bad Id", "--organisation", "asker").status, 0)
        XCTAssertEqual(hub("brussels", "admit", "x", "--organisation", "asker", "--curve-key", "short").status, 1)

        let stats = json(hub("brussels", "stats", "--json"))
        XCTAssertEqual((stats["records"] as? [String: Any])?["nodes"] as? Int, 2)
        // The revoked member is disconnected: the hub drops everything it sends.
        XCTAssertTrue(waitUntil(timeout: 10) { self.json(self.hub("brussels", "stats", "--json"))["connected_nodes"] as? Int == 0 })
        XCTAssertGreaterThan(stats["store_bytes"] as? Int ?? 0, 0)
        XCTAssertEqual(stats["ops_in_log"] as? Int, 6, "two organisations, two admissions, asker's epoch registered at its hello, one revocation")
        XCTAssertEqual(stats["local_writes"] as? Int, 6)
        XCTAssertTrue(hub("brussels", "stats").stdout.contains("connected nodes"))
    }

    func testSnapshotWhileRunningAndRestoreMergesSafely() throws {
        try startSeededHub()
        let snapshot = fed.root + "/backup.sqlite"
        let s = json(hub("brussels", "snapshot", snapshot, "--json"))
        XCTAssertGreaterThan(s["bytes"] as? Int ?? 0, 0)
        let atSnapshot = fed.digest("brussels")
        XCTAssertEqual(hub("brussels", "snapshot", snapshot).status, 1, "an existing file is not replaced without --force")
        XCTAssertEqual(hub("brussels", "snapshot", snapshot, "--force").status, 0)

        // Later edits, then restoring the older snapshot: a join, so nothing newer is lost.
        XCTAssertEqual(fed.on("brussels", "set", "organisations/asker", "population=95000").status, 0)
        XCTAssertEqual(fed.on("brussels", "delete", "organisations/warsaw").status, 0)
        let current = fed.digest("brussels")
        let same = json(hub("brussels", "restore", snapshot, "--json"))
        XCTAssertEqual(same["records_changed"] as? Int, 0)
        XCTAssertEqual(same["ops_added"] as? Int, 0)
        XCTAssertEqual(fed.digest("brussels"), current)

        // Into an empty hub that does not know brussels: it ends up showing what the hub held at
        // the snapshot, but cannot verify brussels' signatures, so it takes none of its ops
        // to serve (a lost hub is restored with its own keys; see OperationsTests).
        try startHub("spare")
        let fresh = json(hub("spare", "restore", snapshot, "--json"))
        XCTAssertEqual(fresh["records_created"] as? Int, try seedRecords().count)
        XCTAssertEqual(fresh["ops_added"] as? Int, 0)
        XCTAssertEqual(fresh["ops_rejected"] as? Int, try seedRecords().count)
        XCTAssertEqual(fed.digest("spare"), atSnapshot)
        XCTAssertEqual(fed.status("spare")["ops_in_log"] as? Int, 0)

        let notADatabase = hub("spare", "restore", Self.seedPath)
        XCTAssertEqual(notADatabase.status, 1)
        XCTAssertTrue(notADatabase.stderr.contains("not a readable MemberSync snapshot"), notADatabase.stderr)
        XCTAssertEqual(hub("spare", "restore", fed.root + "/missing.sqlite").status, 1)
        XCTAssertEqual(fed.digest("spare"), atSnapshot, "failed restores change nothing")
    }

    // MARK: progress and catch-up

    func testCatchUpAfterALargeImportAndTheProgressBarOnlyOnATerminal() throws {
        try fed.initNode("brussels", hub: true)
        try fed.initNode("asker", hubs: ["brussels"])
        try fed.start("brussels")
        fed.admit("asker")
        var lines: [String] = []
        for i in 0..<3000 {
            lines.append(#"{"key":"contacts/generated-\#(i)","fields":{"name":"Generated \#(i)","organisation":"asker","topics":["t\#(i % 20)"]}}"#)
        }
        let file = write("large.jsonl", lines.joined(separator: "\n") + "\n")
        // On a terminal (a pseudo-terminal made by script(1)) the import draws a bar; piped
        // output never carries one (checked in the seed import test).
        guard let tty = onTerminal("\(fed.binDir)/membersync import --batch-size 500 --data-dir \(fed.dataDir("brussels")) \(file)") else {
            throw XCTSkip("script(1) is not installed, so no pseudo-terminal can be made")
        }
        XCTAssertEqual(tty.status, 0, tty.output)
        XCTAssertTrue(tty.output.contains("importing [") && tty.output.contains("100% 3000/3000 records"), tty.output)
        XCTAssertTrue(tty.output.contains("checking [") && tty.output.contains(" records/s"), "the check pass and the rate show too: \(tty.output)")
        XCTAssertTrue(tty.output.contains("imported 3000 record(s)"), tty.output)
        XCTAssertEqual(recordCount("brussels"), 3001, "the contacts and asker's roster entry")

        try fed.start("asker")
        let caught = fed.on("asker", "catch-up", "--json", "--timeout", "60")
        XCTAssertEqual(caught.status, 0, caught.stderr)
        XCTAssertEqual((caught.json as? [String: Any])?["caught_up"] as? Bool, true)
        XCTAssertEqual(fed.digest("asker"), fed.digest("brussels"), "caught up means holding what the hub holds")
        XCTAssertEqual(recordCount("asker"), 3001)
    }

    // MARK: bad input

    /// Regression: a Z85 CURVE key may begin with "-"; written as `--hub-key=KEY` it is taken
    /// as the value, not as another option (chaos/CI found `--hub-key KEY` failing at random).
    func testKeysBeginningWithADashAreAcceptedInEqualsForm() throws {
        let key = "-" + String(repeating: "a", count: 39)
        let dir = fed.root + "/dash-key"
        let r = fed.cli(["init", dir, "--id", "dash", "--organisation", "dash", "--listen", "tcp://127.0.0.1:7400",
                         "--hub-endpoint", "tcp://127.0.0.1:7500", "--hub-key=\(key)",
                         "--hub-signing-key=brussels:" + String(repeating: "0", count: 64)])
        XCTAssertEqual(r.status, 0, r.stderr)
        let toml = try String(contentsOfFile: dir + "/membersync.toml", encoding: .utf8)
        XCTAssertTrue(toml.contains("hub_keys = [\"\(key)\"]"), toml)
    }

    func testBadInputFailsWithClearMessagesAndNonZeroStatus() throws {
        try startSeededHub()
        let cases: [([String], String)] = [
            (["list", "people"], "unknown collection"),
            (["export", "people"], "unknown collection"),
            (["search", "x", "--in", "people"], "unknown collection"),
            (["show", "organisations"], "collection/id"),
            (["show", "organisations/Asker"], "not a lowercase slug"),
            (["show", "people/asker"], "unknown collection"),
            (["show", "organisations/nowhere"], "no such record"),
            (["history", "organisations/nowhere"], "no such record"),
            (["resolve", "organisations/asker", "colour", "red"], "unknown field"),
            (["resolve", "organisations/nowhere", "name", "x"], "no such record"),
            (["import", fed.root + "/no-such-file.jsonl"], "cannot read"),
        ]
        for (args, message) in cases {
            let r = fed.cli([args[0], "--data-dir", fed.dataDir("brussels")] + args.dropFirst())
            XCTAssertNotEqual(r.status, 0, "\(args) should fail")
            XCTAssertTrue(r.stderr.contains(message), "\(args): expected '\(message)' in: \(r.stderr)")
        }
        // Argument errors are usage errors (status 64), before any node is asked.
        XCTAssertEqual(fed.cli(["import", "--data-dir", fed.dataDir("brussels"), "x", "--batch-size", "0"]).status, 64)
        // And the node is still fine.
        XCTAssertEqual(fed.on("brussels", "status").status, 0)
    }
}
