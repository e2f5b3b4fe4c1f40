import Foundation
import MemberSyncDirectory

/// The commands of the control protocol, one type each (Protocols/CONTROL.md section 3), and
/// the types of their results. `Control.Get(key: "organisations/asker")` is the request
/// `{"command": "get", "key": "organisations/asker"}`; its result is a `RecordJSON`.
public enum Control {}

/// `{"key", "origin", "counter"}` of the op a write made.
public struct WriteResult: Sendable, Hashable, Codable {
    public var key: String
    public var origin: String
    public var counter: UInt64
    public init(key: String, origin: String, counter: UInt64) { self.key = key; self.origin = origin; self.counter = counter }
}

// MARK: - 3.1 Records

extension Control {
    public struct Ping: ControlCommand {
        public static let name = "ping"
        public struct Result: Sendable, Hashable, Codable {
            public var nodeID: String
            enum CodingKeys: String, CodingKey { case nodeID = "node_id" }
            public init(nodeID: String) { self.nodeID = nodeID }
        }
        public init() {}
        public init(arguments: ControlArguments) {}
    }

    public struct SetFields: ControlCommand {
        public static let name = "set"
        public typealias Result = WriteResult
        public var key: String
        public var changes: [String]
        public init(key: String, changes: [String]) { self.key = key; self.changes = changes }
        public init(arguments a: ControlArguments) throws(ControlError) {
            key = try a.key()
            changes = a.strings("changes") ?? []
        }
    }

    /// Several edits in one transaction (one fsync): bulk loads and benchmarks.
    public struct SetMany: ControlCommand {
        public static let name = "set-many"
        public struct Edit: Sendable, Hashable, Codable {
            public var key: String
            public var changes: [String]
            public init(key: String, changes: [String]) { self.key = key; self.changes = changes }
        }
        public struct Result: Sendable, Hashable, Codable {
            public var count: Int
            public var origin: String
            public var firstCounter: UInt64
            public var lastCounter: UInt64
            enum CodingKeys: String, CodingKey { case count, origin, firstCounter = "first_counter", lastCounter = "last_counter" }
            public init(count: Int, origin: String, firstCounter: UInt64, lastCounter: UInt64) {
                self.count = count
                self.origin = origin
                self.firstCounter = firstCounter
                self.lastCounter = lastCounter
            }
        }
        public var edits: [Edit]
        public init(edits: [Edit]) { self.edits = edits }
        public init(arguments a: ControlArguments) throws(ControlError) {
            guard let list = a.members["edits"]?.array, list.allSatisfy({ $0.object != nil }) else {
                throw .argument("missing 'edits' (a list of {key, changes})")
            }
            var edits: [Edit] = []
            for (i, e) in list.enumerated() {
                let o = e.object ?? [:]
                guard let key = o["key"]?.string else { throw .argument("edit \(i): missing 'key' (COLLECTION/ID)") }
                edits.append(Edit(key: key, changes: o["changes"]?.strings ?? []))
            }
            self.edits = edits
        }
    }

    /// A cheap status: the node's version only (no walk over the records).
    public struct VersionQuery: ControlCommand {
        public static let name = "version"
        public struct Result: Sendable, Hashable, Codable {
            public var replica: String
            public var version: VersionJSON
            public var records: Int
            public init(replica: String, version: VersionJSON, records: Int) { self.replica = replica; self.version = version; self.records = records }
        }
        public init() {}
        public init(arguments: ControlArguments) {}
    }

    public struct Delete: ControlCommand {
        public static let name = "delete"
        public typealias Result = WriteResult
        public var key: String
        public init(key: String) { self.key = key }
        public init(arguments a: ControlArguments) throws(ControlError) { key = try a.key() }
    }

    public struct Get: ControlCommand {
        public static let name = "get"
        public typealias Result = RecordJSON
        public var key: String
        public init(key: String) { self.key = key }
        public init(arguments a: ControlArguments) throws(ControlError) { key = try a.key() }
    }

    public struct List: ControlCommand {
        public static let name = "list"
        public typealias Result = [RecordJSON]
        public var collection: String
        public var `where`: [String]?
        public init(collection: String, where conditions: [String]? = nil) { self.collection = collection; self.where = conditions }
        public init(arguments a: ControlArguments) throws(ControlError) {
            collection = try a.require("collection", "missing 'collection'")
            `where` = try a.optionalStrings("where", "'where' must be a list of \"FIELD=VALUE\" strings")
        }
    }

