import Foundation
import Logging
import MemberSyncConfig
import MemberSyncControl
import MemberSyncDirectory
import MemberSyncEngine
import MemberSyncModel
import MemberSyncStore
import MemberSyncWire
import ZeroMQ

#if canImport(Glibc)
import Glibc
#endif

/// Milliseconds since the Unix epoch, from the system clock.
public func wallClockMilliseconds() -> UInt64 {
    var ts = timespec()
    clock_gettime(CLOCK_REALTIME, &ts)
    return UInt64(ts.tv_sec) * 1000 + UInt64(ts.tv_nsec) / 1_000_000
}

/// Nanoseconds from a clock that never jumps, for measuring durations.
public func monotonicNanoseconds() -> UInt64 {
    var ts = timespec()
    clock_gettime(CLOCK_MONOTONIC, &ts)
    return UInt64(ts.tv_sec) * 1_000_000_000 + UInt64(ts.tv_nsec)
}

/// Why a node could not start.
public struct NodeStartError: Error, CustomStringConvertible {
    public let message: String
    public var description: String { message }
}

/// A running node: the reactor that owns every ZeroMQ socket on one thread, feeds the sync
/// engine, persists what it applies, and serves the CLI on the control socket.
public final class Node {
    public let config: NodeConfig
    let logger: Logger
    let store: Store
    var engine: SyncEngine
    let context: ZMQContext
    var router: ZMQSocket
    var publisher: ZMQSocket
    let control: ZMQSocket
    /// This node's CURVE key pair; nil with `insecure = true` (no encryption, no admission).
    let curve: CurveKeyPair?
    /// The ZAP handler (RFC 27): a REP socket at inproc://zeromq.zap.01 in the reactor's poll
    /// set, consulted by libzmq for every CURVE handshake on this node's server sockets.
    let zap: ZMQSocket?
    /// Bumped when the server sockets are re-created after a revocation; the poller follows.
    var socketGeneration = 0
    /// Nodes the roster revokes: refused at ZAP, and their routing ids ignored.
    var revokedNodes: Set<String> = []
    /// CURVE keys of the roster's non-revoked entries, by key: rebuilt on every roster change
    /// so a ZAP request costs a lookup, not a scan of the replica.
    var rosterCurveKeys: [String: String] = [:]
    /// CURVE keys of revoked roster entries, with the node each belonged to: refused at ZAP
    /// even when the config lists them.
    var revokedCurveKeys: [String: String] = [:]
    var hubLinks: [Link] = []
    var peerLinks: [Link] = []
    /// Per entry of `peers`, what its link connects to (Links.swift); for a peer named by id
    /// it follows the roster.
    var peerTargets: [LinkTarget] = []
    /// The ROUTER's handshake events (secure nodes only), re-created with the ROUTER.
    var routerMonitor: ZMQSocket?
    var monitorSerial = 0
    /// The last CURVE handshake failure of each link, until one succeeds (status, doctor).
    var handshakeFailures: [LinkID: HandshakeFailure] = [:]
    /// Keeps refused handshakes, retried every few hundred milliseconds, from flooding the log.
    var handshakeLogLimiter = LogLimiter(windowMilliseconds: 10_000, budget: 20)
    public let controlPath: String
    public let startedAt = wallClockMilliseconds()
    /// Held for the node's life; released (by the kernel, however the process ends) when the
    /// node goes, also when its init fails half-way.
    private let lock: DirectoryLock
    /// Undecodable or unexpected messages, by reason.
    var dropped: [String: UInt64] = [:]
    /// Called on the reactor thread after every durable commit, with the ops it stored
    /// (local and remote). For in-process observers such as the latency benchmark.
    public var onCommit: (([Op]) -> Void)?
    /// Per drop reason: when it was last logged and how many went unlogged since; a peer
    /// sending garbage must not flood the journal.
    private var dropLog: [String: (at: UInt64, unlogged: UInt64)] = [:]
    /// Where the reactor publishes its metrics and health verdict for other threads.
    public let telemetry: NodeTelemetry
    /// The reactor's handles on those metrics (Node+Metrics.swift publishes into them).
    let metrics: NodeMetrics
    /// Why the last store commit failed, until one succeeds again (makes the node degraded).
    var storageFailure: String?
    /// Ops and record keys a failed commit could not store, retried with the next commit.
    var unstored: (ops: [EncodedOp], keys: Set<RecordKey>) = ([], [])
    /// Records changed by stored ops whose new states are not written yet: the store rebuilds
    /// them from the ops on load, and a checkpoint writes them in one go (see `Store.commit`).
    var dirtyRecords = Set<RecordKey>()
    /// The sorted keys of the export being paged through, and the version, rights-facts
    /// generation and collection they were taken at (`exportPage`).
    var exportKeys: (version: VersionVector, generation: UInt64, collection: String?, keys: [ExportKey])?
    var lastCheckpoint = wallClockMilliseconds()
    /// A checkpoint is written once this many records wait, or this long after the last one
    /// (and always before compaction and at shutdown): it bounds the replay on restart.
    static let checkpointRecordLimit = 20_000
    static let checkpointMilliseconds: UInt64 = 10_000
    /// Commits of at most this many ops (single edits, live ops) write their records at once,
    /// as before: they are cheap, and deferring them made checkpoints big enough to stall the
    /// reactor (the edit-to-peer latency p99 doubled). Bulk commits (pages, batches) defer.
    static let deferRecordsAboveOps = 64
    /// `search` through the search index (nil when the index could not be opened: every
    /// search is then the scan).
    var search: IndexedSearch?
    /// How long the reactor gives the search index per tick and per idle turn (a poll that
    /// found nothing to do): while a backlog waits, indexing takes a few percent of a busy
    /// reactor and all of an idle one (while the backlog lasts, a poll does not wait), in
    /// slices short enough not to delay a message much.
    static let searchIndexingPerTickNanoseconds: UInt64 = 1_000_000
    static let searchIndexingPerIdleTurnNanoseconds: UInt64 = 4_000_000
    /// Runs searches and lists of more records than `queryOnReactorLimit` off the reactor
    /// (a test may put in one of its own before the node runs).
    var queryWorker: QueryWorker
    /// Up to this many records a search or a list runs on the reactor (about a millisecond
    /// per thousand records); more are run by `queryWorker`.
    static let queryOnReactorLimit = 2_000
    /// How often the gauges and the health verdict are published (also before every
    /// control reply); counters are published after every turn of the reactor.
    static let gaugeMilliseconds: UInt64 = 250
    var eventLog = EventLog()

