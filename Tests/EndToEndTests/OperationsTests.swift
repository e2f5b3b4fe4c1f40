import Foundation
import MemberSyncHarness
import XCTest

#if canImport(Glibc)
import Glibc
#endif

/// What an operator relies on, checked against real daemons: the metrics endpoint, the
/// status exit codes and the structured logs.
final class OperationsTests: FederationTestCase {
    /// Turns on the HTTP listener in a node's config (as an operator would edit it).
    func enableMetrics(_ node: String) throws -> Int {
        let port = fed.freePortPair()
        let path = fed.dataDir(node) + "/membersync.toml"
        let text = try String(contentsOfFile: path, encoding: .utf8) + "metrics_listen = \"127.0.0.1:\(port)\"\n"
        try text.write(toFile: path, atomically: true, encoding: .utf8)
        return port
    }

    func testMetricsEndpointTracksEditsAndHealth() throws {
        try fed.initNode("brussels", hub: true)
        try fed.initNode("asker", hubs: ["brussels"])
        let hubPort = try enableMetrics("brussels"), memberPort = try enableMetrics("asker")
        try fed.start("brussels")
        fed.admit("asker")
        try fed.start("asker")
        XCTAssertTrue(waitUntil(timeout: 10) { metric(httpGet(memberPort).body, "membersync_links_up", ["kind": "hub"]) == 1 },
                      "the member reports its hub link up")
        XCTAssertTrue(waitUntil(timeout: 10) { metric(httpGet(hubPort).body, "membersync_clients_connected") == 1 })

        let before = httpGet(hubPort)
        XCTAssertEqual(before.status, 200)
        XCTAssertTrue(before.head.contains("text/plain; version=0.0.4"), before.head)
        let appliedBefore = metric(before.body, "membersync_ops_applied_total") ?? -1
        // asker's own contacts (its rights); every node also holds asker's roster entry.
        for i in 0..<3 {
            XCTAssertEqual(fed.on("asker", "set", "contacts/contact-\(i)", "name=Contact \(i)", "organisation=asker").status, 0)
        }
        XCTAssertEqual(fed.on("asker", "delete", "contacts/contact-2").status, 0)
        XCTAssertTrue(waitUntil(timeout: 10) { metric(httpGet(hubPort).body, "membersync_ops_applied_total") == appliedBefore + 4 },
                      "the hub counts the ops it applied")

        XCTAssertTrue(waitUntil(timeout: 5) { metric(httpGet(memberPort).body, "membersync_records") == 3 }, "the member's record gauge")
        let member = httpGet(memberPort).body
        XCTAssertEqual(metric(member, "membersync_local_writes_total"), 4)
        XCTAssertEqual(metric(member, "membersync_local_write_commit_seconds_count"), 4)
        XCTAssertEqual(metric(member, "membersync_local_write_commit_seconds_bucket", ["le": "+Inf"]), 4)
        XCTAssertEqual(metric(member, "membersync_records"), 3)
        XCTAssertEqual(metric(member, "membersync_conflicts_open"), 0)
        XCTAssertEqual(metric(member, "membersync_ops_rejected_total", ["reason": "schema"]), 0)
        XCTAssertEqual(metric(member, "membersync_messages_dropped_total", ["reason": "malformed"]), 0)
        XCTAssertGreaterThan(metric(member, "membersync_store_bytes") ?? 0, 0)
        XCTAssertEqual(metric(member, "membersync_healthy"), 1)
        XCTAssertTrue(waitUntil(timeout: 10) { metric(httpGet(memberPort).body, "membersync_pending_ops") == 0 }, "the hub acked")

        // Gauges are published every 250 ms (counters at once): the delete shows within that.
        XCTAssertTrue(waitUntil(timeout: 5) { metric(httpGet(hubPort).body, "membersync_records") == 3 }, "the hub's record gauge")
        let hub = httpGet(hubPort).body
        XCTAssertEqual(metric(hub, "membersync_op_apply_delay_seconds_count"), 4, "one delay observation per applied op")
        XCTAssertTrue(waitUntil(timeout: 10) { metric(httpGet(hubPort).body, "membersync_peer_ops_behind", ["peer": "asker"]) == 0 })
        XCTAssertEqual(metric(hub, "membersync_build_info", ["role": "hub", "node_id": "brussels"]), 1)

        // Health and routing.
        XCTAssertEqual(httpGet(memberPort, "/health").status, 200)
        XCTAssertEqual(httpGet(memberPort, "/nothing-here").status, 404)
        XCTAssertEqual(httpGet(memberPort, "/metrics", raw: "DELETE /metrics HTTP/1.1\r\n\r\n").status, 405)
        // Junk and a stalled client do not hurt the node.
        XCTAssertEqual(httpGet(memberPort, "/", raw: "\u{16}\u{3}\u{1}\u{2}\u{0}\u{1}\r\n\r\n").status, 400, "a TLS hello")
        let staller = connectLoopback(memberPort)
        defer { close(staller) }
        XCTAssertEqual(fed.on("asker", "set", "contacts/contact-3", "name=Contact 3", "organisation=asker").status, 0, "the node still serves its CLI")
        XCTAssertEqual(metric(httpGet(memberPort).body, "membersync_local_writes_total"), 5)

        fed.stop("brussels")
        XCTAssertTrue(waitUntil(timeout: 10) { httpGet(memberPort, "/health").status == 503 }, "no hub: degraded")
        let degraded = httpGet(memberPort)
        XCTAssertEqual(metric(degraded.body, "membersync_healthy"), 0)
        XCTAssertEqual(metric(degraded.body, "membersync_links_up", ["kind": "hub"]), 0)
        XCTAssertTrue(httpGet(memberPort, "/health").body.contains("no hub"))
    }

