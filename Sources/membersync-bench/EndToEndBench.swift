import Foundation
import MemberSyncCrypto
import MemberSyncHarness
import MemberSyncModel
import MemberSyncWire

/// End to end: real `membersyncd` processes on 127.0.0.1 — a hub and two members. The bench
/// writes single-field edits at member `asker` through its control socket (`set-many`, one
/// transaction per batch), and measures until member `baerum` reports, via its control
/// socket, a version vector covering all of them (durably applied there: the version is
/// raised only after the commit). Secure (the headline) and insecure, each on a federation of
/// its own with the same edits, each after raw PUB/SUB at its own op size (signed or not) as
/// its baseline. The edits are the writer's own records (`Workload.ownedStream`), claimed
/// before the clock starts, so the write rules accept every one; any refusal fails the run.
struct EndToEndBench {
    let ops: Int
    let batch: Int
    let workDir: String
    let binDir: String

    /// One run: `ops` edits at asker, timed until baerum holds all of them.
    func measure(_ security: Security, _ workload: Workload, _ edits: [AbstractOp]) throws -> [String: Any] {
        let cluster = try ProcessCluster.hubWithTwoMembers(root: workDir + "/e2e-\(security)", binDir: binDir, security: security)
        defer { cluster.shutdown() }
        let writer = try cluster.replicaID("asker")
        let claimed = try cluster.writeBatches("asker", workload.claims(), batch: batch)
        guard cluster.waitHolds("baerum", origin: writer, counter: claimed, timeout: 600, interval: 0.01) else {
            throw BenchFailure("baerum did not receive the claims")
        }

        progress("e2e (\(security)): \(ops) edits at asker, in batches of \(batch), until baerum holds them")
        let nodes = ["brussels", "asker", "baerum"]
        let cpu0 = cluster.cpuSeconds(nodes)
        let each0 = nodes.map { cluster.cpuSeconds([$0]) }
        let t0 = now()
        let last = try cluster.writeBatches("asker", edits, batch: batch)
        let writeDone = now() - t0
        guard last == claimed + UInt64(edits.count) else { throw BenchFailure("asker stored \(last - claimed) of \(edits.count) ops") }
        let ok = cluster.waitHolds("baerum", origin: writer, counter: last, timeout: 600, interval: 0.005)
        let seconds = now() - t0
        let cpu = cluster.cpuSeconds(nodes) - cpu0
        // Which hop costs what: the writer, the hub (verify, judge, store, relay), the receiver.
        let each = zip(nodes, each0).map { ($0.0, cluster.cpuSeconds([$0.0]) - $0.1) }
        guard ok else { throw BenchFailure("baerum did not receive all \(ops) ops") }
        try cluster.checkNothingRefused(["brussels", "baerum"])
        return ["seconds": seconds, "writer_commit_seconds": writeDone, "ops_per_second": Double(ops) / seconds,
                "daemons_cpu_seconds": cpu, "ops_per_daemon_cpu_second": Double(ops) / cpu,
                "cpu_seconds_by_node": Dictionary(uniqueKeysWithValues: each),
                "writer_ops_per_second": Double(ops) / writeDone,
                "hub_peak_rss_bytes": cluster.pid("brussels").flatMap(ProcessUsage.memory(pid:))?.peak ?? 0,
                "member_peak_rss_bytes": cluster.pid("baerum").flatMap(ProcessUsage.memory(pid:))?.peak ?? 0]
    }

    func run(_ report: Report) throws {
        let workload = Workload(records: max(1000, ops / 20), writer: "asker", seed: 21)
        let edits = workload.ownedStream(ops: ops, seed: 23)
        // The size of the live `op` envelopes these edits become, unsigned (insecure) and
        // signed (secure): each run's raw PUB/SUB baseline is measured at its own size.
        func meanSize(_ keys: [SigningKeyPair]?) -> Int {
            var builder = OpBuilder(keys: keys)
            let sample = edits.prefix(2000).map { WireCodec.encode(.op(builder.build($0)))[1].count }
            return sample.reduce(0, +) / max(1, sample.count)
        }
        let opBytes = meanSize(nil), signedBytes = meanSize(try OpBuilder.signingKeys())

        var runs: [Security: [String: Any]] = [:]
        var raw: [Security: TransportBench.Result] = [:]
        for security in Security.headlineFirst {
            let size = security == .secure ? signedBytes : opBytes
            progress("e2e: raw PUB/SUB baseline, \(size) B")
            raw[security] = try TransportBench.pubSub(size: size, messages: max(ops, 50_000))
            runs[security] = try measure(security, workload, edits)
        }
        func value(_ s: Security, _ key: String) -> Double { Double(truncating: runs[s]?[key] as? NSNumber ?? 0) }
        var details: [String: Any] = ["ops": ops, "batch": batch, "op_envelope_bytes": opBytes, "signed_op_envelope_bytes": signedBytes]
        for s in Security.headlineFirst {
            var d = runs[s]!
            d["raw_pubsub_msgs_per_second"] = raw[s]!.rate
            d["raw_pubsub_messages"] = raw[s]!.messages
            details[s.rawValue] = d
        }
        report.details["e2e"] = details
        var row = ResultRow(benchmark: "End to end", metric: "member -> hub -> member, durable, \(signedBytes) B signed ops (\(opBytes) B insecure), batches of \(batch)",
                            value: value(.secure, "ops_per_second"), unit: "ops/s", baselineName: "raw PUB/SUB at the op size",
                            baselineValue: raw[.secure]!.rate, ratioLabel: "of raw", target: ">= 50k ops/s; >= 0.30 of raw PUB/SUB")
        row.met = row.value >= 50_000 && (row.ratio ?? 0) >= 0.30
        report.addPair(row, insecure: value(.insecure, "ops_per_second"), insecureBaseline: raw[.insecure]!.rate)
        report.addPair(ResultRow(benchmark: "End to end", metric: "ops per CPU-second of the three daemons together (user + system)",
                                 value: value(.secure, "ops_per_daemon_cpu_second"), unit: "ops/s"),
                       insecure: value(.insecure, "ops_per_daemon_cpu_second"))
        report.addPair(ResultRow(benchmark: "End to end", metric: "writer side: set-many commits at asker", value: value(.secure, "writer_ops_per_second"), unit: "ops/s"),
                       insecure: value(.insecure, "writer_ops_per_second"))
        for (name, key) in [("hub", "hub_peak_rss_bytes"), ("receiving member", "member_peak_rss_bytes")] {
            report.addPair(ResultRow(benchmark: "Memory", metric: "peak RSS (VmHWM), \(name) after the end-to-end run", value: value(.secure, key), unit: "bytes"),
                           insecure: value(.insecure, key))
        }
    }
}