    public static func controlSocketPath(dataDir: String) -> String { ControlSocket.path(dataDir: dataDir) }

    static func lockPath(dataDir: String) -> String { ControlSocket.lockPath(dataDir: dataDir) }

    /// True when a daemon holds the data directory's lock (see `ControlSocket.nodeIsRunning`).
    public static func isRunning(dataDir: String) -> Bool { ControlSocket.nodeIsRunning(dataDir: dataDir) }

    /// Opens the data directory and its replica. With `repair`, a damaged or missing database
    /// is moved aside and the node starts as a new replica that fetches everything from its
    /// hub (see `openReplica`). Metrics go into `telemetry`'s registry.
    ///
    /// Every ZeroMQ socket is made here: a node must be created on the thread that runs it.
    public init(config: NodeConfig, logger: Logger, repair: Bool = false, telemetry: NodeTelemetry = NodeTelemetry()) throws {
        self.config = config
        self.logger = logger
        self.telemetry = telemetry
        metrics = NodeMetrics(factory: telemetry.factory, buildLabels: [
            ("version", SyncEngine.softwareVersion), ("protocol", String(ProtocolVersion.current)),
            ("role", config.role.rawValue), ("node_id", config.nodeID),
        ], startedAtSeconds: Double(startedAt) / 1000, dropReasons: Self.dropReasons)
        try DataDirectory.secure(config.dataDir, databaseFile: Store.fileName)
        lock = try DirectoryLock(path: Self.lockPath(dataDir: config.dataDir), dataDir: config.dataDir)
        let loaded = try Self.openReplica(config, logger: logger, repair: repair)
        store = loaded.store
        // After the load: a commit on the reactor never runs a WAL checkpoint.
        try store.checkpointInBackground()
        let replica = loaded.replica
        let signingKey = try NodeKeys.loadSigningKey(dataDir: config.dataDir)
        if signingKey == nil && !config.insecure {
            throw NodeStartError(message: "no signing key at \((config.dataDir as NSString).appendingPathComponent(NodeKeys.signingSecretFile)): run `membersync init` for this data directory (or set insecure = true on a trusted test network)")
        }
        engine = SyncEngine(settings: EngineSettings(config, signingKey: signingKey), replica: replica)
        if let text = try store.meta(RefusedEditsText.metaKey) {
            do { engine.restoreRefusedEdits(try RefusedEditsText.decode(text)) } catch {
                throw NodeStartError(message: "the store's list of refused edits is damaged: \(error)")
            }
        }
        context = try ZMQContext()

        if config.insecure {
            curve = nil
            zap = nil
        } else {
            guard let key = try NodeKeys.loadCurveKey(dataDir: config.dataDir) else {
                throw NodeStartError(message: "no CURVE key at \((config.dataDir as NSString).appendingPathComponent(NodeKeys.curveSecretFile)): run `membersync init` for this data directory (or set insecure = true on a trusted test network)")
            }
            curve = key
            // The handler must be bound before any CURVE server socket accepts a connection.
            zap = try Self.makeZAPHandler(context)
        }
        (router, publisher) = try Self.makeServerSockets(context, config, curve)
        controlPath = Self.controlSocketPath(dataDir: config.dataDir)
        control = try Self.makeControlSocket(context, path: controlPath)
        queryWorker = try QueryWorker()
        revokedNodes = currentlyRevoked()
        rosterCurveKeys = currentRosterCurveKeys()
        revokedCurveKeys = currentRevokedCurveKeys()
        if curve != nil { routerMonitor = try router.monitor(context, name: nextMonitorName()) }
        for i in config.hubEndpoints.indices { hubLinks.append(try makeLink(target(.hub(i)))) }
        peerTargets = config.peers.indices.map(resolvePeer)
        for (i, t) in peerTargets.enumerated() {
            if case .node(let id) = config.peerEntries[i] { engine.repointPeer(i, endpoint: t.endpoint ?? id) }
            peerLinks.append(try makeLink(t))
        }
        logger.info("node started", metadata: [
            "node.id": "\(config.nodeID)", "replica": "\(replica.id)", "role": "\(config.role.rawValue)",
            "listen": "\(config.listen)", "records": "\(engine.replica.records.count)",
            "security": "\(config.insecure ? "OFF (insecure = true: remote ops are not verified)" : "on")",
        ])
        // Records the load rebuilt from ops past the last checkpoint are not in the records
        // table yet: the next checkpoint must write them before it claims to cover their ops.
        dirtyRecords = loaded.replayedKeys
        // The status summary of every record, before the node serves: from here on each turn
        // of the reactor folds in what it changed, so no status has a backlog to digest.
        engine.refreshSummary()
        storeMissingShares(loaded.rowsWithoutShares)
        do { search = try IndexedSearch(dataDir: config.dataDir, replica: engine.replica) } catch {
            logger.error("cannot open the search index; every search scans all records", metadata: ["error": "\(error)"])
        }
        // Readers (the metrics listener) find real values from the start.
        publishMetrics(now: wallClockMilliseconds())
    }

