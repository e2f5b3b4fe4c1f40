import Foundation
import MemberSyncHarness
import XCTest

#if canImport(Glibc)
import Glibc
#endif

typealias CLIResult = CommandResult

/// A federation of real `membersyncd` processes on 127.0.0.1 in a temporary directory (the
/// harness's `ProcessFederation`), whose nodes are made with `membersync init` as an operator
/// would, with XCTest's assertions. Every process it starts is killed in `shutdown()`, which
/// tests call from tearDown. `@unchecked Sendable`: `cli` may run on writer threads; the key
/// and organisation bookkeeping stays on the test thread.
final class Federation: ProcessFederation, @unchecked Sendable {
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
        try super.init(root: NSTemporaryDirectory() + "msync-e2e-\(UUID().uuidString.prefix(8))", binDir: try Self.binaries())
    }

    /// The directory holding `membersyncd` and `membersync` (built by `swift build`).
    static func binaries() throws -> String {
        guard let dir = findBinaries() else {
            throw XCTSkip("membersyncd not built: run `swift build` before `swift test` (scripts/test.sh does)")
        }
        return dir
    }

    /// Creates a node with `membersync init`; hubs and peers are node names created earlier.
    /// `peerIDs` are fallback peers named by node id (`--peer ID`): no endpoint or key given,
    /// the node takes both from their roster entries.
    func initNode(_ name: String, hub: Bool = false, hubs: [String] = [], peers: [String] = [], peerIDs: [String] = [],
                  organisation: String? = nil, force: Bool = false) throws {
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
        let ready = try startDaemon(name, arguments: arguments, environment: crashAt.map { ["MEMBERSYNC_CRASH_AT": $0] } ?? [:])
        XCTAssertTrue(ready, "\(name) did not start; log:\n\(log(name))")
    }

    /// The node's log lines, parsed (logfmt); lines that do not parse are left out.
    func logEvents(_ name: String) -> [[String: String]] {
        log(name).split(separator: "\n").compactMap { parseLogfmt(String($0)) }
    }

    /// `membersync COMMAND --data-dir <node> ARGS...`
    @discardableResult
    func on(_ node: String, _ command: String, _ args: String...) -> CLIResult {
        on(node, [command] + args)
    }

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
