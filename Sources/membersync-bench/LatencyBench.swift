import Foundation
import Logging
import MemberSyncConfig
import MemberSyncControl
import MemberSyncHarness
import MemberSyncModel
import MemberSyncNode
import MemberSyncServices
import MemberSyncStore
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
///
/// Every node starts with `preload` contact records already in its store (the same on all
/// three, written by an origin outside the federation and compacted, so nothing of them is
/// sent), so that what a node does per record shows. The edits run twice on the same nodes:
/// quiet, then while another client sends baerum a `status` request every 100 ms.
struct LatencyBench {
    let edits: Int
    let rate: Double
    let baseDir: String
    let label: String
    let security: Security
    let preload: Int
    /// How often the polling client asks baerum for its status.
    static let statusPollSeconds = 0.1

    /// A node of this process, run by the daemon's reactor service (`InProcessNode`), that
    /// notes when it commits ops of `watchOrigin`.
    final class NodeThread: @unchecked Sendable {
        // The node lives on its own thread; other threads only touch `commits` and `watchOrigin`.
        let commits = Shared<[UInt64: Double]>([:])
        let watchOrigin = Shared<String?>(nil)
        private let running = Shared<InProcessNode?>(nil)

        /// Returns once the node runs.
        func start(_ config: NodeConfig) throws {
            let node = try InProcessNode { [self] in
                var logger = Logger(label: "bench.\(config.nodeID)")
                logger.logLevel = .error
                let node = try Node(config: config, logger: logger)
                node.onCommit = { ops in
                    guard let origin = self.watchOrigin.get() else { return }
                    let t = now()
                    self.commits.update { c in
                        for op in ops where op.origin.description == origin { c[op.counter] = t }
                    }
                }
                return node
            }
            running.set(node)
        }

        func stop() { running.get()?.stop() }
    }

