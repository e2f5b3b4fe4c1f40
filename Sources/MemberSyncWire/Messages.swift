import MemberSyncModel

/// Protocol versions this build speaks. A link uses the highest version both ends support.
public enum ProtocolVersion {
    /// 2: ops carry `prev`, their origin's hash chain (MSP 5.9, section 8). A protocol-1 node
    /// cannot verify a signature that covers it, so 1 is no longer spoken.
    public static let current: UInt32 = 2
    public static let minimumSupported: UInt32 = 2
    /// First frame of every MSP message: the signature and the frame-encoding version.
    public static let signature: [UInt8] = Array("MSP/1".utf8)

    /// The version two nodes should use, or nil when their ranges do not overlap.
    public static func negotiate(theirMin: UInt32, theirMax: UInt32) -> UInt32? {
        let chosen = min(current, theirMax)
        return chosen >= max(minimumSupported, theirMin) ? chosen : nil
    }
}

/// A node introducing itself on a new or re-established link.
public struct Hello: Equatable, Sendable {
    public var nodeID: String
    public var replica: ReplicaID
    public var role: String
    public var organisation: String
    public var softwareVersion: String
    public var minProtocol: UInt32
    public var maxProtocol: UInt32
    public var version: VersionVector

    public init(nodeID: String, replica: ReplicaID, role: String, organisation: String, softwareVersion: String,
                minProtocol: UInt32 = ProtocolVersion.minimumSupported, maxProtocol: UInt32 = ProtocolVersion.current,
                version: VersionVector) {
        self.nodeID = nodeID
        self.replica = replica
        self.role = role
        self.organisation = organisation
        self.softwareVersion = softwareVersion
        self.minProtocol = minProtocol
        self.maxProtocol = maxProtocol
        self.version = version
    }
}

/// The answer to Hello: who answered, the chosen protocol, and what it holds.
public struct Welcome: Equatable, Sendable {
    public var nodeID: String
    public var replica: ReplicaID
    public var role: String
    public var softwareVersion: String
    public var protocolVersion: UInt32
    public var version: VersionVector

    public init(nodeID: String, replica: ReplicaID, role: String, softwareVersion: String, protocolVersion: UInt32, version: VersionVector) {
        self.nodeID = nodeID
        self.replica = replica
        self.role = role
        self.softwareVersion = softwareVersion
        self.protocolVersion = protocolVersion
        self.version = version
    }
}

/// Liveness plus a summary of state, so receivers notice gaps left by dropped messages.
public struct Heartbeat: Equatable, Sendable {
    public var nodeID: String
    public var replica: ReplicaID
    public var role: String
    public var version: VersionVector
    public var pending: UInt64

    public init(nodeID: String, replica: ReplicaID, role: String, version: VersionVector, pending: UInt64) {
        self.nodeID = nodeID
        self.replica = replica
        self.role = role
        self.version = version
        self.pending = pending
    }
}

/// One page of records from a snapshot.
public struct SnapshotPage: Equatable, Sendable {
    public var version: VersionVector
    public var records: [(key: RecordKey, record: Record)]
    public var lastKey: String
    public var done: Bool

    public init(version: VersionVector, records: [(key: RecordKey, record: Record)], lastKey: String, done: Bool) {
        self.version = version
        self.records = records
        self.lastKey = lastKey
        self.done = done
    }

    public static func == (a: SnapshotPage, b: SnapshotPage) -> Bool {
        a.version == b.version && a.lastKey == b.lastKey && a.done == b.done
            && a.records.map(\.key) == b.records.map(\.key) && a.records.map(\.record) == b.records.map(\.record)
    }
}

/// Error codes carried in an Error message.
public enum ErrorCode: Int, Sendable {
    case unspecified = 0
    case badRequest = 1
    case unsupportedVersion = 2
    case rejected = 3
    case notReady = 4
    case snapshotRequired = 5
}

/// One op a receiver refused, as an `Error{REJECTED}` answering a Push names it (MSP 7.3), so
/// the op's origin can stop resending it and tell its user why.
public struct Refusal: Equatable, Sendable {
    public var dot: Dot
    /// A fixed label (`unauthorised`, `bad-signature`, `gap-too-large`, ...).
    public var reason: String
    /// For humans; not to be parsed.
    public var detail: String
    /// The receiver holds the op without its effect (validly signed, refused by the write
    /// rules): its Acks cover it. False: the receiver does not hold it.
    public var held: Bool

    public init(dot: Dot, reason: String, detail: String, held: Bool) {
        self.dot = dot
        self.reason = reason
        self.detail = detail
        self.held = held
    }

    /// Longest reason and detail a receiver sends and a decoder accepts.
    public static let maxReasonBytes = 64
    public static let maxDetailBytes = 1024
}

/// Every MSP/1 message, in model types.
public enum Message: Equatable, Sendable {
    case hello(Hello)
    case welcome(Welcome)
    case pull(version: VersionVector, maxOps: UInt32)
    case opBatch(ops: [Op], more: Bool, senderVersion: VersionVector)
    case push([Op])
    case ack(VersionVector)
    case snapshotRequest(after: String, maxRecords: UInt32)
    case snapshotPage(SnapshotPage)
    case heartbeat(Heartbeat)
    /// `refused`: with `.rejected` answering a Push, the ops of it that were refused.
    case error(code: ErrorCode, message: String, refused: [Refusal] = [])
    case op(Op)

    /// Short name for logs and metrics labels.
    public var kind: String {
        switch self {
        case .hello: return "hello"
        case .welcome: return "welcome"
        case .pull: return "pull"
        case .opBatch: return "op_batch"
        case .push: return "push"
        case .ack: return "ack"
        case .snapshotRequest: return "snapshot_request"
        case .snapshotPage: return "snapshot_page"
        case .heartbeat: return "heartbeat"
        case .error: return "error"
        case .op: return "op"
        }
    }
}
