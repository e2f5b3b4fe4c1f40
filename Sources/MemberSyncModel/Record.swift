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

    public var fields: FieldTable

    public init(fields: FieldTable = FieldTable()) {
        self.fields = fields
    }

    public init(fields: [String: FieldState]) {
        self.fields = FieldTable(fields)
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
    /// table is not copied for every op). Checks no limit: for states already checked (a local
    /// write prepared against this record) or trusted (the node's own store).
    public mutating func join(_ other: [String: FieldState]) {
        if fields.isEmpty {
            fields = FieldTable(other)
            return
        }
        joinEach(other)
    }

    /// Joins another record's field states in place (see `join(_:)` for an op's).
    public mutating func join(_ other: FieldTable) {
        if fields.isEmpty {
            fields = other
            return
        }
        joinEach(other)
    }

    /// Joins each field state of an op's dictionary or a record's table.
    private mutating func joinEach(_ other: some Sequence<(key: String, value: FieldState)>) {
        for (name, state) in other {
            // Read, then write back. A set joins in place instead (the table's `_modify` moves
            // it out first), so an op adding one element to a large set does not copy the set.
            if case .set(let delta) = state, case .set? = fields[name] {
                fields[name]!.joinSet(delta)
            } else if let mine = fields[name] {
                fields[name] = mine.joined(with: state) ?? mine
            } else {
                fields[name] = state
            }
        }
    }

    /// What joining `other` would change, computed without changing anything, or the limit
    /// (`Limits`) the joined state would break. Work is proportional to `other` and to the
    /// registers it touches, never to a whole set.
    public func planJoin(_ other: [String: FieldState]) throws(ModelError) -> JoinPlan {
        var plan = JoinPlan()
        plan.changes.reserveCapacity(other.count)
        for (name, state) in other {
            switch (fields[name], state) {
            case (nil, .register(let r)):
                try Self.check(r, name)
                plan.changes.append((name, .register(r)))
            case (nil, .set(let s)):
                try Self.check(s, name)
                plan.changes.append((name, .set(s)))
            case (.register(let mine)?, .register(let delta)):
                let joined = mine.joined(with: delta)
                try Self.check(joined, name)
                plan.changes.append((name, .register(joined)))
            case (.set(let mine)?, .set(let delta)):
                var added = 0, bytes = mine.elementBytes
                var updates: [(String, Register<Bool>)] = []
                updates.reserveCapacity(delta.elements.count)
                for (e, r) in delta.elements {
                    let new: Register<Bool>
                    if let old = mine.elements[e] {
                        new = old.joined(with: r)
                        bytes -= EncodedSize.element(e, old)
                    } else {
                        new = r
                        added += 1
                    }
                    try Self.check(new, name, element: e)
                    bytes += EncodedSize.element(e, new)
                    updates.append((e, new))
                }
                try Self.checkSet(count: mine.elements.count + added, bytes: 4 + bytes, name)
                plan.changes.append((name, .elements(updates)))
            default:
                // Kinds disagree: the schema check refuses such ops; keep ours, as `join` does.
                continue
            }
        }
        return plan
    }

    /// Carries out a plan made by `planJoin` on this record.
    public mutating func commit(_ plan: JoinPlan) {
        for (name, change) in plan.changes {
            switch change {
            case .register(let r): fields[name] = .register(r)
            case .set(let s): fields[name] = .set(s)
            case .elements(let updates):
                if fields[name] == nil { fields[name] = .set(ORSet()) }
                fields[name]!.putElements(updates)
            }
        }
    }

    /// Checks every field of a whole record (a snapshot page's or a backup's) against `Limits`.
    public func checkLimits() throws(ModelError) {
        for (name, state) in fields {
            switch state {
            case .register(let r): try Self.check(r, name)
            case .set(let s): try Self.check(s, name)
            }
        }
    }

    static func refuse(_ reason: RefusalReason, _ field: String, _ what: String) -> ModelError {
        .refused(reason, "field \(field): \(what)")
    }

    static func check(_ r: Register<Value>, _ name: String) throws(ModelError) {
        if r.siblings.count > Limits.maxSiblings {
            throw refuse(.tooManySiblings, name, "\(r.siblings.count) concurrent values, at most \(Limits.maxSiblings); write the field to resolve them")
        }
        let bytes = EncodedSize.register(r)
        if bytes > Limits.maxRegisterBytes { throw refuse(.tooLarge, name, "\(bytes) bytes, at most \(Limits.maxRegisterBytes)") }
    }

    static func check(_ r: Register<Bool>, _ name: String, element: String) throws(ModelError) {
        if r.siblings.count > Limits.maxSiblings {
            throw refuse(.tooManySiblings, name, "element '\(element.prefix(64))' has \(r.siblings.count) concurrent values, at most \(Limits.maxSiblings)")
        }
        let bytes = EncodedSize.presence(r)
        if bytes > Limits.maxRegisterBytes {
            throw refuse(.tooLarge, name, "element '\(element.prefix(64))' state of \(bytes) bytes, at most \(Limits.maxRegisterBytes)")
        }
    }

    static func check(_ s: ORSet, _ name: String) throws(ModelError) {
        for (e, r) in s.elements { try check(r, name, element: e) }
        try checkSet(count: s.elements.count, bytes: EncodedSize.set(s), name)
    }

    static func checkSet(count: Int, bytes: Int, _ name: String) throws(ModelError) {
        if count > Limits.maxSetElements {
            throw refuse(.tooManyElements, name, "\(count) elements (removed ones count too), at most \(Limits.maxSetElements)")
        }
        if bytes > Limits.maxSetBytes { throw refuse(.tooLarge, name, "\(bytes) bytes, at most \(Limits.maxSetBytes)") }
    }
}

/// The field states a join will write, made by `Record.planJoin` after checking `Limits`.
public struct JoinPlan: Sendable {
    enum Change: Sendable {
        case register(Register<Value>)
        case set(ORSet)
        /// Presence registers to put into an existing set, element by element.
        case elements([(String, Register<Bool>)])
    }
    var changes: [(String, Change)] = []
}

extension FieldState {
    /// Joins a set delta into this set state in place. The payload is moved out first so the
    /// set's storage is uniquely referenced and not copied.
    mutating func joinSet(_ delta: ORSet) {
        guard case .set(var s) = self else { return }
        self = .register(Register())
        s.join(delta)
        self = .set(s)
    }

    mutating func putElements(_ updates: [(String, Register<Bool>)]) {
        guard case .set(var s) = self else { return }
        self = .register(Register())
        for (e, r) in updates { s.put(e, r) }
        self = .set(s)
    }
}
