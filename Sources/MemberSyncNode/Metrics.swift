import CoreMetrics
import MemberSyncEngine
import Prometheus
import Synchronization

/// The content type of the Prometheus text exposition (format version 0.0.4).
public enum PrometheusText {
    public static let contentType = "text/plain; version=0.0.4; charset=utf-8"
}

/// A metric family the node reports: its Prometheus type and HELP text; for a histogram, its
/// bucket bounds in seconds.
public struct MetricFamily: Sendable {
    public enum Kind: Sendable, Equatable {
        case counter, gauge
        case histogram([Double])
    }

    public let kind: Kind
    public let help: String
}

/// Every metric the daemon exports, by name. Names, types and meanings are a contract with
/// dashboards and alerts (README, Monitoring): change them only on purpose.
public enum MetricFamilies {
    /// For local commits: an fsync'd SQLite transaction takes a fraction of a millisecond to
    /// tens of milliseconds depending on the disk.
    public static let commitBounds: [Double] = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5]
    /// For edit-to-apply delay: milliseconds when live, up to days for offline edits.
    public static let replicationBounds: [Double] = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30,
                                                     60, 300, 1800, 3600, 21600, 86400]

    public static let all: [String: MetricFamily] = [
        "membersync_build_info": .init(kind: .gauge, help: "Software and protocol version of this node (always 1)."),
        "process_start_time_seconds": .init(kind: .gauge, help: "Start time of the daemon since the Unix epoch."),
        "membersync_healthy": .init(kind: .gauge, help: "1 when healthy, 0 when degraded (as `membersync status` and /health report)."),
        "membersync_ops_applied_total": .init(kind: .counter, help: "Remote ops applied (new to this node)."),
        "membersync_ops_duplicate_total": .init(kind: .counter, help: "Remote ops received that this node already held."),
        "membersync_ops_rejected_total": .init(kind: .counter, help: "Remote ops (or snapshot pages) refused by validation, by reason."),
        "membersync_ops_waited_total": .init(kind: .counter, help: "Remote ops that waited for their causal past (applied once it arrived)."),
        "membersync_ops_waiting": .init(kind: .gauge, help: "Remote ops waiting for their causal past now."),
        "membersync_refused_edits": .init(kind: .gauge, help: "This node's own edits that are refused now (membersync refused lists them)."),
        "membersync_equivocations_total": .init(kind: .counter, help: "Validly signed ops contradicting an op held for the same dot."),
        "membersync_requests_refused_total": .init(kind: .counter, help: "Requests left unanswered because their client exceeded its quota, by reason."),
        "membersync_local_writes_total": .init(kind: .counter, help: "Edits made on this node (set and delete)."),
        "membersync_messages_dropped_total": .init(kind: .counter, help: "Inter-node messages dropped undecoded, by reason."),
        "membersync_snapshots_served_total": .init(kind: .counter, help: "Snapshots this node started serving."),
        "membersync_snapshots_loaded_total": .init(kind: .counter, help: "Snapshots this node fetched and loaded."),
        "membersync_links_configured": .init(kind: .gauge, help: "Outbound links in the configuration, by kind."),
        "membersync_links_up": .init(kind: .gauge, help: "Outbound links that are up (welcomed and heard from recently), by kind."),
        "membersync_clients_connected": .init(kind: .gauge, help: "Nodes that greeted this node and were heard from within the link timeout."),
        "membersync_peer_ops_behind": .init(kind: .gauge, help: "Ops this node holds that the peer is not known to hold."),
        "membersync_peer_last_seen_age_seconds": .init(kind: .gauge, help: "Seconds since the peer was last heard from."),
        "membersync_records": .init(kind: .gauge, help: "Records that exist (not deleted) in the replica."),
        "membersync_conflicts_open": .init(kind: .gauge, help: "Fields whose concurrent values await resolution."),
        "membersync_ops_in_log": .init(kind: .gauge, help: "Ops held in the op log (for catch-up)."),
        "membersync_pending_ops": .init(kind: .gauge, help: "Own ops the hub has not acknowledged yet."),
        "membersync_store_bytes": .init(kind: .gauge, help: "Size of the replica database on disk, WAL included."),
        "membersync_local_write_commit_seconds": .init(kind: .histogram(commitBounds),
                                                       help: "Time from receiving a local edit to its durable commit."),
        "membersync_op_apply_delay_seconds": .init(kind: .histogram(replicationBounds),
                                                   help: "Time from an op's timestamp at its origin to its durable apply on this node (clock skew included)."),
        "membersync_http_responses_total": .init(kind: .counter, help: "Answers of the metrics listener, by HTTP status."),
    ]
}

