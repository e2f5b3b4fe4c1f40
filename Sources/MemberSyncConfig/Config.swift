import Foundation
import MemberSyncModel

/// Everything a node needs to run, read from its TOML file.
public struct NodeConfig: Sendable, Equatable {
    public var nodeID: String
    public var organisation: String
    public var role: NodeRole
    public var dataDir: String
    /// ROUTER endpoint; the PUB socket binds the same host at port + 1.
    public var listen: String
    /// Hubs in order of preference.
    public var hubEndpoints: [String]
    /// Members to sync with directly while no hub answers: each an endpoint (whose CURVE key
    /// is the matching `peer_keys` entry) or a node id, whose endpoint and key come from its
    /// roster entry, so nobody copies a peer's key by hand (see `peerEntries`).
    public var peers: [String]
    public var logLevel: String
    public var heartbeatMilliseconds: Int
    /// Silence after which a hub or peer link counts as down.
    public var linkTimeoutMilliseconds: Int
    /// Nodes not heard from for this long no longer hold back op-log compaction at the hub.
    public var liveWindowMilliseconds: Int
    public var pageSize: Int
    /// Messages queued per subscriber on the PUB socket before libzmq drops (anti-entropy
    /// repairs drops; tests lower it to provoke them).
    public var publishHighWaterMark: Int = 10_000
    /// Development mode on a trusted network: no CURVE encryption or admission on the
    /// inter-node sockets, and remote ops are applied without checking their signatures or
    /// the write rules. Must be set explicitly (`insecure = true`).
    public var insecure: Bool = false
    /// Signing keys (hex Ed25519 public keys) of the hubs this node trusts, by hub node id:
    /// the root of trust that lets a member accept the roster the hub operator writes.
    public var hubSigningKeys: [String: String] = [:]
    /// CURVE public keys (Z85) of the hubs, parallel to `hubEndpoints`, and of the peers given
    /// by endpoint, parallel to those entries of `peers`: a link only talks to a server
    /// holding that key.
    public var hubKeys: [String] = []
    public var peerKeys: [String] = []
    /// CURVE public keys admitted by this node's ZAP handler besides the roster's.
    public var adminKeys: [String] = []
    /// Where to serve Prometheus metrics and /health over HTTP; nil (the default) serves nothing.
    public var metricsListen: ListenAddress?
    /// Where to serve the web page, its JSON API, /metrics and /health (MemberSyncWeb); nil
    /// (`http_listen = "off"`) serves none. On loopback unless configured otherwise.
    public var httpListen: ListenAddress? = NodeConfig.defaultHTTPListen
    /// True when the file names `http_listen`: an address asked for that cannot be bound stops
    /// the start, while the default one is given up with a warning (a second node on one
    /// machine, a test federation) so it never keeps a node from running.
    public var httpListenExplicit = false
    public static let defaultHTTPListen = ListenAddress(host: "127.0.0.1", port: 7480)
    /// A remote op stamped further ahead of this node's clock than this is refused
    /// (`clock-skew`) until the clock catches up (`max_clock_skew_seconds`, default a day).
    public var maxClockSkewSeconds: Int = Limits.defaultMaxClockSkewSeconds
    /// Per-client quotas on the ROUTER for the requests that cost this node real work.
    public var pullQuota = RequestQuota.pulls
    public var snapshotQuota = RequestQuota.snapshotPages

    public init(nodeID: String, organisation: String, role: NodeRole, dataDir: String, listen: String,
                hubEndpoints: [String] = [], peers: [String] = [], logLevel: String = "info",
                heartbeatMilliseconds: Int = 1000, linkTimeoutMilliseconds: Int? = nil,
                liveWindowMilliseconds: Int = 7 * 24 * 3600 * 1000, pageSize: Int = NodeConfig.defaultPageSize,
                metricsListen: ListenAddress? = nil) {
        self.nodeID = nodeID
        self.organisation = organisation
        self.role = role
        self.dataDir = dataDir
        self.listen = listen
        self.hubEndpoints = hubEndpoints
        self.peers = peers
        self.logLevel = logLevel
        self.heartbeatMilliseconds = heartbeatMilliseconds
        self.linkTimeoutMilliseconds = linkTimeoutMilliseconds ?? heartbeatMilliseconds * 3
        self.liveWindowMilliseconds = liveWindowMilliseconds
        self.pageSize = pageSize
        self.metricsListen = metricsListen
    }

