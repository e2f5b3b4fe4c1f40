import MemberSyncModel

/// Cheap upper-bound estimates of encoded sizes, so pages of ops or records can be cut
/// well below `WireLimits.maxMessageBytes` without encoding everything twice.
public enum WireSize {
    /// Budget for one page: half the message limit leaves room for estimation error.
    public static let pageBudgetBytes = WireLimits.maxMessageBytes / 2

    static func replica(_ r: ReplicaID) -> Int { r.node.utf8.count + 10 }

    static func version(_ v: VersionVector) -> Int {
        v.sorted.reduce(4) { $0 + replica($1.replica) + 14 }
    }

    static func value(_ v: Value) -> Int {
        switch v {
        case .string(let s): return s.utf8.count + 6
        case .int, .bool: return 13
        case .absent: return 2
        }
    }

    static func register<V>(_ r: Register<V>, _ size: (V) -> Int) -> Int {
        r.siblings.reduce(version(r.context) + 4) { $0 + replica($1.dot.replica) + 34 + size($1.value) }
    }

    static func fields(_ fields: [String: FieldState]) -> Int {
        fields.reduce(0) { total, entry in
            let body: Int
            switch entry.value {
            case .register(let r): body = register(r, value)
            case .set(let s): body = s.elements.reduce(4) { $0 + $1.key.utf8.count + 8 + register($1.value) { _ in 4 } }
            }
            return total + entry.key.utf8.count + 8 + body
        }
    }

    public static func op(_ o: Op) -> Int {
        replica(o.origin) + o.key.collection.utf8.count + o.key.id.utf8.count + o.signature.count + 48 + fields(o.fields)
    }

    public static func record(_ key: RecordKey, _ r: Record) -> Int {
        key.collection.utf8.count + key.id.utf8.count + 16 + fields(r.fields)
    }

    /// The longest prefix of `ops` within `budget` bytes (always at least one op, so a
    /// single large op still moves).
    public static func prefix(_ ops: [Op], budget: Int = pageBudgetBytes) -> [Op] {
        var total = 0
        var n = 0
        for o in ops {
            total += op(o)
            if total > budget && n > 0 { break }
            n += 1
        }
        return Array(ops.prefix(n))
    }
}
