import Foundation
import MemberSyncHarness
import XCTest

/// Refused CURVE handshakes are logged on both sides, with the keys and where known the node
/// (issue 17): libzmq says nothing else about them, so the node reads its sockets' monitors.
final class HandshakeLogTests: FederationTestCase {
    func events(_ node: String, _ prefix: String) -> [[String: String]] {
        fed.logEvents(node).filter { ($0["msg"] ?? "").hasPrefix(prefix) }
    }

    func testAWrongHubKeyIsLoggedByBothSidesOncePerWindowAndDoctorNamesIt() throws {
        try fed.initNode("brussels", hub: true, organisation: "oslo-region-european-office")
        try fed.initNode("decoy", hub: true)  // never started: its key is valid but not the hub's
        let hubKey = try XCTUnwrap(fed.curveKeys["brussels"]), wrongKey = try XCTUnwrap(fed.curveKeys["decoy"])
        fed.curveKeys["brussels"] = wrongKey
        try fed.initNode("asker", hubs: ["brussels"])
        fed.curveKeys["brussels"] = hubKey
        try fed.start("brussels")
        fed.admit("asker")
        try fed.start("asker")

        XCTAssertTrue(waitUntil(timeout: 15) { !self.events("asker", "CURVE handshake refused").isEmpty }, fed.log("asker"))
        let firstSeen = Date()
        let line = events("asker", "CURVE handshake refused")[0]
        XCTAssertEqual(line["level"], "warning", "\(line)")
        XCTAssertEqual(line["cause"], "wrong-server-key", "\(line)")
        XCTAssertEqual(line["curve.server_key"], wrongKey, "\(line)")
        XCTAssertEqual(line["endpoint"], fed.endpoint("brussels"), "\(line)")
        // The hub cannot open the client's handshake, so it knows the connection, not the key.
        XCTAssertTrue(waitUntil(timeout: 10) {
            self.events("brussels", "CURVE handshake with a client failed").contains { $0["level"] == "warning" }
        }, fed.log("brussels"))

        // The member retries many times in a few seconds (its last failure is recent), but its
        // log says so once per 10 s window.
        sleep(3)
        let failure = ((fed.status("asker")["hubs"] as? [[String: Any]])?.first?["handshake_failure"]) as? [String: Any]
        XCTAssertEqual(failure?["cause"] as? String, "wrong-server-key", "\(fed.status("asker"))")
        let elapsed = Date().timeIntervalSince(firstSeen)
        XCTAssertLessThan(failure?["seconds_ago"] as? Double ?? 99, elapsed - 1, "it failed again after the line was logged")
        let windows = Int(elapsed / 10) + 1
        XCTAssertLessThanOrEqual(events("asker", "CURVE handshake refused").count, windows, fed.log("asker"))
        XCTAssertLessThanOrEqual(events("brussels", "CURVE handshake with a client failed").count, windows + 1, fed.log("brussels"))

        let doctor = fed.on("asker", "doctor")
        XCTAssertEqual(doctor.status, 1, doctor.stdout)
        XCTAssertTrue(doctor.stdout.contains("CURVE handshake refused") && doctor.stdout.contains("is not the hub's curve.pub"), doctor.stdout)
    }

    func testTheHubLogsARefusedKeyAndTheRevokedNodeItBelongsTo() throws {
        try fed.initNode("brussels", hub: true, organisation: "oslo-region-european-office")
        try fed.initNode("asker", hubs: ["brussels"])
        try fed.initNode("oslomet", hubs: ["brussels"])  // never admitted
        try fed.start("brussels")
        fed.admit("asker")
        try fed.start("asker")
        try fed.start("oslomet")

        let unknown = try XCTUnwrap(fed.curveKeys["oslomet"])
        XCTAssertTrue(waitUntil(timeout: 15) {
            self.events("brussels", "CURVE handshake refused").contains { $0["curve.key"] == unknown && $0["reason"] == "not in the roster" }
        }, fed.log("brussels"))
        let firstSeen = Date()
        XCTAssertTrue(waitUntil(timeout: 10) {
            self.events("oslomet", "CURVE handshake refused").contains { $0["cause"] == "not-admitted" && $0["curve.key"] == unknown }
        }, fed.log("oslomet"))
        let doctor = fed.on("oslomet", "doctor")
        XCTAssertTrue(doctor.stdout.contains("CURVE handshake refused") && doctor.stdout.contains("this node is not admitted there"), doctor.stdout)

        XCTAssertNotNil(fed.converge(["brussels", "asker"]))
        let revoke = fed.cli(["hub", "revoke", "asker", "--data-dir", fed.dataDir("brussels")])
        XCTAssertEqual(revoke.status, 0, revoke.stderr)
        let revoked = try XCTUnwrap(fed.curveKeys["asker"])
        XCTAssertTrue(waitUntil(timeout: 15) {
            self.events("brussels", "CURVE handshake refused").contains { $0["curve.key"] == revoked && $0["peer.id"] == "asker" && $0["reason"] == "revoked" }
        }, fed.log("brussels"))
        // A key refused again and again is logged once per 10 s window, not once per attempt.
        sleep(2)
        let lines = events("brussels", "CURVE handshake refused").filter { $0["curve.key"] == unknown }.count
        let refusals = (fed.status("brussels")["messages_dropped"] as? [String: Any])?["zap-refused"] as? Int ?? 0
        XCTAssertLessThanOrEqual(lines, Int(Date().timeIntervalSince(firstSeen) / 10) + 1, fed.log("brussels"))
        XCTAssertGreaterThan(refusals, lines + 1, "oslomet and asker retried more often than the log says")
    }
}
