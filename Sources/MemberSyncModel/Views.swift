/// What a reader sees of one field: the chosen value (or set members) and, when writers
/// disagree, every sibling so the conflict can be shown and resolved. `value` is nil for a
/// set, and for a conflicted field whose chosen sibling is a clear (`Value.absent`).
public struct FieldView: Equatable, Sendable {
    public let name: String
    public let value: Value?
    public let members: [String]?
    public let conflict: [Sibling<Value>]?
}

/// A record as readers see it.
public struct RecordView: Equatable, Sendable {
    public let key: RecordKey
    public let fields: [FieldView]

    public func field(_ name: String) -> FieldView? { fields.first { $0.name == name } }
}

extension Replica {
    /// The visible record, or nil when it does not exist or was deleted.
    public func view(_ key: RecordKey) -> RecordView? {
        guard let record = records[key], record.exists else { return nil }
        return Self.view(key: key, record: record)
    }

    /// The visible form of a record state, whether or not it exists.
    public static func view(key: RecordKey, record: Record) -> RecordView {
        var out: [FieldView] = []
        forEachVisibleField(of: record) { out.append($0) }
        return RecordView(key: key, fields: out)
    }

    /// The fields a reader sees of a record state, in name order, one at a time: `view` and
    /// the status summary's hash of each changed record (which builds no view) share this.
    static func forEachVisibleField(of record: Record, _ body: (FieldView) -> Void) {
        // A record's fields are kept in name order (`FieldTable`): no sort, no lookups.
        for (name, state) in record.fields where name != Record.existsField {
            switch state {
            case .register(let r):
                guard let winner = r.winner else { continue }
                // A cleared field is shown as missing, unless a concurrent write disagrees.
                if winner.value.isAbsent && !r.isConflicted { continue }
                body(FieldView(name: name, value: winner.value.isAbsent ? nil : winner.value, members: nil,
                               conflict: r.isConflicted ? r.siblings : nil))
            case .set(let s):
                let members = s.members.sorted()
                if members.isEmpty { continue }
                body(FieldView(name: name, value: nil, members: members, conflict: nil))
            }
        }
    }
}