    public struct Conflicts: ControlCommand {
        public static let name = "conflicts"
        public typealias Result = [ConflictJSON]
        public init() {}
        public init(arguments: ControlArguments) {}
    }

    /// The raw CRDT state of one record: every field's siblings with their dots and the
    /// field's causal context (for tools that check no acknowledged write was lost).
    public struct Inspect: ControlCommand {
        public static let name = "inspect"
        public struct Sibling: Sendable, Hashable, Codable {
            public var origin: String
            public var counter: UInt64
            public var value: FieldValue
            public init(origin: String, counter: UInt64, value: FieldValue) { self.origin = origin; self.counter = counter; self.value = value }
        }
        public struct Register: Sendable, Hashable, Codable {
            public var siblings: [Sibling]
            public var context: VersionJSON
            public init(siblings: [Sibling], context: VersionJSON) { self.siblings = siblings; self.context = context }
        }
        /// A register field (`siblings`, `context`) or a set field (`elements`: a register per element).
        public struct Field: Sendable, Hashable, Codable {
            public var siblings: [Sibling]?
            public var context: VersionJSON?
            public var elements: [String: Register]?
            public init(register r: Register) { siblings = r.siblings; context = r.context }
            public init(elements: [String: Register]) { self.elements = elements }
        }
        public struct Result: Sendable, Hashable, Codable {
            public var key: String
            public var exists: Bool
            public var fields: [String: Field]
            public init(key: String, exists: Bool, fields: [String: Field]) { self.key = key; self.exists = exists; self.fields = fields }
        }
        public var key: String
        public init(key: String) { self.key = key }
        public init(arguments a: ControlArguments) throws(ControlError) { key = try a.key() }
    }

    public struct Search: ControlCommand {
        public static let name = "search"
        public typealias Result = [SearchHit]
        public var text: String
        public var collection: String?
        public init(text: String, collection: String? = nil) { self.text = text; self.collection = collection }
        public init(arguments a: ControlArguments) throws(ControlError) {
            guard let text = a.string("text"), !text.trimmingCharacters(in: .whitespaces).isEmpty else {
                throw .argument("missing 'text' to search for")
            }
            self.text = text
            if a.has("collection") { collection = try a.require("collection", "missing 'collection'") }
        }
    }

    public struct Show: ControlCommand {
        public static let name = "show"
        public typealias Result = ShowResult
        public var key: String
        public init(key: String) { self.key = key }
        public init(arguments a: ControlArguments) throws(ControlError) { key = try a.key() }
    }

    public struct History: ControlCommand {
        public static let name = "history"
        public typealias Result = HistoryResult
        public var key: String
        public init(key: String) { self.key = key }
        public init(arguments a: ControlArguments) throws(ControlError) { key = try a.key() }
    }

    public struct Resolve: ControlCommand {
        public static let name = "resolve"
        public struct Result: Sendable, Hashable, Codable {
            public var key: String
            public var field: String
            public var value: String
            public var replaced: [SiblingJSON]
            public var wasConflicted: Bool
            public var origin: String
            public var counter: UInt64
            enum CodingKeys: String, CodingKey { case key, field, value, replaced, origin, counter, wasConflicted = "was_conflicted" }
            public init(key: String, field: String, value: String, replaced: [SiblingJSON], wasConflicted: Bool, origin: String, counter: UInt64) {
                self.key = key
                self.field = field
                self.value = value
                self.replaced = replaced
                self.wasConflicted = wasConflicted
                self.origin = origin
                self.counter = counter
            }
        }
        public var key: String
        public var field: String
        public var value: String
        public var force: Bool
        public init(key: String, field: String, value: String, force: Bool = false) {
            self.key = key
            self.field = field
            self.value = value
            self.force = force
        }
        public init(arguments a: ControlArguments) throws(ControlError) {
            key = try a.key()
            guard let field = a.string("field"), !field.isEmpty else { throw .argument("missing 'field'") }
            self.field = field
            value = try a.require("value", "missing 'value'")
            force = a.bool("force") ?? false
        }
    }
}

// MARK: - 3.2 Bulk transfer

