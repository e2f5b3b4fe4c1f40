import Foundation
import MemberSyncConfig
import MemberSyncModel
import MemberSyncStore
import MemberSyncWire

/// Operator commands: the roster (`nodes`, `admit`, `revoke`), `compact`, consistent
/// `snapshot` and merging `restore` of the store, and `stats`. Roster changes and compaction
/// are hub-only; the others work on any node and report what that node knows.
extension Node {
    /// Refuses a command that only the hub may run.
    func requireHub(_ command: String, why: String) throws {
        guard config.role == .hub else {
            throw ControlError("'\(command)' runs on the hub only (\(why)); this node, \(config.nodeID), is a member")
        }
    }

    func isConnected(_ c: ClientInfo, now: UInt64) -> Bool {
        now &- c.lastSeen <= UInt64(config.linkTimeoutMilliseconds)
    }

    // MARK: roster

    /// Every node in the roster (the `nodes` collection) or that has said hello to this node,
    /// now or before a restart (the store's peers table).
    func nodes(now: UInt64) throws -> [JSONObject] {
        let replica = engine.replica
        var rows: [String: JSONObject] = [:]
        func row(_ id: String) -> JSONObject {
            rows[id] ?? ["node_id": id, "in_roster": false, "connected": false, "self": id == config.nodeID]
        }
        for key in replica.records.keys where key.collection == "nodes" {
            guard let view = replica.view(key) else { continue }
            var r = row(key.id)
            r["in_roster"] = true
            r["revoked"] = view.field("revoked")?.value == .bool(true)
            for name in ["organisation", "role", "curve_key", "signing_key"] {
                if let v = view.field(name)?.value { r[name] = v.description }
            }
            if let e = view.field("endpoints")?.members { r["endpoints"] = e }
            rows[key.id] = r
        }
        let remembered: [String: String]
        do { remembered = try store.peers() } catch { throw ControlError("cannot read the peers table: \(error)") }
        for (id, text) in remembered {
            guard let info = try? JSONView.decodeObject(Array(text.utf8)) else { continue }
            var r = row(id)
            if r["organisation"] == nil, let o = info["organisation"] { r["organisation"] = o }
            if r["role"] == nil, let o = info["role"] { r["role"] = o }
            for name in ["software_version", "protocol"] { if let v = info[name] { r[name] = v } }
            if let ms = info["last_seen"] as? Int { r["last_seen"] = JSONView.isoTime(milliseconds: UInt64(max(0, ms))) }
            rows[id] = r
        }
        for c in engine.clients.values {
            var r = row(c.nodeID)
            if r["organisation"] == nil { r["organisation"] = c.organisation }
            if r["role"] == nil { r["role"] = c.role }
            if (r["organisation"] as? String) != c.organisation { r["hello_organisation"] = c.organisation }
            r["software_version"] = c.softwareVersion
            r["protocol"] = c.protocolVersion
            r["last_seen"] = JSONView.isoTime(milliseconds: c.lastSeen)
            r["connected"] = isConnected(c, now: now)
            r["ops_behind"] = c.version.missing(from: replica.version)
            r["via"] = ["client"]
            rows[c.nodeID] = r
        }
        // The hubs and peers this node connects to itself (on a member: how it sees its hub).
        for (kind, links) in [("hub", engine.hubs), ("peer", engine.peers)] {
            for s in links {
                guard let id = s.remoteNode, s.lastHeard > 0 else { continue }
                var r = row(id)
                let up = engine.isUp(s, now: now)
                r["connected"] = (r["connected"] as? Bool ?? false) || up
                r["via"] = ((r["via"] as? [String]) ?? []) + ["\(kind) link"]
                r["endpoint"] = s.endpoint
                if kind == "hub" && r["role"] == nil { r["role"] = "hub" }  // it answered as our hub
                // ISO 8601 times in UTC of one format sort as text in time order.
                let heard = JSONView.isoTime(milliseconds: s.lastHeard)
                if (r["last_seen"] as? String ?? "") < heard { r["last_seen"] = heard }
                if r["ops_behind"] == nil || up { r["ops_behind"] = s.remoteVersion.missing(from: replica.version) }
                rows[id] = r
            }
        }
        var me = row(config.nodeID)
        me["self"] = true
        me["connected"] = true
        me["ops_behind"] = 0
        me["software_version"] = SyncEngine.softwareVersion
        me["protocol"] = ProtocolVersion.current
        if me["organisation"] == nil { me["organisation"] = config.organisation }
        if me["role"] == nil { me["role"] = config.role.rawValue }
        rows[config.nodeID] = me
        // `online`: heard from directly within the link timeout, as this node sees it.
        return rows.keys.sorted().map { id in
            var r = rows[id]!
            r["online"] = r["connected"] as? Bool ?? false
            return r
        }
    }

