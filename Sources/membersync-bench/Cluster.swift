import Foundation
import MemberSyncConfig
import MemberSyncControl
import MemberSyncHarness
import MemberSyncNode
import ZeroMQ

#if canImport(Glibc)
import Glibc
#endif

/// A federation of real `membersyncd` processes on 127.0.0.1 (the harness's
/// `ProcessFederation`): config files written directly, control requests over each node's
/// ipc control socket, every process stopped in `shutdown()`. Secure or insecure as a whole.
/// `@unchecked Sendable` as the federation requires; the benchmarks drive it from one thread
/// (the control clients are not guarded).
final class ProcessCluster: ProcessFederation, @unchecked Sendable {
    private let context: ZMQContext
    private var clients: [String: ControlClient] = [:]

    let security: Security

    init(root: String, binDir: String, security: Security) throws {
        guard FileManager.default.isExecutableFile(atPath: binDir + "/membersyncd") else {
            throw BenchFailure("membersyncd not found in \(binDir) (build it: swift build -c release --product membersyncd)")
        }
        self.security = security
        context = try ZMQContext()
        try super.init(root: root, binDir: binDir)
    }

    /// Writes `membersync.toml` for a node (hub when `hubs` is empty), with `NodeConfig` as
    /// `membersync init` does; secure, it also creates the node's keys and trusts the hubs'
    /// (configure hubs first).
    func configure(_ name: String, hubs: [String] = [], heartbeatMs: Int = 200) throws {
        let dir = dataDir(name)
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
        var config = NodeConfig(nodeID: name, organisation: name, role: hubs.isEmpty ? .hub : .member, dataDir: dir,
                                listen: endpoint(name), hubEndpoints: hubs.map(endpoint), logLevel: "warning",
                                heartbeatMilliseconds: heartbeatMs)
        try security.prepare(&config, hubs: hubs.map { ($0, dataDir($0)) })
        try config.tomlText().write(toFile: dir + "/" + NodeConfig.fileName, atomically: true, encoding: .utf8)
    }

    /// The hub operator admits `member` (organisation = its name) at the running `hub`.
    func admit(_ member: String, hub: String = "brussels") throws {
        try security.admit(member, organisation: member, dataDir: dataDir(member), hub: client(hub))
    }

    /// Waits until each member holds every op of the hub's own origin that the hub holds now:
    /// the roster, so no op of another member reaches it from an origin it does not know yet.
    func waitRoster(_ members: [String], hub: String = "brussels", timeout: Double = 30) throws {
        let id = try replicaID(hub)
        let counter = try version(hub)[id] ?? 0
        for m in members where !waitHolds(m, origin: id, counter: counter, timeout: timeout, interval: 0.02) {
            throw BenchFailure("\(m) did not receive the hub's roster within \(timeout) s")
        }
    }

    /// Fails loudly when any of `names` refused ops or holds some back (see `Security.refusals`).
    func checkNothingRefused(_ names: [String]) throws {
        for n in names {
            let r = Security.refusals(try status(n))
            guard r.count > 0 else { continue }
            // The node logs each refusal with its reason: the first ones say what went wrong.
            let log = (try? String(contentsOfFile: root + "/\(n).log", encoding: .utf8)) ?? ""
            let why = log.split(separator: "\n").filter { $0.contains("rejected") }.prefix(3).joined(separator: " | ")
            throw BenchFailure("\(n) refused or holds back \(r.count) ops (\(r.text)): the figure would not measure what it says; \(why)")
        }
    }

    /// Starts a configured node and waits until its control socket answers.
    func start(_ name: String, timeout: Double = 60) throws {
        let ok = try startDaemon(name, timeout: timeout, interval: 0.01) { (try? self.control(name, Control.Ping(), timeoutMs: 500)) != nil }
        if !ok { throw BenchFailure("\(name) did not start; log: \(log(name).suffix(500))") }
    }