extension Control {
    public struct Import: ControlCommand {
        public static let name = "import"
        /// Most records one `import` request may carry.
        public static let maxRecords = 5000
        public struct Result: Sendable, Hashable, Codable {
            public var records: Int
            public var created: Int
            public var updated: Int
            public var unchanged: Int
            public var ops: Int
            public var checkedOnly: Bool
            enum CodingKeys: String, CodingKey { case records, created, updated, unchanged, ops, checkedOnly = "checked_only" }
            public init(records: Int, created: Int, updated: Int, unchanged: Int, ops: Int, checkedOnly: Bool) {
                self.records = records
                self.created = created
                self.updated = updated
                self.unchanged = unchanged
                self.ops = ops
                self.checkedOnly = checkedOnly
            }
        }
        /// Lines of the import format (`{"key", "fields"}`), checked by the node.
        public var records: [JSONValue]?
        public var lines: [Int]?
        /// The same records packed (`ImportPack`, base64), instead of `records` and `lines`:
        /// what the CLI sends, since JSON cost more than the import itself.
        public var packed: String?
        /// Apply in memory and take back: find what the import would refuse, store nothing.
        public var check: Bool?
        public init(records: [JSONValue], lines: [Int]? = nil, check: Bool? = nil) { self.records = records; self.lines = lines; self.check = check }
        public init(packing records: some Sequence<ImportRecord>, check: Bool? = nil) {
            packed = Data(ImportPack.encode(records)).base64EncodedString()
            self.check = check
        }
        public init(arguments a: ControlArguments) throws(ControlError) {
            if a.has("packed") {
                guard let packed = a.string("packed"), !a.has("records") else {
                    throw .argument("'packed' is a base64 string, and a request gives either 'packed' or 'records'")
                }
                self.packed = packed
            } else {
                guard let records = a.members["records"]?.array else {
                    throw .argument("missing 'records': a list of {\"key\": \"collection/id\", \"fields\": {...}} objects")
                }
                self.records = records
                lines = a.ints("lines")
            }
            check = a.bool("check")
        }

        /// The packed records (nil for a request in JSON), each with its file line, not yet checked.
        public func unpacked() throws(ControlError) -> [ImportPack.Entry]? {
            guard let packed else { return nil }
            guard let bytes = Data(base64Encoded: packed) else { throw .argument("'packed' is not base64") }
            do { return try ImportPack.decode([UInt8](bytes)) } catch { throw .argument(error.description) }
        }
    }

    public struct Export: ControlCommand {
        public static let name = "export"
        public typealias Result = ExportPage
        public var format: String?
        public var collection: String?
        public var after: String?
        public var limit: Int?
        public init(format: ExportFormat? = nil, collection: String? = nil, after: String? = nil, limit: Int? = nil) {
            self.format = format?.rawValue
            self.collection = collection
            self.after = after
            self.limit = limit
        }
        public init(arguments a: ControlArguments) {
            format = a.string("format")
            collection = a.string("collection")
            after = a.string("after")
            limit = a.int("limit")
        }
    }
}

// MARK: - 3.3 Sync and operator commands

extension Control {
    public struct Progress: ControlCommand {
        public static let name = "progress"
        public struct Result: Sendable, Hashable, Codable {
            public var mode: String
            public var behind: UInt64
            public var pending: UInt64
            public var links: Int
            public var opsInLog: Int
            enum CodingKeys: String, CodingKey { case mode, behind, pending, links, opsInLog = "ops_in_log" }
            public init(mode: String, behind: UInt64, pending: UInt64, links: Int, opsInLog: Int) {
                self.mode = mode
                self.behind = behind
                self.pending = pending
                self.links = links
                self.opsInLog = opsInLog
            }
        }
        public init() {}
        public init(arguments: ControlArguments) {}
    }

    public struct Nodes: ControlCommand {
        public static let name = "nodes"
        public typealias Result = [NodeRow]
        public init() {}
        public init(arguments: ControlArguments) {}
    }

