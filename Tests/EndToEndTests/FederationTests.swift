import Foundation
import MemberSyncHarness
import MemberSyncModel
import MemberSyncStore
import XCTest

#if canImport(Glibc)
import Glibc
#endif

/// Real daemons on 127.0.0.1: a secure Brussels hub and admitted member offices (CURVE,
/// signed ops, write rules), each writing only what its rights allow.
final class FederationTests: FederationTestCase {
    func record(_ node: String, _ key: String) -> [String: Any]? {
        let r = fed.on(node, "get", key, "--json")
        return r.status == 0 ? r.json as? [String: Any] : nil
    }

    func field(_ node: String, _ key: String, _ name: String) -> Any? {
        (record(node, key)?["fields"] as? [String: Any])?[name]
    }

    func startHubAndMembers(_ members: [String], peers: Bool = false) throws {
        try fed.startHubAndAdmitted(members, peers: peers)
    }

    func testEditsOnAnyNodeReachEveryNode() throws {
        let members = ["asker", "baerum", "oslomet"]
        try startHubAndMembers(members)
        for m in members {
            let r = fed.on(m, "set", "organisations/\(m)", "name=Office \(m)", "topics+=climate", "kind=municipality")
            XCTAssertEqual(r.status, 0, r.stderr)
        }
        let h = fed.on("brussels", "set", "networks/eurocities", "name=Eurocities", "members+=oslo")
        XCTAssertEqual(h.status, 0, h.stderr)
        let digest = fed.converge(["brussels"] + members)
        XCTAssertNotNil(digest, "nodes did not converge")
        for node in ["brussels"] + members {
            let list = fed.on(node, "list", "organisations", "--json").json as? [[String: Any]] ?? []
            XCTAssertEqual(Set(list.compactMap { $0["key"] as? String }), Set(members.map { "organisations/\($0)" }), node)
            XCTAssertEqual(field(node, "networks/eurocities", "members") as? [String], ["oslo"])
        }
        // Human output is readable too.
        let card = fed.on("oslomet", "get", "organisations/asker")
        XCTAssertTrue(card.stdout.contains("Office asker"), card.stdout)
    }

    func testOfflineEditsMergeAndSameFieldEditsConflictOnEveryNode() throws {
        let members = ["asker", "baerum", "hamar"]
        try startHubAndMembers(members)
        // asker leads the project and makes the others partners, so all three may edit it.
        let created = fed.on("asker", "set", "projects/catchmr", "title=CatchMR", "status=proposal", "lead=asker",
                             "partners+=asker", "partners+=baerum", "partners+=hamar")
        XCTAssertEqual(created.status, 0, created.stderr)
        XCTAssertNotNil(fed.converge(["brussels"] + members))

        let stopSeconds = fed.stop("brussels")
        XCTAssertLessThan(stopSeconds, 5, "SIGTERM must stop the hub within a few seconds")
        // Members notice the hub is gone (no fallback peers here, so they are on their own).
        XCTAssertTrue(waitUntil(timeout: 10) { self.fed.status("asker")["mode"] as? String == "offline" })
        XCTAssertEqual(fed.on("asker", "status").status, 1, "status reports a degraded node")
        // Different fields of the project, and the same field.
        XCTAssertEqual(fed.on("asker", "set", "projects/catchmr", "programme=Interreg North Sea").status, 0)
        XCTAssertEqual(fed.on("baerum", "set", "projects/catchmr", "topics+=mobility").status, 0)
        XCTAssertEqual(fed.on("asker", "set", "projects/catchmr", "status=running").status, 0)
        XCTAssertEqual(fed.on("baerum", "set", "projects/catchmr", "status=closed").status, 0)
        XCTAssertGreaterThan(fed.status("asker")["pending"] as? Int ?? 0, 0, "unacknowledged ops are reported")

        try fed.start("brussels")
        let all = ["brussels"] + members
        XCTAssertNotNil(fed.converge(all), "nodes did not converge after the hub returned")
        for node in all {
            XCTAssertEqual(field(node, "projects/catchmr", "programme") as? String, "Interreg North Sea", node)
            XCTAssertEqual(field(node, "projects/catchmr", "topics") as? [String], ["mobility"], node)
            let conflicts = fed.conflicts(node)
            XCTAssertEqual(conflicts.count, 1, "\(node): \(conflicts)")
            XCTAssertEqual(conflicts.first?["key"] as? String, "projects/catchmr")
            XCTAssertEqual(conflicts.first?["field"] as? String, "status")
            let values = Set((conflicts.first?["values"] as? [[String: Any]] ?? []).compactMap { $0["value"] as? String })
            XCTAssertEqual(values, ["running", "closed"], node)
        }
        XCTAssertTrue(waitUntil(timeout: 10) { self.fed.status("asker")["pending"] as? Int == 0 }, "the hub acknowledged everything")
        // Writing the field again resolves the conflict everywhere.
        XCTAssertEqual(fed.on("hamar", "set", "projects/catchmr", "status=running").status, 0)
        XCTAssertNotNil(fed.converge(all))
        for node in all { XCTAssertTrue(fed.conflicts(node).isEmpty, node) }
    }

