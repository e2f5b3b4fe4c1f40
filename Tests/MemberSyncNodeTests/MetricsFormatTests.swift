import Foundation
import MemberSyncNode
import XCTest

final class MetricsFormatTests: XCTestCase {
    func testHistogramCountsAreCumulativeWithInfBucket() {
        var h = Histogram(bounds: [0.01, 0.1, 1])
        for v in [0.005, 0.01, 0.05, 0.5, 5, -1] { h.observe(v) }
        XCTAssertEqual(h.cumulative, [3, 4, 5, 6], "-1 counts as 0; 0.01 falls in le=0.01; 5 only in +Inf")
        XCTAssertEqual(h.count, 6)
        XCTAssertEqual(h.sum, 0.005 + 0.01 + 0.05 + 0.5 + 5, accuracy: 1e-9)
    }

    func testExpositionIsWellFormed() {
        var p = PrometheusText()
        p.counter("membersync_ops_rejected_total", "Rejected ops, by reason.", 3, labels: [("reason", "schema")])
        p.counter("membersync_ops_rejected_total", "Rejected ops, by reason.", 0, labels: [("reason", "malformed")])
        p.gauge("membersync_peer_ops_behind", "Behind.", 7, labels: [("peer", "we\"ird\\node\nid")])
        p.gauge("membersync_store_bytes", "Bytes.", 1.5e6)
        var h = Histogram(bounds: [0.001, 0.5])
        h.observe(0.0002)
        p.histogram("membersync_local_write_commit_seconds", "Commit time.", h)
        let lines = p.text.split(separator: "\n", omittingEmptySubsequences: false)
        XCTAssertEqual(lines.last, "", "ends with a newline")
        XCTAssertEqual(lines.filter { $0.hasPrefix("# TYPE membersync_ops_rejected_total") }.count, 1, "HELP/TYPE once per family")
        XCTAssertTrue(p.text.contains("membersync_peer_ops_behind{peer=\"we\\\"ird\\\\node\\nid\"} 7\n"), p.text)
        XCTAssertTrue(p.text.contains("membersync_store_bytes 1500000\n"))
        XCTAssertTrue(p.text.contains("membersync_local_write_commit_seconds_bucket{le=\"0.001\"} 1\n"))
        XCTAssertTrue(p.text.contains("membersync_local_write_commit_seconds_bucket{le=\"+Inf\"} 1\n"))
        XCTAssertTrue(p.text.contains("membersync_local_write_commit_seconds_count 1\n"))
        let sample = try! NSRegularExpression(pattern: #"^[a-zA-Z_:][a-zA-Z0-9_:]*(\{([a-zA-Z_][a-zA-Z0-9_]*="([^"\\\n]|\\.)*",?)*\})? (-?[0-9.e+]+|[+-]Inf|NaN)$"#)
        for line in lines.dropLast() where !line.hasPrefix("#") {
            let s = String(line)
            XCTAssertNotNil(sample.firstMatch(in: s, range: NSRange(s.startIndex..., in: s)), "not a valid sample line: \(s)")
        }
    }
}
