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

    /// Adds what the node's counters rose by since the last call to its metrics. Called after
    /// every turn of the reactor: when nothing changed it costs two comparisons.
    func publishCounters() {
        let c = engine.counters
        if c != metrics.lastCounters { metrics.publish(engine: c) }
        if dropped != metrics.lastDropped { metrics.publish(dropped: dropped) }
    }

    /// Sets every gauge from the node's state and publishes the health verdict for /health
    /// (gauges first, so a reader who saw the verdict finds `membersync_healthy` agreeing).
    /// Called every `gaugeMilliseconds` and before every control reply, so what the CLI just
    /// did shows in the metrics once it has its answer. Label values are fixed sets (reasons,
    /// link kinds) or node ids, which the roster bounds.
    func publishGauges(now: UInt64) {
        // Before any copy of the replica is taken below, so folding copies nothing.
        foldChanges()
        let h = health(now: now)
        metrics.healthy.record(h.healthy ? 1 : 0)
        metrics.opsWaiting.record(engine.waiting.count)
        metrics.refusedEdits.record(engine.refusedEdits.count)
        for (kind, links) in [("hub", engine.hubs), ("peer", engine.peers)] {
            metrics.linksConfigured[kind]?.record(links.count)
            metrics.linksUp[kind]?.record(links.filter { engine.isUp($0, now: now) }.count)
        }
        let timeout = UInt64(config.linkTimeoutMilliseconds)
        metrics.clientsConnected.record(engine.clients.values.filter { now &- $0.lastSeen <= timeout }.count)

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
        let replica = engine.replica
        metrics.peerOpsBehind.set(known.mapValues { Double(Int(clamping: $0.version.missing(from: replica.version))) })
        metrics.peerLastSeenAge.set(known.mapValues { Double(now &- min(now, $0.lastSeen)) / 1000 })

        // From the replica's summary, kept as records change (see `foldChanges`).
        metrics.records.record(replica.existingRecordCount)
        metrics.conflictsOpen.record(replica.conflictCount)
        metrics.opsInLog.record(replica.logCount)
        metrics.pendingOps.record(Int(clamping: engine.pendingCount))
        metrics.storeBytes.record(Double(store.diskBytes()))
        telemetry.publish(h)
    }

    func publishMetrics(now: UInt64) {
        publishCounters()
        publishGauges(now: now)
    }

    /// The Prometheus exposition, current as of now (the control socket's `metrics` command,
    /// which the web page serves).
    func metricsText(now: UInt64) -> String {
        publishMetrics(now: now)
        return telemetry.exposition()
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