    /// The ZAP handler's REP socket at inproc://zeromq.zap.01.
    static func makeZAPHandler(_ context: ZMQContext) throws -> ZMQSocket {
        let handler = try ZMQSocket(context, .rep)
        try handler.setLinger(milliseconds: 0)
        try handler.bind("inproc://zeromq.zap.01")
        return handler
    }

    /// The control socket (ROUTER on ipc:// in the data directory), reachable by this user
    /// only. Clients use REQ; ROUTER lets the node answer a request later (a large search or
    /// list run off the reactor) while it serves others.
    static func makeControlSocket(_ context: ZMQContext, path: String) throws -> ZMQSocket {
        if FileManager.default.fileExists(atPath: path) {
            // A stale socket file from a killed node; a live one would hold the replica
            // database lock first (see the lock file).
            try? FileManager.default.removeItem(atPath: path)
        }
        let oldMask = umask(0o077)
        defer { umask(oldMask) }
        let control = try ZMQSocket(context, .router)
        try control.setLinger(milliseconds: 0)
        try control.bind("ipc://" + path)
        chmod(path, 0o600)
        return control
    }

    /// Opens the store and loads the replica, refusing to serve wrong data: a damaged row, or
    /// a missing or empty database in a directory that held a replica, stops the start with
    /// the reason and the way out (`--repair`).
    static func openReplica(_ config: NodeConfig, logger: Logger, repair: Bool)
        throws -> (store: Store, replica: Replica, replayedKeys: Set<RecordKey>, rowsWithoutShares: [StoredRecordRow]) {
        let dir = config.dataDir
        let dbPath = DataDirectory.path(dir, Store.fileName)
        let hint = "start once with `membersyncd --config FILE --repair` to move it aside and fetch the replica again from the hub"
        if repair {
            let moved = try DataDirectory.moveAside(dir, databaseFile: Store.fileName, now: wallClockMilliseconds())
            logger.warning("repair: starting as a new replica that fetches everything from its hub; own edits the hub never acknowledged are only in the old file",
                           metadata: ["moved_to": "\(moved ?? "-")"])
        }
        let recorded = DataDirectory.recordedReplica(dir)
        do {
            // A new database starts as an empty file of mode 0600: SQLite gives its WAL and
            // shared-memory files the database file's mode.
            if recorded == nil && !FileManager.default.fileExists(atPath: dbPath) {
                let fd = open(dbPath, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o600)
                if fd >= 0 { close(fd) }
            }
            let store = try Store(path: dbPath, mustExist: recorded != nil)
            let id = try store.identity(node: config.nodeID)
            if let recorded, recorded != id.description {
                throw NodeStartError(message: "\(dbPath) holds replica \(id), but this data directory belongs to replica \(recorded); \(hint)")
            }
            if recorded == nil { try DataDirectory.recordReplica(dir, id) }
            let loaded = try store.load(id: id, wallClock: { wallClockMilliseconds() })
            return (store, loaded.replica, loaded.replayedKeys, loaded.rowsWithoutShares)
        } catch let e as StoreError {
            switch e {
            case .identityMismatch: throw NodeStartError(message: "\(e)")
            case .missing(let why):
                throw NodeStartError(message: "\(why), but this data directory holds replica \(recorded ?? "?") (\(DataDirectory.replicaMarkerFile)); refusing to start as a new, empty node: restore the file, or \(hint)")
            default:
                throw NodeStartError(message: "\(e); refusing to start rather than serve wrong data: \(hint)")
            }
        }
    }

