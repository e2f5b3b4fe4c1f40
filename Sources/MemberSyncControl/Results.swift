import MemberSyncDirectory

/// `status`: the node, its links, its replica and its counters (Protocols/CONTROL.md 3.3).
public struct StatusResult: Sendable, Hashable, Codable {
    /// A hub or peer link: `{"endpoint", "connected", "node_id"?, ...}`.
    public struct Link: Sendable, Hashable, Codable {
        public struct HandshakeFailure: Sendable, Hashable, Codable {
            public var cause: String
            public var message: String
            public var secondsAgo: Double
            enum CodingKeys: String, CodingKey { case cause, message, secondsAgo = "seconds_ago" }
            public init(cause: String, message: String, secondsAgo: Double) { self.cause = cause; self.message = message; self.secondsAgo = secondsAgo }
        }
        public var endpoint: String
        public var connected: Bool
        public var nodeID: String?
        public var lastHeard: String?
        public var lastHeardSecondsAgo: Double?
        public var behindOps: UInt64?
        public var behindSeconds: Double?
        public var theirMissingOps: UInt64?
        public var fromRoster: Bool?
        public var awaitingRoster: Bool?
        public var handshakeFailure: HandshakeFailure?
        enum CodingKeys: String, CodingKey {
            case endpoint, connected
            case nodeID = "node_id", lastHeard = "last_heard", lastHeardSecondsAgo = "last_heard_seconds_ago"
            case behindOps = "behind_ops", behindSeconds = "behind_seconds", theirMissingOps = "their_missing_ops"
            case fromRoster = "from_roster", awaitingRoster = "awaiting_roster", handshakeFailure = "handshake_failure"
        }
        public init(endpoint: String, connected: Bool) { self.endpoint = endpoint; self.connected = connected }
    }

    /// A member's view of its hub: `{"endpoint", "connected", "last_exchange", ...}` or `{"never_heard": true}`.
    public struct Hub: Sendable, Hashable, Codable {
        public var endpoint: String
        public var connected: Bool
        public var nodeID: String?
        public var lastExchange: String?
        public var lastExchangeSecondsAgo: Double?
        public var behindOps: UInt64?
        public var behindSeconds: Double?
        public var theirMissingOps: UInt64?
        public var neverHeard: Bool?
        enum CodingKeys: String, CodingKey {
            case endpoint, connected
            case nodeID = "node_id", lastExchange = "last_exchange", lastExchangeSecondsAgo = "last_exchange_seconds_ago"
            case behindOps = "behind_ops", behindSeconds = "behind_seconds", theirMissingOps = "their_missing_ops", neverHeard = "never_heard"
        }
        public init(endpoint: String, connected: Bool) { self.endpoint = endpoint; self.connected = connected }
    }

    /// A node connected to this one (it said hello).
    public struct Client: Sendable, Hashable, Codable {
        public var nodeID: String
        public var organisation: String
        public var role: String
        public var softwareVersion: String
        public var `protocol`: UInt32
        public var lastSeen: String
        public var opsBehind: UInt64
        enum CodingKeys: String, CodingKey {
            case organisation, role, `protocol`
            case nodeID = "node_id", softwareVersion = "software_version", lastSeen = "last_seen", opsBehind = "ops_behind"
        }
        public init(nodeID: String, organisation: String, role: String, softwareVersion: String, protocol: UInt32, lastSeen: String, opsBehind: UInt64) {
            self.nodeID = nodeID
            self.organisation = organisation
            self.role = role
            self.softwareVersion = softwareVersion
            self.protocol = `protocol`
            self.lastSeen = lastSeen
            self.opsBehind = opsBehind
        }
    }

    /// `healthy` or `degraded` (absent from nodes older than the field).
    public var health: String?
    public var healthReasons: [String]?
    public var nodeID: String
    public var organisation: String
    public var role: String
    public var replica: String
    public var listen: String
    public var mode: String
    public var activeHub: String?
    public var hubs: [Link]
    public var peers: [Link]
    public var version: VersionJSON
    public var pending: UInt64
    public var digest: String
    public var records: Int
    public var conflicts: Int
    public var opsInLog: Int
    public var softwareVersion: String
    public var `protocol`: UInt32
    public var opsApplied: UInt64
    public var opsRejected: [String: UInt64]
    public var opsWaiting: Int
    public var opsWaited: UInt64
    public var requestsRefused: [String: UInt64]
    public var equivocations: UInt64
    /// Forks the roster settles, as `REPLICA=COUNTER` (MSP.md 5.9; absent from older nodes).
    public var forks: [String]?
    public var messagesDropped: [String: UInt64]
    public var clients: [Client]
    public var uptimeSeconds: UInt64
    public var hub: Hub?
    public var revoked: Bool
    /// This node's own refused edits (absent from nodes older than the count).
    public var refusedEdits: Int?
    /// Records whose current text the node's search index has yet to take (searched by
    /// scanning them meanwhile); absent when the node has no index (older nodes, or one that
    /// could not open it).
    public var searchBacklog: Int?

