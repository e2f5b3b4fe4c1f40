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

    /// Creates every node's config and every relay. The federation is secure, as a real one:
    /// CURVE on every socket (through the relays), admission by the roster, signed ops and
    /// write rules; `admit` then puts the members into the roster.
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
        try check(cli(["init", dataDir(hub), "--id", hub, "--organisation", "oslo-region-european-office", "--hub",
                       "--listen", endpoint(routerPorts[hub]!), "--heartbeat-ms", "\(heartbeatMs)", "--force"]), "init \(hub)")
        // Twice: the second time (keys kept) every member knows its peers' CURVE keys.
        for round in 0..<2 {
            for m in members {
                // `=` form: a Z85 key may begin with "-".
                var args = ["init", dataDir(m), "--id", m, "--organisation", m, "--listen", endpoint(routerPorts[m]!),
                            "--heartbeat-ms", "\(heartbeatMs)", "--force",
                            "--hub-endpoint", endpoint(links[Self.linkKey(m, hub)]!.router.listenPort),
                            "--hub-key=\(try key(hub, "curve.pub"))", "--hub-signing-key=\(hub):\(try key(hub, "signing.pub"))"]
                if round == 1 {
                    for other in members where other != m {
                        args += ["--peer", endpoint(links[Self.linkKey(m, other)]!.router.listenPort), "--peer-key=\(try key(other, "curve.pub"))"]
                    }
                }
                try check(cli(args), "init \(m)")
            }
        }
        // A small PUB queue at every node so a slowed subscriber really loses messages.
        for n in all {
            let path = dataDir(n) + "/membersync.toml"
            let text = try String(contentsOfFile: path, encoding: .utf8) + "pub_high_water_mark = \(pubHighWaterMark)\n"
            try text.write(toFile: path, atomically: true, encoding: .utf8)
        }
    }

    /// A public key `init` wrote into a node's data directory.
    func key(_ n: String, _ file: String) throws -> String {
        try String(contentsOfFile: dataDir(n) + "/" + file, encoding: .utf8).trimmingCharacters(in: .whitespacesAndNewlines)
    }

    /// The hub operator admits a member. Again, that clears a revocation; the chaos run's
    /// operator accepts what the member wrote while revoked, so every acknowledged write must
    /// survive (RightsTests checks the default, which keeps those edits refused).
    func admit(_ m: String) throws {
        try check(cli(["hub", "admit", "--data-dir", dataDir(hub), m, "--organisation", m, "--signing-key=\(try key(m, "signing.pub"))",
                       "--curve-key=\(try key(m, "curve.pub"))", "--accept-revoked-edits"]), "admit \(m)")
    }

    /// With the hub running: the hub operator creates each member's organisation, admits the
    /// member with its keys, and creates the shared projects (each led by one member, every
    /// member a partner), so every member may edit every project and conflicts arise.
    func admitMembers(projects: [String]) throws {
        for m in members {
            try check(on(hub, ["set", "organisations/\(m)", "name=\(m)"]), "create organisations/\(m)")
            try admit(m)
        }
        for (i, p) in projects.enumerated() {
            try check(on(hub, ["set", p, "title=\(p)", "lead=\(members[i % members.count])"] + members.map { "partners+=\($0)" }), "create \(p)")
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
