import Foundation
import MemberSyncHarness

#if canImport(Glibc)
import Glibc
#endif

typealias CLIResult = CommandResult

/// The processes under test (the harness's `ProcessFederation`): a hub and members, each
/// member linked to the hub and to every other member through its own FaultyLink so any pair
/// can be partitioned.
///
/// `@unchecked Sendable`: the processes are guarded by the federation's lock; the links are
/// made in `setUp`, before any other thread runs; `cli` only spawns processes.
final class Cluster: ProcessFederation, @unchecked Sendable {
    let hub: String
    let members: [String]
    var all: [String] { [hub] + members }
    /// links[(from, to)]: the ROUTER and PUB relays `from` uses to reach `to`.
    private(set) var links: [String: (router: FaultyLink, pub: FaultyLink)] = [:]

    init(root: String, binDir: String, hub: String, members: [String]) throws {
        self.hub = hub
        self.members = members
        try super.init(root: root, binDir: binDir)
    }

    static func linkKey(_ from: String, _ to: String) -> String { "\(from)->\(to)" }

    /// Creates every node's config and every relay. The federation is secure, as a real one:
    /// CURVE on every socket (through the relays), admission by the roster, signed ops and
    /// write rules; `admit` then puts the members into the roster.
    func setUp(heartbeatMs: Int, pubHighWaterMark: Int) throws {
        for n in all { _ = port(n) }
        for from in members {
            for to in all where to != from {
                let p = freePortPair()
                links[Self.linkKey(from, to)] = (try FaultyLink(listenPort: p, targetPort: port(to)),
                                                  try FaultyLink(listenPort: p + 1, targetPort: port(to) + 1))
            }
        }
        func endpoint(_ port: Int) -> String { "tcp://127.0.0.1:\(port)" }
        try check(cli(["init", dataDir(hub), "--id", hub, "--organisation", "oslo-region-european-office", "--hub",
                       "--listen", self.endpoint(hub), "--heartbeat-ms", "\(heartbeatMs)", "--force"]), "init \(hub)")
        // Twice: the second time (keys kept) every member knows its peers' CURVE keys.
        for round in 0..<2 {
            for m in members {
                // `=` form: a Z85 key may begin with "-".
                var args = ["init", dataDir(m), "--id", m, "--organisation", m, "--listen", self.endpoint(m),
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
            let path = configPath(n)
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

    /// Starts a node and waits until the CLI reaches it.
    func start(_ n: String) throws {
        let ready = try startDaemon(n, timeout: 15) { self.on(n, ["status", "--json"], timeout: 3).status != 2 }
        if !ready { throw ChaosError("\(n) did not start; see \(logPath(n))") }
    }

    /// Kills every node and stops the relays; the data stays for inspection.
    override func shutdown() {
        killAll()
        for l in links.values { l.router.stop(); l.pub.stop() }
    }
}
