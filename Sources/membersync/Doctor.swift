import ArgumentParser
import Foundation
import MemberSyncConfig
import MemberSyncModel
import MemberSyncControl
import MemberSyncDirectory

#if canImport(Glibc)
import Glibc
#endif

/// `membersync doctor`: checks what a node needs to run and sync, each with a fix for a
/// failure, and exits 0 only when all pass. It reads the config and files itself, so it
/// helps when the node does not start; what only the running node knows (store integrity,
/// links, admission, lag) it asks the node.
struct Doctor: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Check the node's config, file modes, store, hubs and peers, roster entry and lag; a fix for each failure.",
        discussion: """
            Checks, in order: the config loads; the data directory and secret keys are private to their \
            owner and owned by the user running this; the node runs and answers; the store passes SQLite's \
            integrity check; each hub and peer is reachable over TCP and answers this node (a link that is \
            reachable but never answers means a wrong CURVE key or a node not admitted); the roster holds \
            this node and has not revoked it; the node is not behind its hub. Exit status 0 when every \
            check passes, 1 otherwise.
            """)

    @OptionGroup var options: NodeOptions
    @Option(help: "The config file (default: DATA_DIR/membersync.toml).", completion: .file()) var config: String?

    struct Check {
        let name: String
        let ok: Bool
        let detail: String
        var fix: String? = nil
        var json: JSONValue {
            var o: [String: JSONValue] = ["name": .string(name), "ok": .bool(ok), "detail": .string(detail)]
            if let fix { o["fix"] = .string(fix) }
            return .object(o)
        }
    }

    func run() throws {
        let checks = collect()
        let ok = checks.allSatisfy(\.ok)
        if options.json {
            Output.json(["ok": .bool(ok), "checks": .array(checks.map(\.json))] as JSONValue)
        } else {
            for c in checks {
                print("\(c.ok ? "ok  " : "FAIL") \(c.name): \(c.detail)")
                if let fix = c.fix, !c.ok { print("     fix: \(fix)") }
            }
            let failed = checks.filter { !$0.ok }.count
            print(failed == 0 ? "all \(checks.count) checks passed" : "\(failed) of \(checks.count) checks failed")
        }
        if !ok { throw ExitCode(1) }
    }

    func collect() -> [Check] {
        var out: [Check] = []
        let dataDir = options.resolvedDataDir
        let path = config ?? (dataDir as NSString).appendingPathComponent(NodeConfig.fileName)
        let cfg: NodeConfig
        do {
            cfg = try NodeConfig.load(path: path)
            out.append(Check(name: "config", ok: true, detail: "\(path) loads (node \(cfg.nodeID), role \(cfg.role.rawValue))"))
        } catch {
            out.append(Check(name: "config", ok: false, detail: "\(error)",
                             fix: FileManager.default.fileExists(atPath: path)
                                ? "correct the file (membersyncd --check-config --config \(path) says the same), or rewrite it with membersync init \(dataDir) --force …"
                                : "create it with membersync init \(dataDir) … (or give --config PATH)"))
            return out
        }
        out += fileChecks(cfg)
        // What only the running node knows.
        let client = ControlClient(dataDir: cfg.dataDir, timeoutMilliseconds: 10_000)
        let status: StatusResult
        do {
            status = try client.request(Control.StatusQuery())
            out.append(Check(name: "node", ok: true, detail: "runs and answers (\(status.health ?? "?"), mode \(status.mode))"))
        } catch {
            out.append(Check(name: "node", ok: false, detail: (error as? CLIFailure)?.message ?? "\(error)",
                             fix: "start it: membersyncd --config \(path) (under systemd: systemctl start membersyncd; journalctl -u membersyncd says why it stopped)"))
            return out
        }
        if let result = (try? client.request(Control.Integrity()))?.result {
            out.append(Check(name: "store", ok: result == "ok", detail: result == "ok" ? "integrity check ok" : "integrity check: \(result.prefix(300))",
                             fix: "stop the node, keep a copy of replica.sqlite*, start it on an empty data directory (same keys) and membersync hub restore the copy, or let it catch up from the hub"))
        } else {
            out.append(Check(name: "store", ok: false, detail: "the node could not run the integrity check", fix: "see the node's log"))
        }
        out += linkChecks(cfg, status)
        out += rosterChecks(cfg, status, client)
        return out
    }

    /// Private data directory and secret keys, owned by whoever runs this (the node's user).
    func fileChecks(_ cfg: NodeConfig) -> [Check] {
        var out: [Check] = []
        let me = getuid()
        func mode(_ p: String) -> (mode: Int, owner: uid_t)? {
            var st = stat()
            guard stat(p, &st) == 0 else { return nil }
            return (Int(st.st_mode & 0o777), st.st_uid)
        }
        if let d = mode(cfg.dataDir) {
            let ok = d.mode & 0o007 == 0 && d.owner == me
            out.append(Check(name: "data directory", ok: ok, detail: "\(cfg.dataDir) mode \(String(d.mode, radix: 8)), owner uid \(d.owner)",
                             fix: "chmod 700 \(cfg.dataDir) and chown it to the node's user (uid \(me) runs this check)"))
        } else {
            out.append(Check(name: "data directory", ok: false, detail: "\(cfg.dataDir) does not exist",
                             fix: "create it (install -d -m 0700 \(cfg.dataDir)) and run membersync init there"))
        }
        for file in [NodeKeys.signingSecretFile, NodeKeys.curveSecretFile] {
            let p = (cfg.dataDir as NSString).appendingPathComponent(file)
            guard let k = mode(p) else {
                out.append(Check(name: file, ok: cfg.insecure, detail: cfg.insecure ? "absent (insecure = true: not needed)" : "\(p) is missing",
                                 fix: "run membersync init \(cfg.dataDir) --force … (keeps existing keys, creates missing ones), or put the backed-up key back"))
                continue
            }
            let ok = k.mode & 0o077 == 0 && k.owner == me
            out.append(Check(name: file, ok: ok, detail: "mode \(String(k.mode, radix: 8)), owner uid \(k.owner)",
                             fix: "chmod 600 \(p) and chown it to the node's user; the node refuses a secret key others can read"))
        }
        return out
    }

    /// Each hub and peer: TCP reachable, and answering this node over its link.
    func linkChecks(_ cfg: NodeConfig, _ status: StatusResult) -> [Check] {
        var out: [Check] = []
        for (kind, endpoints, links) in [("hub", cfg.hubEndpoints, status.hubs), ("peer", cfg.peers, status.peers)] {
            for (i, configured) in endpoints.enumerated() {
                let link = i < links.count ? links[i] : nil
                let name = "\(kind) \(configured)"
                // A peer named by node id is reached where its roster entry says.
                let endpoint = link?.fromRoster == true ? link?.endpoint ?? configured : configured
                if let link, link.connected {
                    out.append(Check(name: name, ok: true, detail: "connected (node \(link.nodeID ?? "?"), heard \(Output.number(link.lastHeardSecondsAgo)) s ago)"))
                    continue
                }
                // A fallback peer is only used while no hub answers: silent is fine then.
                if kind == "peer" && status.mode == "via-hub" {
                    out.append(Check(name: name, ok: true, detail: "not in use (the hub answers)"))
                    continue
                }
                if link?.awaitingRoster == true {
                    out.append(Check(name: name, ok: false, detail: "the roster this node holds gives \(configured) no endpoint and CURVE key (not admitted with --endpoint yet, revoked, or the roster has not arrived)",
                                     fix: "ask the hub operator: membersync hub admit \(configured) … --endpoint tcp://HOST:PORT; the link comes up once the roster reaches this node"))
                    continue
                }
                switch Self.tcpReachable(endpoint) {
                case .failure(let why):
                    out.append(Check(name: name, ok: false, detail: "not reachable over TCP: \(why)",
                                     fix: "check that the \(kind) runs, its address, and the firewall (the port and port + 1)"))
                case .success:
                    let heard = link?.lastHeardSecondsAgo.map { "last heard \(Output.number($0)) s ago" } ?? "it never answered"
                    if let failure = link?.handshakeFailure {
                        out.append(Self.handshakeCheck(name, kind: kind, heard: heard, failure: failure, cfg))
                        continue
                    }
                    out.append(Check(name: name, ok: false, detail: "reachable over TCP, but the link is down (\(heard))",
                                     fix: cfg.insecure
                                        ? "check that it runs MemberSync on that port and with insecure = true too"
                                        : "either this node is not admitted (the hub operator runs the membersync hub admit \(cfg.nodeID) … line that init printed), or the configured key is not the \(kind)'s curve.pub (\(kind)_keys in the config)"))
                }
            }
        }
        return out
    }

    /// A link whose CURVE handshake the node saw fail (its socket monitor): the cause decides
    /// the fix.
    static func handshakeCheck(_ name: String, kind: String, heard: String, failure: StatusResult.Link.HandshakeFailure, _ cfg: NodeConfig) -> Check {
        let message = failure.message
        let fix: String
        switch failure.cause {
        case "not-admitted":
            fix = "this node is not admitted there: the hub operator runs membersync hub admit \(cfg.nodeID) … with this node's curve.pub (or clears its revocation)"
        case "wrong-server-key":
            fix = "the key configured for it (\(kind)_keys, or its roster entry's curve_key) is not the \(kind)'s curve.pub: copy it again from the \(kind)'s data directory"
        default:
            fix = "see the warning \"CURVE handshake\" in this node's log; check both nodes' keys"
        }
        return Check(name: name, ok: false, detail: "reachable over TCP, but the link is down (\(heard)): CURVE handshake refused: \(message)", fix: fix)
    }

    /// The roster entry of this node, revocation, and lag behind the hub.
    func rosterChecks(_ cfg: NodeConfig, _ status: StatusResult, _ client: ControlClient) -> [Check] {
        guard cfg.role == .member else { return [] }
        var out: [Check] = []
        if status.revoked {
            out.append(Check(name: "roster", ok: false, detail: "nodes/\(cfg.nodeID) is revoked", fix: "ask the hub operator: membersync hub admit \(cfg.nodeID) … clears a revocation"))
        } else if !cfg.insecure {
            let entry = try? client.request(Control.Get(key: "nodes/\(cfg.nodeID)"))
            out.append(Check(name: "roster", ok: entry != nil, detail: entry != nil ? "nodes/\(cfg.nodeID) present" : "this node holds no nodes/\(cfg.nodeID) (not admitted, or the roster has not arrived)",
                             fix: "send the hub operator the membersync hub admit \(cfg.nodeID) … line that membersync init printed"))
        }
        if let hub = status.hub, hub.connected {
            let behind = hub.behindOps ?? 0
            out.append(Check(name: "lag", ok: behind == 0, detail: behind == 0 ? "up to date with the hub" : "\(behind) op(s) behind the hub" + (hub.behindSeconds.map { " for \(Output.number($0)) s" } ?? ""),
                             fix: "wait (membersync catch-up waits until it holds what the hub holds); if it stays behind, membersync status shows refused ops under ops_rejected"))
        }
        return out
    }

    enum Reach { case success, failure(String) }

    /// A plain TCP connect to `tcp://HOST:PORT`, within 2 s.
    static func tcpReachable(_ endpoint: String) -> Reach {
        guard endpoint.hasPrefix("tcp://"), let colon = endpoint.lastIndex(of: ":") else { return .failure("not a tcp://HOST:PORT endpoint") }
        var host = String(endpoint[endpoint.index(endpoint.startIndex, offsetBy: 6)..<colon])
        if host.hasPrefix("[") && host.hasSuffix("]") { host = String(host.dropFirst().dropLast()) }
        if host == "*" || host == "0.0.0.0" { host = "127.0.0.1" }
        let port = String(endpoint[endpoint.index(after: colon)...])
        var hints = addrinfo()
        hints.ai_socktype = Int32(SOCK_STREAM.rawValue)
        var res: UnsafeMutablePointer<addrinfo>?
        let rc = getaddrinfo(host, port, &hints, &res)
        guard rc == 0, let first = res else { return .failure("cannot resolve \(host): \(String(cString: gai_strerror(rc)))") }
        defer { freeaddrinfo(res) }
        var why = "no address"
        var ai: UnsafeMutablePointer<addrinfo>? = first
        while let a = ai {
            let fd = socket(a.pointee.ai_family, a.pointee.ai_socktype, a.pointee.ai_protocol)
            if fd >= 0 {
                defer { close(fd) }
                _ = fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK)
                if connect(fd, a.pointee.ai_addr, a.pointee.ai_addrlen) == 0 { return .success }
                if errno == EINPROGRESS {
                    var p = pollfd(fd: fd, events: Int16(POLLOUT), revents: 0)
                    if poll(&p, 1, 2000) == 1 {
                        var err: Int32 = 0
                        var len = socklen_t(MemoryLayout<Int32>.size)
                        getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len)
                        if err == 0 { return .success }
                        why = String(cString: strerror(err))
                    } else {
                        why = "no answer within 2 s"
                    }
                } else {
                    why = String(cString: strerror(errno))
                }
            }
            ai = a.pointee.ai_next
        }
        return .failure(why)
    }
}
