import Foundation
import MemberSyncHarness
import XCTest

/// `import` on a secure federation is all or nothing, write rules included: a line that
/// breaks a write rule stops the whole import before anything is written (in any batch), and
/// `import --check` finds it too.
final class SecureImportTests: FederationTestCase {
    func testALineBreakingAWriteRuleStopsTheWholeImport() throws {
        try fed.initNode("brussels", hub: true, organisation: "oslo-region-european-office")
        try fed.initNode("asker", hubs: ["brussels"])
        try fed.start("brussels")
        fed.admit("asker")
        try fed.start("asker")
        var lines = (0..<5).map { #"{"key":"contacts/a\#($0)","fields":{"name":"A \#($0)","organisation":"asker"}}"# }
        // Line 6 (in the second batch of 5) writes another organisation's record.
        lines.append(#"{"key":"organisations/baerum","fields":{"name":"Not asker's"}}"#)
        let file = fed.root + "/mixed.jsonl"
        FileManager.default.createFile(atPath: file, contents: Data(lines.joined(separator: "\n").utf8))

        let check = fed.cli(["import", "--data-dir", fed.dataDir("asker"), file, "--check", "--batch-size", "5"])
        XCTAssertEqual(check.status, 1, "--check finds the forbidden line: \(check.stdout)")
        XCTAssertTrue(check.stderr.contains("line 6"), check.stderr)
        let run = fed.cli(["import", "--data-dir", fed.dataDir("asker"), file, "--batch-size", "5"])
        XCTAssertEqual(run.status, 1)
        XCTAssertTrue(run.stderr.contains("line 6") && run.stderr.contains("not allowed"), run.stderr)
        XCTAssertNotEqual(fed.on("asker", "get", "contacts/a0").status, 0, "nothing of the first batch was written")
        XCTAssertNotEqual(fed.on("asker", "get", "contacts/a4").status, 0)

        // Without the forbidden line the same file imports.
        FileManager.default.createFile(atPath: file, contents: Data(lines.dropLast().joined(separator: "\n").utf8))
        XCTAssertEqual(fed.cli(["import", "--data-dir", fed.dataDir("asker"), file, "--batch-size", "5"]).status, 0)
        XCTAssertEqual(fed.on("asker", "get", "contacts/a4").status, 0)
    }

    /// A large import through the real CLI and daemon (several batches, the check pass first)
    /// reaches the other member whole: every record, with its values, and nothing refused.
    func testALargeImportReachesTheOtherMemberRecordForRecord() throws {
        try fed.startHubAndAdmitted(["asker", "baerum"])
        let count = 12_000
        let lines = (0..<count).map { i in
            #"{"key":"contacts/bulk-\#(i)","fields":{"name":"Bulk Contact \#(i)","organisation":"asker","role":"Officer","email":"bulk\#(i)@asker.kommune.no","topics":["t\#(i % 7)","climate"]}}"#
        }
        let file = fed.root + "/bulk.jsonl"
        FileManager.default.createFile(atPath: file, contents: Data((lines.joined(separator: "\n") + "\n").utf8))
        let run = fed.cli(["import", "--data-dir", fed.dataDir("asker"), "--json", file], timeout: 300)
        XCTAssertEqual(run.status, 0, run.stderr)
        let summary = run.json as? [String: Any]
        XCTAssertEqual(summary?["created"] as? Int, count, run.stdout)
        XCTAssertEqual(summary?["ops"] as? Int, count, "one op per record")
        XCTAssertFalse(run.stdout.contains("\u{1B}"), "no progress bar on a pipe")

        let arrived = waitUntil(timeout: 180, interval: 0.25) { fed.digest("baerum") == fed.digest("asker") }
        XCTAssertTrue(arrived, "baerum holds what asker imported")
        let export = fed.root + "/baerum.jsonl"
        ok(fed.on("baerum", "export", "--output", export))
        let exported = try String(contentsOfFile: export, encoding: .utf8).split(separator: "\n").filter { $0.contains("contacts/bulk-") }
        XCTAssertEqual(exported.count, count, "every record arrived")
        XCTAssertTrue(exported.contains { $0.contains(#""key":"contacts/bulk-11999""#) && $0.contains(#""topics":["climate","t1"]"#) }, "with its values")
        let status = fed.status("baerum")
        let rejected = status["ops_rejected"] as? [String: Int]
        XCTAssertNotNil(rejected, "\(status)")
        XCTAssertEqual(rejected?.values.reduce(0, +), 0, "baerum refused none")
        XCTAssertEqual(status["ops_waiting"] as? Int, 0, "and holds none back")
    }
}