/// A swift-metrics factory over a Prometheus registry that gives each metric its HELP text
/// and bucket bounds from `MetricFamilies` (swift-prometheus's own factory gives none, and
/// one set of buckets for every histogram). Every metric of a registry must come from this
/// factory: the registry refuses one name registered with two different HELP texts.
public struct NodeMetricsFactory: MetricsFactory {
    public let registry: PrometheusCollectorRegistry

    public init(registry: PrometheusCollectorRegistry) { self.registry = registry }

    private func descriptor(_ label: String) -> MetricNameDescriptor {
        MetricNameDescriptor(metricName: label, unitName: "", helpText: MetricFamilies.all[label]?.help ?? "")
    }

    private func buckets(_ label: String) -> [Double] {
        if case .histogram(let bounds)? = MetricFamilies.all[label]?.kind { return bounds }
        return MetricFamilies.commitBounds
    }

    public func makeCounter(label: String, dimensions: [(String, String)]) -> any CounterHandler {
        registry.makeCounter(descriptor: descriptor(label), labels: dimensions)
    }

    public func makeFloatingPointCounter(label: String, dimensions: [(String, String)]) -> any FloatingPointCounterHandler {
        registry.makeCounter(descriptor: descriptor(label), labels: dimensions)
    }

    public func makeRecorder(label: String, dimensions: [(String, String)], aggregate: Bool) -> any RecorderHandler {
        guard aggregate else { return registry.makeGauge(descriptor: descriptor(label), labels: dimensions) }
        return registry.makeValueHistogram(descriptor: descriptor(label), labels: dimensions, buckets: buckets(label))
    }

    public func makeMeter(label: String, dimensions: [(String, String)]) -> any MeterHandler {
        registry.makeGauge(descriptor: descriptor(label), labels: dimensions)
    }

    public func makeTimer(label: String, dimensions: [(String, String)]) -> any TimerHandler {
        registry.makeDurationHistogram(descriptor: descriptor(label), labels: dimensions,
                                       buckets: buckets(label).map { Duration.nanoseconds(Int64($0 * 1e9)) })
    }

    public func destroyCounter(_ handler: any CounterHandler) {
        if let counter = handler as? Prometheus.Counter { registry.unregisterCounter(counter) }
    }

    public func destroyFloatingPointCounter(_ handler: any FloatingPointCounterHandler) {
        if let counter = handler as? Prometheus.Counter { registry.unregisterCounter(counter) }
    }

    public func destroyRecorder(_ handler: any RecorderHandler) {
        if let gauge = handler as? Prometheus.Gauge { registry.unregisterGauge(gauge) }
        if let histogram = handler as? ValueHistogram { registry.unregisterValueHistogram(histogram) }
    }

    public func destroyMeter(_ handler: any MeterHandler) {
        if let gauge = handler as? Prometheus.Gauge { registry.unregisterGauge(gauge) }
    }

    public func destroyTimer(_ handler: any TimerHandler) {
        if let histogram = handler as? DurationHistogram { registry.unregisterDurationHistogram(histogram) }
    }
}

/// What a node publishes for readers on other threads (the metrics and health listener):
/// the registry its reactor records metrics into, and its last health verdict.
///
/// The reactor writes the metrics through swift-metrics handlers (atomic counters and
/// gauges, histograms behind their own small lock) and the verdict under a mutex a reader
/// holds only to copy it; the exposition reads the registry. Nothing a reader does waits
/// for the reactor, and the reactor never waits for a scrape.
public final class NodeTelemetry: Sendable {
    public let registry: PrometheusCollectorRegistry
    private let published = Mutex(NodeHealth(reasons: ["starting"]))

