/// One replicated edit: the `counter`-th op of `origin`, carrying the new states of the fields
/// it touched (delta states, joined into the receiver's record).
public struct Op: Hashable, Sendable {
    public let origin: ReplicaID
    public let counter: UInt64
    public let hlc: HLC
    public let key: RecordKey
    public let fields: [String: FieldState]
    /// Origin's signature over the op's canonical bytes (empty until signing is enabled).
    public var signature: [UInt8]
    /// The origin's hash chain (MSP 5.9): the SHA-256 of the origin's op `counter - 1` encoded
    /// whole, or `OpChain.genesis` at counter 1; empty for ops made before chains.
    /// The signature covers it, so an origin that signs two histories leaves proof.
    public var prev: [UInt8]

    public init(origin: ReplicaID, counter: UInt64, hlc: HLC, key: RecordKey, fields: [String: FieldState],
                signature: [UInt8] = [], prev: [UInt8] = []) {
        self.origin = origin
        self.counter = counter
        self.hlc = hlc
        self.key = key
        self.fields = fields
        self.signature = signature
        self.prev = prev
    }

    public var dot: Dot { Dot(origin, counter) }

    /// The op carries a link of its origin's hash chain.
    public var isChained: Bool { prev.count == OpChain.hashBytes }
}

/// The per-origin hash chain of ops (MSP 5.9).
public enum OpChain {
    public static let hashBytes = 32
    /// The `prev` of an origin's first op: no predecessor, but a chain from the start.
    public static let genesis = [UInt8](repeating: 0, count: hashBytes)
}

/// A user's change to one field, before it becomes an op.
public enum FieldChange: Hashable, Sendable {
    /// Writes a scalar field; `Value.absent` clears it.
    case assign(field: String, value: Value)
    case add(field: String, element: String)
    case remove(field: String, element: String)

    public var field: String {
        switch self {
        case .assign(let f, _), .add(let f, _), .remove(let f, _): return f
        }
    }
}

/// Why the model refused a write or an op.
public enum ModelError: Error, Equatable, Sendable, CustomStringConvertible {
    case schema(SchemaError)
    case malformedOp(String)
    case noSuchRecord(RecordKey)
    case emptyChange
    /// Refused by write authorisation (who may write what); the reason names the rule.
    case unauthorised(String)
    /// Refused by a limit or a causality rule (`Limits`); the reason is a fixed label.
    case refused(RefusalReason, String)

    public var description: String {
        switch self {
        case .schema(let e): return e.description
        case .malformedOp(let why): return "malformed op: \(why)"
        case .noSuchRecord(let key): return "no such record: \(key)"
        case .unauthorised(let why): return "not allowed: \(why)"
        case .refused(let reason, let why): return "refused (\(reason.rawValue)): \(why)"
        case .emptyChange: return "nothing to change: give at least one FIELD=VALUE, FIELD+=ELEMENT or FIELD-=ELEMENT"
        }
    }
}

/// A field whose siblings disagree, with every value and who wrote it.
public struct Conflict: Hashable, Sendable {
    public let key: RecordKey
    public let field: String
    public let siblings: [Sibling<Value>]
}

/// The state a node hands to a new or far-behind node instead of its op log.
public struct Snapshot: Sendable, Equatable {
    public var version: VersionVector
    public var records: [RecordKey: Record]

    public init(version: VersionVector, records: [RecordKey: Record]) {
        self.version = version
        self.records = records
    }
}
