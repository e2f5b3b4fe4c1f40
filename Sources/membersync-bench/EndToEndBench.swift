import Foundation
import MemberSyncModel
import MemberSyncWire

/// End to end: real `membersyncd` processes on 127.0.0.1 — a hub and two members. The bench
/// writes single-field edits at member `asker` through its control socket (`set-many`, one
/// transaction per batch), and measures until member `baerum` reports, via its control
/// socket, a version vector covering all of them (durably applied there: the version is
/// raised only after the commit). Raw PUB/SUB at the same message size runs in the same
/// section, just before, as the baseline.
struct EndToEndBench {
    let ops: Int
    let batch: Int
    let workDir: String
    let binDir: String

    func run(_ report: Report) throws {
        let workload = Workload(records: max(1000, ops / 20), seed: 21)
        let edits = workload.stream(ops: ops, seed: 23)
        // The size of the live `op` envelopes these edits become.
        var builder = OpBuilder()
        let sample = edits.prefix(2000).map { WireCodec.encode(.op(builder.build($0)))[1].count }
        let opBytes = sample.reduce(0, +) / max(1, sample.count)

        progress("e2e: raw PUB/SUB baseline, \(opBytes) B")
        let raw = try TransportBench.pubSub(size: opBytes, messages: max(ops, 50_000))

        let cluster = try ProcessCluster.hubWithTwoMembers(root: workDir + "/e2e", binDir: binDir)
        defer { cluster.shutdown() }
        let writer = try cluster.replicaID("asker")

        progress("e2e: \(ops) edits at asker, in batches of \(batch), until baerum holds them")
        let t0 = now()
        let last = try cluster.writeBatches("asker", edits, batch: batch)
        let writeDone = now() - t0
        let ok = cluster.waitHolds("baerum", origin: writer, counter: last, timeout: 600, interval: 0.005)
        let seconds = now() - t0
        guard ok else { throw BenchFailure("baerum did not receive all \(ops) ops") }
        let hubPeak = cluster.pid("brussels").flatMap(memoryOf(pid:))?.peak ?? 0
        let rate = Double(ops) / seconds
        report.details["e2e"] = [
            "ops": ops, "batch": batch, "op_envelope_bytes": opBytes, "seconds": seconds,
            "writer_commit_seconds": writeDone, "ops_per_second": rate,
            "raw_pubsub_msgs_per_second": raw.rate, "raw_pubsub_messages": raw.messages, "hub_peak_rss_bytes": hubPeak,
        ]
        var row = ResultRow(benchmark: "End to end", metric: "member -> hub -> member, durable, \(opBytes) B ops, batches of \(batch)",
                            value: rate, unit: "ops/s", baselineName: "raw PUB/SUB", baselineValue: raw.rate,
                            ratioLabel: "of raw", target: ">= 0.30 of raw PUB/SUB")
        row.met = (row.ratio ?? 0) >= 0.30
        report.add(row)
        report.add(ResultRow(benchmark: "End to end", metric: "writer side: set-many commits at asker", value: Double(ops) / writeDone, unit: "ops/s"))
    }
}
