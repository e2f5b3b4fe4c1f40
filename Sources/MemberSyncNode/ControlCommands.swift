import Foundation
import MemberSyncModel
import MemberSyncWire

extension Node {
    /// Serves one control request. Writes are durable before this returns.
    func handleControl(_ request: JSONObject) throws -> Any {
        guard let command = request["command"] as? String else { throw ControlError("missing 'command'") }
        let now = wallClockMilliseconds()
        let received = monotonicNanoseconds()
        func key() throws -> RecordKey {
            guard let text = request["key"] as? String else { throw ControlError("missing 'key' (COLLECTION/ID)") }
            let k: RecordKey
            do { k = try RecordKey(parsing: text) } catch { throw ControlError(error.description) }
            do { _ = try engine.replica.schema.collection(k.collection) } catch { throw ControlError(error.description) }
            return k
        }
        switch command {
        case "ping":
            return ["node_id": config.nodeID]
        case "set":
            let k = try key()
            let args = request["changes"] as? [String] ?? []
            let changes = engine.withRevocationFacts(k, try EditParser.changes(args, key: k, schema: engine.replica.schema), now: now)
            let (op, commit): (Op, LocalCommit)
            do { (op, commit) = try engine.localWrite(k, changes, now: now) } catch { throw ControlError(error.description) }
            try commitLocal(commit, received: received)
            return ["key": k.description, "origin": op.origin.description, "counter": op.counter]
        case "set-many":
            // Several edits in one transaction (one fsync): bulk loads and benchmarks.
            // {"edits": [{"key": "COLLECTION/ID", "changes": ["FIELD=VALUE", ...]}, ...]}
            guard let list = request["edits"] as? [JSONObject] else { throw ControlError("missing 'edits' (a list of {key, changes})") }
            var edits: [(RecordKey, [FieldChange])] = []
            edits.reserveCapacity(list.count)
            for (i, e) in list.enumerated() {
                guard let text = e["key"] as? String else { throw ControlError("edit \(i): missing 'key' (COLLECTION/ID)") }
                let k: RecordKey
                do { k = try RecordKey(parsing: text) } catch { throw ControlError("edit \(i): \(error.description)") }
                do { _ = try engine.replica.schema.collection(k.collection) } catch { throw ControlError("edit \(i): \(error.description)") }
                let args = e["changes"] as? [String] ?? []
                if args.isEmpty { throw ControlError("edit \(i): give at least one FIELD=VALUE, FIELD+=ELEMENT or FIELD-=ELEMENT") }
                do { edits.append((k, engine.withRevocationFacts(k, try EditParser.changes(args, key: k, schema: engine.replica.schema), now: now))) } catch {
                    throw ControlError("edit \(i): \(error.message)")
                }
            }
            let (ops, commit, failure) = engine.localWriteBatch(edits, now: now)
            if let failure { throw ControlError("edit \(failure.index): \(failure.error.description) (nothing of this batch was stored)") }
            if let commit { try commitLocal(commit, label: "batch") }
            return ["count": ops.count, "origin": engine.replica.id.description,
                    "first_counter": ops.first?.counter ?? 0, "last_counter": ops.last?.counter ?? 0]
        case "version":
            // A cheap status: the node version only (status also digests every record).
            return ["replica": engine.replica.id.description, "version": JSONView.version(engine.replica.version),
                    "records": engine.replica.records.count]
        case "delete":
            let k = try key()
            let (op, commit): (Op, LocalCommit)
            do { (op, commit) = try engine.localDelete(k, now: now) } catch { throw ControlError(error.description) }
            try commitLocal(commit, received: received)
            return ["key": k.description, "origin": op.origin.description, "counter": op.counter]
        case "get":
            let k = try key()
            guard let view = engine.replica.view(k) else { throw ControlError("no such record: \(k)") }
            return JSONView.record(view)
        case "list":
            return try listRecords(request)
        case "conflicts":
            return engine.replica.conflicts().map { c -> JSONObject in
                ["key": c.key.description, "field": c.field, "values": c.siblings.map(JSONView.sibling)]
            }
        case "status":
            return status(now: now)
        case "refused":
            return engine.refusedEdits.reversed().map(Self.refusedEditJSON)
        case "inspect":
            return inspect(try key())
        default:
            if let result = try handleDirectoryControl(command, request, now: now) { return result }
            if let result = try handleWebControl(command, request, now: now) { return result }
            throw ControlError("unknown command '\(command)'")
        }
    }

    /// Stores a local write before anything else happens; if that fails the write is taken
    /// back and the CLI hears it, so nothing it was told failed turns up later. `label` names
    /// the write path (crash tests stop the daemon inside it); `received` (monotonic) times
    /// the write for the commit-latency histogram.
    func commitLocal(_ commit: LocalCommit, label: String = "local", received: UInt64 = monotonicNanoseconds()) throws {
        do { try persistToStore(ops: commit.ops, keys: commit.keys, label: label, keepOnFailure: false) } catch {
            engine.rollBack(commit)
            throw ControlError("not stored, so not applied: \(error)")
        }
        onCommit?(commit.ops)
        if commit.keys.contains(where: { $0.collection == "nodes" }) { rosterChanged() }
        metrics.localWriteCommit.observe(Double(monotonicNanoseconds() &- received) / 1e9)
        execute((commit.compaction ? [.persistCompaction] : []) + commit.after)
    }

