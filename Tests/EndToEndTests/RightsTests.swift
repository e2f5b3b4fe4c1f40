import Foundation
import MemberSyncHarness
import XCTest

/// Rights on a secure federation of real daemons: project rights, values that never reach a
/// terminal, and the races of MSP 11.7 (an edit against its writer's removal, an op against
/// its origin's revocation), which end with every node showing the same state.
final class RightsTests: FederationTestCase {
    let members = ["asker", "baerum"]

    func field(_ node: String, _ key: String, _ name: String) -> Any? { fed.field(node, key, name) }

    func start(peers: Bool = false) throws { try fed.startHubAndAdmitted(members, peers: peers) }

    func refused(_ r: CLIResult, _ words: String, file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertEqual(r.status, 1, "should be refused: \(r.stdout)", file: file, line: line)
        XCTAssertTrue(r.stderr.contains(words), r.stderr, file: file, line: line)
    }

    /// `insecure = true` stays an explicit opt-out that no operator can miss: every start
    /// logs a warning, and `--check-config` says so.
    func testInsecureIsLoggedAsAWarningAtEveryStart() throws {
        let plain = try Federation(secure: false)
        defer { plain.shutdown() }
        try plain.initNode("brussels", hub: true)
        for _ in 0..<2 {
            try plain.start("brussels")
            plain.stop("brussels")
        }
        let warnings = plain.log("brussels").split(separator: "\n").filter { $0.contains("level=warning") && $0.contains("security is OFF (insecure = true)") }
        XCTAssertEqual(warnings.count, 2, plain.log("brussels"))
        let check = CommandRunner.run(plain.binDir + "/membersyncd", ["--check-config", "--config", plain.dataDir("brussels") + "/membersync.toml"], timeout: 10, scratchDir: plain.root)
        XCTAssertEqual(check.status, 0)
        XCTAssertTrue(check.stdout.contains("warning: insecure = true"), check.stdout)
        // A secure node says nothing of the kind.
        try fed.initNode("brussels", hub: true, organisation: "oslo-region-european-office")
        try fed.start("brussels")
        XCTAssertFalse(fed.log("brussels").contains("security is OFF"))
    }

    func testAPartnerCannotTakeOverAProjectAndALeadKeepsIt() throws {
        try start()
        ok(fed.on("brussels", "set", "projects/race-to-zero", "title=Race to Zero", "status=running", "lead=baerum", "partners+=asker"))
        XCTAssertNotNil(fed.converge(["brussels"] + members))
        refused(fed.on("asker", "set", "projects/race-to-zero", "lead=asker", "status=closed"), "not allowed: only the lead (baerum)")
        refused(fed.on("asker", "set", "projects/race-to-zero", "partners+=oslomet"), "a partner may only remove itself")
        refused(fed.on("asker", "set", "projects/catchmr", "title=CatchMR", "partners+=asker"), "creates a project only with itself as lead")
        ok(fed.on("asker", "set", "projects/race-to-zero", "status=proposal"))
        ok(fed.on("asker", "set", "projects/catchmr", "title=CatchMR", "lead=asker", "partners+=baerum"))
        ok(fed.on("baerum", "set", "projects/race-to-zero", "partners-=asker"))
        XCTAssertNotNil(fed.converge(["brussels"] + members))
        refused(fed.on("asker", "set", "projects/race-to-zero", "status=closed"), "leads or partners in")
        for n in ["brussels"] + members {
            XCTAssertEqual(field(n, "projects/race-to-zero", "status") as? String, "proposal", n)
            XCTAssertEqual(field(n, "projects/race-to-zero", "lead") as? String, "baerum", n)
            XCTAssertEqual(field(n, "projects/catchmr", "lead") as? String, "asker", n)
        }
        let rejected = fed.status("brussels")["ops_rejected"] as? [String: Int] ?? [:]
        XCTAssertEqual(rejected, [:], "refused at the source: nothing forbidden left any node")
    }