    /// CPU seconds the nodes' processes have used so far, summed.
    func cpuSeconds(_ names: [String]) -> Double {
        names.compactMap { pid($0).flatMap(ProcessUsage.cpuSeconds(pid:)) }.reduce(0, +)
    }

    /// SIGTERM, then wait up to 20 s for the process to exit; its control client goes too.
    @discardableResult
    override func stop(_ name: String, timeout: Double = 20) -> TimeInterval {
        clients[name] = nil
        return super.stop(name, timeout: timeout)
    }

    /// Stops every node gracefully and removes the directory (kept when
    /// `MEMBERSYNC_BENCH_KEEP_STORES` is set, to profile a node on the stores a run built).
    override func shutdown() {
        for name in processes.keys { stop(name) }
        if !keepStores { try? FileManager.default.removeItem(atPath: root) }
    }

    /// The control client of node `name`, kept per node (its socket is reused).
    func client(_ name: String) -> ControlClient {
        if let c = clients[name] { return c }
        let c = ControlClient(dataDir: dataDir(name), context: context)
        clients[name] = c
        return c
    }

    /// One control request (the CLI's protocol) to node `name`.
    func control<C: ControlCommand>(_ name: String, _ command: C, timeoutMs: Int = 120_000) throws -> C.Result {
        let c = client(name)
        c.timeoutMilliseconds = timeoutMs
        do { return try c.call(command) } catch { throw BenchFailure("\(name) (\(C.name)): \(error.message)") }
    }

    /// The node's version vector, by replica id text.
    func version(_ name: String) throws -> [String: UInt64] {
        try control(name, Control.VersionQuery()).version
    }

    func replicaID(_ name: String) throws -> String {
        try control(name, Control.VersionQuery()).replica
    }

    func status(_ name: String) throws -> StatusResult {
        try control(name, Control.StatusQuery())
    }

    /// Waits until every member reports it syncs through its hub.
    func waitLinked(_ members: [String], timeout: Double = 30) throws {
        let ok = waitUntil(timeout: timeout, interval: 0.05) {
            members.allSatisfy { (try? self.status($0))?.mode == "via-hub" }
        }
        if !ok { throw BenchFailure("members \(members) did not link to their hub within \(timeout) s") }
    }

    /// Hub `brussels` with members `asker` (the writer) and `baerum`, admitted (secure),
    /// started, linked and holding the roster: the federation the end-to-end and catch-up
    /// benchmarks run on. Stopped again if it fails.
    static func hubWithTwoMembers(root: String, binDir: String, security: Security) throws -> ProcessCluster {
        let cluster = try ProcessCluster(root: root, binDir: binDir, security: security)
        let members = ["asker", "baerum"]
        do {
            try cluster.configure("brussels")
            for m in members { try cluster.configure(m, hubs: ["brussels"]) }
            try cluster.start("brussels")
            for m in members { try cluster.admit(m) }
            for m in members { try cluster.start(m) }
            try cluster.waitLinked(members)
            try cluster.waitRoster(members)
            return cluster
        } catch {
            cluster.shutdown()
            throw error
        }
    }

    /// Waits until `name`'s version covers counter `counter` of `origin`; false on timeout.
    func waitHolds(_ name: String, origin: String, counter: UInt64, timeout: Double, interval: Double) -> Bool {
        waitUntil(timeout: timeout, interval: interval) { ((try? self.version(name))?[origin] ?? 0) >= counter }
    }

    /// Sends edits through `set-many` in batches; returns the counters of the last op.
    @discardableResult
    func writeBatches(_ name: String, _ edits: [AbstractOp], batch: Int) throws -> UInt64 {
        var last: UInt64 = 0
        var i = 0
        while i < edits.count {
            let chunk = edits[i..<min(edits.count, i + batch)]
            let r = try control(name, Control.SetMany(edits: chunk.map { .init(key: $0.key.description, changes: [$0.cliChange]) }))
            last = r.lastCounter
            i += batch
        }
        return last
    }
}