    public init(registry: PrometheusCollectorRegistry = PrometheusCollectorRegistry()) {
        self.registry = registry
    }

    public var factory: NodeMetricsFactory { NodeMetricsFactory(registry: registry) }

    /// The verdict as the reactor last published it (at most a quarter of a second old).
    public var health: NodeHealth { published.withLock { $0 } }

    func publish(_ health: NodeHealth) { published.withLock { $0 = health } }

    /// The Prometheus text exposition of everything recorded so far.
    public func exposition() -> String { registry.emitToString() }
}

/// A histogram of durations or delays in seconds: negative and non-finite observations count
/// as zero (a clock that stepped back must not make a bucket count go wrong).
public struct SecondsHistogram {
    let recorder: CoreMetrics.Recorder

    init(_ name: String, factory: NodeMetricsFactory) {
        recorder = CoreMetrics.Recorder(label: name, dimensions: [], aggregate: true, factory: factory)
    }

    public func observe(_ seconds: Double) {
        recorder.record(seconds.isFinite ? max(0, seconds) : 0)
    }
}

/// A counter fed with running totals kept elsewhere (the engine's counters): each
/// publication adds what the total rose by since the last one.
struct TotalCounter {
    let counter: CoreMetrics.Counter
    private(set) var total: UInt64 = 0

    init(_ name: String, _ labels: [(String, String)] = [], factory: NodeMetricsFactory) {
        counter = CoreMetrics.Counter(label: name, dimensions: labels, factory: factory)
    }

    mutating func publish(_ newTotal: UInt64) {
        guard newTotal > total else { return }
        counter.increment(by: Int64(clamping: newTotal - total))
        total = newTotal
    }
}

/// A family of `TotalCounter`s by one label (a reason), made as label values appear.
struct LabeledTotals {
    let name: String
    let label: String
    let factory: NodeMetricsFactory
    private var counters: [String: TotalCounter] = [:]

    /// `always` are exported from the start, at zero, so rates work before the first event.
    init(_ name: String, by label: String, always: [String], factory: NodeMetricsFactory) {
        self.name = name
        self.label = label
        self.factory = factory
        for value in always { counters[value] = TotalCounter(name, [(label, value)], factory: factory) }
    }

    mutating func publish(_ totals: [String: UInt64]) {
        for (value, total) in totals {
            if counters[value] == nil { counters[value] = TotalCounter(name, [(label, value)], factory: factory) }
            counters[value]!.publish(total)
        }
    }
}

/// Gauges of one family by one label whose values come and go (peers): a gauge is made when
/// its value first appears and removed from the exposition when it is no longer reported.
struct LabeledGauges {
    let name: String
    let label: String
    let factory: NodeMetricsFactory
    private var gauges: [String: CoreMetrics.Gauge] = [:]

    init(_ name: String, by label: String, factory: NodeMetricsFactory) {
        self.name = name
        self.label = label
        self.factory = factory
    }

    mutating func set(_ values: [String: Double]) {
        for (value, gauge) in gauges where values[value] == nil {
            gauge.destroy()
            gauges[value] = nil
        }
        for (value, number) in values {
            if gauges[value] == nil { gauges[value] = CoreMetrics.Gauge(label: name, dimensions: [(label, value)], factory: factory) }
            gauges[value]!.record(number)
        }
    }
}

/// The node's metrics as its reactor holds them: swift-metrics handles over the telemetry's
/// registry, and the totals last published. Used on the reactor thread only.
final class NodeMetrics {
    let factory: NodeMetricsFactory
    /// Time from receiving a local write to its durable commit (what the CLI waits for).
    let localWriteCommit: SecondsHistogram
    /// Time from an op's HLC (its edit time at the origin) to its durable apply here.
    let opApplyLatency: SecondsHistogram

