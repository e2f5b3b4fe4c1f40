/// The state of one field: a register for scalars, an add-wins set for set fields.
public enum FieldState: Hashable, Sendable {
    case register(Register<Value>)
    case set(ORSet)

    /// Join of two states of the same field; nil when their kinds differ (a schema violation).
    public func joined(with other: FieldState) -> FieldState? {
        switch (self, other) {
        case (.register(let a), .register(let b)): return .register(a.joined(with: b))
        case (.set(let a), .set(let b)): return .set(a.joined(with: b))
        default: return nil
        }
    }
}

/// A record: named field states. `$exists` is a hidden register written by every edit (true)
/// and by delete (false); an edit concurrent with a delete keeps the record (update wins).
public struct Record: Hashable, Sendable {
    public static let existsField = "$exists"

    public var fields: [String: FieldState]

    public init(fields: [String: FieldState] = [:]) {
        self.fields = fields
    }

    public var exists: Bool {
        guard case .register(let r)? = fields[Self.existsField] else { return false }
        return r.siblings.contains { $0.value == .bool(true) }
    }

    public func register(_ name: String) -> Register<Value> {
        if case .register(let r)? = fields[name] { return r }
        return Register()
    }

    public func set(_ name: String) -> ORSet {
        if case .set(let s)? = fields[name] { return s }
        return ORSet()
    }

    /// Joins field by field. Fields whose kinds disagree keep this side's state; the schema
    /// check before any merge makes that case unreachable for validated input.
    public func joined(with other: Record) -> Record {
        var out = self
        out.join(other.fields)
        return out
    }

    /// Joins field states in place (a replica's records are joined this way, so the field
    /// table is not copied for every op).
    public mutating func join(_ other: [String: FieldState]) {
        if fields.isEmpty {
            fields = other
            return
        }
        for (name, state) in other {
            // Read, then write back: writing through `fields.values[i]` made Dictionary copy
            // its storage on every op (seen in profiles).
            if let mine = fields[name] {
                fields[name] = mine.joined(with: state) ?? mine
            } else {
                fields[name] = state
            }
        }
    }
}