    public struct Admit: ControlCommand {
        public static let name = "admit"
        public struct Result: Sendable, Hashable, Codable {
            public var nodeID: String
            public var organisation: String
            public var key: String
            public var updated: Bool
            public var origin: String
            public var counter: UInt64
            enum CodingKeys: String, CodingKey { case organisation, key, updated, origin, counter, nodeID = "node_id" }
            public init(nodeID: String, organisation: String, key: String, updated: Bool, origin: String, counter: UInt64) {
                self.nodeID = nodeID
                self.organisation = organisation
                self.key = key
                self.updated = updated
                self.origin = origin
                self.counter = counter
            }
        }
        public var nodeID: String
        public var organisation: String?
        public var role: String?
        public var curveKey: String?
        public var signingKey: String?
        public var endpoints: [String]?
        public var acceptRevokedEdits: Bool?
        enum CodingKeys: String, CodingKey {
            case organisation, role, endpoints
            case nodeID = "node_id", curveKey = "curve_key", signingKey = "signing_key", acceptRevokedEdits = "accept_revoked_edits"
        }
        public init(nodeID: String, organisation: String, role: String? = nil, curveKey: String? = nil, signingKey: String? = nil,
                    endpoints: [String]? = nil, acceptRevokedEdits: Bool? = nil) {
            self.nodeID = nodeID
            self.organisation = organisation
            self.role = role
            self.curveKey = curveKey
            self.signingKey = signingKey
            self.endpoints = endpoints
            self.acceptRevokedEdits = acceptRevokedEdits
        }
        public init(arguments a: ControlArguments) throws(ControlError) {
            nodeID = try a.require("node_id", "missing 'node_id'")
            organisation = a.string("organisation")
            role = a.string("role")
            curveKey = a.string("curve_key")
            signingKey = a.string("signing_key")
            endpoints = a.strings("endpoints")
            acceptRevokedEdits = a.bool("accept_revoked_edits")
        }
    }

    public struct Revoke: ControlCommand {
        public static let name = "revoke"
        public struct Result: Sendable, Hashable, Codable {
            public var nodeID: String
            public var key: String
            public var changed: Bool
            public var origin: String?
            public var counter: UInt64?
            public var note: String?
            enum CodingKeys: String, CodingKey { case key, changed, origin, counter, note, nodeID = "node_id" }
            public init(nodeID: String, key: String, changed: Bool, origin: String? = nil, counter: UInt64? = nil, note: String? = nil) {
                self.nodeID = nodeID
                self.key = key
                self.changed = changed
                self.origin = origin
                self.counter = counter
                self.note = note
            }
        }
        public var nodeID: String
        enum CodingKeys: String, CodingKey { case nodeID = "node_id" }
        public init(nodeID: String) { self.nodeID = nodeID }
        public init(arguments a: ControlArguments) throws(ControlError) { nodeID = try a.require("node_id", "missing 'node_id'") }
    }

    public struct Compact: ControlCommand {
        public static let name = "compact"
        public struct Result: Sendable, Hashable, Codable {
            public var dropped: Int
            public var opsInLog: Int
            public var opsInStore: Int?
            public var logFloor: VersionJSON
            public var stableVersion: VersionJSON?
            public var note: String?
            enum CodingKeys: String, CodingKey {
                case dropped, note
                case opsInLog = "ops_in_log", opsInStore = "ops_in_store", logFloor = "log_floor", stableVersion = "stable_version"
            }
            public init(dropped: Int, opsInLog: Int, opsInStore: Int?, logFloor: VersionJSON, stableVersion: VersionJSON?, note: String?) {
                self.dropped = dropped
                self.opsInLog = opsInLog
                self.opsInStore = opsInStore
                self.logFloor = logFloor
                self.stableVersion = stableVersion
                self.note = note
            }
        }
        public init() {}
        public init(arguments: ControlArguments) {}
    }

    public struct Snapshot: ControlCommand {
        public static let name = "snapshot"
        public struct Result: Sendable, Hashable, Codable {
            public var path: String
            public var bytes: Int
            public var records: Int
            public var opsInLog: Int
            public var version: VersionJSON
            enum CodingKeys: String, CodingKey { case path, bytes, records, version, opsInLog = "ops_in_log" }
            public init(path: String, bytes: Int, records: Int, opsInLog: Int, version: VersionJSON) {
                self.path = path
                self.bytes = bytes
                self.records = records
                self.opsInLog = opsInLog
                self.version = version
            }
        }
        public var path: String
        public var force: Bool?
        public init(path: String, force: Bool? = nil) { self.path = path; self.force = force }
        public init(arguments a: ControlArguments) throws(ControlError) {
            guard let path = a.string("path"), !path.isEmpty else { throw .argument("missing 'path'") }
            self.path = path
            force = a.bool("force")
        }
    }