    /// Ops per catch-up page (Pull/OpBatch) and per Push. A page costs one round trip and one
    /// durable commit, so larger pages make catch-up faster; 5,000 ops of a few hundred bytes
    /// stay far below the page byte budget (half the wire's message limit) and keep the time one
    /// page holds the reactor short.
    public static let defaultPageSize = 5000

    public static let fileName = "membersync.toml"
    public static let validLogLevels = ["trace", "debug", "info", "notice", "warning", "error", "critical"]

    /// Reads and checks a config file; every problem is reported with the file and key.
    public static func load(path: String) throws(ConfigError) -> NodeConfig {
        let text: String
        do { text = try String(contentsOfFile: path, encoding: .utf8) } catch {
            throw ConfigError(file: path, message: "cannot read: \(error.localizedDescription)")
        }
        let table: [String: TOMLValue]
        do { table = try TOMLSubset.parse(text) } catch { throw ConfigError(file: path, message: error.description) }
        let baseDir = (path as NSString).deletingLastPathComponent
        return try from(table, file: path, baseDir: baseDir.isEmpty ? "." : baseDir)
    }

    static func from(_ t: [String: TOMLValue], file: String, baseDir: String) throws(ConfigError) -> NodeConfig {
        func fail(_ m: String) -> ConfigError { ConfigError(file: file, message: m) }
        func string(_ k: String, default d: String? = nil) throws(ConfigError) -> String {
            switch t[k] {
            case .string(let s)?: return s
            case nil: if let d { return d }; throw fail("missing key '\(k)'")
            default: throw fail("'\(k)' must be a string")
            }
        }
        func strings(_ k: String) throws(ConfigError) -> [String] {
            switch t[k] {
            case .array(let a)?: return a
            case nil: return []
            default: throw fail("'\(k)' must be an array of strings")
            }
        }
        func int(_ k: String, default d: Int, range: ClosedRange<Int>) throws(ConfigError) -> Int {
            switch t[k] {
            case .integer(let i)?:
                guard range.contains(i) else { throw fail("'\(k)' must be between \(range.lowerBound) and \(range.upperBound)") }
                return i
            case nil: return d
            default: throw fail("'\(k)' must be an integer")
            }
        }
        let known: Set<String> = ["node_id", "organisation", "role", "data_dir", "listen", "hub_endpoints", "peers", "log_level",
                                  "heartbeat_ms", "link_timeout_ms", "live_window_ms", "page_size", "pub_high_water_mark",
                                  "insecure", "hub_signing_keys", "hub_keys", "peer_keys", "admin_keys", "metrics_listen",
                                  "max_clock_skew_seconds", "http_listen"]
        if let unknown = t.keys.sorted().first(where: { !known.contains($0) }) {
            throw fail("unknown key '\(unknown)' (known: \(known.sorted().joined(separator: ", ")))")
        }
        let nodeID = try string("node_id")
        guard isValidSlug(nodeID) else { throw fail("node_id '\(nodeID)' must be a lowercase slug (a-z, 0-9, '-')") }
        let organisation = try string("organisation", default: nodeID)
        guard isValidSlug(organisation) else { throw fail("organisation '\(organisation)' must be a lowercase slug") }
        let roleText = try string("role", default: "member")
        guard let role = NodeRole(rawValue: roleText) else { throw fail("role must be \"member\" or \"hub\", not '\(roleText)'") }
        var dataDir = try string("data_dir", default: ".")
        if !dataDir.hasPrefix("/") { dataDir = (baseDir as NSString).appendingPathComponent(dataDir) }
        let listen = try string("listen")
        let hubs = try strings("hub_endpoints"), peers = try strings("peers")
        for e in [listen] + hubs {
            do { _ = try Endpoint.publisher(for: e) } catch { throw fail(error.description) }
        }
        for p in peers {
            do { _ = try PeerEntry(parsing: p, selfID: nodeID) } catch { throw fail("peers: " + error.message) }
        }
        let level = try string("log_level", default: "info")
        guard validLogLevels.contains(level) else { throw fail("log_level must be one of \(validLogLevels.joined(separator: ", "))") }
        let hb = try int("heartbeat_ms", default: 1000, range: 20...60_000)
        var metrics: ListenAddress?
        if t["metrics_listen"] != nil {
            let text = try string("metrics_listen")
            do { metrics = try ListenAddress(parsing: text) } catch { throw fail("metrics_listen: \(error.message)") }
        }
        var config = NodeConfig(
            nodeID: nodeID, organisation: organisation, role: role, dataDir: dataDir, listen: listen,
            hubEndpoints: hubs, peers: peers, logLevel: level, heartbeatMilliseconds: hb,
            linkTimeoutMilliseconds: try int("link_timeout_ms", default: hb * 3, range: 60...600_000),
            liveWindowMilliseconds: try int("live_window_ms", default: 7 * 24 * 3600 * 1000, range: 1000...Int.max),
            pageSize: try int("page_size", default: defaultPageSize, range: 1...WireLimits.maxOpsPerMessage), metricsListen: metrics)
        if t["http_listen"] != nil {
            config.httpListen = try Self.parseHTTPListen(try string("http_listen"), file: file)
            config.httpListenExplicit = true
        }
        config.publishHighWaterMark = try int("pub_high_water_mark", default: 10_000, range: 1...10_000_000)
        config.maxClockSkewSeconds = try int("max_clock_skew_seconds", default: Limits.defaultMaxClockSkewSeconds, range: 1...(3650 * 86_400))
        switch t["insecure"] {
        case .boolean(let b)?: config.insecure = b
        case nil: break
        default: throw fail("'insecure' must be true or false")
        }
        config.hubKeys = try strings("hub_keys")
        config.peerKeys = try strings("peer_keys")
        config.adminKeys = try strings("admin_keys")
        for k in config.hubKeys + config.peerKeys + config.adminKeys where !isZ85Key(k) {
            throw fail("'\(k)' is not a CURVE public key (40 Z85 characters, as in curve.pub)")
        }
        if !config.insecure {
            guard config.hubKeys.count == hubs.count else {
                throw fail("hub_keys must give one CURVE key per entry of hub_endpoints, in the same order (\(hubs.count) endpoints, \(config.hubKeys.count) keys); a node without keys runs unencrypted only with insecure = true")
            }
            let byEndpoint = config.peerEntries.filter { if case .endpoint = $0 { true } else { false } }.count
            guard config.peerKeys.count == byEndpoint else {
                throw fail("peer_keys must give one CURVE key per endpoint in peers, in the same order (\(byEndpoint) endpoints, \(config.peerKeys.count) keys; a peer named by its node id takes its key from the roster); a node without keys runs unencrypted only with insecure = true")
            }
        }
        for entry in try strings("hub_signing_keys") {
            let (hub, key) = try Self.parseHubSigningKey(entry, file: file)
            config.hubSigningKeys[hub] = key
        }
        return config
    }

