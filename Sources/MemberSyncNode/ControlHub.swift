import Foundation
import MemberSyncConfig
import MemberSyncControl
import MemberSyncDirectory
import MemberSyncEngine
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
    func nodes(now: UInt64) throws -> [NodeRow] {
        let replica = engine.replica
        var rows: [String: NodeRow] = [:]
        func row(_ id: String) -> NodeRow { rows[id] ?? NodeRow(nodeID: id, isSelf: id == config.nodeID) }
        for key in replica.records.keys where key.collection == "nodes" {
            guard let view = replica.view(key) else { continue }
            var r = row(key.id)
            r.inRoster = true
            r.revoked = view.field("revoked")?.value == .bool(true)
            r.organisation = view.field("organisation")?.value?.description ?? r.organisation
            r.role = view.field("role")?.value?.description ?? r.role
            r.curveKey = view.field("curve_key")?.value?.description ?? r.curveKey
            r.signingKey = view.field("signing_key")?.value?.description ?? r.signingKey
            if let e = view.field("endpoints")?.members { r.endpoints = e }
            rows[key.id] = r
        }
        let remembered: [String: String]
        do { remembered = try store.peers() } catch { throw ControlError("cannot read the peers table: \(error)") }
        for (id, text) in remembered {
            guard let info = try? JSONCoding.decode(RememberedNode.self, from: Array(text.utf8)) else { continue }
            var r = row(id)
            if r.organisation == nil { r.organisation = info.organisation }
            if r.role == nil { r.role = info.role }
            if let v = info.softwareVersion { r.softwareVersion = v }
            if let v = info.protocol { r.protocol = v }
            if let ms = info.lastSeen { r.lastSeen = ISOTime.string(milliseconds: UInt64(max(0, ms))) }
            rows[id] = r
        }
        for c in engine.clients.values {
            var r = row(c.nodeID)
            if r.organisation == nil { r.organisation = c.organisation }
            if r.role == nil { r.role = c.role }
            if r.organisation != c.organisation { r.helloOrganisation = c.organisation }
            r.softwareVersion = c.softwareVersion
            r.protocol = c.protocolVersion
            r.lastSeen = ISOTime.string(milliseconds: c.lastSeen)
            r.connected = isConnected(c, now: now)
            r.opsBehind = c.version.missing(from: replica.version)
            r.via = ["client"]
            rows[c.nodeID] = r
        }
        // The hubs and peers this node connects to itself (on a member: how it sees its hub).
        for (kind, links) in [("hub", engine.hubs), ("peer", engine.peers)] {
            for s in links {
                guard let id = s.remoteNode, s.lastHeard > 0 else { continue }
                var r = row(id)
                let up = engine.isUp(s, now: now)
                r.connected = r.connected || up
                r.via = (r.via ?? []) + ["\(kind) link"]
                r.endpoint = s.endpoint
                if kind == "hub" && r.role == nil { r.role = "hub" }  // it answered as our hub
                // ISO 8601 times in UTC of one format sort as text in time order.
                let heard = ISOTime.string(milliseconds: s.lastHeard)
                if (r.lastSeen ?? "") < heard { r.lastSeen = heard }
                if r.opsBehind == nil || up { r.opsBehind = s.remoteVersion.missing(from: replica.version) }
                rows[id] = r
            }
        }
        var me = row(config.nodeID)
        me.isSelf = true
        me.connected = true
        me.opsBehind = 0
        me.softwareVersion = SyncEngine.softwareVersion
        me.protocol = ProtocolVersion.current
        if me.organisation == nil { me.organisation = config.organisation }
        if me.role == nil { me.role = config.role.rawValue }
        rows[config.nodeID] = me
        // `online`: heard from directly within the link timeout, as this node sees it.
        return rows.keys.sorted().map { id in
            var r = rows[id]!
            r.online = r.connected
            return r
        }
    }

    private func nodeID(_ text: String) throws -> String {
        guard isValidSlug(text) else { throw ControlError("node id '\(text)' is not a lowercase slug (a-z, 0-9, '-')") }
        return text
    }

    /// Adds a node to the roster (or updates its entry) and clears any revocation; what a
    /// re-admitted node wrote while revoked stays refused unless `accept_revoked_edits`.
    func admit(_ request: Control.Admit, now: UInt64) throws -> Control.Admit.Result {
        try requireHub("admit", why: "only the hub operator writes the roster")
        let id = try nodeID(request.nodeID)
        guard let org = request.organisation, isValidSlug(org) else {
            throw ControlError("admit needs --organisation ORG, the id of an organisation (a lowercase slug)")
        }
        // A node of an organisation the directory does not know could write nothing but its
        // own (non-existent) organisation record: most likely a typo.
        guard engine.replica.view(RecordKey(collection: "organisations", id: org)) != nil else {
            throw ControlError("no organisation '\(org)' in the directory: create organisations/\(org) first (membersync set organisations/\(org) name=...), or check the spelling")
        }
        let key = RecordKey(collection: "nodes", id: id)
        let existed = engine.replica.view(key) != nil
        var changes: [String] = ["organisation=\(org)", "revoked=false", "role=\(request.role ?? "member")"]
        if let k = request.curveKey {
            if let why = KeyText.curveKeyProblem(k) { throw ControlError("--curve-key: \(why)") }
            changes.append("curve_key=\(k)")
        }
        if let k = request.signingKey {
            if let why = KeyText.signingKeyProblem(k) { throw ControlError("--signing-key: \(why)") }
            changes.append("signing_key=\(k.lowercased())")
        }
        for e in request.endpoints ?? [] { changes.append("endpoints+=\(e)") }
        let parsed = engine.withRevocationFacts(key, try editChanges(changes, key), now: now, acceptingRevokedEdits: request.acceptRevokedEdits ?? false)
        let op: Op, commit: LocalCommit
        do { (op, commit) = try engine.localWrite(key, parsed, now: now) } catch { throw ControlError(error.description) }
        try commitLocal(commit)
        return .init(nodeID: id, organisation: org, key: key.description, updated: existed, origin: op.origin.description, counter: op.counter)
    }

    /// Marks a node revoked in the roster. The node must be in the roster or have said hello.
    func revoke(_ request: Control.Revoke, now: UInt64) throws -> Control.Revoke.Result {
        try requireHub("revoke", why: "only the hub operator writes the roster")
        let id = try nodeID(request.nodeID)
        let key = RecordKey(collection: "nodes", id: id)
        let view = engine.replica.view(key)
        var known = view != nil || engine.clients[id] != nil
        if !known { known = ((try? store.peers()) ?? [:])[id] != nil }
        guard known else { throw ControlError("no node '\(id)' in the roster or among the nodes that have said hello to this hub") }
        if view?.field("revoked")?.value == .bool(true) {
            return .init(nodeID: id, key: key.description, changed: false, note: "already revoked")
        }
        var changes: [FieldChange] = [.assign(field: "revoked", value: .bool(true))]
        if view?.field("organisation") == nil, let org = engine.clients[id]?.organisation, isValidSlug(org) {
            changes.append(.assign(field: "organisation", value: .string(org)))
        }
        changes = engine.withRevocationFacts(key, changes, now: now)
        let op: Op, commit: LocalCommit
        do { (op, commit) = try engine.localWrite(key, changes, now: now) } catch { throw ControlError(error.description) }
        try commitLocal(commit)
        return .init(nodeID: id, key: key.description, changed: true, origin: op.origin.description, counter: op.counter)
    }

    // MARK: compaction

    func compactNow(now: UInt64) throws -> Control.Compact.Result {
        try requireHub("compact", why: "in MSP/1 only the hub knows what every node holds, so only it compacts")
        let (dropped, stable, directives) = engine.compactNow(now: now)
        execute(directives)
        return .init(dropped: dropped, opsInLog: engine.replica.logCount, opsInStore: try? store.opCount(), logFloor: engine.replica.logFloor.json,
                     stableVersion: stable?.json,
                     note: stable != nil ? nil : "no op is known to be held everywhere yet: no node has been heard from within the live window, or a node's own latest ops have not reached this hub (MSP 7.7); nothing was dropped")
    }

    // MARK: snapshot and restore

    private func absolutePath(_ path: String) throws -> String {
        guard path.hasPrefix("/") else { throw ControlError("'path' must be absolute (the node does not share the CLI's working directory)") }
        return path
    }

    /// A consistent copy of the store (SQLite `VACUUM INTO`), taken while the node runs.
    func snapshot(_ request: Control.Snapshot) throws -> Control.Snapshot.Result {
        let path = try absolutePath(request.path)
        let force = request.force ?? false
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
        return .init(path: path, bytes: bytes, records: engine.replica.records.count, opsInLog: engine.replica.logCount,
                     version: engine.replica.version.json)
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
    func restore(_ request: Control.Restore) throws -> Control.Restore.Result {
        let path = try absolutePath(request.path)
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
        return .init(path: path, backupReplica: report.replica.description, recordsInBackup: report.recordsInBackup,
                     opsInBackup: report.opsInBackup, opsAdded: report.opsAdded, opsRejected: report.opsRejected,
                     recordsCreated: report.recordsCreated, recordsChanged: report.recordsChanged.count,
                     changedKeys: report.recordsChanged.prefix(100).map(\.description),
                     versionBefore: report.versionBefore.json, versionAfter: report.versionAfter.json)
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

    func stats(now: UInt64) -> StatsResult {
        let replica = engine.replica
        var perCollection: [String: Int] = [:]
        for name in replica.schema.collections.keys { perCollection[name] = 0 }
        var existing = 0, deleted = 0
        for (key, record) in replica.records {
            if record.exists {
                existing += 1
                perCollection[key.collection, default: 0] += 1
            } else {
                deleted += 1
            }
        }
        var bytes = 0
        for suffix in ["", "-wal"] {
            bytes += (try? FileManager.default.attributesOfItem(atPath: store.path + suffix)[.size] as? Int) ?? 0
        }
        let c = engine.counters
        // The counters (ops applied, rejected, duplicate, local writes, snapshots) live in
        // memory and start from zero when the daemon starts.
        return StatsResult(
            nodeID: config.nodeID, role: config.role.rawValue, records: perCollection, recordsTotal: existing, recordsDeleted: deleted,
            opsInLog: replica.logCount, opsInStore: try? store.opCount(), logFloor: replica.logFloor.json, conflicts: replica.conflicts().count,
            opsApplied: c.opsApplied, opsDuplicate: c.opsDuplicate, opsRejected: c.opsRejected, opsRejectedTotal: c.opsRejected.values.reduce(0, +),
            localWrites: c.localWrites, snapshotsServed: c.snapshotsServed, snapshotsLoaded: c.snapshotsLoaded,
            connectedNodes: engine.clients.values.filter { isConnected($0, now: now) }.count, knownNodes: engine.clients.count,
            storeBytes: bytes, storeFile: store.path, countersSince: ISOTime.string(milliseconds: startedAt), uptimeSeconds: (now &- startedAt) / 1000)
    }
}

/// What the store's peers table remembers of a node that said hello (JSON, see `rememberNode`).
struct RememberedNode: Codable {
    var organisation: String?
    var role: String?
    var softwareVersion: String?
    var `protocol`: UInt32?
    var lastSeen: Int?
    enum CodingKeys: String, CodingKey {
        case organisation, role, `protocol`
        case softwareVersion = "software_version", lastSeen = "last_seen"
    }
}
