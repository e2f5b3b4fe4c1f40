import Foundation
import MemberSyncModel
import MemberSyncWire

/// How monitoring sees a node: the same verdict for `membersync status` (exit 0 or 1) and
/// `GET /health` (200 or 503).
public struct NodeHealth: Sendable, Equatable {
    public var reasons: [String]
    public var healthy: Bool { reasons.isEmpty }
    public var word: String { healthy ? "healthy" : "degraded" }
}

extension Node {
    /// Degraded when the node cannot sync with the nodes it was told to (a configured hub
    /// does not answer; or, with peers only, none does) or cannot write to its store. A lone
    /// hub with no clients is healthy: members may simply be offline.
    func health(now: UInt64) -> NodeHealth {
        var reasons: [String] = []
        if let f = storageFailure { reasons.append("storage failing: \(f)") }
        if isRevokedItself { reasons.append("revoked: the roster revokes this node; every node refuses its connections and its edits") }
        let syncing = engine.syncLinks(now: now)
        if !config.hubEndpoints.isEmpty && engine.activeHub(now: now) == nil {
            reasons.append(syncing.isEmpty ? "no hub or fallback peer reachable" : "no hub reachable (syncing with fallback peers)")
        } else if config.hubEndpoints.isEmpty && !config.peers.isEmpty && syncing.isEmpty {
            reasons.append("no peer reachable")
        }
        if engine.counters.equivocations > 0 {
            reasons.append("equivocation: \(engine.counters.equivocations) validly signed ops contradict ops held for the same dot (see the log)")
        }
        return NodeHealth(reasons: reasons)
    }

    /// Answers the metrics listener: `/metrics`, `/health`, 404 for anything else.
    func answerHTTP(_ request: MetricsHTTPServer.Request) -> MetricsHTTPServer.Response {
        let now = wallClockMilliseconds()
        switch request.path {
        case "/metrics":
            return .init(status: 200, contentType: PrometheusText.contentType, body: metricsText(now: now))
        case "/health":
            let h = health(now: now)
            let body = h.word + (h.reasons.isEmpty ? "" : ": " + h.reasons.joined(separator: "; ")) + "\n"
            return .init(status: h.healthy ? 200 : 503, body: body)
        default:
            return .init(status: 404, body: "not found: try /metrics or /health\n")
        }
    }

    /// Counts of existing records and conflicted fields, from the replica's summary (kept as
    /// records change): a scrape must not walk a large replica every time.
    func replicaGauges() -> (records: Int, conflicts: Int) {
        engine.replica.refreshSummary()
        return (engine.replica.existingRecordCount, engine.replica.conflictCount)
    }