    /// Where other nodes reach this one, for the admit line that `init` and the first start
    /// print (peers naming this node by id connect there): `listen`, with a placeholder for a
    /// wildcard host, which only the operator can replace with the office's address.
    public var advertisedEndpoint: String {
        guard listen.hasPrefix("tcp://"), let colon = listen.lastIndex(of: ":") else { return listen }
        let host = listen[listen.index(listen.startIndex, offsetBy: 6)..<colon]
        return ["0.0.0.0", "*", "[::]"].contains(host) ? "tcp://THIS-OFFICE-HOST" + listen[colon...] : listen
    }

    /// The command with which the hub operator admits this node with its public keys.
    public func admitCommand(signingKey: String, curveKey: String) -> String {
        "membersync hub admit \(nodeID) --organisation \(organisation) --signing-key=\(signingKey) '--curve-key=\(curveKey)' --endpoint \(advertisedEndpoint)"
    }

    /// The entries of `peers`, parsed (`load` has checked them).
    public var peerEntries: [PeerEntry] {
        peers.map { (try? PeerEntry(parsing: $0, selfID: nodeID)) ?? .endpoint($0) }
    }

    /// The configured CURVE key of `peers[index]` when it is an endpoint: the `peer_keys`
    /// entry in the same place among the endpoint entries. Nil for a peer named by id.
    public func configuredPeerKey(_ index: Int) -> String? {
        let entries = peerEntries
        guard entries.indices.contains(index), case .endpoint = entries[index] else { return nil }
        let place = entries[..<index].filter { if case .endpoint = $0 { true } else { false } }.count
        return peerKeys.indices.contains(place) ? peerKeys[place] : nil
    }

