import Foundation

#if canImport(Glibc)
import Glibc
#endif

/// Result of one CLI call.
struct CLIResult {
    let status: Int32
    let stdout: String
    let stderr: String
    var json: Any? { try? JSONSerialization.jsonObject(with: Data(stdout.utf8), options: [.fragmentsAllowed]) }
}

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

    static func canBind(_ port: Int) -> Bool {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { return false }
        defer { close(fd) }
        var addr = FaultyLink.loopback(port)
        return withUnsafePointer(to: &addr) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) == 0 }
        }
    }

    private var usedPorts: Set<Int> = []
    func freePortPair() -> Int {
        for _ in 0..<500 {
            let p = Int.random(in: 20_000..<60_000)
            if !usedPorts.contains(p), !usedPorts.contains(p + 1), Self.canBind(p), Self.canBind(p + 1) {
                usedPorts.formUnion([p, p + 1])
                return p
            }
        }
        return 47_000
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
        let p = Process()
        p.executableURL = URL(fileURLWithPath: binDir + "/membersyncd")
        p.arguments = ["--config", dataDir(n) + "/membersync.toml"]
        let logPath = root + "/\(n).log"
        if !FileManager.default.fileExists(atPath: logPath) { FileManager.default.createFile(atPath: logPath, contents: nil) }
        let log = try FileHandle(forWritingTo: URL(fileURLWithPath: logPath))
        log.seekToEndOfFile()
        p.standardOutput = log
        p.standardError = log
        try p.run()
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
        let p = Process()
        p.executableURL = URL(fileURLWithPath: binDir + "/membersync")
        p.arguments = args
        let base = root + "/cli-\(UUID().uuidString)"
        FileManager.default.createFile(atPath: base + ".out", contents: nil)
        FileManager.default.createFile(atPath: base + ".err", contents: nil)
        defer {
            try? FileManager.default.removeItem(atPath: base + ".out")
            try? FileManager.default.removeItem(atPath: base + ".err")
        }
        guard let out = FileHandle(forWritingAtPath: base + ".out"), let err = FileHandle(forWritingAtPath: base + ".err") else {
            return CLIResult(status: -1, stdout: "", stderr: "cannot create output files")
        }
        p.standardOutput = out
        p.standardError = err
        do { try p.run() } catch { return CLIResult(status: -1, stdout: "", stderr: "\(error)") }
        let deadline = Date().addingTimeInterval(timeout)
        while p.isRunning && Date() < deadline { usleep(2000) }
        if p.isRunning { kill(p.processIdentifier, SIGKILL) }
        p.waitUntilExit()
        try? out.close(); try? err.close()
        return CLIResult(status: p.terminationStatus,
                         stdout: String(decoding: FileManager.default.contents(atPath: base + ".out") ?? Data(), as: UTF8.self),
                         stderr: String(decoding: FileManager.default.contents(atPath: base + ".err") ?? Data(), as: UTF8.self))
    }

    func on(_ n: String, _ args: [String], timeout: TimeInterval = 10) -> CLIResult {
        cli([args[0], "--data-dir", dataDir(n)] + args.dropFirst(), timeout: timeout)
    }

    func digest(_ n: String) -> String? {
        (on(n, ["status", "--json"], timeout: 5).json as? [String: Any])?["digest"] as? String
    }
}