    /// The counters as last published, to tell at a glance that nothing changed.
    var lastCounters = EngineCounters()
    var lastDropped: [String: UInt64] = [:]
    var opsApplied, opsDuplicate, opsWaited, equivocations, localWrites, snapshotsServed, snapshotsLoaded: TotalCounter
    var opsRejected, requestsRefused, messagesDropped: LabeledTotals

    let healthy, opsWaiting, refusedEdits, clientsConnected, records, conflictsOpen, opsInLog, pendingOps, storeBytes: CoreMetrics.Gauge
    let linksConfigured, linksUp: [String: CoreMetrics.Gauge]
    var peerOpsBehind, peerLastSeenAge: LabeledGauges

    init(factory: NodeMetricsFactory, buildLabels: [(String, String)], startedAtSeconds: Double, dropReasons: [String]) {
        self.factory = factory
        func gauge(_ name: String, _ labels: [(String, String)] = []) -> CoreMetrics.Gauge { CoreMetrics.Gauge(label: name, dimensions: labels, factory: factory) }
        func total(_ name: String) -> TotalCounter { TotalCounter(name, factory: factory) }
        gauge("membersync_build_info", buildLabels).record(1)
        gauge("process_start_time_seconds").record(startedAtSeconds)
        localWriteCommit = SecondsHistogram("membersync_local_write_commit_seconds", factory: factory)
        opApplyLatency = SecondsHistogram("membersync_op_apply_delay_seconds", factory: factory)
        opsApplied = total("membersync_ops_applied_total")
        opsDuplicate = total("membersync_ops_duplicate_total")
        opsWaited = total("membersync_ops_waited_total")
        equivocations = total("membersync_equivocations_total")
        localWrites = total("membersync_local_writes_total")
        snapshotsServed = total("membersync_snapshots_served_total")
        snapshotsLoaded = total("membersync_snapshots_loaded_total")
        opsRejected = LabeledTotals("membersync_ops_rejected_total", by: "reason", always: ["schema", "malformed", "snapshot", "other"], factory: factory)
        requestsRefused = LabeledTotals("membersync_requests_refused_total", by: "reason", always: ["pull-quota", "snapshot-quota"], factory: factory)
        messagesDropped = LabeledTotals("membersync_messages_dropped_total", by: "reason", always: dropReasons, factory: factory)
        healthy = gauge("membersync_healthy")
        opsWaiting = gauge("membersync_ops_waiting")
        refusedEdits = gauge("membersync_refused_edits")
        clientsConnected = gauge("membersync_clients_connected")
        records = gauge("membersync_records")
        conflictsOpen = gauge("membersync_conflicts_open")
        opsInLog = gauge("membersync_ops_in_log")
        pendingOps = gauge("membersync_pending_ops")
        storeBytes = gauge("membersync_store_bytes")
        linksConfigured = Dictionary(uniqueKeysWithValues: ["hub", "peer"].map { ($0, gauge("membersync_links_configured", [("kind", $0)])) })
        linksUp = Dictionary(uniqueKeysWithValues: ["hub", "peer"].map { ($0, gauge("membersync_links_up", [("kind", $0)])) })
        peerOpsBehind = LabeledGauges("membersync_peer_ops_behind", by: "peer", factory: factory)
        peerLastSeenAge = LabeledGauges("membersync_peer_last_seen_age_seconds", by: "peer", factory: factory)
    }

    func publish(engine c: EngineCounters) {
        opsApplied.publish(c.opsApplied)
        opsDuplicate.publish(c.opsDuplicate)
        opsWaited.publish(c.opsWaited)
        equivocations.publish(c.equivocations)
        localWrites.publish(c.localWrites)
        snapshotsServed.publish(c.snapshotsServed)
        snapshotsLoaded.publish(c.snapshotsLoaded)
        opsRejected.publish(c.opsRejected)
        requestsRefused.publish(c.requestsRefused)
        lastCounters = c
    }

    func publish(dropped: [String: UInt64]) {
        messagesDropped.publish(dropped)
        lastDropped = dropped
    }
}