    /// `HOST:PORT` (a numeric address) or `off`.
    public static func parseHTTPListen(_ text: String, file: String = "http_listen") throws(ConfigError) -> ListenAddress? {
        if text == "off" { return nil }
        do { return try ListenAddress(parsing: text) } catch {
            throw ConfigError(file: file, message: "http_listen: \(error.message) (or \"off\")")
        }
    }

    /// Parses `NODE_ID:HEX` (a hub's node id and its 32-byte Ed25519 public key in hex).
    public static func parseHubSigningKey(_ entry: String, file: String = "hub_signing_keys") throws(ConfigError) -> (String, String) {
        func fail(_ m: String) -> ConfigError { ConfigError(file: file, message: m) }
        let parts = entry.split(separator: ":", maxSplits: 1).map(String.init)
        guard parts.count == 2, isValidSlug(parts[0]) else {
            throw fail("hub signing key '\(entry)' must look like HUB_NODE_ID:HEX_PUBLIC_KEY")
        }
        let key = parts[1].lowercased()
        guard key.utf8.count == 64, key.utf8.allSatisfy({ (0x30...0x39).contains($0) || (0x61...0x66).contains($0) }) else {
            throw fail("hub signing key of \(parts[0]) must be 64 hex digits (an Ed25519 public key)")
        }
        return (parts[0], key)
    }

    /// The TOML text `membersync init` writes.
    public func tomlText() -> String {
        func q(_ s: String) -> String { TOMLSubset.quote(s) }
        func list(_ a: [String]) -> String { "[" + a.map(q).joined(separator: ", ") + "]" }
        return """
        # MemberSync node configuration (written by `membersync init`).
        # Run it with: membersyncd --config \(q((dataDir as NSString).appendingPathComponent(Self.fileName)))

        # This node's id: a lowercase slug, unique in the federation.
        node_id = \(q(nodeID))
        # The organisation (organisations/<id>) this node's office belongs to.
        organisation = \(q(organisation))
        # "member" for a member office, "hub" for the Brussels hub.
        role = \(q(role.rawValue))
        # Where the replica database and the control socket live.
        data_dir = \(q(dataDir))
        # ROUTER endpoint other nodes connect to; the PUB socket uses the same host, port + 1.
        listen = \(q(listen))
        # Hubs in order of preference (members only).
        hub_endpoints = \(list(hubEndpoints))
        # Members to sync with directly while no hub answers: node ids (their endpoint and key
        # come from the roster) or endpoints (each with its key in peer_keys).
        peers = \(list(peers))
        # trace, debug, info, notice, warning, error or critical.
        log_level = \(q(logLevel))
        # Heartbeat interval; a link silent for link_timeout_ms counts as down.
        heartbeat_ms = \(heartbeatMilliseconds)
        link_timeout_ms = \(linkTimeoutMilliseconds)
        # Signing keys of the hubs whose roster this node trusts, as HUB_NODE_ID:HEX.
        hub_signing_keys = \(list(hubSigningKeys.keys.sorted().map { "\($0):\(hubSigningKeys[$0]!)" }))
        # CURVE public keys of the hubs and of the peers given by endpoint, in the same order.
        hub_keys = \(list(hubKeys))
        peer_keys = \(list(peerKeys))
        # Extra CURVE public keys this node admits besides the roster's (e.g. an operator tool).
        admin_keys = \(list(adminKeys))
        # true only on a trusted development network: no CURVE encryption or admission, and
        # remote ops are not verified.
        insecure = \(insecure)
        # Prometheus metrics and /health over HTTP (off unless set), e.g. "127.0.0.1:9464".
        \(metricsListen.map { "metrics_listen = \(q($0.description))" } ?? "# metrics_listen = \"127.0.0.1:9464\"")
        # The web page and its JSON API, with /metrics and /health too ("off" serves none).
        # Without this key: \(Self.defaultHTTPListen), given up with a warning if taken.
        \(httpListenExplicit ? "http_listen = \(q(httpListen?.description ?? "off"))" : "# http_listen = \"\(Self.defaultHTTPListen)\"")

        """
    }
}

