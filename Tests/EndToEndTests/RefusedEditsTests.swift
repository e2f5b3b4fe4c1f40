import Foundation
import MemberSyncHarness
import XCTest

/// Refused edits on a secure federation of real daemons (MSP 7.3, steps 6 and 7): the hub names
/// every op of a Push it refuses, and the member that made it lists it (`membersync refused`),
/// counts it (`status`), keeps it across a restart, and does not push it again and again.
final class RefusedEditsTests: FederationTestCase {
    let members = ["asker", "baerum"]

    func refusedCount(_ node: String) -> Int? { fed.status(node)["refused_edits"] as? Int }
    func refused(_ node: String) -> [[String: Any]] { fed.on(node, "refused", "--json").json as? [[String: Any]] ?? [] }
    func rejected(_ node: String, _ reason: String) -> Int { (fed.status(node)["ops_rejected"] as? [String: Int] ?? [:])[reason] ?? 0 }
    func occurrences(_ text: String, in log: String) -> Int { log.components(separatedBy: text).count - 1 }

    /// asker, a partner of a project, closes it while offline; meanwhile the hub operator
    /// removes asker from the project. The hub refuses the edit (held without effect) and says
    /// so; asker lists it with the rule that refused it, and still does after a restart.
    func testAnEditTheHubRefusesIsListedCountedAndKeptAcrossARestart() throws {
        try fed.startHubAndAdmitted(members)
        ok(fed.on("brussels", "set", "projects/catchmr", "title=CatchMR", "status=running", "lead=baerum", "partners+=asker"))
        XCTAssertNotNil(fed.converge(["brussels"] + members))
        XCTAssertEqual(refusedCount("asker"), 0)
        XCTAssertEqual(refused("asker").count, 0)
        fed.stop("brussels")
        ok(fed.on("asker", "set", "projects/catchmr", "status=closed"))
        fed.stop("asker")
        try fed.start("brussels")
        ok(fed.on("brussels", "set", "projects/catchmr", "partners-=asker"))
        try fed.start("asker")

        XCTAssertTrue(waitUntil(timeout: 30) { self.refusedCount("asker") == 1 }, "asker counts its refused edit; log:\n\(fed.log("asker"))")
        let list = refused("asker")
        XCTAssertEqual(list.count, 1, "\(list)")
        let entry = list.first ?? [:]
        XCTAssertEqual(entry["key"] as? String, "projects/catchmr")
        XCTAssertEqual(entry["summary"] as? String, "status=closed")
        XCTAssertEqual(entry["reason"] as? String, "unauthorised")
        XCTAssertEqual(entry["held"] as? Bool, true)
        XCTAssertTrue((entry["dot"] as? String ?? "").hasPrefix("asker@"), "\(entry)")
        XCTAssertTrue((entry["detail"] as? String ?? "").contains("leads or partners in"), "\(entry)")
        XCTAssertNotNil(entry["at"] as? String)
        let human = fed.on("asker", "refused")
        ok(human)
        XCTAssertTrue(human.stdout.contains("projects/catchmr") && human.stdout.contains("unauthorised") && human.stdout.contains("1 refused edit(s)"), human.stdout)
        XCTAssertTrue(fed.on("asker", "status").stdout.contains("1 (membersync refused lists them)"))
        XCTAssertEqual(fed.field("asker", "projects/catchmr", "status") as? String, "running", "the edit takes no effect at its origin either")

        // No endless resend: the hub refuses it no more, asker reports it no more.
        XCTAssertTrue(waitUntil(timeout: 10) { self.fed.status("asker")["pending"] as? Int == 0 })
        let hubRefusals = rejected("brussels", "unauthorised")
        let reports = occurrences("own edit refused", in: fed.log("asker"))
        XCTAssertGreaterThanOrEqual(reports, 1, "the refusal is logged at the origin")
        sleep(3)
        XCTAssertEqual(rejected("brussels", "unauthorised"), hubRefusals, "not refused again every second")
        XCTAssertEqual(occurrences("own edit refused", in: fed.log("asker")), reports)

        // The list is durable.
        let dot = entry["dot"] as? String
        fed.stop("asker")
        try fed.start("asker")
        XCTAssertEqual(refusedCount("asker"), 1, "the count survives a restart")
        XCTAssertEqual(refused("asker").first?["dot"] as? String, dot)
    }

    /// The hub operator records a wrong signing key for asker: the hub cannot verify asker's
    /// next edit and does not keep it. asker lists it and stops pushing (before, it pushed it
    /// every second, each refused again); when the roster is put right the edit goes through
    /// and leaves the list.
    func testAnEditTheHubDoesNotKeepIsNotPushedAgainUntilTheRosterChanges() throws {
        try fed.startHubAndAdmitted(members)
        let right = try XCTUnwrap(fed.signingKeys["asker"])
        let wrong = try XCTUnwrap(fed.signingKeys["baerum"])
        ok(fed.on("brussels", "set", "nodes/asker", "signing_key=\(wrong)"))
        XCTAssertTrue(waitUntil(timeout: 15) { self.fed.field("asker", "nodes/asker", "signing_key") as? String == wrong })
        ok(fed.on("asker", "set", "organisations/asker", "name=Asker kommune"))
        XCTAssertTrue(waitUntil(timeout: 15) { self.refusedCount("asker") == 1 }, "log:\n\(fed.log("asker"))")
        let entry = refused("asker").first ?? [:]
        XCTAssertEqual(entry["reason"] as? String, "bad-signature")
        XCTAssertEqual(entry["held"] as? Bool, false)
        XCTAssertEqual(entry["key"] as? String, "organisations/asker")
        let hubRefusals = rejected("brussels", "bad-signature")
        XCTAssertGreaterThanOrEqual(hubRefusals, 1)
        sleep(4)
        XCTAssertEqual(rejected("brussels", "bad-signature"), hubRefusals, "asker did not push it again (the retry interval is 1 s)")
        XCTAssertEqual(fed.status("asker")["pending"] as? Int, 1, "still not acknowledged")

        ok(fed.on("brussels", "set", "nodes/asker", "signing_key=\(right)"))
        XCTAssertTrue(waitUntil(timeout: 15) { self.fed.field("brussels", "organisations/asker", "name") as? String == "Asker kommune" },
                      "pushed again once the roster changed")
        XCTAssertTrue(waitUntil(timeout: 10) { self.refusedCount("asker") == 0 }, "accepted after all: no longer listed")
        XCTAssertTrue(waitUntil(timeout: 10) { self.fed.status("asker")["pending"] as? Int == 0 })
    }
}
