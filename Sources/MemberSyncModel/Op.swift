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

    public init(origin: ReplicaID, counter: UInt64, hlc: HLC, key: RecordKey, fields: [String: FieldState], signature: [UInt8] = []) {
        self.origin = origin
        self.counter = counter
        self.hlc = hlc
        self.key = key
        self.fields = fields
        self.signature = signature
    }

    public var dot: Dot { Dot(origin, counter) }
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