    /// The ROUTER and PUB every node binds; with a CURVE key both are CURVE servers whose
    /// handshakes go through the ZAP handler.
    static func makeServerSockets(_ context: ZMQContext, _ config: NodeConfig, _ curve: CurveKeyPair?) throws -> (ZMQSocket, ZMQSocket) {
        let router = try ZMQSocket(context, .router)
        try router.setLinger(milliseconds: 200)
        try router.setRouterMandatory(true)
        // Handover lets a restarted node reclaim its routing id from a connection that has not
        // timed out yet. With CURVE on it would also let an admitted node take over another
        // node's id at connection level, before any message can be checked, so a secure node
        // leaves it off: a duplicate id waits until the old connection's heartbeat times out.
        if curve == nil { try router.setOption(ZMQ_ROUTER_HANDOVER_OPTION, Int32(1)) }
        try router.setMaxMessageSize(Int64(WireLimits.maxMessageBytes + 1024))
        try router.setHeartbeat(intervalMilliseconds: 1000, timeoutMilliseconds: 5000)
        // Answers queued for one client that does not read them (pages of up to 4 MiB): past
        // this a send would block and is dropped, so one client cannot grow this node by more
        // than a few such answers (with the request quotas in SyncEngine).
        try router.setSendHighWaterMark(32)
        try router.setReceiveHighWaterMark(10_000)
        let publisher = try ZMQSocket(context, .pub)
        try publisher.setLinger(milliseconds: 200)
        try publisher.setSendHighWaterMark(Int32(clamping: config.publishHighWaterMark))
        if let curve {
            for s in [router, publisher] {
                try s.makeCurveServer(secretKey: curve.secretKey)
                try s.setZAPDomain("membersync")
            }
        }
        try bindRetrying(router, config.listen)
        try bindRetrying(publisher, try Endpoint.publisher(for: config.listen))
        return (router, publisher)
    }

    /// libzmq closes a listener asynchronously, so re-binding its port right after closing the
    /// old socket can briefly fail with EADDRINUSE.
    static func bindRetrying(_ socket: ZMQSocket, _ endpoint: String) throws {
        var attempt = 0
        while true {
            do { return try socket.bind(endpoint) } catch {
                attempt += 1
                if attempt >= 40 { throw error }
                usleep(50_000)
            }
        }
    }

    static let linkRenewalMilliseconds: UInt64 = 5000

    /// libzmq never reconnects a connection whose CURVE handshake the server refused (ZAP 400
    /// is a protocol error that ends the session), so a node admitted after its first attempt
    /// would stay out. Links that should be up but are not get fresh sockets every few seconds.
    func renewSilentLinks(now: UInt64) {
        for l in engine.linksToGreet(now: now) where !engine.link(l).welcomed && target(l).endpoint != nil {
            do {
                try replaceLink(l)
            } catch {
                logger.error("cannot renew link", metadata: ["link": "\(l)", "error": "\(error)"])
            }
        }
    }