    enum CodingKeys: String, CodingKey {
        case health, role, replica, listen, mode, hubs, peers, version, pending, digest, records, conflicts, `protocol`
        case equivocations, forks, clients, hub, revoked, organisation
        case healthReasons = "health_reasons", nodeID = "node_id", activeHub = "active_hub", opsInLog = "ops_in_log"
        case softwareVersion = "software_version", opsApplied = "ops_applied", opsRejected = "ops_rejected"
        case opsWaiting = "ops_waiting", opsWaited = "ops_waited", requestsRefused = "requests_refused"
        case messagesDropped = "messages_dropped", uptimeSeconds = "uptime_seconds", refusedEdits = "refused_edits"
        case searchBacklog = "search_backlog"
    }

    public init(health: String?, healthReasons: [String]?, nodeID: String, organisation: String, role: String, replica: String, listen: String,
                mode: String, activeHub: String?, hubs: [Link], peers: [Link], version: VersionJSON, pending: UInt64, digest: String,
                records: Int, conflicts: Int, opsInLog: Int, softwareVersion: String, protocol: UInt32, opsApplied: UInt64,
                opsRejected: [String: UInt64], opsWaiting: Int, opsWaited: UInt64, requestsRefused: [String: UInt64], equivocations: UInt64,
                messagesDropped: [String: UInt64], clients: [Client], uptimeSeconds: UInt64, hub: Hub?, revoked: Bool, refusedEdits: Int?,
                forks: [String]? = nil, searchBacklog: Int? = nil) {
        self.health = health
        self.healthReasons = healthReasons
        self.nodeID = nodeID
        self.organisation = organisation
        self.role = role
        self.replica = replica
        self.listen = listen
        self.mode = mode
        self.activeHub = activeHub
        self.hubs = hubs
        self.peers = peers
        self.version = version
        self.pending = pending
        self.digest = digest
        self.records = records
        self.conflicts = conflicts
        self.opsInLog = opsInLog
        self.softwareVersion = softwareVersion
        self.protocol = `protocol`
        self.opsApplied = opsApplied
        self.opsRejected = opsRejected
        self.opsWaiting = opsWaiting
        self.opsWaited = opsWaited
        self.requestsRefused = requestsRefused
        self.equivocations = equivocations
        self.messagesDropped = messagesDropped
        self.clients = clients
        self.uptimeSeconds = uptimeSeconds
        self.hub = hub
        self.revoked = revoked
        self.refusedEdits = refusedEdits
        self.forks = forks
        self.searchBacklog = searchBacklog
    }
}

/// One of this node's refused edits, as `refused` lists them (newest first).
public struct RefusedEditJSON: Sendable, Hashable, Codable {
    public var key: String?
    public var summary: String
    public var dot: String
    public var origin: String
    public var counter: UInt64
    public var reason: String
    public var detail: String
    public var held: Bool
    public var at: String
    public init(key: String?, summary: String, dot: String, origin: String, counter: UInt64, reason: String, detail: String, held: Bool, at: String) {
        self.key = key
        self.summary = summary
        self.dot = dot
        self.origin = origin
        self.counter = counter
        self.reason = reason
        self.detail = detail
        self.held = held
        self.at = at
    }
}

/// One node `nodes` knows: from the roster, a hello, the store's peers table, or a link.
public struct NodeRow: Sendable, Hashable, Codable {
    public var nodeID: String
    public var isSelf: Bool
    public var online: Bool
    public var via: [String]?
    public var inRoster: Bool
    public var revoked: Bool?
    public var organisation: String?
    public var role: String?
    public var curveKey: String?
    public var signingKey: String?
    public var endpoints: [String]?
    public var endpoint: String?
    public var connected: Bool
    public var lastSeen: String?
    public var opsBehind: UInt64?
    public var softwareVersion: String?
    public var `protocol`: UInt32?
    public var helloOrganisation: String?
    enum CodingKeys: String, CodingKey {
        case online, via, revoked, organisation, role, endpoints, endpoint, connected, `protocol`
        case nodeID = "node_id", isSelf = "self", inRoster = "in_roster", curveKey = "curve_key", signingKey = "signing_key"
        case lastSeen = "last_seen", opsBehind = "ops_behind", softwareVersion = "software_version", helloOrganisation = "hello_organisation"
    }
    public init(nodeID: String, isSelf: Bool) {
        self.nodeID = nodeID
        self.isSelf = isSelf
        online = false
        inRoster = false
        connected = false
    }
}

