import MemberSyncConfig
import MemberSyncControl
import MemberSyncDirectory
import MemberSyncEngine
import MemberSyncModel
import MemberSyncWire

/// The node's side of the control protocol: a request frame is read into its command type
/// (`MemberSyncControl`), served here, and the typed result encoded as the reply.
extension Node {
    /// Serves one request frame and returns the reply frame. A request that cannot be read
    /// or served gets `{"ok": false, "error": ...}`; nothing a client sends stops the node.
    func serveControl(_ frame: [UInt8]) -> [UInt8] {
        switch answer(frame) {
        case .reply(let reply): return reply
        case .query(let job): return job.reply()
        }
    }

    /// A request's answer: its reply, or a reading job over the records it needs.
    enum ControlAnswer {
        case reply([UInt8])
        case query(any QueryJob)
    }

    /// Serves one request frame, except that a `search` or a `list` is answered with its job
    /// (the records it reads, taken now), so the caller may run it off the reactor.
    func answer(_ frame: [UInt8]) -> ControlAnswer {
        do {
            let request = try ControlRequest(bytes: frame)
            switch request.command {
            case let search as Control.Search: return .query(try searchJob(search))
            case let list as Control.List: return .query(try listJob(list))
            default: return .reply(try reply(to: request.command))
            }
        } catch let e as ControlError {
            return .reply(ControlReply.encode(error: e))
        } catch {
            return .reply(ControlReply.encode(error: ControlError("\(error)")))
        }
    }

    /// Opens the existential command and serves it with its own result type.
    private func reply<C: ControlCommand>(to command: C) throws -> [UInt8] {
        ControlReply.encode(result: try handle(command))
    }

    /// Serves one command. Writes are durable before this returns.
    func handle<C: ControlCommand>(_ command: C) throws -> C.Result {
        let now = wallClockMilliseconds()
        let received = monotonicNanoseconds()
        let result: Any
        switch command {
        case is Control.Ping: result = Control.Ping.Result(nodeID: config.nodeID)
        case let c as Control.SetFields: result = try set(c, now: now, received: received)
        case let c as Control.SetMany: result = try setMany(c, now: now)
        case is Control.VersionQuery:
            result = Control.VersionQuery.Result(replica: engine.replica.id.description, version: engine.replica.version.json,
                                                 records: engine.replica.records.count)
        case let c as Control.Delete:
            let k = try requestKey(c.key)
            let (op, commit): (Op, LocalCommit)
            do { (op, commit) = try engine.localDelete(k, now: now) } catch { throw ControlError(error.description) }
            try commitLocal(commit, received: received)
            result = WriteResult(key: k.description, origin: op.origin.description, counter: op.counter)
        case let c as Control.Get:
            let key = try requestKey(c.key)
            result = try directory { () throws(DirectoryError) in try Directory.get(key, in: engine.replica) }
        case let c as Control.List: result = try listJob(c).listed()
        case is Control.Conflicts: result = Directory.conflicts(in: engine.replica)
        case is Control.StatusQuery: result = status(now: now)
        case is Control.Refused: result = engine.refusedEdits.reversed().map(Self.refusedEditJSON)
        case let c as Control.Inspect: result = inspect(try requestKey(c.key))
        case let c as Control.Import: result = try importBatch(c, now: now)
        case let c as Control.Export: result = try exportPage(c)
        case let c as Control.Search:
            let job = try searchJob(c)
            result = try directory { () throws(DirectoryError) in try job.hits() }
        case let c as Control.Show:
            let key = try requestKey(c.key)
            result = try directory { () throws(DirectoryError) in try Directory.show(key, in: engine.replica) }
        case let c as Control.History:
            let key = try requestKey(c.key)
            result = try directory { () throws(DirectoryError) in try Directory.history(key, in: engine.replica, role: config.role.rawValue) }
        case let c as Control.Resolve: result = try resolve(c, now: now)
        case is Control.Progress: result = progress(now: now)
        case is Control.Nodes: result = try nodes(now: now)
        case let c as Control.Admit: result = try admit(c, now: now)
        case let c as Control.Revoke: result = try revoke(c, now: now)
        case is Control.Compact: result = try compactNow(now: now)
        case let c as Control.Snapshot: result = try snapshot(c)
        case let c as Control.Restore: result = try restore(c)
        case is Control.Stats: result = stats(now: now)
        case is Control.Integrity:
            // SQLite's full check, for `membersync doctor`: it reads the whole database, so it
            // holds up replication for as long as that takes (a second or so per 100 MB).
            do { result = Control.Integrity.Result(result: try store.integrityCheck(), path: store.path) } catch {
                throw ControlError("cannot check the store: \(error)")
            }
        case let c as Control.Permissions: result = try permissions(c)
        case is Control.Metrics: result = metricsExposition(now: now)
        case is Control.Lag: result = replicationLag(now: now)
        default: throw ControlError("unknown command '\(C.name)'", kind: .unknownCommand)
        }
        guard let typed = result as? C.Result else { throw ControlError("the node has no answer of the right type for '\(C.name)'") }
        return typed
    }

