import Foundation
import MemberSyncHarness

#if canImport(Glibc)
import Glibc
#endif

typealias CLIResult = CommandResult

/// The processes under test: a hub and members, each member linked to the hub and to every
/// other member through its own FaultyLink so any pair can be partitioned.
///
/// `@unchecked Sendable`: process bookkeeping is guarded by `lock`; `cli` only spawns processes.
final class Cluster: @unchecked Sendable {
    let root: String
    let binDir: String
    let hub: String
    let members: [String]
    var all: [String] { [hub] + members }
    private(set) var routerPorts: [String: Int] = [:]
    /// links[(from, to)]: the ROUTER and PUB relays `from` uses to reach `to`.
    private(set) var links: [String: (router: FaultyLink, pub: FaultyLink)] = [:]
    private var processes: [String: Process] = [:]
    private let lock = NSLock()

    init(root: String, binDir: String, hub: String, members: [String]) {
        self.root = root
        self.binDir = binDir
        self.hub = hub
        self.members = members
    }

    static func linkKey(_ from: String, _ to: String) -> String { "\(from)->\(to)" }
    func dataDir(_ n: String) -> String { root + "/" + n }

    private var usedPorts: Set<Int> = []
    func freePortPair() -> Int {
        let p = LoopbackPorts.freePair(avoiding: usedPorts)
        usedPorts.formUnion([p, p + 1])
        return p
    }

    /// Creates every node's config and every relay.
    func setUp(heartbeatMs: Int, pubHighWaterMark: Int) throws {
        try FileManager.default.createDirectory(atPath: root, withIntermediateDirectories: true)
        for n in all { routerPorts[n] = freePortPair() }
        for from in members {
            for to in all where to != from {
                let p = freePortPair()
                links[Self.linkKey(from, to)] = (try FaultyLink(listenPort: p, targetPort: routerPorts[to]!),
                                                  try FaultyLink(listenPort: p + 1, targetPort: routerPorts[to]! + 1))
            }
        }
        func endpoint(_ port: Int) -> String { "tcp://127.0.0.1:\(port)" }
        var hubArgs = ["init", dataDir(hub), "--id", hub, "--organisation", "oslo-region-european-office", "--hub",
                       "--listen", endpoint(routerPorts[hub]!), "--heartbeat-ms", "\(heartbeatMs)", "--force", "--insecure"]
        try check(cli(hubArgs), "init \(hub)")
        for m in members {
            var args = ["init", dataDir(m), "--id", m, "--organisation", m, "--listen", endpoint(routerPorts[m]!),
                        "--heartbeat-ms", "\(heartbeatMs)", "--force", "--insecure",
                        "--hub-endpoint", endpoint(links[Self.linkKey(m, hub)]!.router.listenPort)]
            for other in members where other != m { args += ["--peer", endpoint(links[Self.linkKey(m, other)]!.router.listenPort)] }
            try check(cli(args), "init \(m)")
        }
        hubArgs.removeAll()
        // A small PUB queue at every node so a slowed subscriber really loses messages.
        for n in all {
            let path = dataDir(n) + "/membersync.toml"
            let text = try String(contentsOfFile: path, encoding: .utf8) + "pub_high_water_mark = \(pubHighWaterMark)\n"
            try text.write(toFile: path, atomically: true, encoding: .utf8)
        }
    }

    func check(_ r: CLIResult, _ what: String) throws {
        guard r.status == 0 else { throw ChaosError("\(what) failed: \(r.stderr)") }
    }

    /// Links touching `node` (both directions).
    func links(touching node: String) -> [(router: FaultyLink, pub: FaultyLink)] {
        links.filter { $0.key.hasPrefix(node + "->") || $0.key.hasSuffix("->" + node) }.map(\.value)
    }

    // MARK: processes

    func start(_ n: String) throws {
        let logPath = root + "/\(n).log"
        let p = try DaemonLauncher.launch(binDir: binDir, config: dataDir(n) + "/membersync.toml", logPath: logPath)
        lock.lock(); processes[n] = p; lock.unlock()
        let deadline = Date().addingTimeInterval(15)
        while Date() < deadline {
            if cli(["status", "--data-dir", dataDir(n), "--json"], timeout: 3).status != 2 { return }
            usleep(50_000)
        }
        throw ChaosError("\(n) did not start; see \(logPath)")
    }

    func isRunning(_ n: String) -> Bool {
        lock.lock(); defer { lock.unlock() }
        return processes[n]?.isRunning ?? false
    }

    func signal(_ n: String, _ sig: Int32) {
        lock.lock(); let p = processes[n]; lock.unlock()
        if let p, p.isRunning { kill(p.processIdentifier, sig) }
    }

    func killHard(_ n: String) {
        lock.lock(); let p = processes.removeValue(forKey: n); lock.unlock()
        guard let p else { return }
        if p.isRunning { kill(p.processIdentifier, SIGCONT); kill(p.processIdentifier, SIGKILL) }
        p.waitUntilExit()
    }

    func stopGracefully(_ n: String) {
        lock.lock(); let p = processes.removeValue(forKey: n); lock.unlock()
        guard let p else { return }
        if p.isRunning { kill(p.processIdentifier, SIGCONT); kill(p.processIdentifier, SIGTERM) }
        let deadline = Date().addingTimeInterval(10)
        while p.isRunning && Date() < deadline { usleep(20_000) }
        if p.isRunning { kill(p.processIdentifier, SIGKILL) }
        p.waitUntilExit()
    }

    func shutdown() {
        for n in all { killHard(n) }
        for l in links.values { l.router.stop(); l.pub.stop() }
    }

    // MARK: CLI

    func cli(_ args: [String], timeout: TimeInterval = 10) -> CLIResult {
        CommandRunner.run(binDir + "/membersync", args, timeout: timeout, scratchDir: root)
    }

    func on(_ n: String, _ args: [String], timeout: TimeInterval = 10) -> CLIResult {
        cli([args[0], "--data-dir", dataDir(n)] + args.dropFirst(), timeout: timeout)
    }

    func digest(_ n: String) -> String? {
        (on(n, ["status", "--json"], timeout: 5).json as? [String: Any])?["digest"] as? String
    }
}
