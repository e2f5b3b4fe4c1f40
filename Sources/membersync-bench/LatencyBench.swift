import Foundation
import Logging
import MemberSyncModel
import MemberSyncNode
import ZeroMQ

#if canImport(Glibc)
import Glibc
#endif

/// Latency: three real nodes (hub, asker, baerum) run in this process, each on its own
/// thread with its own reactor, real tcp sockets on 127.0.0.1 and its own SQLite store
/// (WAL, synchronous=FULL). The bench sends `set` requests to asker's control socket at a
/// steady rate, exactly as the CLI does, and timestamps each when baerum's reactor has
/// durably committed that op (an in-process commit hook): edit to visible-and-durable at the
/// other member, through the hub. In-process because polling another process's control
/// socket would be coarser than what is measured.
struct LatencyBench {
    let edits: Int
    let rate: Double
    let baseDir: String
    let label: String

    final class NodeThread: @unchecked Sendable {
        // The node lives on its own thread; other threads only touch `stop` and `commits`.
        let stop = Shared(false)
        let started = Shared<String?>(nil)
        let commits = Shared<[UInt64: Double]>([:])
        let watchOrigin = Shared<String?>(nil)

        func start(_ config: NodeConfig) {
            let thread = Thread { [self] in
                var logger = Logger(label: "bench.\(config.nodeID)")
                logger.logLevel = .error
                do {
                    let node = try Node(config: config, logger: logger)
                    node.onCommit = { ops in
                        guard let origin = self.watchOrigin.get() else { return }
                        let t = now()
                        self.commits.update { c in
                            for op in ops where op.origin.description == origin { c[op.counter] = t }
                        }
                    }
                    self.started.set("ok")
                    node.run { self.stop.get() }
                } catch {
                    self.started.set("error: \(error)")
                }
            }
            thread.stackSize = 8 << 20
            thread.start()
        }
    }

    func run(_ report: Report) throws {
        let root = baseDir + "/latency-\(label)"
        try? FileManager.default.removeItem(atPath: root)
        try FileManager.default.createDirectory(atPath: root, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: root) }
        let hubPort = ProcessCluster.freePortPair()
        var p2 = ProcessCluster.freePortPair()
        while abs(p2 - hubPort) < 2 { p2 = ProcessCluster.freePortPair() }
        var p3 = ProcessCluster.freePortPair()
        while abs(p3 - hubPort) < 2 || abs(p3 - p2) < 2 { p3 = ProcessCluster.freePortPair() }
        let hubEndpoint = "tcp://127.0.0.1:\(hubPort)"
        func config(_ name: String, _ port: Int, hub: Bool) -> NodeConfig {
            var c = NodeConfig(nodeID: name, organisation: name, role: hub ? .hub : .member, dataDir: root + "/" + name,
                               listen: "tcp://127.0.0.1:\(port)", hubEndpoints: hub ? [] : [hubEndpoint], heartbeatMilliseconds: 200)
            c.insecure = true  // replication latency only; see Benchmarks/README.md
            return c
        }
        let nodes = [NodeThread(), NodeThread(), NodeThread()]
        let configs = [config("brussels", hubPort, hub: true), config("asker", p2, hub: false), config("baerum", p3, hub: false)]
        for (n, c) in zip(nodes, configs) { n.start(c) }
        defer {
            for n in nodes { n.stop.set(true) }
            sleepSeconds(0.3)
        }
        guard waitFor(timeout: 20, { nodes.allSatisfy { $0.started.get() != nil } }),
              nodes.allSatisfy({ $0.started.get() == "ok" }) else {
            throw BenchFailure("nodes did not start: \(nodes.map { $0.started.get() ?? "?" })")
        }
        let context = try ZMQContext()
        func client(_ name: String) throws -> ZMQSocket {
            let s = try ZMQSocket(context, .req)
            try s.setLinger(milliseconds: 0)
            try s.setReceiveTimeout(milliseconds: 10_000)
            try s.connect("ipc://" + Node.controlSocketPath(dataDir: root + "/" + name))
            return s
        }
        func call(_ s: ZMQSocket, _ request: [String: Any]) throws -> [String: Any] {
            try s.send([JSONView.encode(request)])
            guard let frames = try s.receive() else { throw BenchFailure("control request timed out") }
            let reply = try JSONView.decodeObject(frames.last ?? [])
            guard reply["ok"] as? Bool == true else { throw BenchFailure("\(reply["error"] ?? "refused")") }
            return reply["result"] as? [String: Any] ?? [:]
        }
        let asker = try client("asker"), baerum = try client("baerum")
        guard waitFor(timeout: 20, interval: 0.05, {
            ((try? call(asker, ["command": "status"]))?["mode"] as? String) == "via-hub"
                && ((try? call(baerum, ["command": "status"]))?["mode"] as? String) == "via-hub"
        }) else { throw BenchFailure("members did not link to the hub") }
        let origin = try call(asker, ["command": "version"])["replica"] as? String ?? ""
        nodes[2].watchOrigin.set(origin)

