import Foundation

#if canImport(Glibc)
import Glibc
#endif

/// A federation of real `membersyncd` processes on 127.0.0.1: each node has its data
/// directory `root/NAME` and its log `root/NAME.log` (a restarted node's log continues in
/// it), a ROUTER port (its PUB on the next one) picked free and never handed out twice, and
/// the CLI to talk to it. The one process federation of the end-to-end tests, the chaos tool
/// and the benchmarks; each adds how it configures its nodes (`membersync init`, relays in
/// between, or config files written directly). Every process it starts is killed by
/// `killAll` (and `shutdown`).
///
/// `@unchecked Sendable`: the processes and ports are guarded by `lock`; `root` and `binDir`
/// never change, so `cli` and `on` may run on any thread.
open class ProcessFederation: @unchecked Sendable {
    public let root: String
    public let binDir: String
    private let lock = NSLock()
    private var running: [String: Process] = [:]
    private var routerPorts: [String: Int] = [:]
    private var usedPorts: Set<Int> = []

    /// Creates `root` if needed. `binDir` holds `membersyncd` and `membersync`.
    public init(root: String, binDir: String) throws {
        self.root = root
        self.binDir = binDir
        try FileManager.default.createDirectory(atPath: root, withIntermediateDirectories: true)
    }

    /// The directory holding `membersyncd` and `membersync` as `swift build` made them:
    /// `MEMBERSYNC_BIN_DIR`, else the running program's directory or one up to three levels
    /// above it (a test bundle's), else `.build/debug`; nil when none holds `membersyncd`.
    public static func findBinaries() -> String? {
        if let dir = ProcessInfo.processInfo.environment["MEMBERSYNC_BIN_DIR"] { return dir }
        var url = URL(fileURLWithPath: CommandLine.arguments.first ?? ".").resolvingSymlinksInPath()
        for _ in 0..<4 {
            url.deleteLastPathComponent()
            if FileManager.default.isExecutableFile(atPath: url.appendingPathComponent("membersyncd").path) { return url.path }
        }
        let fallback = FileManager.default.currentDirectoryPath + "/.build/debug"
        return FileManager.default.isExecutableFile(atPath: fallback + "/membersyncd") ? fallback : nil
    }

    // MARK: directories and ports

    public func dataDir(_ node: String) -> String { root + "/" + node }
    public func configPath(_ node: String) -> String { dataDir(node) + "/membersync.toml" }
    public func logPath(_ node: String) -> String { root + "/\(node).log" }

    /// The node's log so far ("" before its first start).
    public func log(_ node: String) -> String {
        (try? String(contentsOfFile: logPath(node), encoding: .utf8)) ?? ""
    }

    /// A free port P with P+1 also free, never one this federation handed out before.
    public func freePortPair() -> Int {
        lock.withLock {
            let p = LoopbackPorts.freePair(avoiding: usedPorts)
            usedPorts.formUnion([p, p + 1])
            return p
        }
    }

    /// The nodes' ROUTER ports (PUB on the next one). Setting one gives the node that port.
    public var ports: [String: Int] {
        get { lock.withLock { routerPorts } }
        set {
            lock.withLock {
                routerPorts = newValue
                for p in newValue.values { usedPorts.formUnion([p, p + 1]) }
            }
        }
    }

    /// The node's ROUTER port, picked on first use.
    public func port(_ node: String) -> Int {
        if let p = lock.withLock({ routerPorts[node] }) { return p }
        let p = freePortPair()
        return lock.withLock {
            if let taken = routerPorts[node] { return taken }
            routerPorts[node] = p
            return p
        }
    }

    public func endpoint(_ node: String) -> String { "tcp://127.0.0.1:\(port(node))" }

    // MARK: processes

    /// The daemons started and not yet stopped, by node.
    public var processes: [String: Process] {
        get { lock.withLock { running } }
        set { lock.withLock { running = newValue } }
    }

    public func pid(_ node: String) -> Int32? { lock.withLock { running[node]?.processIdentifier } }