    /// A directory query's error as the control error it answers with.
    func directory<T>(_ body: () throws(DirectoryError) -> T) throws(ControlError) -> T {
        do { return try body() } catch { throw ControlError(error.message) }
    }

    /// A request's key, parsed and checked against the schema.
    func requestKey(_ text: String) throws(ControlError) -> RecordKey {
        try directory { () throws(DirectoryError) in try Directory.key(text, in: engine.replica.schema) }
    }

    func collectionSchema(_ name: String) throws(ControlError) -> CollectionSchema {
        try directory { () throws(DirectoryError) in try Directory.collection(name, in: engine.replica.schema) }
    }

    /// `set`'s edit arguments, parsed against the schema.
    func editChanges(_ args: [String], _ key: RecordKey) throws(ControlError) -> [FieldChange] {
        try directory { () throws(DirectoryError) in try EditParser.changes(args, key: key, schema: engine.replica.schema) }
    }

    private func set(_ c: Control.SetFields, now: UInt64, received: UInt64) throws -> WriteResult {
        let k = try requestKey(c.key)
        let changes = engine.withRevocationFacts(k, try editChanges(c.changes, k), now: now)
        let (op, commit): (Op, LocalCommit)
        do { (op, commit) = try engine.localWrite(k, changes, now: now) } catch { throw ControlError(error.description) }
        try commitLocal(commit, received: received)
        return WriteResult(key: k.description, origin: op.origin.description, counter: op.counter)
    }

    /// Several edits in one transaction (one fsync): bulk loads and benchmarks.
    private func setMany(_ c: Control.SetMany, now: UInt64) throws -> Control.SetMany.Result {
        var edits: [(RecordKey, [FieldChange])] = []
        edits.reserveCapacity(c.edits.count)
        for (i, e) in c.edits.enumerated() {
            let k: RecordKey
            do { k = try requestKey(e.key) } catch { throw ControlError("edit \(i): \(error.message)") }
            if e.changes.isEmpty { throw ControlError("edit \(i): give at least one FIELD=VALUE, FIELD+=ELEMENT or FIELD-=ELEMENT") }
            do { edits.append((k, engine.withRevocationFacts(k, try editChanges(e.changes, k), now: now))) } catch {
                throw ControlError("edit \(i): \(error.message)")
            }
        }
        let (ops, commit, failure) = engine.localWriteBatch(edits, now: now)
        if let failure { throw ControlError("edit \(failure.index): \(failure.error.description) (nothing of this batch was stored)") }
        if let commit { try commitLocal(commit, label: "batch") }
        return .init(count: ops.count, origin: engine.replica.id.description, firstCounter: ops.first?.counter ?? 0, lastCounter: ops.last?.counter ?? 0)
    }

    /// Stores a local write before anything else happens; if that fails the write is taken
    /// back and the CLI hears it, so nothing it was told failed turns up later. `label` names
    /// the write path (crash tests stop the daemon inside it); `received` (monotonic) times
    /// the write for the commit-latency histogram.
    func commitLocal(_ commit: LocalCommit, label: String = "local", received: UInt64 = monotonicNanoseconds()) throws {
        do { try persistToStore(ops: commit.encodedOps, keys: commit.keys, label: label, keepOnFailure: false) } catch {
            // What the write reported (a merged backup's refused ops) is logged all the same.
            eventLog.queue(commit.after.compactMap(\.event))
            engine.rollBack(commit)
            throw ControlError("not stored, so not applied: \(error)")
        }
        onCommit?(commit.ops)
        if commit.keys.contains(where: { $0.collection == "nodes" }) { rosterChanged() }
        metrics.localWriteCommit.observe(Double(monotonicNanoseconds() &- received) / 1e9)
        execute((commit.compaction ? [.persistCompaction] : []) + commit.after)
    }