    func testKilledMemberRestartsAndCatchesUp() throws {
        let members = ["asker", "baerum", "lillestrom"]
        try startHubAndMembers(members)
        XCTAssertEqual(fed.on("lillestrom", "set", "organisations/lillestrom", "name=Lillestrøm").status, 0)
        XCTAssertNotNil(fed.converge(["brussels"] + members))
        fed.killHard("lillestrom")
        for i in 0..<20 {
            let writer = i % 2 == 0 ? "asker" : "baerum"
            XCTAssertEqual(fed.on(writer, "set", "contacts/contact-\(i)", "name=Contact \(i)", "organisation=\(writer)").status, 0)
        }
        try fed.start("lillestrom")
        XCTAssertNotNil(fed.converge(["brussels"] + members))
        let contacts = fed.on("lillestrom", "list", "contacts", "--json").json as? [[String: Any]] ?? []
        XCTAssertEqual(contacts.count, 20)
        XCTAssertEqual(field("lillestrom", "organisations/lillestrom", "name") as? String, "Lillestrøm")
    }

    func testMembersConvergeThroughFallbackPeersWhileHubIsDown() throws {
        let members = ["asker", "baerum", "stange"]
        try startHubAndMembers(members, peers: true)
        // Every member holds the hub's ops (the roster) before the hub goes: a hub stopped
        // sooner would bring ops of its own when it returns, and the digest would move on.
        XCTAssertNotNil(fed.converge(["brussels"] + members), "the members did not catch up with the hub")
        fed.stop("brussels")
        XCTAssertTrue(waitUntil(timeout: 10) { members.allSatisfy { self.fed.status($0)["mode"] as? String == "fallback-peers" } })
        for m in members {
            XCTAssertEqual(fed.on(m, "set", "organisations/\(m)", "name=\(m.capitalized)", "topics+=digitalisation").status, 0)
        }
        XCTAssertEqual(fed.on("stange", "delete", "organisations/stange").status, 0, "delete while offline")
        let digest = fed.converge(members)
        XCTAssertNotNil(digest, "members did not converge through their peers")
        for m in members {
            let keys = (fed.on(m, "list", "organisations", "--json").json as? [[String: Any]] ?? []).compactMap { $0["key"] as? String }
            XCTAssertEqual(Set(keys), ["organisations/asker", "organisations/baerum"], m)
        }
        // The hub returns and catches up with what happened without it.
        try fed.start("brussels")
        XCTAssertEqual(fed.converge(["brussels"] + members), digest)
        XCTAssertTrue(waitUntil(timeout: 10) { self.fed.status("asker")["mode"] as? String == "via-hub" })
    }

    /// SIGKILL in the middle of a burst of writes: every write the CLI saw acknowledged is
    /// still there after restart, and the database is intact.
    func testSigkillDuringWriteBurstLosesNoAcknowledgedWrite() throws {
        try fed.startHubAndAdmitted(["asker"])
        let acked = AckedWrites()
        let writers = DispatchGroup()
        let fed: Federation = self.fed
        for w in 0..<2 {
            writers.enter()
            DispatchQueue.global().async {
                defer { writers.leave() }
                for i in 0..<400 {
                    let key = "contacts/w\(w)-\(i)"
                    let r = fed.cli(["set", "--data-dir", fed.dataDir("asker"), key, "name=Writer \(w) \(i)", "role=burst", "organisation=asker"], timeout: 5)
                    // The first failure means the node is gone: stop writing.
                    if r.status == 0 { acked.add(key) } else { return }
                }
            }
        }
        XCTAssertTrue(waitUntil(timeout: 30) { acked.count >= 40 }, "writes were not being acknowledged")
        fed.killHard("asker")
        writers.wait()
        let ackedKeys = acked.keys
        XCTAssertGreaterThan(ackedKeys.count, 0)

        // Inspect the database directly, as the restarted node will see it.
        let store = try Store(path: fed.dataDir("asker") + "/" + Store.fileName)
        XCTAssertEqual(try store.integrityCheck(), "ok")
        let id = try store.identity(node: "asker")
        let replica = try store.loadReplica(id: id, wallClock: { 0 })
        for key in ackedKeys {
            XCTAssertNotNil(replica.view(try RecordKey(parsing: key)), "acknowledged write \(key) lost")
        }

        try fed.start("asker")
        for key in ackedKeys.prefix(20) { XCTAssertEqual(fed.on("asker", "get", key).status, 0, key) }
        XCTAssertNotNil(fed.converge(["brussels", "asker"]))
        let hubContacts = fed.on("brussels", "list", "contacts", "--json").json as? [[String: Any]] ?? []
        XCTAssertGreaterThanOrEqual(hubContacts.count, ackedKeys.count, "every acknowledged write reached the hub")
    }
}

/// Thread-safe list of acknowledged keys.
final class AckedWrites: @unchecked Sendable {
    private let lock = NSLock()
    private var list: [String] = []
    func add(_ k: String) { lock.lock(); list.append(k); lock.unlock() }
    var count: Int { lock.lock(); defer { lock.unlock() }; return list.count }
    var keys: [String] { lock.lock(); defer { lock.unlock() }; return list }
}