    /// Starts `membersyncd --config DATA_DIR/membersync.toml` for `node` (output appended to
    /// its log) and waits up to `timeout` seconds, polling every `interval`, until `ready`
    /// holds: by default until the CLI's `status` reaches the node's control socket (exit
    /// status other than 2). Returns whether it did; a program that cannot be started throws.
    /// `environment` adds variables, `arguments` flags.
    @discardableResult
    public func startDaemon(_ node: String, arguments: [String] = [], environment: [String: String] = [:], timeout: Double = 10,
                            interval: Double = 0.05, ready: (() -> Bool)? = nil) throws -> Bool {
        let p = try DaemonLauncher.launch(binDir: binDir, config: configPath(node), logPath: logPath(node), arguments: arguments,
                                          environment: environment)
        lock.withLock { running[node] = p }
        let ready = ready ?? { self.on(node, ["status", "--json"], timeout: 5).status != 2 }
        return waitUntil(timeout: timeout, interval: interval, ready)
    }

    /// True while the node's process runs; one that exited (it crashed or killed itself) is
    /// reaped and forgotten.
    public func isRunning(_ node: String) -> Bool {
        guard let p = lock.withLock({ running[node] }) else { return false }
        if p.isRunning { return true }
        p.waitUntilExit()
        lock.withLock { if running[node] === p { running[node] = nil } }
        return false
    }

    public func signal(_ node: String, _ sig: Int32) {
        guard let p = lock.withLock({ running[node] }), p.isRunning else { return }
        kill(p.processIdentifier, sig)
    }

    /// Stops the node gracefully: SIGCONT (in case it was stopped) and SIGTERM, then SIGKILL
    /// if it is still running after `timeout` seconds. Returns how long it took to exit.
    @discardableResult
    open func stop(_ node: String, timeout: Double = 10) -> TimeInterval {
        guard let p = lock.withLock({ running.removeValue(forKey: node) }) else { return 0 }
        let start = MonotonicClock.seconds()
        if p.isRunning {
            kill(p.processIdentifier, SIGCONT)
            kill(p.processIdentifier, SIGTERM)
        }
        if !waitUntil(timeout: timeout, interval: 0.01, { !p.isRunning }) { kill(p.processIdentifier, SIGKILL) }
        p.waitUntilExit()
        return MonotonicClock.seconds() - start
    }

    /// SIGKILL (after SIGCONT, so a stopped process dies at once) and reap.
    public func killHard(_ node: String) {
        guard let p = lock.withLock({ running.removeValue(forKey: node) }) else { return }
        if p.isRunning {
            kill(p.processIdentifier, SIGCONT)
            kill(p.processIdentifier, SIGKILL)
        }
        p.waitUntilExit()
    }

    public func killAll() {
        for node in processes.keys { killHard(node) }
    }

    /// Kills every process and removes `root`.
    open func shutdown() {
        killAll()
        try? FileManager.default.removeItem(atPath: root)
    }

    // MARK: the CLI

    /// Runs `membersync ARGS` with a hard time limit.
    @discardableResult
    public func cli(_ args: [String], timeout: Double = 20) -> CommandResult {
        CommandRunner.run(binDir + "/membersync", args, timeout: timeout, scratchDir: root)
    }

    /// `membersync COMMAND --data-dir DATA_DIR REST...` for `node`, where `args` is
    /// `[COMMAND] + REST`.
    @discardableResult
    public func on(_ node: String, _ args: [String], timeout: Double = 20) -> CommandResult {
        guard let command = args.first else { return cli(["--data-dir", dataDir(node)], timeout: timeout) }
        return cli([command, "--data-dir", dataDir(node)] + args.dropFirst(), timeout: timeout)
    }

    /// `status --json` as the CLI prints it; empty when the node does not answer.
    public func status(_ node: String, timeout: Double = 20) -> [String: Any] {
        on(node, ["status", "--json"], timeout: timeout).json as? [String: Any] ?? [:]
    }

    /// The node's state digest, from `status`; nil when it does not answer.
    public func digest(_ node: String, timeout: Double = 20) -> String? { status(node, timeout: timeout)["digest"] as? String }

    /// Waits until every node reports the same digest; returns it, or nil on timeout.
    public func converge(_ nodes: [String], timeout: Double = 20, interval: Double = 0.05, digestTimeout: Double = 20) -> String? {
        var digest: String?
        let ok = waitUntil(timeout: timeout, interval: interval) {
            let ds = nodes.map { self.digest($0, timeout: digestTimeout) }
            digest = ds.first ?? nil
            return digest != nil && ds.allSatisfy { $0 == digest }
        }
        return ok ? digest : nil
    }
}