    /// Runs the reactor until `shouldStop` returns true (checked at least every 50 ms).
    public func run(shouldStop: () -> Bool) {
        enum Source { case router, control, queryReplies, zap, dealer(LinkID), sub(LinkID), linkMonitor(LinkID), routerMonitor }
        var sources: [Source] = []
        var generation = -1
        var base = Poller()
        var lastTick: UInt64 = 0
        var lastLinkRenewal = wallClockMilliseconds()
        var lastGauges: UInt64 = 0
        while !shouldStop() {
            if generation != socketGeneration {
                generation = socketGeneration
                base = Poller()
                sources = []
                base.add(.socket(router)); sources.append(.router)
                base.add(.socket(control)); sources.append(.control)
                base.add(.fileDescriptor(queryWorker.wakeDescriptor)); sources.append(.queryReplies)
                if let zap { base.add(.socket(zap)); sources.append(.zap) }
                if let routerMonitor { base.add(.socket(routerMonitor)); sources.append(.routerMonitor) }
                for (id, l) in hubLinks.indices.map({ (LinkID.hub($0), hubLinks[$0]) }) + peerLinks.indices.map({ (LinkID.peer($0), peerLinks[$0]) }) {
                    base.add(.socket(l.dealer)); sources.append(.dealer(id))
                    base.add(.socket(l.sub)); sources.append(.sub(id))
                    if let m = l.monitor { base.add(.socket(m)); sources.append(.linkMonitor(id)) }
                }
            }
            let ready: [Int]
            do { ready = try base.poll(timeoutMilliseconds: search?.wantsIdleTurns == true ? 0 : 25) } catch {
                logger.error("poll failed", metadata: ["error": "\(error)"])
                break
            }
            if ready.isEmpty { search?.indexSome(engine.replica, nanoseconds: Self.searchIndexingPerIdleTurnNanoseconds) }
            for index in ready where generation == socketGeneration {
                switch sources[index] {
                case .router: drainRouter()
                case .control: serveControl()
                case .queryReplies: sendQueryReplies()
                case .zap: serveZAP()
                case .dealer(let l): drain(dealerSocket(l)) { frames, now in self.onLinkFrames(l, frames, now: now) }
                case .sub(let l): drainSubscription(l)
                case .linkMonitor(let l): drainMonitor(link: l)
                case .routerMonitor: drainRouterMonitor()
                }
            }
            let now = wallClockMilliseconds()
            if curve != nil && now &- lastLinkRenewal >= Self.linkRenewalMilliseconds {
                lastLinkRenewal = now
                renewSilentLinks(now: now)
            }
            if now &- lastTick >= 25 {
                lastTick = now
                if !dirtyRecords.isEmpty && now &- lastCheckpoint >= Self.checkpointMilliseconds { checkpoint() }
                execute(engine.onTick(now: now))
                search?.indexSome(engine.replica, nanoseconds: Self.searchIndexingPerTickNanoseconds)
            }
            foldChanges()
            eventLog.observe(engine, now: now, logger: logger)
            publishCounters()
            if now &- lastGauges >= Self.gaugeMilliseconds {
                lastGauges = now
                publishGauges(now: now)
            }
        }
        logger.info("node stopping", metadata: ["node.id": "\(config.nodeID)"])
        if !dirtyRecords.isEmpty { checkpoint() }
        foldChanges()
        search?.close(engine.replica)
        logSearchFailure()
        for l in hubLinks + peerLinks { l.close() }
        router.close(monitor: routerMonitor)
        publisher.close(); control.close(); zap?.close()
        try? FileManager.default.removeItem(atPath: controlPath)
    }


    func dealerSocket(_ l: LinkID) -> ZMQSocket {
        switch l {
        case .hub(let i): return hubLinks[i].dealer
        case .peer(let i): return peerLinks[i].dealer
        }
    }

    func subSocket(_ l: LinkID) -> ZMQSocket {
        switch l {
        case .hub(let i): return hubLinks[i].sub
        case .peer(let i): return peerLinks[i].sub
        }
    }

    /// Reads up to a batch of messages from one socket, then persists everything they
    /// changed in one transaction before any reply or publication goes out.
    private func drain(_ socket: ZMQSocket, _ handle: ([[UInt8]], UInt64) -> [Directive]) {
        var directives: [Directive] = []
        for _ in 0..<512 {
            guard let frames = try? socket.receive(dontWait: true) else { break }
            directives += handle(frames, wallClockMilliseconds())
        }
        execute(directives)
    }