    func testStatusExitCodes() throws {
        // 2: nothing runs for this data directory.
        let none = fed.cli(["status", "--data-dir", fed.root + "/nobody"])
        XCTAssertEqual(none.status, 2, none.stderr)
        XCTAssertTrue(none.stderr.contains("no node is running"), none.stderr)

        try fed.startHubAndAdmitted(["asker"])
        // 0: running and synced through the hub; a lone hub is healthy too.
        XCTAssertTrue(waitUntil(timeout: 10) { self.fed.on("asker", "status").status == 0 }, "member healthy")
        let healthy = fed.on("asker", "status")
        XCTAssertTrue(healthy.stdout.contains("health") && healthy.stdout.contains("healthy"), healthy.stdout)
        XCTAssertEqual(fed.on("brussels", "status").status, 0)

        // 1: running, but the hub is gone.
        fed.stop("brussels")
        XCTAssertTrue(waitUntil(timeout: 10) { self.fed.on("asker", "status").status == 1 }, "member degraded without its hub")
        let degraded = fed.on("asker", "status", "--json")
        XCTAssertEqual(degraded.status, 1, "--json keeps the exit status")
        let json = degraded.json as? [String: Any] ?? [:]
        XCTAssertEqual(json["health"] as? String, "degraded")
        XCTAssertEqual((json["health_reasons"] as? [String])?.count, 1)

        // 2: the node was killed and left its control socket behind.
        fed.killHard("asker")
        let gone = fed.on("asker", "status")
        XCTAssertEqual(gone.status, 2, gone.stderr)
    }

    func testLogsAreLogfmtLinesWithMetadata() throws {
        try fed.initNode("brussels", hub: true)
        try fed.initNode("backup", hub: true)
        try fed.initNode("asker", hubs: ["brussels", "backup"])
        try fed.start("brussels")
        try fed.start("backup")
        for hub in ["brussels", "backup"] { fed.admit("asker", on: hub) }
        try fed.start("asker")
        XCTAssertTrue(waitUntil(timeout: 10) { self.fed.status("asker")["active_hub"] as? String == self.fed.endpoint("brussels") })
        fed.stop("brussels")
        XCTAssertTrue(waitUntil(timeout: 10) { self.fed.status("asker")["active_hub"] as? String == self.fed.endpoint("backup") })
        fed.stop("asker")

        let lines = fed.log("asker").split(separator: "\n").map(String.init)
        XCTAssertFalse(lines.isEmpty)
        var events: [[String: String]] = []
        for line in lines {
            guard let fields = parseLogfmt(line) else { XCTFail("not a logfmt line: \(line)"); continue }
            XCTAssertNotNil(fields["ts"], line)
            XCTAssertTrue(["trace", "debug", "info", "notice", "warning", "error", "critical"].contains(fields["level"] ?? ""), line)
            XCTAssertEqual(fields["node.id"], "asker", line)
            events.append(fields)
        }
        func has(_ msg: String, _ expected: [String: String]) -> Bool {
            events.contains { e in e["msg"] == msg && expected.allSatisfy { e[$0.key] == $0.value } }
        }
        XCTAssertTrue(has("node started", ["role": "member"]), lines.joined(separator: "\n"))
        XCTAssertTrue(has("link up", ["peer.id": "brussels", "link.kind": "hub", "link": "hub[0]"]), lines.joined(separator: "\n"))
        XCTAssertTrue(has("link up", ["peer.id": "backup", "link": "hub[1]"]))
        XCTAssertTrue(has("hub active", [:]))
        XCTAssertTrue(has("link down", ["peer.id": "brussels", "level": "warning"]))
        XCTAssertTrue(has("hub failover", ["peer.id": "backup", "from.peer.id": "brussels", "level": "warning"]),
                      lines.joined(separator: "\n"))
        XCTAssertTrue(has("stopped cleanly", [:]))

        let hubEvents = fed.log("brussels").split(separator: "\n").compactMap { parseLogfmt(String($0)) }
        XCTAssertTrue(hubEvents.contains { $0["msg"] == "node connected" && $0["peer.id"] == "asker" && $0["peer.role"] == "member" })
    }
}