    private func nodeID(_ request: JSONObject) throws -> String {
        guard let id = request["node_id"] as? String else { throw ControlError("missing 'node_id'") }
        guard isValidSlug(id) else { throw ControlError("node id '\(id)' is not a lowercase slug (a-z, 0-9, '-')") }
        return id
    }

    /// Adds a node to the roster (or updates its entry) and clears any revocation; what a
    /// re-admitted node wrote while revoked stays refused unless `accept_revoked_edits`.
    func admit(_ request: JSONObject, now: UInt64) throws -> JSONObject {
        try requireHub("admit", why: "only the hub operator writes the roster")
        let id = try nodeID(request)
        guard let org = request["organisation"] as? String, isValidSlug(org) else {
            throw ControlError("admit needs --organisation ORG, the id of an organisation (a lowercase slug)")
        }
        // A node of an organisation the directory does not know could write nothing but its
        // own (non-existent) organisation record: most likely a typo.
        guard engine.replica.view(RecordKey(collection: "organisations", id: org)) != nil else {
            throw ControlError("no organisation '\(org)' in the directory: create organisations/\(org) first (membersync set organisations/\(org) name=...), or check the spelling")
        }
        let key = RecordKey(collection: "nodes", id: id)
        let existed = engine.replica.view(key) != nil
        var changes: [String] = ["organisation=\(org)", "revoked=false", "role=\(request["role"] as? String ?? "member")"]
        if let k = request["curve_key"] as? String {
            if let why = KeyText.curveKeyProblem(k) { throw ControlError("--curve-key: \(why)") }
            changes.append("curve_key=\(k)")
        }
        if let k = request["signing_key"] as? String {
            if let why = KeyText.signingKeyProblem(k) { throw ControlError("--signing-key: \(why)") }
            changes.append("signing_key=\(k.lowercased())")
        }
        for e in request["endpoints"] as? [String] ?? [] { changes.append("endpoints+=\(e)") }
        let accepting = request["accept_revoked_edits"] as? Bool ?? false
        let parsed = engine.withRevocationFacts(key, try EditParser.changes(changes, key: key, schema: engine.replica.schema),
                                                now: now, acceptingRevokedEdits: accepting)
        let op: Op, commit: LocalCommit
        do { (op, commit) = try engine.localWrite(key, parsed, now: now) } catch { throw ControlError(error.description) }
        try commitLocal(commit)
        return ["node_id": id, "organisation": org, "key": key.description, "updated": existed,
                "origin": op.origin.description, "counter": op.counter]
    }

    /// Marks a node revoked in the roster. The node must be in the roster or have said hello.
    func revoke(_ request: JSONObject, now: UInt64) throws -> JSONObject {
        try requireHub("revoke", why: "only the hub operator writes the roster")
        let id = try nodeID(request)
        let key = RecordKey(collection: "nodes", id: id)
        let view = engine.replica.view(key)
        var known = view != nil || engine.clients[id] != nil
        if !known { known = ((try? store.peers()) ?? [:])[id] != nil }
        guard known else { throw ControlError("no node '\(id)' in the roster or among the nodes that have said hello to this hub") }
        if view?.field("revoked")?.value == .bool(true) {
            return ["node_id": id, "key": key.description, "changed": false, "note": "already revoked"]
        }
        var changes: [FieldChange] = [.assign(field: "revoked", value: .bool(true))]
        if view?.field("organisation") == nil, let org = engine.clients[id]?.organisation, isValidSlug(org) {
            changes.append(.assign(field: "organisation", value: .string(org)))
        }
        changes = engine.withRevocationFacts(key, changes, now: now)
        let op: Op, commit: LocalCommit
        do { (op, commit) = try engine.localWrite(key, changes, now: now) } catch { throw ControlError(error.description) }
        try commitLocal(commit)
        return ["node_id": id, "key": key.description, "changed": true, "origin": op.origin.description, "counter": op.counter]
    }