    func status(now: UInt64) -> StatusResult {
        func linkInfo(_ l: LinkID) -> StatusResult.Link {
            let s = engine.link(l)
            var o = StatusResult.Link(endpoint: s.endpoint, connected: engine.isUp(s, now: now))
            o.nodeID = s.remoteNode
            if case .peer(let i) = l, case .node(let id) = config.peerEntries[i] {
                // Named by id: its endpoint and key come from the roster once it holds them.
                o.nodeID = id
                o.fromRoster = true
                if peerTargets[i].endpoint == nil { o.awaitingRoster = true }
            }
            if let f = handshakeFailures[l] {
                o.handshakeFailure = .init(cause: f.cause.rawValue, message: f.message, secondsAgo: Self.seconds(now &- min(now, f.at)))
            }
            if s.lastHeard > 0 {
                o.lastHeard = ISOTime.string(milliseconds: s.lastHeard)
                o.lastHeardSecondsAgo = Self.seconds(now &- s.lastHeard)
                let lag = lag(s, now: now)
                (o.behindOps, o.behindSeconds, o.theirMissingOps) = (lag.behind, lag.seconds, lag.theirMissing)
            }
            return o
        }
        // Only what changed in this turn of the reactor is hashed and counted here.
        foldChanges()
        let replica = engine.replica
        let activeHub = engine.activeHub(now: now)
        let clients = engine.clients.values.sorted(by: { $0.nodeID < $1.nodeID }).map { c in
            StatusResult.Client(nodeID: c.nodeID, organisation: c.organisation, role: c.role, softwareVersion: c.softwareVersion,
                                protocol: c.protocolVersion, lastSeen: ISOTime.string(milliseconds: c.lastSeen),
                                opsBehind: c.version.missing(from: replica.version))
        }
        let health = health(now: now)
        var hub: StatusResult.Hub?
        // A member's view of its hub: the active one, else the one heard from last.
        if config.role != .hub, let h = activeHub.map({ engine.hubs[$0] }) ?? engine.hubs.filter({ $0.lastHeard > 0 }).max(by: { $0.lastHeard < $1.lastHeard }) {
            var o = StatusResult.Hub(endpoint: h.endpoint, connected: engine.isUp(h, now: now))
            o.lastExchange = ISOTime.string(milliseconds: h.lastHeard)
            o.lastExchangeSecondsAgo = Self.seconds(now &- h.lastHeard)
            o.nodeID = h.remoteNode
            if h.lastHeard > 0 {
                let lag = lag(h, now: now)
                (o.behindOps, o.behindSeconds, o.theirMissingOps) = (lag.behind, lag.seconds, lag.theirMissing)
            }
            hub = o
        } else if config.role != .hub && !engine.hubs.isEmpty {
            hub = StatusResult.Hub(endpoint: engine.hubs[0].endpoint, connected: false)
            hub?.neverHeard = true
        }
        // The roster replicates to every node, so a member sees its own revocation.
        var revoked = isRevokedItself
        if let me = replica.view(RecordKey(collection: "nodes", id: config.nodeID)), me.field("revoked")?.value == .bool(true) { revoked = true }
        return StatusResult(
            health: health.word, healthReasons: health.reasons, nodeID: config.nodeID, organisation: config.organisation,
            role: config.role.rawValue, replica: replica.id.description, listen: config.listen, mode: syncMode(now: now, activeHub: activeHub),
            activeHub: activeHub.map { engine.hubs[$0].endpoint }, hubs: engine.hubs.indices.map { linkInfo(.hub($0)) },
            peers: engine.peers.indices.map { linkInfo(.peer($0)) }, version: replica.version.json, pending: engine.pendingCount,
            digest: replica.digest(), records: replica.existingRecordCount, conflicts: replica.conflictCount, opsInLog: replica.logCount,
            softwareVersion: SyncEngine.softwareVersion, protocol: ProtocolVersion.current, opsApplied: engine.counters.opsApplied,
            opsRejected: engine.counters.opsRejected, opsWaiting: engine.waiting.count, opsWaited: engine.counters.opsWaited,
            requestsRefused: engine.counters.requestsRefused, equivocations: engine.counters.equivocations, messagesDropped: dropped,
            clients: clients, uptimeSeconds: (now &- startedAt) / 1000, hub: hub, revoked: revoked, refusedEdits: engine.refusedEdits.count,
            forks: engine.settledForks, searchBacklog: search?.backlog.count)
    }

