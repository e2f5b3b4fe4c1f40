/// A record's field states, sorted by field name in one array.
///
/// A record has a handful of fields (the schema knows them all), and a replica holds a
/// million records: a `Dictionary` per record cost a hash table with room for 4/3 to 8/3
/// times its fields, and a header, where one array holds just the entries. Lookups scan the
/// few names (equal short strings compare by their bits); inserts keep the order, so equal
/// tables compare, hash and encode equal, and iteration is by name everywhere.
public struct FieldTable: Hashable, Sendable, RandomAccessCollection, ExpressibleByDictionaryLiteral {
    public struct Entry: Hashable, Sendable {
        var name: String
        var state: FieldState
    }

    private var entries: [Entry]

    public init() { entries = [] }

    /// The fields of `states`, in name order.
    public init(_ states: [String: FieldState]) {
        entries = states.map { Entry(name: $0.key, state: $0.value) }
        if entries.count > 1 { entries.sort { $0.name < $1.name } }
    }

    public init(dictionaryLiteral elements: (String, FieldState)...) {
        var states: [String: FieldState] = [:]
        for (name, state) in elements { states[name] = state }
        self.init(states)
    }

    /// Fields given in strictly increasing name order (as the encoder writes them); nil when
    /// they are not, so the caller can take a checked path.
    public init?(strictlyIncreasing fields: [(name: String, state: FieldState)]) {
        for i in fields.indices.dropFirst() where !(fields[i - 1].name < fields[i].name) { return nil }
        entries = fields.map { Entry(name: $0.name, state: $0.state) }
    }

    // MARK: collection of (key, value), as a dictionary's

    public typealias Element = (key: String, value: FieldState)
    public var startIndex: Int { 0 }
    public var endIndex: Int { entries.count }
    public subscript(position: Int) -> Element { (entries[position].name, entries[position].state) }

    /// The field names, in order (a view: nothing is copied).
    public var keys: LazyMapSequence<[Entry], String> { entries.lazy.map(\.name) }
    /// The field states, in name order (a view: nothing is copied).
    public var values: LazyMapSequence<[Entry], FieldState> { entries.lazy.map(\.state) }

    /// The field's state, nil when the record has none. Set nil to remove it. Modified in
    /// place (`fields[name]!.joinSet(...)`), the state is moved out first, so a set's
    /// storage stays uniquely referenced and is not copied.
    public subscript(name: String) -> FieldState? {
        get {
            for e in entries where e.name == name { return e.state }
            return nil
        }
        set {
            if let newValue {
                updateValue(newValue, forKey: name)
            } else if case .found(let i) = position(of: name) {
                entries.remove(at: i)
            }
        }
        _modify {
            switch position(of: name) {
            case .found(let i):
                var state: FieldState? = entries[i].state
                entries[i].state = .register(Register())
                defer {
                    if let state { entries[i].state = state } else { entries.remove(at: i) }
                }
                yield &state
            case .insert(let i):
                var state: FieldState? = nil
                defer { if let state { entries.insert(Entry(name: name, state: state), at: i) } }
                yield &state
            }
        }
    }

    /// Sets a field's state and returns the one it replaces, as `Dictionary.updateValue`.
    @discardableResult
    public mutating func updateValue(_ state: FieldState, forKey name: String) -> FieldState? {
        switch position(of: name) {
        case .found(let i):
            let old = entries[i].state
            entries[i].state = state
            return old
        case .insert(let i):
            entries.insert(Entry(name: name, state: state), at: i)
            return nil
        }
    }

    /// The fields as a dictionary (for an op, whose fields are one).
    public var dictionary: [String: FieldState] {
        var out = [String: FieldState](minimumCapacity: entries.count)
        for e in entries { out[e.name] = e.state }
        return out
    }

    private enum Position { case found(Int), insert(Int) }

    private func position(of name: String) -> Position {
        for (i, e) in entries.enumerated() {
            if e.name == name { return .found(i) }
            if name < e.name { return .insert(i) }
        }
        return .insert(entries.count)
    }
}