    /// One run; the figures in milliseconds.
    func measure() throws -> [String: Double] {
        let root = baseDir + "/latency-\(label)-\(security)"
        try? FileManager.default.removeItem(atPath: root)
        try FileManager.default.createDirectory(atPath: root, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: root) }
        let hubPort = LoopbackPorts.freePair()
        let p2 = LoopbackPorts.freePair(avoiding: [hubPort, hubPort + 1])
        let p3 = LoopbackPorts.freePair(avoiding: [hubPort, hubPort + 1, p2, p2 + 1])
        let hubEndpoint = "tcp://127.0.0.1:\(hubPort)"
        func config(_ name: String, _ port: Int, hub: Bool) throws -> NodeConfig {
            var c = NodeConfig(nodeID: name, organisation: name, role: hub ? .hub : .member, dataDir: root + "/" + name,
                               listen: "tcp://127.0.0.1:\(port)", hubEndpoints: hub ? [] : [hubEndpoint], heartbeatMilliseconds: 200)
            try security.prepare(&c, hubs: hub ? [] : [("brussels", root + "/brussels")])
            return c
        }
        let nodes = [NodeThread(), NodeThread(), NodeThread()]
        // The hub first: secure, its keys are trusted by the members and it admits them.
        let configs = [try config("brussels", hubPort, hub: true), try config("asker", p2, hub: false), try config("baerum", p3, hub: false)]
        if preload > 0 {
            progress("latency (\(label), \(security)): \(preload) records into every node's store")
            let template = root + "/preload"
            try FileManager.default.createDirectory(atPath: template, withIntermediateDirectories: true)
            _ = try SnapshotBench.fillStore(path: template + "/" + Store.fileName, node: "archive", records: preload, claimIdentity: false)
            for c in configs {
                try FileManager.default.createDirectory(atPath: c.dataDir, withIntermediateDirectories: true)
                for file in try FileManager.default.contentsOfDirectory(atPath: template) {
                    try FileManager.default.copyItem(atPath: template + "/" + file, toPath: c.dataDir + "/" + file)
                }
            }
            try FileManager.default.removeItem(atPath: template)
        }
        defer { for n in nodes { n.stop() } }
        func start(_ n: NodeThread, _ c: NodeConfig) throws {
            do { try n.start(c) } catch { throw BenchFailure("\(c.nodeID) did not start: \(error)") }
        }
        let context = try ZMQContext()
        func client(_ name: String) -> ControlClient {
            ControlClient(dataDir: root + "/" + name, timeoutMilliseconds: 10_000, context: context)
        }
        func call<C: ControlCommand>(_ c: ControlClient, _ command: C) throws -> C.Result {
            do { return try c.call(command) } catch { throw BenchFailure("\(C.name): \(error.message)") }
        }
        try start(nodes[0], configs[0])
        let hub = client("brussels")
        for c in configs.dropFirst() {
            try security.admit(c.nodeID, organisation: c.organisation, dataDir: c.dataDir, hub: hub)
        }
        for (n, c) in zip(nodes, configs).dropFirst() { try start(n, c) }
        let asker = client("asker"), baerum = client("baerum")
        guard waitUntil(timeout: 20, interval: 0.05, {
            (try? call(asker, Control.StatusQuery()))?.mode == "via-hub" && (try? call(baerum, Control.StatusQuery()))?.mode == "via-hub"
        }) else { throw BenchFailure("members did not link to the hub") }
        func holds(_ c: ControlClient, _ origin: String, _ counter: UInt64) -> Bool {
            ((try? call(c, Control.VersionQuery()))?.version[origin] ?? 0) >= counter
        }
        // The roster (the hub's ops) at both members before any edit.
        let hubVersion = try call(hub, Control.VersionQuery())
        let hubOrigin = hubVersion.replica
        let rosterCounter = hubVersion.version[hubOrigin] ?? 0
        guard waitUntil(timeout: 20, interval: 0.02, { holds(asker, hubOrigin, rosterCounter) && holds(baerum, hubOrigin, rosterCounter) }) else {
            throw BenchFailure("members did not receive the roster")
        }
        let origin = try call(asker, Control.VersionQuery()).replica

        // The records are made asker's before the clock starts (see `Workload.claims`).
        let workload = Workload(records: 2_000, writer: "asker", seed: 31)
        let claims = workload.claims()
        var claimed: UInt64 = 0
        for chunk in stride(from: 0, to: claims.count, by: 500).map({ claims[$0..<min(claims.count, $0 + 500)] }) {
            claimed = try call(asker, Control.SetMany(edits: chunk.map { .init(key: $0.key.description, changes: [$0.cliChange]) })).lastCounter
        }
        guard waitUntil(timeout: 30, interval: 0.02, { holds(baerum, origin, claimed) }) else { throw BenchFailure("baerum did not receive the claims") }
        nodes[2].watchOrigin.set(origin)
        // Each node indexes its records for search after it starts; the passes begin once all
        // have (a node's search backlog is in its status), so both see the same steady state.
        let clients = [hub, asker, baerum]
        guard waitUntil(timeout: 600, interval: 0.2, { clients.allSatisfy { (try? call($0, Control.StatusQuery()))?.searchBacklog == 0 } }) else {
            throw BenchFailure("the nodes did not finish indexing their records for search")
        }
        // The preloaded stores were copied in and the indexes built without fsync: hundreds of
        // megabytes the kernel would otherwise write back during the passes, stalling every
        // fsync behind it. Setup, not workload: written out before the clock starts.
        sync()