    func status(now: UInt64) -> JSONObject {
        func linkInfo(_ l: LinkID) -> JSONObject {
            let s = engine.link(l)
            var o: JSONObject = ["endpoint": s.endpoint, "connected": engine.isUp(s, now: now)]
            if let n = s.remoteNode { o["node_id"] = n }
            if case .peer(let i) = l, case .node(let id) = config.peerEntries[i] {
                // Named by id: its endpoint and key come from the roster once it holds them.
                o["node_id"] = id
                o["from_roster"] = true
                if peerTargets[i].endpoint == nil { o["awaiting_roster"] = true }
            }
            if let f = handshakeFailures[l] {
                o["handshake_failure"] = ["cause": f.cause.rawValue, "message": f.message,
                                          "seconds_ago": Self.seconds(now &- min(now, f.at))] as JSONObject
            }
            if s.lastHeard > 0 {
                o["last_heard"] = JSONView.isoTime(milliseconds: s.lastHeard)
                o["last_heard_seconds_ago"] = Self.seconds(now &- s.lastHeard)
            }
            o.merge(lag(s, now: now)) { _, new in new }
            return o
        }
        // Only what changed since the last status is hashed and counted again.
        engine.replica.refreshSummary()
        let replica = engine.replica
        let activeHub = engine.activeHub(now: now)
        let mode: String
        if config.role == .hub { mode = "hub" } else if activeHub != nil { mode = "via-hub" } else if !engine.syncLinks(now: now).isEmpty { mode = "fallback-peers" } else { mode = "offline" }
        var clients: [JSONObject] = []
        for c in engine.clients.values.sorted(by: { $0.nodeID < $1.nodeID }) {
            clients.append(["node_id": c.nodeID, "organisation": c.organisation, "role": c.role,
                            "software_version": c.softwareVersion, "protocol": c.protocolVersion,
                            "last_seen": JSONView.isoTime(milliseconds: c.lastSeen),
                            "ops_behind": c.version.missing(from: replica.version)])
        }
        let health = health(now: now)
        var out: JSONObject = [
            "health": health.word, "health_reasons": health.reasons,
            "node_id": config.nodeID, "organisation": config.organisation, "role": config.role.rawValue,
            "replica": replica.id.description, "listen": config.listen, "mode": mode,
            "hubs": engine.hubs.indices.map { linkInfo(.hub($0)) }, "peers": engine.peers.indices.map { linkInfo(.peer($0)) },
            "version": JSONView.version(replica.version), "pending": engine.pendingCount,
            "digest": replica.digest(), "records": replica.existingRecordCount,
            "conflicts": replica.conflictCount, "ops_in_log": replica.logCount,
            "software_version": SyncEngine.softwareVersion, "protocol": ProtocolVersion.current,
            "ops_applied": engine.counters.opsApplied, "ops_rejected": engine.counters.opsRejected,
            "ops_waiting": engine.waiting.count, "ops_waited": engine.counters.opsWaited,
            "requests_refused": engine.counters.requestsRefused, "equivocations": engine.counters.equivocations,
            "forks": engine.settledForks,
            "messages_dropped": dropped, "clients": clients,
            "uptime_seconds": (now &- startedAt) / 1000, "revoked": isRevokedItself,
            "refused_edits": engine.refusedEdits.count,
        ]
        if let h = activeHub { out["active_hub"] = engine.hubs[h].endpoint }
        // A member's view of its hub: the active one, else the one heard from last.
        if config.role != .hub, let hub = activeHub.map({ engine.hubs[$0] }) ?? engine.hubs.filter({ $0.lastHeard > 0 }).max(by: { $0.lastHeard < $1.lastHeard }) {
            var h: JSONObject = ["endpoint": hub.endpoint, "connected": engine.isUp(hub, now: now),
                                 "last_exchange": JSONView.isoTime(milliseconds: hub.lastHeard),
                                 "last_exchange_seconds_ago": Self.seconds(now &- hub.lastHeard)]
            if let n = hub.remoteNode { h["node_id"] = n }
            h.merge(lag(hub, now: now)) { _, new in new }
            out["hub"] = h
        } else if config.role != .hub && !engine.hubs.isEmpty {
            out["hub"] = ["endpoint": engine.hubs[0].endpoint, "connected": false, "never_heard": true]
        }
        // The roster replicates to every node, so a member sees its own revocation.
        if let me = replica.view(RecordKey(collection: "nodes", id: config.nodeID)), me.field("revoked")?.value == .bool(true) {
            out["revoked"] = true
        }
        return out
    }

    /// How far behind the other side of a link this node is, as far as it knows: the ops the
    /// other side holds that this node lacks, and for how long it has lacked some (from the last
    /// time it held everything the other side was known to hold; absent when it never did).
    func lag(_ s: LinkState, now: UInt64) -> JSONObject {
        guard s.lastHeard > 0 else { return [:] }
        let behind = engine.replica.version.missing(from: s.remoteVersion)
        var o: JSONObject = ["behind_ops": behind, "their_missing_ops": s.remoteVersion.missing(from: engine.replica.version)]
        if behind == 0 {
            o["behind_seconds"] = 0.0
        } else if s.lastInSync > 0 {
            o["behind_seconds"] = Self.seconds(now &- s.lastInSync)
        }
        return o
    }

    /// One of this node's refused edits as the `refused` command shows it (newest first).
    static func refusedEditJSON(_ e: RefusedEdit) -> JSONObject {
        var o: JSONObject = ["dot": e.dot.description, "origin": e.dot.replica.description, "counter": e.dot.counter,
                             "summary": e.summary, "reason": e.reason, "detail": e.detail, "held": e.held,
                             "at": JSONView.isoTime(milliseconds: e.at)]
        if let k = e.key { o["key"] = k.description }
        return o
    }

    /// Milliseconds as seconds with one decimal.
    static func seconds(_ ms: UInt64) -> Double { (Double(ms) / 100).rounded() / 10 }
}