    /// Like `drain`, for a subscription: consecutive live ops are handed to the engine as one
    /// batch (`SyncEngine.onLiveOps`), so a run of one origin's chained ops costs one signature
    /// check; any other message is handled in its place in the order received.
    private func drainSubscription(_ l: LinkID) {
        let socket = subSocket(l)
        var directives: [Directive] = []
        var ops: [Op] = []
        func applyOps() {
            guard !ops.isEmpty else { return }
            directives += engine.onLiveOps(l, ops, now: wallClockMilliseconds())
            ops.removeAll(keepingCapacity: true)
        }
        for _ in 0..<512 {
            guard let frames = try? socket.receive(dontWait: true) else { break }
            guard let message = decodeLinkFrames(l, frames) else { continue }
            if case .op(let op) = message { ops.append(op); continue }
            applyOps()
            directives += engine.onSubscription(l, message, now: wallClockMilliseconds())
        }
        applyOps()
        execute(directives)
    }

    /// Like `drain`, for the ROUTER: each message comes with the ZAP user id of its connection.
    private func drainRouter() {
        var directives: [Directive] = []
        for _ in 0..<512 {
            guard let received = try? router.receive(dontWait: true, property: curve == nil ? nil : "User-Id") else { break }
            directives += onRouterFrames(received.frames, userID: received.property, now: wallClockMilliseconds())
        }
        execute(directives)
    }

    private func drop(_ reason: String, _ detail: String, from peer: String = "?") {
        dropped[reason, default: 0] += 1
        let now = wallClockMilliseconds()
        var entry = dropLog[reason] ?? (at: 0, unlogged: 0)
        if entry.at != 0 && now &- entry.at < 10_000 {
            entry.unlogged += 1
            dropLog[reason] = entry
            return
        }
        var m: Logger.Metadata = ["reason": "\(reason)", "error": "\(detail.prefix(200))", "peer.id": "\(peer.prefix(64))"]
        if entry.unlogged > 0 { m["unlogged_since_last"] = "\(entry.unlogged)" }
        logger.warning("message dropped", metadata: m)
        dropLog[reason] = (at: now, unlogged: 0)
    }

    private func onRouterFrames(_ frames: [[UInt8]], userID: String?, now: UInt64) -> [Directive] {
        guard frames.count >= 2 else { drop("no_routing_id", "message without a routing id", from: "?"); return [] }
        let client = frames[0]
        // A connection admitted by a roster key speaks only under that node's id: an admitted
        // member cannot take over another node's routing id (and so its session).
        if let userID, rosterCurveKeys.values.contains(userID), client != Array(userID.utf8) {
            drop("impersonation", "connection of \(userID) used routing id \(String(decoding: client, as: UTF8.self))")
            return []
        }
        if !revokedNodes.isEmpty, revokedNodes.contains(String(decoding: client, as: UTF8.self)) {
            drop("revoked", "message from revoked node \(String(decoding: client, as: UTF8.self))")
            return []
        }
        do {
            let message = try WireCodec.decode(Array(frames.dropFirst()))
            return engine.onRequest(from: client, message, now: now)
        } catch {
            drop(Self.dropReason(error), error.description, from: String(decoding: client, as: UTF8.self))
            return []
        }
    }

    private func onLinkFrames(_ l: LinkID, _ frames: [[UInt8]], now: UInt64) -> [Directive] {
        guard let message = decodeLinkFrames(l, frames) else { return [] }
        return engine.onLinkMessage(l, message, now: now)
    }

    /// A message from a link's DEALER or SUB, or nil when it does not decode (dropped and
    /// counted, never passed on).
    private func decodeLinkFrames(_ l: LinkID, _ frames: [[UInt8]]) -> Message? {
        do { return try WireCodec.decode(frames) } catch {
            drop(Self.dropReason(error), error.description, from: engine.link(l).remoteNode ?? l.description)
            return nil
        }
    }