        /// One pass of timed edits (after 50 warm-up ones); with `poll`, another client asks
        /// baerum for its status every 100 ms throughout.
        func pass(seed: UInt64, poll: Bool) throws -> [String: Double] {
            let stream = workload.ownedStream(ops: edits + 50, seed: seed)
            var sent: [UInt64: Double] = [:]
            var localCommit: [Double] = []
            let poller = poll ? StatusPoller(dataDir: root + "/baerum", context: context, interval: Self.statusPollSeconds) : nil
            progress("latency (\(label), \(security)): \(edits) edits at \(Int(rate))/s\(poll ? ", baerum's status polled every 100 ms" : "")")
            let t0 = now()
            for (i, e) in stream.enumerated() {
                let due = t0 + Double(i) / rate
                let wait = due - now()
                if wait > 0 { sleepSeconds(wait) }
                let ts = now()
                let counter = try call(asker, Control.SetFields(key: e.key.description, changes: [e.cliChange])).counter
                if i >= 50 {  // the first 50 warm up
                    sent[counter] = ts
                    localCommit.append(now() - ts)
                }
            }
            let lastCounter = sent.keys.max() ?? 0
            _ = waitUntil(timeout: 30, interval: 0.01) { nodes[2].commits.get()[lastCounter] != nil }
            let polls = poller?.stop() ?? (times: [], failures: 0)
            let commits = nodes[2].commits.get()
            var latencies: [Double] = []
            for (c, ts) in sent { if let t = commits[c] { latencies.append((t - ts) * 1000) } }
            latencies.sort()
            localCommit = localCommit.map { $0 * 1000 }.sorted()
            let missing = sent.count - latencies.count
            let refused = Security.refusals(try call(baerum, Control.StatusQuery()))
            guard refused.count == 0 else { throw BenchFailure("baerum refused or holds back \(refused.count) ops (\(refused.text))") }
            guard missing == 0 else { throw BenchFailure("\(missing) of \(sent.count) edits never reached baerum") }
            guard polls.failures == 0 else { throw BenchFailure("\(polls.failures) status requests to baerum failed") }
            let achieved = Double(edits) / (now() - t0)
            var out = ["edits": Double(edits), "rate_per_second": rate, "achieved_rate": achieved,
                       "p50_ms": percentile(latencies, 50), "p90_ms": percentile(latencies, 90), "p99_ms": percentile(latencies, 99),
                       "max_ms": latencies.last ?? .nan,
                       "writer_commit_p50_ms": percentile(localCommit, 50), "writer_commit_p99_ms": percentile(localCommit, 99)]
            if poll {
                let times = polls.times.sorted()
                out["status_requests"] = Double(times.count)
                out["status_p50_ms"] = percentile(times, 50)
                out["status_p99_ms"] = percentile(times, 99)
                out["status_max_ms"] = times.last ?? .nan
            }
            return out
        }
        let quiet = try pass(seed: 37, poll: false)
        let polled = try pass(seed: 38, poll: true)
        var out = quiet
        out["preloaded_records"] = Double(preload)
        for (k, v) in polled { out["polled_" + k] = v }
        out["polled_to_quiet_p99"] = polled["p99_ms"]! / quiet["p99_ms"]!
        return out
    }