        let workload = Workload(records: 2_000, seed: 31)
        let stream = workload.stream(ops: edits + 50, seed: 37)
        var sent: [UInt64: Double] = [:]
        var localCommit: [Double] = []
        progress("latency (\(label)): \(edits) edits at \(Int(rate))/s")
        let t0 = now()
        for (i, e) in stream.enumerated() {
            let due = t0 + Double(i) / rate
            let wait = due - now()
            if wait > 0 { sleepSeconds(wait) }
            let ts = now()
            let r = try call(asker, ["command": "set", "key": e.key.description, "changes": [e.cliChange]])
            let counter = (r["counter"] as? NSNumber)?.uint64Value ?? 0
            if i >= 50 {  // the first 50 warm up
                sent[counter] = ts
                localCommit.append(now() - ts)
            }
        }
        let lastCounter = sent.keys.max() ?? 0
        _ = waitFor(timeout: 30, interval: 0.01) { nodes[2].commits.get()[lastCounter] != nil }
        let commits = nodes[2].commits.get()
        var latencies: [Double] = []
        for (c, ts) in sent { if let t = commits[c] { latencies.append((t - ts) * 1000) } }
        latencies.sort()
        localCommit = localCommit.map { $0 * 1000 }.sorted()
        let missing = sent.count - latencies.count
        let achieved = Double(edits) / (now() - t0)
        let p50 = percentile(latencies, 50), p99 = percentile(latencies, 99), mx = latencies.last ?? .nan
        var details = report.details["latency"] as? [String: Any] ?? [:]
        details[label] = ["edits": edits, "rate_per_second": rate, "achieved_rate": achieved, "missing": missing,
                          "p50_ms": p50, "p90_ms": percentile(latencies, 90), "p99_ms": p99, "max_ms": mx,
                          "writer_commit_p50_ms": percentile(localCommit, 50), "writer_commit_p99_ms": percentile(localCommit, 99),
                          "data_dir": baseDir]
        report.details["latency"] = details
        let note = "stores on \(label)" + (missing > 0 ? ", \(missing) not seen" : "")
        report.add(ResultRow(benchmark: "Latency", metric: "edit -> durable at other member, p50", value: p50, unit: "ms", note: note))
        var row99 = ResultRow(benchmark: "Latency", metric: "edit -> durable at other member, p99", value: p99, unit: "ms",
                              target: "< 5 ms", note: note)
        row99.met = p99 < 5
        report.add(row99)
        report.add(ResultRow(benchmark: "Latency", metric: "edit -> durable at other member, max", value: mx, unit: "ms", note: note))
        report.add(ResultRow(benchmark: "Latency", metric: "writer's own durable commit (control reply), p99", value: percentile(localCommit, 99), unit: "ms", note: note))
    }
}