    /// Folds the records changed since the last call into the status summary, and hands their
    /// keys to the search index's backlog. Called after every turn of the reactor (and before
    /// reading the summary), so each call costs what one turn changed.
    func foldChanges() {
        let changed = engine.foldChangedRecords()
        if !changed.isEmpty { search?.noteChanged(changed) }
    }

    /// `list`'s records (the collection's), taken from the replica now, and its filters.
    func listJob(_ c: Control.List) throws(ControlError) -> ListJob {
        let collection = try collectionSchema(c.collection)
        let filters = try directory { () throws(DirectoryError) in try Directory.filters(c.where ?? [], collection, engine.replica.schema) }
        return ListJob(filters: filters, records: Directory.listed(collection, in: engine.replica))
    }

    /// `search`'s records to match, taken from the replica now: the search index's
    /// candidates when it can name them, else every record.
    func searchJob(_ c: Control.Search) throws(ControlError) -> SearchJob {
        let only = try c.collection.map(collectionSchema)
        let replica = engine.replica
        var keys: [RecordKey]?
        if search != nil {
            foldChanges()
            keys = search!.candidates(c.text)
            logSearchFailure()
        }
        let records: [(key: RecordKey, value: Record)]
        if let keys {
            records = keys.compactMap { key in replica.records[key].map { (key: key, value: $0) } }
        } else {
            records = replica.records.map { (key: $0.key, value: $0.value) }
        }
        return SearchJob(text: c.text, only: only, schema: replica.schema, records: records)
    }

    /// Logs (once) why the search index failed; searches went on by the scan meanwhile.
    func logSearchFailure() {
        guard let failure = search?.failure else { return }
        search?.failure = nil
        logger.warning("search index failed; the records it lacks are searched by scanning", metadata: ["error": "\(failure)"])
    }

    /// `hub`, `via-hub`, `fallback-peers` or `offline`.
    func syncMode(now: UInt64, activeHub: Int?) -> String {
        if config.role == .hub { return "hub" }
        if activeHub != nil { return "via-hub" }
        return engine.syncLinks(now: now).isEmpty ? "offline" : "fallback-peers"
    }

    /// How far behind the other side of a link this node is, as far as it knows: the ops the
    /// other side holds that this node lacks, and for how long it has lacked some (from the last
    /// time it held everything the other side was known to hold; nil when it never did).
    func lag(_ s: LinkState, now: UInt64) -> (behind: UInt64, seconds: Double?, theirMissing: UInt64) {
        let behind = engine.replica.version.missing(from: s.remoteVersion)
        let seconds: Double? = behind == 0 ? 0 : (s.lastInSync > 0 ? Self.seconds(now &- s.lastInSync) : nil)
        return (behind, seconds, s.remoteVersion.missing(from: engine.replica.version))
    }

    /// One of this node's refused edits as the `refused` command shows it (newest first).
    static func refusedEditJSON(_ e: RefusedEdit) -> RefusedEditJSON {
        RefusedEditJSON(key: e.key?.description, summary: e.summary, dot: e.dot.description, origin: e.dot.replica.description,
                        counter: e.dot.counter, reason: e.reason, detail: e.detail, held: e.held, at: ISOTime.string(milliseconds: e.at))
    }

    /// Milliseconds as seconds with one decimal.
    static func seconds(_ ms: UInt64) -> Double { (Double(ms) / 100).rounded() / 10 }
}