// MARK: helpers

/// Parses one logfmt line (`key=value` or `key="quoted \" value"` pairs); nil if malformed.
func parseLogfmt(_ line: String) -> [String: String]? {
    var out: [String: String] = [:]
    var s = Substring(line)
    while !s.isEmpty {
        guard let eq = s.firstIndex(of: "="), eq > s.startIndex else { return nil }
        let key = String(s[..<eq])
        guard !key.contains(" "), !key.contains("\"") else { return nil }
        s = s[s.index(after: eq)...]
        var value = ""
        if s.first == "\"" {
            s = s.dropFirst()
            var closed = false
            while let c = s.first {
                s = s.dropFirst()
                if c == "\\" {
                    guard let e = s.first else { return nil }
                    s = s.dropFirst()
                    switch e {
                    case "n": value.append("\n")
                    case "t": value.append("\t")
                    case "r": value.append("\r")
                    default: value.append(e)
                    }
                } else if c == "\"" {
                    closed = true
                    break
                } else {
                    value.append(c)
                }
            }
            guard closed else { return nil }
        } else {
            let end = s.firstIndex(of: " ") ?? s.endIndex
            value = String(s[..<end])
            guard !value.contains("\""), !value.contains("=") else { return nil }
            s = s[end...]
        }
        out[key] = value
        if s.first == " " { s = s.dropFirst() } else if !s.isEmpty { return nil }
    }
    return out.isEmpty ? nil : out
}

/// The value of one sample in a Prometheus exposition, matching all given labels.
fileprivate func metric(_ text: String, _ name: String, _ labels: [String: String] = [:]) -> Double? {
    for line in text.split(separator: "\n") where !line.hasPrefix("#") {
        guard let space = line.lastIndex(of: " ") else { continue }
        let series = line[..<space]
        let base = series.split(separator: "{", maxSplits: 1).first.map(String.init) ?? ""
        guard base == name else { continue }
        if labels.allSatisfy({ series.contains("\($0.key)=\"\($0.value)\"") }) {
            let v = line[line.index(after: space)...]
            return v == "+Inf" ? .infinity : Double(v)
        }
    }
    return nil
}

fileprivate struct HTTPAnswer {
    var status = 0
    var head = ""
    var body = ""
}

/// One HTTP/1.1 exchange with 127.0.0.1:port (raw socket, 5 s timeout).
fileprivate func httpGet(_ port: Int, _ path: String = "/metrics", raw: String? = nil) -> HTTPAnswer {
    let fd = connectLoopback(port)
    guard fd >= 0 else { return HTTPAnswer() }
    defer { close(fd) }
    let request = raw ?? "GET \(path) HTTP/1.1\r\nHost: 127.0.0.1\r\nAccept: text/plain\r\n\r\n"
    _ = Array(request.utf8).withUnsafeBytes { send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
    let text = LoopbackPorts.readToEnd(fd)
    guard let split = text.range(of: "\r\n\r\n") else { return HTTPAnswer() }
    let head = String(text[..<split.lowerBound])
    let status = head.split(separator: " ").dropFirst().first.flatMap { Int($0) } ?? 0
    return HTTPAnswer(status: status, head: head, body: String(text[split.upperBound...]))
}

fileprivate func connectLoopback(_ port: Int) -> Int32 { LoopbackPorts.connect(port, timeoutSeconds: 5) }