/// One entry of `peers`: where to reach a fallback peer, or which node it is.
public enum PeerEntry: Sendable, Equatable, CustomStringConvertible {
    /// `tcp://HOST:PORT` or `ipc://PATH`, with its key in `peer_keys`.
    case endpoint(String)
    /// A node id: endpoint and CURVE key come from its roster entry (`nodes/ID`).
    case node(String)

    /// An entry with `://` is an endpoint; anything else must be a node id other than this one.
    public init(parsing text: String, selfID: String) throws(ConfigError) {
        if text.contains("://") {
            _ = try Endpoint.publisher(for: text)
            self = .endpoint(text)
            return
        }
        guard isValidSlug(text) else {
            throw ConfigError(file: "peers", message: "'\(text)' is neither an endpoint (tcp://HOST:PORT or ipc://PATH) nor a node id (a lowercase slug: a-z, 0-9, '-')")
        }
        guard text != selfID else { throw ConfigError(file: "peers", message: "'\(text)' is this node itself") }
        self = .node(text)
    }

    public var description: String {
        switch self {
        case .endpoint(let e): return e
        case .node(let id): return id
        }
    }
}

/// 40 characters of the Z85 alphabet: the text form of a 32-byte CURVE key.
public func isZ85Key(_ s: String) -> Bool {
    let alphabet = Set("0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ.-:+=^!/*?&<>()[]{}@%$#".utf8)
    return s.utf8.count == 40 && s.utf8.allSatisfy { alphabet.contains($0) }
}

/// A configuration problem, naming the file.
public struct ConfigError: Error, CustomStringConvertible, Equatable {
    public let file: String
    public let message: String
    public var description: String { "\(file): \(message)" }
}

/// Endpoint conventions shared by every node.
public enum Endpoint {
    /// The PUB endpoint paired with a ROUTER endpoint: same host, port + 1 (tcp), or the
    /// path with `.pub` appended (ipc).
    public static func publisher(for router: String) throws(ConfigError) -> String {
        func bad(_ why: String) -> ConfigError { ConfigError(file: "endpoint", message: "'\(router)': \(why)") }
        if router.hasPrefix("ipc://") {
            guard router.count > 6 else { throw bad("empty ipc path") }
            return router + ".pub"
        }
        guard router.hasPrefix("tcp://") else { throw bad("endpoints look like tcp://HOST:PORT or ipc://PATH") }
        guard let colon = router.lastIndex(of: ":"), colon > router.index(router.startIndex, offsetBy: 6),
              let port = Int(router[router.index(after: colon)...]), (1...65534).contains(port)
        else { throw bad("needs a numeric port between 1 and 65534") }
        return String(router[..<colon]) + ":\(port + 1)"
    }
}