    /// Commits ops and the current states of the records they touched, with the replica's
    /// version and log floors, in one transaction; remembers a failure for the health verdict.
    ///
    /// What a failed commit held is kept and committed with the next one: the replica already
    /// holds it in memory, so a later duplicate would be acknowledged with the version that
    /// covers it, and that Ack must not go out before it is stored.
    ///
    /// In a bulk commit, records changed only by its ops are not written now but marked dirty
    /// (the ops rebuild them on load); other changed records (snapshot pages, a merged
    /// backup, small commits) are written at once. With `checkpoint`, or once enough records
    /// wait, every dirty record is written too and the store notes the version they reflect.
    ///
    /// A local write passes `keepOnFailure: false`: it is taken back when the commit fails
    /// (see `commitLocal`), so it must not be retried either. `label` names the write path
    /// for crash tests (`Store.faultPoint`). Ops come with their encodings, which are what the
    /// store keeps (a local op's are those it was signed with).
    func persistToStore(ops: [EncodedOp], keys: [RecordKey], checkpoint forced: Bool = false, label: String = "ops",
                        keepOnFailure: Bool = true) throws {
        let allOps = unstored.ops + ops
        var allKeys = unstored.keys
        allKeys.formUnion(keys)
        let opKeys = allOps.count > Self.deferRecordsAboveOps ? Set(allOps.lazy.map(\.op.key)) : []
        var dirty = dirtyRecords
        var writeNow = Set<RecordKey>()
        for k in allKeys {
            if opKeys.contains(k) { dirty.insert(k) } else { writeNow.insert(k) }
        }
        let checkpoint = forced || dirty.count >= Self.checkpointRecordLimit
        if checkpoint { writeNow.formUnion(dirty) }
        let shares = engine.sharesForStoring(writeNow)
        do {
            let replica = engine.replica
            try store.commit(encodedOps: allOps, records: writeNow.compactMap { k in replica.records[k].map { (k, $0) } },
                             version: replica.version, floor: replica.logFloor,
                             checkpoint: checkpoint ? replica.version : nil, label: checkpoint && allOps.isEmpty ? "checkpoint" : label,
                             shareOf: { key, record in shares[key] ?? RecordShare(key, record) })
            storageFailure = nil
            unstored = ([], [])
            dirtyRecords = checkpoint ? [] : dirty.subtracting(writeNow)
            if checkpoint { lastCheckpoint = wallClockMilliseconds() }
        } catch {
            storageFailure = "\(error)"
            if keepOnFailure { unstored = (allOps, allKeys) }
            throw error
        }
    }

    /// Stores the status shares the load did not find (a store from before format 2, or
    /// shares that failed their checksum), so the next start reads them instead of hashing
    /// those records. Rows the load rebuilt from ops are left out: the next checkpoint writes
    /// them whole, share included. Once after an upgrade; a failure only costs the next
    /// start that hashing again.
    func storeMissingShares(_ rows: [StoredRecordRow]) {
        guard !rows.isEmpty else { return }
        let replica = engine.replica
        let shares = rows.compactMap { row in
            dirtyRecords.contains(row.key) ? nil : replica.share(of: row.key).map { (row: row, share: $0) }
        }
        do {
            try store.storeShares(shares)
            logger.info("stored the status shares of records that had none", metadata: ["records": "\(shares.count)"])
        } catch {
            logger.warning("cannot store the records' status shares; the next start computes them again", metadata: ["error": "\(error)"])
        }
    }

    /// Executes directives: first the relays (they acknowledge nothing, see
    /// `Directive.relay`), then one durable commit of everything to persist, then the other
    /// sends in order. If the commit fails nothing after it goes out.
    func execute(_ directives: [Directive]) {
        guard !directives.isEmpty else { return }
        let plan = ExecutionPlan(directives)
        // Logged at the end of the reactor's pass, also when the commit below fails.
        eventLog.queue(plan.events)
        for d in plan.beforeCommit { carryOut(d) }
        // After a failed commit, retry it before anything else goes out: an Ack of a
        // duplicate reports the in-memory version, which covers what is not stored yet.
        if plan.persist || !unstored.ops.isEmpty || !unstored.keys.isEmpty {
            // A commit of record states alone is a snapshot page.
            let label = plan.ops.isEmpty && !plan.keys.isEmpty ? "snapshot" : "ops"
            do { try persistToStore(ops: plan.ops, keys: plan.keys, label: label) } catch {
                // Not durable: send nothing that would acknowledge it. The node keeps running;
                // peers resend what they do not see acknowledged, and the next commit retries.
                logger.critical("cannot persist; withholding acknowledgements", metadata: ["error": "\(error)"])
                return
            }
            if !plan.ops.isEmpty { onCommit?(plan.ops.map(\.op)) }
            let now = wallClockMilliseconds()
            // How long remote ops took to arrive (a hub's own roster writes made while it
            // answers a Hello are not deliveries).
            for op in plan.ops.lazy.map(\.op) where op.origin != engine.replica.id {
                metrics.opApplyLatency.observe(Double(now &- min(now, op.hlc.milliseconds)) / 1000)
            }
        }
        if plan.keys.contains(where: { $0.collection == "nodes" }) { rosterChanged() }
        if plan.compaction {
            // Compacted ops can no longer rebuild records: write those first.
            do { try persistToStore(ops: [], keys: [], checkpoint: true) } catch {
                logger.error("checkpoint before compaction failed; not compacting", metadata: ["error": "\(error)"])
                for d in plan.afterCommit { carryOut(d) }
                return
            }
            do { try store.compact(floor: engine.replica.logFloor, version: engine.replica.version,
                                   keep: Set(engine.replica.retainedRights.keys)) } catch {
                logger.error("compaction failed", metadata: ["error": "\(error)"])
            }
        }
        for d in plan.afterCommit { carryOut(d) }
    }