    /// The Prometheus exposition. Label values are fixed sets (reasons, link kinds, status
    /// codes) or node ids, which the roster bounds.
    func metricsText(now: UInt64) -> String {
        var p = PrometheusText()
        let replica = engine.replica
        let c = engine.counters
        p.gauge("membersync_build_info", "Software and protocol version of this node (always 1).", 1, labels: [
            ("version", SyncEngine.softwareVersion), ("protocol", String(ProtocolVersion.current)),
            ("role", config.role.rawValue), ("node_id", config.nodeID),
        ])
        p.gauge("process_start_time_seconds", "Start time of the daemon since the Unix epoch.", Double(startedAt) / 1000)
        p.gauge("membersync_healthy", "1 when healthy, 0 when degraded (as `membersync status` and /health report).",
                health(now: now).healthy ? 1 : 0)

        p.counter("membersync_ops_applied_total", "Remote ops applied (new to this node).", c.opsApplied)
        p.counter("membersync_ops_duplicate_total", "Remote ops received that this node already held.", c.opsDuplicate)
        for reason in Set(["schema", "malformed", "snapshot", "other"]).union(c.opsRejected.keys).sorted() {
            p.counter("membersync_ops_rejected_total", "Remote ops (or snapshot pages) refused by validation, by reason.",
                      c.opsRejected[reason] ?? 0, labels: [("reason", reason)])
        }
        p.counter("membersync_ops_waited_total", "Remote ops that waited for their causal past (applied once it arrived).", c.opsWaited)
        p.gauge("membersync_ops_waiting", "Remote ops waiting for their causal past now.", engine.waiting.count)
        p.gauge("membersync_refused_edits", "This node's own edits that are refused now (membersync refused lists them).", engine.refusedEdits.count)
        p.counter("membersync_equivocations_total", "Validly signed ops contradicting an op held for the same dot.", c.equivocations)
        for reason in Set(["pull-quota", "snapshot-quota"]).union(c.requestsRefused.keys).sorted() {
            p.counter("membersync_requests_refused_total", "Requests left unanswered because their client exceeded its quota, by reason.",
                      c.requestsRefused[reason] ?? 0, labels: [("reason", reason)])
        }
        p.counter("membersync_local_writes_total", "Edits made on this node (set and delete).", c.localWrites)
        for reason in Set(Self.dropReasons).union(dropped.keys).sorted() {
            p.counter("membersync_messages_dropped_total", "Inter-node messages dropped undecoded, by reason.",
                      dropped[reason] ?? 0, labels: [("reason", reason)])
        }
        p.counter("membersync_snapshots_served_total", "Snapshots this node started serving.", c.snapshotsServed)
        p.counter("membersync_snapshots_loaded_total", "Snapshots this node fetched and loaded.", c.snapshotsLoaded)

        for (kind, links) in [("hub", engine.hubs), ("peer", engine.peers)] {
            p.gauge("membersync_links_configured", "Outbound links in the configuration, by kind.", links.count, labels: [("kind", kind)])
        }
        for (kind, links) in [("hub", engine.hubs), ("peer", engine.peers)] {
            p.gauge("membersync_links_up", "Outbound links that are up (welcomed and heard from recently), by kind.",
                    links.filter { engine.isUp($0, now: now) }.count, labels: [("kind", kind)])
        }
        let timeout = UInt64(config.linkTimeoutMilliseconds)
        p.gauge("membersync_clients_connected", "Nodes that greeted this node and were heard from within the link timeout.",
                engine.clients.values.filter { now &- $0.lastSeen <= timeout }.count)

        // What each known node is known to hold: the join of what it told us as a client and
        // what it reported on our link to it.
        var known: [String: (version: VersionVector, lastSeen: UInt64)] = [:]
        for client in engine.clients.values { known[client.nodeID] = (client.version, client.lastSeen) }
        for s in engine.hubs + engine.peers {
            guard let node = s.remoteNode, s.lastHeard > 0 else { continue }
            var entry = known[node] ?? (VersionVector(), 0)
            entry.version.merge(s.remoteVersion)
            entry.lastSeen = max(entry.lastSeen, s.lastHeard)
            known[node] = entry
        }
        known[config.nodeID] = nil
        for (node, k) in known.sorted(by: { $0.key < $1.key }) {
            p.gauge("membersync_peer_ops_behind", "Ops this node holds that the peer is not known to hold.",
                    Int(clamping: k.version.missing(from: replica.version)), labels: [("peer", node)])
        }
        for (node, k) in known.sorted(by: { $0.key < $1.key }) {
            p.gauge("membersync_peer_last_seen_age_seconds", "Seconds since the peer was last heard from.",
                    Double(now &- min(now, k.lastSeen)) / 1000, labels: [("peer", node)])
        }

        let gauges = replicaGauges()
        p.gauge("membersync_records", "Records that exist (not deleted) in the replica.", gauges.records)
        p.gauge("membersync_conflicts_open", "Fields whose concurrent values await resolution.", gauges.conflicts)
        p.gauge("membersync_ops_in_log", "Ops held in the op log (for catch-up).", replica.logCount)
        p.gauge("membersync_pending_ops", "Own ops the hub has not acknowledged yet.", Int(clamping: engine.pendingCount))
        p.gauge("membersync_store_bytes", "Size of the replica database on disk, WAL included.", Double(store.diskBytes()))

        p.histogram("membersync_local_write_commit_seconds", "Time from receiving a local edit to its durable commit.",
                    metrics.localWriteCommit)
        p.histogram("membersync_op_apply_delay_seconds",
                    "Time from an op's timestamp at its origin to its durable apply on this node (clock skew included).",
                    metrics.opApplyLatency)
        if let server = metricsServer {
            for (code, n) in server.responses.sorted(by: { $0.key < $1.key }) {
                p.counter("membersync_http_responses_total", "Answers of the metrics listener, by HTTP status.", n,
                          labels: [("code", String(code))])
            }
        }
        return p.text
    }

    /// Fixed reasons for dropped messages, exported even at zero so rates work from the start.
    static let dropReasons = ["no_routing_id", "frame_count", "bad_signature", "unsupported_version", "oversized",
                              "malformed", "empty_envelope", "invalid_field"]

    static func dropReason(_ e: WireError) -> String {
        switch e {
        case .wrongFrameCount: return "frame_count"
        case .badSignature: return "bad_signature"
        case .unsupportedVersion: return "unsupported_version"
        case .oversized: return "oversized"
        case .malformed: return "malformed"
        case .emptyEnvelope: return "empty_envelope"
        case .invalidField: return "invalid_field"
        }
    }
}
