import Logging
import MemberSyncEngine
import MemberSyncModel

/// Turns what happens in the engine into one log line per event, with metadata keys
/// (`peer.id`, `op.origin`, ...) rather than interpolated text, so logs can be filtered.
///
/// Link up/down, hub failover and nodes coming and going are found by comparing each reactor
/// pass with the previous one: a link goes down because time passes without traffic, not
/// because of any input the engine could report. Everything else comes from the `EngineEvent`s
/// among the directives the reactor executed (`queue`).
struct EventLog {
    /// Events of the directives executed since the last pass; bounded, so a burst (a Push of
    /// thousands of bad ops) cannot grow it without limit.
    private(set) var pending: [EngineEvent] = []
    static let maxQueuedEvents = 1000
    private var upLinks: Set<LinkID> = []
    private var activeHub: Int?
    private var liveClients: Set<String> = []
    private var observed = false
    /// Per link and error code: when it was last logged and how often it recurred since. A
    /// refused Hello is retried every heartbeat; once a minute in the log is enough.
    private var linkErrors: [String: (at: UInt64, repeats: Int)] = [:]
    static let linkErrorLogIntervalMilliseconds: UInt64 = 60_000
    /// Rejected ops logged one by one per pass before the rest are summarised: a peer pushing
    /// a batch of bad ops must not flood the journal.
    static let maxRejectionsPerPass = 20

    /// Keeps `events` for the next `observe`, up to `maxQueuedEvents`.
    mutating func queue(_ events: [EngineEvent]) {
        pending += events.prefix(max(0, Self.maxQueuedEvents - pending.count))
    }

    mutating func observe(_ engine: SyncEngine, now: UInt64, logger: Logger) {
        let events = pending
        pending.removeAll(keepingCapacity: true)
        let links: [(LinkID, LinkState)] = engine.hubs.enumerated().map { (LinkID.hub($0.offset), $0.element) }
            + engine.peers.enumerated().map { (LinkID.peer($0.offset), $0.element) }
        let up = Set(links.filter { engine.isUp($0.1, now: now) }.map(\.0))
        let hub = engine.activeHub(now: now)
        let timeout = UInt64(engine.settings.linkTimeoutMilliseconds)
        let live = Set(engine.clients.values.filter { now &- $0.lastSeen <= timeout }.map(\.nodeID))
        defer {
            upLinks = up
            activeHub = hub
            liveClients = live
            observed = true
        }
        if observed {
            for (l, s) in links where up.contains(l) != upLinks.contains(l) {
                var m = Self.metadata(l, s)
                if up.contains(l) {
                    logger.info("link up", metadata: m)
                } else {
                    if s.lastHeard > 0 { m["silent_ms"] = "\(now &- s.lastHeard)" }
                    logger.warning("link down", metadata: m)
                }
            }
            if hub != activeHub {
                logHubChange(from: activeHub, to: hub, engine, now: now, logger: logger)
            }
            for id in live.subtracting(liveClients).sorted() {
                guard let c = engine.clients[id] else { continue }
                logger.info("node connected", metadata: [
                    "peer.id": "\(c.nodeID)", "peer.organisation": "\(c.organisation)", "peer.role": "\(c.role)",
                    "peer.software_version": "\(c.softwareVersion)", "protocol": "\(c.protocolVersion)",
                ])
            }
            for id in liveClients.subtracting(live).sorted() {
                logger.notice("node silent", metadata: ["peer.id": "\(id)", "silent_ms": "\(now &- (engine.clients[id]?.lastSeen ?? now))"])
            }
        }
        log(events, engine, now: now, logger: logger)
    }

    private func logHubChange(from old: Int?, to new: Int?, _ engine: SyncEngine, now: UInt64, logger: Logger) {
        switch (old, new) {
        case (nil, let h?):
            logger.info("hub active", metadata: Self.metadata(.hub(h), engine.hubs[h]))
        case (let o?, let h?):
            var m = Self.metadata(.hub(h), engine.hubs[h])
            m["from.endpoint"] = "\(engine.hubs[o].endpoint)"
            if let n = engine.hubs[o].remoteNode { m["from.peer.id"] = "\(n)" }
            // Moving down the preference list means the better hub failed; moving up is the
            // normal return to it.
            if h > o { logger.warning("hub failover", metadata: m) } else { logger.info("hub preferred again", metadata: m) }
        case (let o?, nil):
            let peers = engine.syncLinks(now: now).count
            var m: Logger.Metadata = ["from.endpoint": "\(engine.hubs[o].endpoint)", "peers.up": "\(peers)",
                                      "mode": "\(peers > 0 ? "fallback-peers" : "offline")"]
            if let n = engine.hubs[o].remoteNode { m["from.peer.id"] = "\(n)" }
            logger.warning("no hub reachable", metadata: m)
        case (nil, nil):
            break
        }
    }

