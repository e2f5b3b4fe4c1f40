import Foundation
import MemberSyncHarness
import XCTest

#if canImport(Glibc)
import Glibc
#endif

typealias CLIResult = CommandResult

/// A federation of real `membersyncd` processes on 127.0.0.1 in a temporary directory.
/// Every process it starts is killed in `shutdown()`, which tests call from tearDown.
/// `@unchecked Sendable`: `cli` may run on writer threads; it touches no shared state
/// except reading `root`/`binDir`, which never change. Process bookkeeping stays on the test thread.
final class Federation: @unchecked Sendable {
    let root: String
    let binDir: String
    var processes: [String: Process] = [:]
    var ports: [String: Int] = [:]
    let heartbeatMs: Int
    /// With `secure` (the default, as in a real federation), nodes run with CURVE, signed ops
    /// and write rules (no `--insecure`): members trust the hubs' keys and the hub operator
    /// must `admit` every member. `secure: false` is for the tests of the opt-out itself.
    let secure: Bool
    /// Public keys printed by `membersync init`, per node.
    var signingKeys: [String: String] = [:]
    var curveKeys: [String: String] = [:]
    var organisations: [String: String] = [:]

    init(heartbeatMs: Int = 100, secure: Bool = true) throws {
        self.heartbeatMs = heartbeatMs
        self.secure = secure
        root = NSTemporaryDirectory() + "msync-e2e-\(UUID().uuidString.prefix(8))"
        try FileManager.default.createDirectory(atPath: root, withIntermediateDirectories: true)
        binDir = try Self.findBinaries()
    }

    /// The directory holding `membersyncd` and `membersync` (built by `swift build`).
    static func findBinaries() throws -> String {
        if let dir = ProcessInfo.processInfo.environment["MEMBERSYNC_BIN_DIR"] { return dir }
        var url = URL(fileURLWithPath: CommandLine.arguments.first ?? ".").resolvingSymlinksInPath()
        for _ in 0..<4 {
            url.deleteLastPathComponent()
            if FileManager.default.isExecutableFile(atPath: url.appendingPathComponent("membersyncd").path) { return url.path }
        }
        let fallback = FileManager.default.currentDirectoryPath + "/.build/debug"
        if FileManager.default.isExecutableFile(atPath: fallback + "/membersyncd") { return fallback }
        throw XCTSkip("membersyncd not built: run `swift build` before `swift test` (scripts/test.sh does)")
    }

    func dataDir(_ node: String) -> String { root + "/" + node }
    func endpoint(_ node: String) -> String { "tcp://127.0.0.1:\(ports[node]!)" }

    /// A free port P with P+1 also free (the ROUTER and the PUB).
    static func freePortPair() -> Int { LoopbackPorts.freePair() }

    /// Creates a node with `membersync init`; hubs and peers are node names created earlier.
    /// `peerIDs` are fallback peers named by node id (`--peer ID`): no endpoint or key given,
    /// the node takes both from their roster entries.
    func initNode(_ name: String, hub: Bool = false, hubs: [String] = [], peers: [String] = [], peerIDs: [String] = [],
                  organisation: String? = nil, force: Bool = false) throws {
        if ports[name] == nil { ports[name] = Self.freePortPair() }
        var args = ["init", dataDir(name), "--id", name, "--organisation", organisation ?? name,
                    "--listen", endpoint(name), "--heartbeat-ms", "\(heartbeatMs)", "--json"]
        if !secure { args.append("--insecure") }
        if force { args.append("--force") }  // keeps the node's existing keys
        if hub { args.append("--hub") }
        for h in hubs {
            args += ["--hub-endpoint", endpoint(h)]
            // `=` form: a Z85 key may begin with "-", which would read as an option.
            if secure { args += ["--hub-key=\(curveKeys[h] ?? "")", "--hub-signing-key=\(h):\(signingKeys[h] ?? "")"] }
        }
        for p in peers {
            if ports[p] == nil { ports[p] = Self.freePortPair() }
            args += ["--peer", endpoint(p)]
            if secure { args += ["--peer-key=\(curveKeys[p] ?? "")"] }
        }
        for p in peerIDs { args += ["--peer", p] }
        let r = cli(args)
        XCTAssertEqual(r.status, 0, "init \(name): \(r.stderr)")
        let out = r.json as? [String: Any] ?? [:]
        signingKeys[name] = out["signing_key"] as? String
        curveKeys[name] = out["curve_key"] as? String
        organisations[name] = organisation ?? name
    }

    /// The hub operator puts a member into the roster (its keys from its init output); with
    /// `endpoint`, its endpoint too, as peers naming it by id need.
    func admit(_ name: String, on hub: String = "brussels", role: String = "member", endpoint withEndpoint: Bool = false) {
        // A Z85 key may begin with "@", which `FIELD=@PATH` would read as a file: "@@" escapes it.
        let curve = curveKeys[name] ?? ""
        var changes = ["organisation=\(organisations[name] ?? name)", "role=\(role)",
                       "signing_key=\(signingKeys[name] ?? "")", "curve_key=\(curve.hasPrefix("@") ? "@" + curve : curve)"]
        if withEndpoint { changes.append("endpoints+=\(endpoint(name))") }
        let r = cli(["set", "--data-dir", dataDir(hub), "nodes/\(name)"] + changes)
        XCTAssertEqual(r.status, 0, "admit \(name): \(r.stderr)")
    }