    /// Secure and insecure latency with the stores in `baseDir` (`label` names the
    /// filesystem), after the filesystem's own fsync latency, measured the same way.
    static func run(_ report: Report, edits: Int, rate: Double, baseDir: String, label: String, fsyncs: Int, preload: Int) throws {
        let fsync = try FsyncProbe.measure(directory: baseDir, count: fsyncs)
        var results: [Security: [String: Double]] = [:]
        for security in Security.headlineFirst {
            results[security] = try LatencyBench(edits: edits, rate: rate, baseDir: baseDir, label: label, security: security, preload: preload).measure()
        }
        var details = report.details["latency"] as? [String: Any] ?? [:]
        details[label] = ["secure": results[.secure]!, "insecure": results[.insecure]!, "fsync": fsync, "data_dir": baseDir]
        report.details["latency"] = details
        let note = "stores on \(label), \(preload) records preloaded into every node"
        report.add(ResultRow(benchmark: "Latency", metric: "the disk itself: 4 KiB write + fdatasync, p50", value: fsync["p50_ms"]!, unit: "ms", note: note))
        report.add(ResultRow(benchmark: "Latency", metric: "the disk itself: 4 KiB write + fdatasync, p99", value: fsync["p99_ms"]!, unit: "ms", note: note))
        func pair(_ metric: String, _ key: String, target: String? = nil) {
            var row = ResultRow(benchmark: "Latency", metric: metric, value: results[.secure]![key]!, unit: "ms", target: target, note: note)
            if target != nil { row.met = row.value < 5 }
            report.addPair(row, insecure: results[.insecure]![key]!)
        }
        pair("edit -> durable at other member, p50", "p50_ms")
        pair("edit -> durable at other member, p99", "p99_ms", target: "< 5 ms")
        pair("edit -> durable at other member, max", "max_ms")
        pair("writer's own durable commit (control reply), p99", "writer_commit_p99_ms")
        pair("edit -> durable at other member, p99, while a client polls its `status` every 100 ms", "polled_p99_ms")
        pair("`status` round trip at the other member during those edits, p99", "polled_status_p99_ms")
        var ratio = ResultRow(benchmark: "Latency", metric: "edit -> durable at other member, p99 polled / p99 quiet", value: results[.secure]!["polled_to_quiet_p99"]!,
                              unit: "x", target: "<= 1.2", note: note)
        ratio.met = ratio.value <= 1.2
        report.addPair(ratio, insecure: results[.insecure]!["polled_to_quiet_p99"]!)
    }
}

/// A client of its own (own thread, own control socket) that sends a node `status` requests
/// at a steady interval until stopped, timing each round trip.
final class StatusPoller: @unchecked Sendable {
    // Only the poller's thread touches `client`; `stopping` and `results` are shared.
    private let stopping = Shared(false)
    private let results = Shared<(times: [Double], failures: Int)>((times: [], failures: 0))
    private let done = DispatchSemaphore(value: 0)

    init(dataDir: String, context: ZMQContext, interval: Double) {
        let thread = Thread { [self] in
            let client = ControlClient(dataDir: dataDir, timeoutMilliseconds: 10_000, context: context)
            let t0 = now()
            var i = 0
            while !stopping.get() {
                let t = now()
                let ok = (try? client.call(Control.StatusQuery())) != nil
                let ms = (now() - t) * 1000
                results.update { ok ? $0.times.append(ms) : ($0.failures += 1) }
                i += 1
                let wait = t0 + Double(i) * interval - now()
                if wait > 0 { sleepSeconds(wait) }
            }
            done.signal()
        }
        thread.start()
    }

    /// Stops polling and returns every round trip in milliseconds and the failed requests.
    func stop() -> (times: [Double], failures: Int) {
        stopping.set(true)
        done.wait()
        return results.get()
    }
}

/// The filesystem's own durable-write latency, the floor under every durable commit: `count`
/// times, 4 KiB appended to a file in `directory` and `fdatasync`ed (what SQLite's WAL commit
/// does with `synchronous=FULL`), after 20 unmeasured ones.
enum FsyncProbe {
    static func measure(directory: String, count: Int) throws -> [String: Double] {
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        let path = directory + "/fsync-probe-\(getpid())"
        let fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o600)
        guard fd >= 0 else { throw BenchFailure("cannot create \(path): \(String(cString: strerror(errno)))") }
        defer { close(fd); unlink(path) }
        let block = [UInt8](repeating: 0x5A, count: 4096)
        var times: [Double] = []
        for i in 0..<(count + 20) {
            let t = now()
            guard write(fd, block, block.count) == block.count, fdatasync(fd) == 0 else {
                throw BenchFailure("write/fdatasync in \(directory) failed: \(String(cString: strerror(errno)))")
            }
            if i >= 20 { times.append((now() - t) * 1000) }
        }
        times.sort()
        return ["count": Double(count), "p50_ms": percentile(times, 50), "p99_ms": percentile(times, 99), "max_ms": times.last ?? .nan]
    }
}