/// `stats`: records per collection, the log, conflicts, counters since the start, the store.
public struct StatsResult: Sendable, Hashable, Codable {
    public var nodeID: String
    public var role: String
    public var records: [String: Int]
    public var recordsTotal: Int
    public var recordsDeleted: Int
    public var opsInLog: Int
    public var opsInStore: Int?
    public var logFloor: VersionJSON
    public var conflicts: Int
    public var opsApplied: UInt64
    public var opsDuplicate: UInt64
    public var opsRejected: [String: UInt64]
    public var opsRejectedTotal: UInt64
    public var localWrites: UInt64
    public var snapshotsServed: UInt64
    public var snapshotsLoaded: UInt64
    public var connectedNodes: Int
    public var knownNodes: Int
    public var storeBytes: Int
    public var storeFile: String
    public var countersSince: String
    public var uptimeSeconds: UInt64
    enum CodingKeys: String, CodingKey {
        case role, records, conflicts
        case nodeID = "node_id", recordsTotal = "records_total", recordsDeleted = "records_deleted", opsInLog = "ops_in_log"
        case opsInStore = "ops_in_store", logFloor = "log_floor", opsApplied = "ops_applied", opsDuplicate = "ops_duplicate"
        case opsRejected = "ops_rejected", opsRejectedTotal = "ops_rejected_total", localWrites = "local_writes"
        case snapshotsServed = "snapshots_served", snapshotsLoaded = "snapshots_loaded", connectedNodes = "connected_nodes"
        case knownNodes = "known_nodes", storeBytes = "store_bytes", storeFile = "store_file", countersSince = "counters_since"
        case uptimeSeconds = "uptime_seconds"
    }
    public init(nodeID: String, role: String, records: [String: Int], recordsTotal: Int, recordsDeleted: Int, opsInLog: Int, opsInStore: Int?,
                logFloor: VersionJSON, conflicts: Int, opsApplied: UInt64, opsDuplicate: UInt64, opsRejected: [String: UInt64],
                opsRejectedTotal: UInt64, localWrites: UInt64, snapshotsServed: UInt64, snapshotsLoaded: UInt64, connectedNodes: Int,
                knownNodes: Int, storeBytes: Int, storeFile: String, countersSince: String, uptimeSeconds: UInt64) {
        self.nodeID = nodeID
        self.role = role
        self.records = records
        self.recordsTotal = recordsTotal
        self.recordsDeleted = recordsDeleted
        self.opsInLog = opsInLog
        self.opsInStore = opsInStore
        self.logFloor = logFloor
        self.conflicts = conflicts
        self.opsApplied = opsApplied
        self.opsDuplicate = opsDuplicate
        self.opsRejected = opsRejected
        self.opsRejectedTotal = opsRejectedTotal
        self.localWrites = localWrites
        self.snapshotsServed = snapshotsServed
        self.snapshotsLoaded = snapshotsLoaded
        self.connectedNodes = connectedNodes
        self.knownNodes = knownNodes
        self.storeBytes = storeBytes
        self.storeFile = storeFile
        self.countersSince = countersSince
        self.uptimeSeconds = uptimeSeconds
    }
}

/// `permissions`: whether `set` on this node would accept edits of one record, and why not.
public struct PermissionsResult: Sendable, Hashable, Codable {
    /// `{"writable", "reason"?}`, and for a field its `type`.
    public struct Answer: Sendable, Hashable, Codable {
        public var writable: Bool
        public var reason: String?
        public var type: String?
        public init(refusal reason: String?, type: String? = nil) { writable = reason == nil; self.reason = reason; self.type = type }
    }
    public struct Writer: Sendable, Hashable, Codable {
        public var nodeID: String
        public var organisation: String
        public var hubOperator: Bool
        public var refused: String?
        enum CodingKeys: String, CodingKey { case organisation, refused, nodeID = "node_id", hubOperator = "hub_operator" }
        public init(nodeID: String, organisation: String, hubOperator: Bool, refused: String? = nil) {
            self.nodeID = nodeID
            self.organisation = organisation
            self.hubOperator = hubOperator
            self.refused = refused
        }
    }
    public var key: String
    public var exists: Bool
    public var rules: String
    public var writer: Writer
    public var edit: Answer
    public var delete: Answer?
    public var fields: [String: Answer]
    public init(key: String, exists: Bool, rules: String, writer: Writer, edit: Answer, delete: Answer?, fields: [String: Answer]) {
        self.key = key
        self.exists = exists
        self.rules = rules
        self.writer = writer
        self.edit = edit
        self.delete = delete
        self.fields = fields
    }
}