    /// Starts a node and waits until its control socket answers. `crashAt` (`LABEL:N`) makes
    /// it SIGKILL itself at the Nth pass of a write path's crash point (see CrashPoint.swift).
    func start(_ name: String, crashAt: String? = nil, arguments: [String] = []) throws {
        processes[name] = try DaemonLauncher.launch(binDir: binDir, config: dataDir(name) + "/membersync.toml",
                                                    logPath: root + "/\(name).log", arguments: arguments,
                                                    environment: crashAt.map { ["MEMBERSYNC_CRASH_AT": $0] } ?? [:])
        // Ready when the control socket answers.
        let ready = waitUntil(timeout: 10) { self.cli(["status", "--data-dir", self.dataDir(name), "--json"]).status != 2 }
        XCTAssertTrue(ready, "\(name) did not start; log:\n\(log(name))")
    }

    /// True while the node's process runs; a node that killed itself is reaped and forgotten.
    func isRunning(_ name: String) -> Bool {
        guard let p = processes[name] else { return false }
        if p.isRunning { return true }
        p.waitUntilExit()
        processes[name] = nil
        return false
    }

    func log(_ name: String) -> String {
        (try? String(contentsOfFile: root + "/\(name).log", encoding: .utf8)) ?? ""
    }

    /// The node's log lines, parsed (logfmt); lines that do not parse are left out.
    func logEvents(_ name: String) -> [[String: String]] {
        log(name).split(separator: "\n").compactMap { parseLogfmt(String($0)) }
    }

    func signal(_ name: String, _ sig: Int32) {
        guard let p = processes[name], p.isRunning else { return }
        kill(p.processIdentifier, sig)
    }

    /// SIGTERM and wait; returns how long the node took to exit.
    @discardableResult
    func stop(_ name: String) -> TimeInterval {
        guard let p = processes[name] else { return 0 }
        let start = Date()
        if p.isRunning { kill(p.processIdentifier, SIGTERM) }
        _ = waitUntil(timeout: 10) { !p.isRunning }
        if p.isRunning { kill(p.processIdentifier, SIGKILL); p.waitUntilExit() }
        processes[name] = nil
        return Date().timeIntervalSince(start)
    }

    func killHard(_ name: String) {
        guard let p = processes[name] else { return }
        if p.isRunning { kill(p.processIdentifier, SIGKILL) }
        p.waitUntilExit()
        processes[name] = nil
    }

    func shutdown() {
        for name in processes.keys { killHard(name) }
        try? FileManager.default.removeItem(atPath: root)
    }

    /// Runs the CLI with a hard time limit.
    @discardableResult
    func cli(_ args: [String], timeout: TimeInterval = 20) -> CLIResult {
        CommandRunner.run(binDir + "/membersync", args, timeout: timeout, scratchDir: root)
    }

    /// `membersync COMMAND --data-dir <node> ARGS...`
    @discardableResult
    func on(_ node: String, _ command: String, _ args: String...) -> CLIResult {
        cli([command, "--data-dir", dataDir(node)] + args)
    }

    func status(_ node: String) -> [String: Any] {
        cli(["status", "--data-dir", dataDir(node), "--json"]).json as? [String: Any] ?? [:]
    }

    func digest(_ node: String) -> String? { status(node)["digest"] as? String }

    /// One field of a record as `get --json` shows it on `node` (nil when absent or unreadable).
    func field(_ node: String, _ key: String, _ name: String) -> Any? {
        let r = on(node, "get", key, "--json")
        return r.status == 0 ? ((r.json as? [String: Any])?["fields"] as? [String: Any])?[name] : nil
    }

    /// A Brussels hub and `members`, each admitted with its keys, all running; with `peers`
    /// the members list each other as fallback peers (re-initialised once every key exists);
    /// `extra` nodes get keys and a roster entry but are not started.
    func startHubAndAdmitted(_ members: [String], peers: Bool = false, extra: [String] = []) throws {
        try initNode("brussels", hub: true, organisation: "oslo-region-european-office")
        for m in members + extra { try initNode(m, hubs: ["brussels"]) }
        if peers { for m in members { try initNode(m, hubs: ["brussels"], peers: members.filter { $0 != m }, force: true) } }
        try start("brussels")
        for m in members + extra { admit(m) }
        for m in members { try start(m) }
    }

    func conflicts(_ node: String) -> [[String: Any]] {
        on(node, "conflicts", "--json").json as? [[String: Any]] ?? []
    }

    /// Waits until every node reports the same digest; returns it, or nil on timeout.
    func converge(_ nodes: [String], timeout: TimeInterval = 20) -> String? {
        var digest: String?
        let ok = waitUntil(timeout: timeout) {
            let ds = nodes.map { self.digest($0) }
            digest = ds.first ?? nil
            return digest != nil && ds.allSatisfy { $0 == digest }
        }
        return ok ? digest : nil
    }
}

/// A test case with a fresh secure federation per test (`Federation()`: CURVE, admission,
/// signed ops, write rules), shut down after it whatever happened.
class FederationTestCase: XCTestCase {
    var fed: Federation!

    override func setUpWithError() throws {
        fed = try Federation()
    }

    override func tearDown() {
        fed?.shutdown()
    }
}

extension XCTestCase {
    /// The CLI call succeeded (exit 0); its stderr explains a failure.
    func ok(_ r: CLIResult, file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertEqual(r.status, 0, r.stderr, file: file, line: line)
    }
}
