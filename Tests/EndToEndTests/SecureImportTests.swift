import Foundation
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
}