    // MARK: compaction

    func compactNow(now: UInt64) throws -> JSONObject {
        try requireHub("compact", why: "in MSP/1 only the hub knows what every node holds, so only it compacts")
        let (dropped, stable, directives) = engine.compactNow(now: now)
        execute(directives)
        var out: JSONObject = ["dropped": dropped, "ops_in_log": engine.replica.logCount,
                               "log_floor": JSONView.version(engine.replica.logFloor)]
        if let n = try? store.opCount() { out["ops_in_store"] = n }
        if let stable {
            out["stable_version"] = JSONView.version(stable)
        } else {
            out["note"] = "no node has been heard from within the live window, so no op is known to be held everywhere; nothing was dropped"
        }
        return out
    }

    // MARK: snapshot and restore

    private func absolutePath(_ request: JSONObject) throws -> String {
        guard let path = request["path"] as? String, !path.isEmpty else { throw ControlError("missing 'path'") }
        guard path.hasPrefix("/") else { throw ControlError("'path' must be absolute (the node does not share the CLI's working directory)") }
        return path
    }

    /// A consistent copy of the store (SQLite `VACUUM INTO`), taken while the node runs.
    func snapshot(_ request: JSONObject) throws -> JSONObject {
        let path = try absolutePath(request)
        let force = request["force"] as? Bool ?? false
        var isDir: ObjCBool = false
        if FileManager.default.fileExists(atPath: path, isDirectory: &isDir) {
            if isDir.boolValue { throw ControlError("\(path) is a directory; give a file name") }
            if !force { throw ControlError("\(path) already exists; use --force to replace it") }
        }
        let parent = (path as NSString).deletingLastPathComponent
        guard FileManager.default.fileExists(atPath: parent, isDirectory: &isDir), isDir.boolValue else {
            throw ControlError("directory \(parent) does not exist")
        }
        guard URL(fileURLWithPath: path).standardizedFileURL.path != URL(fileURLWithPath: store.path).standardizedFileURL.path else {
            throw ControlError("\(path) is the node's own database")
        }
        try writePrivately(to: path, parent: parent)
        let bytes = (try? FileManager.default.attributesOfItem(atPath: path)[.size] as? Int) ?? 0
        return ["path": path, "bytes": bytes, "records": engine.replica.records.count, "ops_in_log": engine.replica.logCount,
                "version": JSONView.version(engine.replica.version)]
    }

