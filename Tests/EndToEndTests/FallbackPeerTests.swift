import Foundation
import MemberSyncHarness
import XCTest

/// Fallback peers named by node id (issue 17), with real secure daemons: a member lists
/// `peers = ["baerum"]` and takes the endpoint and CURVE key from baerum's roster entry, so no
/// key is copied by hand; it waits while the roster lacks the entry and drops a revoked peer.
final class FallbackPeerTests: FederationTestCase {
    /// The first (only) fallback peer link in `node`'s status.
    func peerLink(_ node: String) -> [String: Any] {
        (fed.status(node)["peers"] as? [[String: Any]])?.first ?? [:]
    }

    func testMembersNamingEachOtherByIDSyncThroughThePeerLinkWhileTheHubIsDown() throws {
        try fed.initNode("brussels", hub: true, organisation: "oslo-region-european-office")
        try fed.initNode("asker", hubs: ["brussels"], peerIDs: ["baerum"])
        try fed.initNode("baerum", hubs: ["brussels"], peerIDs: ["asker"])
        let config = try String(contentsOfFile: fed.dataDir("asker") + "/membersync.toml", encoding: .utf8)
        XCTAssertTrue(config.contains("peers = [\"baerum\"]") && config.contains("peer_keys = []"), config)

        // baerum is not in the roster yet: asker runs via the hub and its peer link waits.
        try fed.start("brussels")
        fed.admit("asker", endpoint: true)
        try fed.start("asker")
        XCTAssertTrue(waitUntil(timeout: 15) { self.fed.status("asker")["mode"] as? String == "via-hub" }, "\(fed.status("asker"))")
        let waiting = peerLink("asker")
        XCTAssertEqual(waiting["awaiting_roster"] as? Bool, true, "\(waiting)")
        XCTAssertEqual(waiting["node_id"] as? String, "baerum", "\(waiting)")
        let text = fed.on("asker", "status").stdout
        XCTAssertTrue(text.contains("baerum (waiting: the roster gives it no endpoint and CURVE key)"), text)

        // Its entry arrives by sync from the hub: asker connects where it says, with its key.
        fed.admit("baerum", endpoint: true)
        try fed.start("baerum")
        XCTAssertTrue(waitUntil(timeout: 15) { self.peerLink("asker")["endpoint"] as? String == self.fed.endpoint("baerum") }, "\(peerLink("asker"))")
        XCTAssertNil(peerLink("asker")["awaiting_roster"])
        XCTAssertTrue(fed.logEvents("asker").contains {
            $0["msg"] == "fallback peer taken from the roster" && $0["peer.id"] == "baerum" && $0["curve.key"] == self.fed.curveKeys["baerum"]
        }, fed.log("asker"))
        XCTAssertNotNil(fed.converge(["brussels", "asker", "baerum"], timeout: 30))

        // The hub is stopped: an edit on asker reaches baerum through the peer link alone.
        fed.stop("brussels")
        XCTAssertTrue(waitUntil(timeout: 20) {
            self.fed.status("asker")["mode"] as? String == "fallback-peers" && self.fed.status("baerum")["mode"] as? String == "fallback-peers"
        }, "asker: \(fed.status("asker")), baerum: \(fed.status("baerum"))")
        let edit = fed.on("asker", "set", "organisations/asker", "name=Asker kommune")
        XCTAssertEqual(edit.status, 0, edit.stderr)
        XCTAssertTrue(waitUntil(timeout: 20) { self.fed.field("baerum", "organisations/asker", "name") as? String == "Asker kommune" },
                      "baerum: \(fed.status("baerum"))")

        // The hub comes back and revokes baerum: asker drops its link to it.
        try fed.start("brussels")
        let revoke = fed.cli(["hub", "revoke", "baerum", "--data-dir", fed.dataDir("brussels")])
        XCTAssertEqual(revoke.status, 0, revoke.stderr)
        XCTAssertTrue(waitUntil(timeout: 20) { self.peerLink("asker")["awaiting_roster"] as? Bool == true }, "\(peerLink("asker"))")
        XCTAssertTrue(fed.logEvents("asker").contains {
            ($0["msg"] ?? "").hasPrefix("fallback peer not connected") && $0["peer.id"] == "baerum"
        }, fed.log("asker"))
    }

    func testInitRefusesAPeerThatIsNeitherAnEndpointNorANodeID() throws {
        try fed.initNode("brussels", hub: true, organisation: "oslo-region-european-office")
        let r = fed.cli(["init", fed.root + "/asker", "--id", "asker", "--organisation", "asker", "--listen", "tcp://127.0.0.1:7999",
                         "--hub-endpoint", fed.endpoint("brussels"), "--hub-key=\(fed.curveKeys["brussels"] ?? "")",
                         "--hub-signing-key=brussels:\(fed.signingKeys["brussels"] ?? "")", "--peer", "Baerum.example:7400"])
        XCTAssertNotEqual(r.status, 0)
        XCTAssertTrue(r.stderr.contains("neither an endpoint") && r.stderr.contains("nor a node id"), r.stderr)
        XCTAssertFalse(FileManager.default.fileExists(atPath: fed.root + "/asker/membersync.toml"))
    }
}