    private mutating func log(_ events: [EngineEvent], _ engine: SyncEngine, now: UInt64, logger: Logger) {
        var rejections = 0, unlogged = 0
        for e in events {
            switch e {
            case .opRejected(let origin, let counter, let key, let reason, let detail):
                rejections += 1
                guard rejections <= Self.maxRejectionsPerPass else { unlogged += 1; continue }
                logger.warning("op rejected", metadata: [
                    "op.origin": "\(origin)", "op.counter": "\(counter)", "record.key": "\(key)",
                    "reason": "\(reason.rawValue)", "error": "\(detail.prefix(300))",
                ])
            case .snapshotLoaded(let l, let node, let records):
                var m = Self.metadata(l, l.state(in: engine))
                if let node { m["peer.id"] = "\(node)" }
                m["records"] = "\(records)"
                logger.info("snapshot fetched", metadata: m)
            case .linkError(let l, let node, let code, let message):
                let key = "\(l) \(code)"
                if let last = linkErrors[key], now &- last.at < Self.linkErrorLogIntervalMilliseconds {
                    linkErrors[key]?.repeats += 1
                    continue
                }
                var m = Self.metadata(l, l.state(in: engine))
                if let repeats = linkErrors[key]?.repeats, repeats > 0 { m["repeats_unlogged"] = "\(repeats)" }
                linkErrors[key] = (at: now, repeats: 0)
                if let node { m["peer.id"] = "\(node)" }
                m["code"] = "\(code)"
                m["error"] = "\(message)"
                logger.warning("link refused", metadata: m)
            case .compacted(let dropped, let held):
                logger.info("op log compacted", metadata: ["ops.dropped": "\(dropped)", "ops.held": "\(held)"])
            case .equivocation(let dot, let heldKey, let otherKey):
                logger.error("equivocation: an origin signed two different ops for one dot", metadata: [
                    "op.origin": "\(dot.replica)", "op.counter": "\(dot.counter)",
                    "record.key": "\(heldKey)", "other.record.key": "\(otherKey)",
                ])
            case .epochRefused(let node, let replica, let registered):
                logger.error("epoch not registered: the node's ops from this replica id are refused everywhere", metadata: [
                    "peer.id": "\(node)", "replica": "\(replica)", "epochs.registered": "\(registered)",
                    "limit": "\(Limits.maxEpochsPerNode)",
                ])
            case .ownOpRefused(let dot, let key, let reason, let detail, let held):
                logger.warning("own edit refused", metadata: [
                    "op.origin": "\(dot.replica)", "op.counter": "\(dot.counter)", "record.key": "\(key)",
                    "reason": "\(reason)", "error": "\(detail.prefix(300))", "held": "\(held)",
                    "note": "listed by membersync refused; not pushed again",
                ])
            }
        }
        if unlogged > 0 {
            logger.warning("more ops rejected", metadata: ["count": "\(unlogged)", "note": "only the first \(Self.maxRejectionsPerPass) per batch are logged one by one"])
        }
    }

    static func metadata(_ l: LinkID, _ s: LinkState) -> Logger.Metadata {
        var m: Logger.Metadata = ["link": "\(l)", "link.kind": "\(l.kind)", "endpoint": "\(s.endpoint)"]
        if let n = s.remoteNode { m["peer.id"] = "\(n)" }
        return m
    }
}

extension LinkID {
    /// `hub` or `peer`: the fixed label used in logs and metrics.
    public var kind: String {
        switch self {
        case .hub: return "hub"
        case .peer: return "peer"
        }
    }

    func state(in engine: SyncEngine) -> LinkState { engine.link(self) }
}