    func testControlCharactersAndBrokenUTF8AreRefusedOnEveryPath() throws {
        try start()
        refused(fed.on("asker", "set", "organisations/asker", "name=\u{1B}]0;owned\u{7}Asker"), "control character U+001B (ESC)")
        refused(fed.on("asker", "set", "organisations/asker", "name=two\nlines"), "U+000A (LF)")
        ok(fed.on("asker", "set", "organisations/asker", "name=Asker", "description=First line\nsecond line"))
        // An argument that is not UTF-8 reaches the node as U+FFFD: refused, never stored.
        let raw = fed.cli(["set", "--data-dir", fed.dataDir("asker"), "organisations/asker", "county=Vik\u{FFFD}n"])
        refused(raw, "not valid UTF-8")
        let file = fed.root + "/bad.jsonl"
        var data = Data(#"{"key":"organisations/asker","fields":{"county":"Vik"#.utf8)
        data.append(contentsOf: [0xE9, 0x6E])
        data.append(Data(#""}}"#.utf8))
        data.append(Data("\n".utf8))
        data.append(Data(#"{"key":"organisations/asker","fields":{"website":"\u009b31mhttps://asker.kommune.no"}}"#.utf8))
        FileManager.default.createFile(atPath: file, contents: data)
        let imported = fed.on("asker", "import", file)
        XCTAssertNotEqual(imported.status, 0)
        XCTAssertTrue(imported.stderr.contains("not valid UTF-8"), imported.stderr)
        XCTAssertTrue(imported.stderr.contains("U+009B"), imported.stderr)
        XCTAssertNotNil(fed.converge(["brussels"] + members))
        XCTAssertNil(field("baerum", "organisations/asker", "county"))
        XCTAssertEqual(field("baerum", "organisations/asker", "description") as? String, "First line\nsecond line")
    }

    /// asker edits a project offline; the hub removes it from the partners before asker's
    /// edit arrives. Every node refuses the edit, asker's own included (it takes it back after
    /// a restart too), and nothing is pushed again and again.
    func testAnEditRacingItsWritersRemovalEndsEqualEverywhere() throws {
        try start()
        ok(fed.on("brussels", "set", "projects/catchmr", "title=CatchMR", "status=running", "lead=baerum", "partners+=asker"))
        XCTAssertNotNil(fed.converge(["brussels"] + members))
        fed.stop("brussels")
        ok(fed.on("asker", "set", "projects/catchmr", "status=closed", "topics+=ours"))
        fed.stop("asker")
        try fed.start("brussels")
        ok(fed.on("brussels", "set", "projects/catchmr", "partners-=asker"))
        try fed.start("asker")
        XCTAssertNotNil(fed.converge(["brussels"] + members, timeout: 30), "digests end equal")
        for n in ["brussels"] + members {
            XCTAssertEqual(field(n, "projects/catchmr", "status") as? String, "running", n)
            XCTAssertNil(field(n, "projects/catchmr", "topics"), n)
        }
        XCTAssertTrue(waitUntil(timeout: 10) { self.fed.status("asker")["pending"] as? Int == 0 }, "asker has nothing left to push")
        let refusedOnce = (fed.status("brussels")["ops_rejected"] as? [String: Int] ?? [:])["unauthorised"]
        XCTAssertEqual(refusedOnce, 1)
        sleep(3)
        XCTAssertEqual((fed.status("brussels")["ops_rejected"] as? [String: Int] ?? [:])["unauthorised"], refusedOnce, "not refused again every second")
        // After a restart asker judges its log again and still shows the same state.
        let digest = fed.digest("asker")
        fed.stop("asker")
        try fed.start("asker")
        XCTAssertEqual(fed.digest("asker"), digest)
    }

    /// With the hub down, asker's edit reaches baerum through their peer link; then the hub
    /// revokes asker without having seen it. baerum takes the edit back when the revocation
    /// arrives, and ends with the hub's state.
    func testAnOpRacingItsOriginsRevocationIsTakenBackByThePeerThatGotIt() throws {
        try start(peers: true)
        ok(fed.on("asker", "set", "organisations/asker", "name=Asker"))
        XCTAssertNotNil(fed.converge(["brussels"] + members))
        fed.stop("brussels")
        XCTAssertTrue(waitUntil(timeout: 15) { self.members.allSatisfy { self.fed.status($0)["mode"] as? String == "fallback-peers" } })
        ok(fed.on("asker", "set", "organisations/asker", "name=Asker, about to be revoked"))
        XCTAssertTrue(waitUntil(timeout: 10) { self.field("baerum", "organisations/asker", "name") as? String == "Asker, about to be revoked" })
        fed.stop("asker")
        // baerum stays away until the revocation is made, so the hub cannot have seen the edit
        // (under load baerum's push could otherwise reach the restarted hub first).
        fed.stop("baerum")
        try fed.start("brussels")
        let revoked = fed.on("brussels", "set", "nodes/asker", "revoked=true")
        ok(revoked)
        try fed.start("baerum")
        let entry = (fed.on("brussels", "get", "nodes/asker", "--json").json as? [String: Any])?["fields"] as? [String: Any]
        XCTAssertTrue((entry?["accepted_through"] as? String ?? "").hasSuffix("=1"), "\(entry ?? [:])")
        XCTAssertNotNil(fed.converge(["brussels", "baerum"], timeout: 30), "baerum and the hub agree")
        XCTAssertEqual(field("baerum", "organisations/asker", "name") as? String, "Asker")
        XCTAssertGreaterThan((fed.status("baerum")["ops_rejected"] as? [String: Int] ?? [:])["revoked"] ?? 0, 0)
    }

    /// Twice, asker is revoked while it is stopped (so it is not told: its handshakes are
    /// refused) and edits its organisation; then the hub re-admits it. Re-admitted with
    /// `--accept-revoked-edits`, its edit counts; re-admitted plainly, its edit made while
    /// revoked stays refused on every node, asker's own included, and its next edit counts.
    func testEditsMadeWhileRevokedStayRefusedAfterReadmissionUnlessTheOperatorAcceptsThem() throws {
        try start()
        func hub(_ args: String...) -> CLIResult { fed.cli(["hub", args[0], "--data-dir", fed.dataDir("brussels")] + args.dropFirst()) }
        ok(fed.on("asker", "set", "organisations/asker", "name=Asker"))
        XCTAssertNotNil(fed.converge(["brussels"] + members))
        func editWhileRevoked(_ name: String) throws {
            fed.stop("asker")
            ok(hub("revoke", "asker"))
            try fed.start("asker")
            ok(fed.on("asker", "set", "organisations/asker", "name=\(name)"))
            sleep(1)
            XCTAssertEqual(field("brussels", "organisations/asker", "name") as? String, name == "Asker, accepted" ? "Asker" : "Asker, accepted",
                           "nothing of asker's reaches the hub while it is revoked")
        }
        try editWhileRevoked("Asker, accepted")
        ok(hub("admit", "asker", "--organisation", "asker", "--accept-revoked-edits"))
        XCTAssertNotNil(fed.converge(["brussels"] + members, timeout: 30))
        for n in ["brussels"] + members { XCTAssertEqual(field(n, "organisations/asker", "name") as? String, "Asker, accepted", n) }

        try editWhileRevoked("Asker, while revoked")
        ok(hub("admit", "asker", "--organisation", "asker"))
        let entry = (fed.on("brussels", "get", "nodes/asker", "--json").json as? [String: Any])?["fields"] as? [String: Any]
        XCTAssertEqual((entry?["revoked_spans"] as? String)?.split(separator: " ").count, 1, "one span, for the revocation not accepted: \(entry ?? [:])")
        XCTAssertNotNil(fed.converge(["brussels"] + members, timeout: 30), "asker agrees with the others")
        for n in ["brussels"] + members {
            XCTAssertEqual(field(n, "organisations/asker", "name") as? String, "Asker, accepted", n)
        }
        XCTAssertGreaterThan((fed.status("baerum")["ops_rejected"] as? [String: Int] ?? [:])["revoked"] ?? 0, 0)
        XCTAssertEqual(fed.status("asker")["revoked"] as? Bool, false)
        ok(fed.on("asker", "set", "organisations/asker", "name=Asker, re-admitted"))
        XCTAssertNotNil(fed.converge(["brussels"] + members, timeout: 30))
        for n in ["brussels"] + members { XCTAssertEqual(field(n, "organisations/asker", "name") as? String, "Asker, re-admitted", n) }
    }
}