    /// Writes the snapshot so that no one else can ever read it, since it holds the whole
    /// directory and roster: into a fresh 0700 directory beside `path` (SQLite creates the file
    /// with the default mode), made 0600, then renamed over `path` in one step, so a replaced
    /// snapshot is never half-written either.
    private func writePrivately(to path: String, parent: String) throws {
        let dir = (parent as NSString).appendingPathComponent(".membersync-snapshot-\(UUID().uuidString)")
        do {
            try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: false, attributes: [.posixPermissions: 0o700])
        } catch {
            throw ControlError("cannot write the snapshot in \(parent): \(error.localizedDescription)")
        }
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let tmp = (dir as NSString).appendingPathComponent("snapshot.sqlite")
        do { try store.backup(to: tmp) } catch { throw ControlError("cannot write the snapshot: \(error)") }
        guard chmod(tmp, 0o600) == 0 else { throw ControlError("cannot make the snapshot private (chmod 0600): errno \(errno)") }
        guard rename(tmp, path) == 0 else { throw ControlError("cannot move the snapshot to \(path): \(String(cString: strerror(errno)))") }
    }

    /// Merges a snapshot file into the running replica. The file is copied first, so opening
    /// it (SQLite may write to a database it opens) never alters the operator's backup.
    func restore(_ request: JSONObject) throws -> JSONObject {
        let path = try absolutePath(request)
        var isDir: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isDir), !isDir.boolValue else {
            throw ControlError("no snapshot file at \(path)")
        }
        let copy = (config.dataDir as NSString).appendingPathComponent("restore-\(UUID().uuidString).sqlite")
        defer { for suffix in ["", "-wal", "-shm", "-journal"] { try? FileManager.default.removeItem(atPath: copy + suffix) } }
        do { try FileManager.default.copyItem(atPath: path, toPath: copy) } catch {
            throw ControlError("cannot read \(path): \(error.localizedDescription)")
        }
        let backup = try loadBackup(copy, shownAs: path)
        let report: BackupMerge, commit: LocalCommit
        do { (report, commit) = try engine.merge(backup: backup) } catch {
            throw ControlError("\(path) holds a record this node's schema refuses, so nothing was merged: \(error)")
        }
        try commitLocal(commit, label: "restore")
        return ["path": path, "backup_replica": report.replica.description, "records_in_backup": report.recordsInBackup,
                "ops_in_backup": report.opsInBackup, "ops_added": report.opsAdded, "ops_rejected": report.opsRejected,
                "records_created": report.recordsCreated, "records_changed": report.recordsChanged.count,
                "changed_keys": report.recordsChanged.prefix(100).map(\.description),
                "version_before": JSONView.version(report.versionBefore), "version_after": JSONView.version(report.versionAfter)]
    }

    /// Opens a copy of a snapshot and loads its replica; the store closes when this returns.
    private func loadBackup(_ copy: String, shownAs path: String) throws -> Replica {
        do {
            let backupStore = try Store(path: copy)
            guard let text = try backupStore.meta("replica"), let id = ReplicaID(parsing: text) else {
                throw ControlError("\(path) is not a MemberSync snapshot (it has no replica id)")
            }
            return try backupStore.loadReplica(id: id, schema: engine.replica.schema, wallClock: { 0 })
        } catch let e as ControlError {
            throw e
        } catch {
            throw ControlError("\(path) is not a readable MemberSync snapshot: \(error)")
        }
    }

    // MARK: stats

    func stats(now: UInt64) throws -> JSONObject {
        let replica = engine.replica
        var perCollection: JSONObject = [:]
        for name in replica.schema.collections.keys { perCollection[name] = 0 }
        var existing = 0, deleted = 0
        for (key, record) in replica.records {
            if record.exists {
                existing += 1
                perCollection[key.collection] = (perCollection[key.collection] as? Int ?? 0) + 1
            } else {
                deleted += 1
            }
        }
        var bytes = 0
        for suffix in ["", "-wal"] {
            bytes += (try? FileManager.default.attributesOfItem(atPath: store.path + suffix)[.size] as? Int) ?? 0
        }
        let c = engine.counters
        var out: JSONObject = [
            "node_id": config.nodeID, "role": config.role.rawValue,
            "records": perCollection, "records_total": existing, "records_deleted": deleted,
            "ops_in_log": replica.logCount, "log_floor": JSONView.version(replica.logFloor),
            "conflicts": replica.conflicts().count,
            "ops_applied": c.opsApplied, "ops_duplicate": c.opsDuplicate, "ops_rejected": c.opsRejected,
            "ops_rejected_total": c.opsRejected.values.reduce(0, +), "local_writes": c.localWrites,
            "snapshots_served": c.snapshotsServed, "snapshots_loaded": c.snapshotsLoaded,
            "connected_nodes": engine.clients.values.filter { isConnected($0, now: now) }.count,
            "known_nodes": engine.clients.count, "store_bytes": bytes, "store_file": store.path,
            // The counters (ops applied, rejected, duplicate, local writes, snapshots) live in
            // memory and start from zero when the daemon starts.
            "counters_since": JSONView.isoTime(milliseconds: startedAt), "uptime_seconds": (now &- startedAt) / 1000,
        ]
        if let n = try? store.opCount() { out["ops_in_store"] = n }
        return out
    }
}
