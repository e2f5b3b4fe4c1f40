import CoreMetrics
import Foundation
import Logging
import MemberSyncConfig
import MemberSyncControl
@testable import MemberSyncEngine
import MemberSyncHarness
import MemberSyncWire
@testable import MemberSyncNode
import XCTest

/// The exposition as swift-prometheus writes it from what the node records through
/// swift-metrics: HELP and TYPE from `MetricFamilies`, the node's buckets, escaped labels.
final class MetricsFormatTests: XCTestCase {
    /// The value of one sample line (`name{labels} value`), nil when absent.
    func sample(_ text: String, _ series: String) -> Double? {
        for line in text.split(separator: "\n") where line.hasPrefix(series + " ") {
            return Double(line.dropFirst(series.count + 1))
        }
        return nil
    }

    func testHistogramCountsAreCumulativeWithInfBucket() {
        let telemetry = NodeTelemetry()
        let h = SecondsHistogram("membersync_local_write_commit_seconds", factory: telemetry.factory)
        for v in [0.005, 0.01, 0.05, 0.5, 5, -1] { h.observe(v) }
        let text = telemetry.exposition()
        let name = "membersync_local_write_commit_seconds"
        XCTAssertEqual([0.01, 0.1, 1].map { sample(text, "\(name)_bucket{le=\"\($0)\"}") }, [3, 4, 5],
                       "-1 counts as 0; 0.01 falls in le=0.01; 5 only in +Inf: \(text)")
        XCTAssertEqual(sample(text, "\(name)_bucket{le=\"+Inf\"}"), 6)
        XCTAssertEqual(sample(text, "\(name)_count"), 6)
        XCTAssertEqual(sample(text, "\(name)_sum") ?? 0, 0.005 + 0.01 + 0.05 + 0.5 + 5, accuracy: 1e-9)
        XCTAssertEqual(text.components(separatedBy: "\(name)_bucket{").count - 1, MetricFamilies.commitBounds.count + 1,
                       "the node's buckets, not swift-prometheus' defaults")
    }

    func testExpositionIsWellFormed() {
        let telemetry = NodeTelemetry()
        let factory = telemetry.factory
        CoreMetrics.Counter(label: "membersync_ops_rejected_total", dimensions: [("reason", "schema")], factory: factory).increment(by: 3)
        CoreMetrics.Counter(label: "membersync_ops_rejected_total", dimensions: [("reason", "malformed")], factory: factory).increment(by: 0)
        CoreMetrics.Gauge(label: "membersync_peer_ops_behind", dimensions: [("peer", "we\"ird\\node\nid")], factory: factory).record(7)
        CoreMetrics.Gauge(label: "membersync_store_bytes", factory: factory).record(1.5e6)
        SecondsHistogram("membersync_op_apply_delay_seconds", factory: factory).observe(0.0002)
        let text = telemetry.exposition()
        let lines = text.split(separator: "\n", omittingEmptySubsequences: false)
        XCTAssertEqual(lines.last, "", "ends with a newline")
        XCTAssertEqual(lines.filter { $0.hasPrefix("# TYPE membersync_ops_rejected_total") }.count, 1, "HELP/TYPE once per family")
        XCTAssertTrue(text.contains("# HELP membersync_ops_rejected_total Remote ops (or snapshot pages) refused by validation, by reason.\n"), text)
        XCTAssertTrue(text.contains("# TYPE membersync_op_apply_delay_seconds histogram\n"), text)
        XCTAssertTrue(text.contains("membersync_ops_rejected_total{reason=\"schema\"} 3\n"), text)
        XCTAssertTrue(text.contains("membersync_peer_ops_behind{peer=\"we\\\"ird\\\\node\\nid\"} 7"), text)
        XCTAssertEqual(sample(text, "membersync_store_bytes"), 1_500_000)
        XCTAssertEqual(sample(text, "membersync_op_apply_delay_seconds_bucket{le=\"0.001\"}"), 1)
        XCTAssertEqual(sample(text, "membersync_op_apply_delay_seconds_bucket{le=\"+Inf\"}"), 1)
        XCTAssertEqual(sample(text, "membersync_op_apply_delay_seconds_count"), 1)
        let sampleLine = try! NSRegularExpression(pattern: #"^[a-zA-Z_:][a-zA-Z0-9_:]*(\{([a-zA-Z_][a-zA-Z0-9_]*="([^"\\\n]|\\.)*",?)*\})? (-?[0-9.e+]+|[+-]Inf|NaN)$"#)
        for line in lines.dropLast() where !line.hasPrefix("#") {
            let s = String(line)
            XCTAssertNotNil(sampleLine.firstMatch(in: s, range: NSRange(s.startIndex..., in: s)), "not a valid sample line: \(s)")
        }
    }

    /// A node exports every family it exports today (each with its HELP and TYPE) from its
    /// start, and what a local write changes is in the exposition once the write is answered.
    func testANodeExportsEveryFamilyAndPublishesItsWrites() throws {
        let dir = NSTemporaryDirectory() + "metrics-\(UUID().uuidString.prefix(8))"
        defer { try? FileManager.default.removeItem(atPath: dir) }
        var config = NodeConfig(nodeID: "asker", organisation: "asker", role: .member, dataDir: dir,
                                listen: "tcp://127.0.0.1:\(LoopbackPorts.freePair())")
        config.insecure = true
        let telemetry = NodeTelemetry()
        let node = try Node(config: config, logger: Logger(label: "test"), telemetry: telemetry)
        let text = telemetry.exposition()
        // Those two appear with their first event (a peer known, an HTTP answer).
        let later: Set = ["membersync_peer_ops_behind", "membersync_peer_last_seen_age_seconds", "membersync_http_responses_total"]
        for (name, family) in MetricFamilies.all where !later.contains(name) {
            let type: String
            switch family.kind {
            case .counter: type = "counter"
            case .gauge: type = "gauge"
            case .histogram: type = "histogram"
            }
            XCTAssertTrue(text.contains("# HELP \(name) \(family.help)\n"), "HELP of \(name)")
            XCTAssertTrue(text.contains("# TYPE \(name) \(type)\n"), "TYPE of \(name)")
        }
        XCTAssertEqual(sample(text, "membersync_build_info{version=\"\(SyncEngine.softwareVersion)\",protocol=\"\(ProtocolVersion.current)\",role=\"member\",node_id=\"asker\"}"), 1, text)
        XCTAssertEqual(sample(text, "membersync_ops_rejected_total{reason=\"snapshot\"}"), 0, "fixed reasons from the start")
        XCTAssertEqual(sample(text, "membersync_messages_dropped_total{reason=\"no_routing_id\"}"), 0)
        XCTAssertEqual(telemetry.health.word, "healthy", "a node without hubs or peers is healthy, published at once")

        _ = try node.handle(Control.SetFields(key: "contacts/kari", changes: ["name=Kari", "organisation=asker"]))
        node.publishMetrics(now: wallClockMilliseconds())
        let after = telemetry.exposition()
        XCTAssertEqual(sample(after, "membersync_local_writes_total"), 1, after)
        XCTAssertEqual(sample(after, "membersync_records"), 1)
        XCTAssertEqual(sample(after, "membersync_local_write_commit_seconds_count"), 1)
    }
}