    /// Writes every dirty record (see `persistToStore`); a failure is retried at the next tick.
    func checkpoint() {
        do { try persistToStore(ops: [], keys: [], checkpoint: true) } catch {
            logger.error("record checkpoint failed", metadata: ["error": "\(error)"])
        }
    }

    /// Sends one message directive (or remembers a node); persist steps are `execute`'s.
    private func carryOut(_ d: Directive) {
        switch d {
        case .persist, .persistCompaction, .event:
            break  // events (rejections among them) are logged, rate-limited, by the event log (NodeEvents.swift)
        case .send(let l, let m):
            send(dealerSocket(l), WireCodec.encode(m), what: m.kind, to: l.description)
        case .reply(let client, let m):
            send(router, [client] + WireCodec.encode(m), what: m.kind, to: String(decoding: client, as: UTF8.self))
        case .publish(let m):
            send(publisher, WireCodec.encode(m), what: m.kind, to: "pub")
        case .relay(let op):
            send(publisher, WireCodec.encode(publishing: op), what: "op", to: "pub")
        case .pushOps(let l, let ops):
            send(dealerSocket(l), WireCodec.encode(pushing: ops), what: "push", to: l.description)
        case .publishOp(let op):
            send(publisher, WireCodec.encode(publishing: op), what: "op", to: "pub")
        case .rememberNode(let nodeID):
            rememberNode(nodeID)
        case .persistRefused:
            storeRefusedEdits()
        }
    }

    /// Stores the list of this node's refused edits (one checksummed meta row); a failure is
    /// logged, and the list is written whole again at its next change.
    private func storeRefusedEdits() {
        do { try store.setMeta(RefusedEditsText.metaKey, RefusedEditsText.encode(engine.refusedEdits)) } catch {
            logger.error("cannot store the refused edits", metadata: ["error": "\(error)"])
        }
    }

    private func send(_ socket: ZMQSocket, _ frames: [[UInt8]], what: String, to: String) {
        do {
            if try !socket.send(frames, dontWait: true) {
                logger.debug("send would block; dropped (anti-entropy will repair)", metadata: ["msg": "\(what)", "peer": "\(to)"])
            }
        } catch {
            logger.debug("send failed", metadata: ["msg": "\(what)", "peer": "\(to)", "error": "\(error)"])
        }
    }

    private func rememberNode(_ nodeID: String) {
        guard let c = engine.clients[nodeID] else { return }
        let info = RememberedNode(organisation: c.organisation, role: c.role, softwareVersion: c.softwareVersion,
                                  protocol: c.protocolVersion, lastSeen: Int(clamping: c.lastSeen))
        try? store.savePeer(nodeID, info: String(decoding: JSONCoding.encode(info), as: UTF8.self))
    }

    // MARK: control socket

    /// Serves one request from the control socket. A client's frames are its envelope (its
    /// routing id, then REQ's empty delimiter) and the request; the reply goes back with the
    /// same envelope. A search or list of many records is run by `queryWorker` and answered
    /// when done (`sendQueryReplies`), so the reactor goes on syncing meanwhile.
    private func serveControl() {
        guard let frames = try? control.receive(dontWait: true), frames.count >= 2 else { return }
        let envelope = Array(frames.dropLast())
        let reply: [UInt8]
        switch answer(frames[frames.count - 1]) {
        case .reply(let r): reply = r
        case .query(let job) where job.recordCount <= Self.queryOnReactorLimit: reply = job.reply()
        case .query(let job):
            if queryWorker.submit(job, envelope: envelope) { return }
            reply = ControlReply.encode(error: ControlError("the node is already answering \(QueryWorker.maxWaiting) large searches or lists; try again in a moment"))
        }
        sendControlReply(reply, to: envelope)
    }

    /// Sends the replies `queryWorker` has finished to their clients.
    private func sendQueryReplies() {
        for done in queryWorker.takeReplies() { sendControlReply(done.reply, to: done.envelope) }
    }

    private func sendControlReply(_ reply: [UInt8], to envelope: [[UInt8]]) {
        // What the request changed is in the metrics before the client has its answer.
        publishMetrics(now: wallClockMilliseconds())
        _ = try? control.send(envelope + [reply], dontWait: true)
    }
}

// ZMQ_ROUTER_HANDOVER from zmq.h, re-exported here so the node need not import the C module.
let ZMQ_ROUTER_HANDOVER_OPTION: Int32 = 56