    public struct Restore: ControlCommand {
        public static let name = "restore"
        public struct Result: Sendable, Hashable, Codable {
            public var path: String
            public var backupReplica: String
            public var recordsInBackup: Int
            public var opsInBackup: Int
            public var opsAdded: Int
            public var opsRejected: Int
            public var recordsCreated: Int
            public var recordsChanged: Int
            public var changedKeys: [String]
            public var versionBefore: VersionJSON
            public var versionAfter: VersionJSON
            enum CodingKeys: String, CodingKey {
                case path
                case backupReplica = "backup_replica", recordsInBackup = "records_in_backup", opsInBackup = "ops_in_backup"
                case opsAdded = "ops_added", opsRejected = "ops_rejected", recordsCreated = "records_created"
                case recordsChanged = "records_changed", changedKeys = "changed_keys", versionBefore = "version_before"
                case versionAfter = "version_after"
            }
            public init(path: String, backupReplica: String, recordsInBackup: Int, opsInBackup: Int, opsAdded: Int, opsRejected: Int,
                        recordsCreated: Int, recordsChanged: Int, changedKeys: [String], versionBefore: VersionJSON, versionAfter: VersionJSON) {
                self.path = path
                self.backupReplica = backupReplica
                self.recordsInBackup = recordsInBackup
                self.opsInBackup = opsInBackup
                self.opsAdded = opsAdded
                self.opsRejected = opsRejected
                self.recordsCreated = recordsCreated
                self.recordsChanged = recordsChanged
                self.changedKeys = changedKeys
                self.versionBefore = versionBefore
                self.versionAfter = versionAfter
            }
        }
        public var path: String
        public init(path: String) { self.path = path }
        public init(arguments a: ControlArguments) throws(ControlError) {
            guard let path = a.string("path"), !path.isEmpty else { throw .argument("missing 'path'") }
            self.path = path
        }
    }

    public struct Stats: ControlCommand {
        public static let name = "stats"
        public typealias Result = StatsResult
        public init() {}
        public init(arguments: ControlArguments) {}
    }

    public struct Integrity: ControlCommand {
        public static let name = "integrity"
        public struct Result: Sendable, Hashable, Codable {
            public var result: String
            public var path: String
            public init(result: String, path: String) { self.result = result; self.path = path }
        }
        public init() {}
        public init(arguments: ControlArguments) {}
    }

    public struct StatusQuery: ControlCommand {
        public static let name = "status"
        public typealias Result = StatusResult
        public init() {}
        public init(arguments: ControlArguments) {}
    }

    public struct Refused: ControlCommand {
        public static let name = "refused"
        public typealias Result = [RefusedEditJSON]
        public init() {}
        public init(arguments: ControlArguments) {}
    }
}

// MARK: - 3.4 Commands for the web page

extension Control {
    public struct Permissions: ControlCommand {
        public static let name = "permissions"
        public typealias Result = PermissionsResult
        public var key: String
        public var changes: [String]?
        public init(key: String, changes: [String]? = nil) { self.key = key; self.changes = changes }
        public init(arguments a: ControlArguments) throws(ControlError) {
            key = try a.key()
            changes = try a.optionalStrings("changes", "'changes' must be a list of \"FIELD=VALUE\" strings")
        }
    }

    public struct Metrics: ControlCommand {
        public static let name = "metrics"
        public struct Result: Sendable, Hashable, Codable {
            public var text: String
            public var contentType: String
            public var health: String
            public var reasons: [String]
            enum CodingKeys: String, CodingKey { case text, health, reasons, contentType = "content_type" }
            public init(text: String, contentType: String, health: String, reasons: [String]) {
                self.text = text
                self.contentType = contentType
                self.health = health
                self.reasons = reasons
            }
        }
        public init() {}
        public init(arguments: ControlArguments) {}
    }

    public struct Lag: ControlCommand {
        public static let name = "lag"
        public struct Entry: Sendable, Hashable, Codable {
            public var nodeID: String
            public var opsBehind: UInt64
            public var lastSeenSeconds: Double
            public var lagSeconds: Double?
            enum CodingKeys: String, CodingKey {
                case nodeID = "node_id", opsBehind = "ops_behind", lastSeenSeconds = "last_seen_seconds", lagSeconds = "lag_seconds"
            }
            public init(nodeID: String, opsBehind: UInt64, lastSeenSeconds: Double, lagSeconds: Double?) {
                self.nodeID = nodeID
                self.opsBehind = opsBehind
                self.lastSeenSeconds = lastSeenSeconds
                self.lagSeconds = lagSeconds
            }
        }
        public typealias Result = [Entry]
        public init() {}
        public init(arguments: ControlArguments) {}
    }
}
