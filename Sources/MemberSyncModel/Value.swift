/// A scalar field value. Dates and references travel as strings; the schema checks their form.
public enum Value: Hashable, Sendable, Comparable, CustomStringConvertible {
    case string(String)
    case int(Int64)
    case bool(Bool)
    /// "No value": what `FIELD=` writes to clear a field. It is an ordinary sibling of the
    /// field's register, so a clear replaces what its writer saw, and a clear concurrent with
    /// a write is kept beside it as a conflict (nothing is lost silently). Reads show a field
    /// whose winning sibling is `absent` as missing, exactly like a field never written.
    case absent

    public var description: String {
        switch self {
        case .string(let s): return s
        case .int(let i): return String(i)
        case .bool(let b): return b ? "true" : "false"
        case .absent: return "(no value)"
        }
    }

    /// True for `.absent`, the value of a cleared field.
    public var isAbsent: Bool {
        if case .absent = self { return true }
        return false
    }

    private var rank: Int {
        switch self {
        case .absent: return -1
        case .bool: return 0
        case .int: return 1
        case .string: return 2
        }
    }

    public static func < (a: Value, b: Value) -> Bool {
        switch (a, b) {
        case (.string(let x), .string(let y)): return x < y
        case (.int(let x), .int(let y)): return x < y
        case (.bool(let x), .bool(let y)): return !x && y
        default: return a.rank < b.rank
        }
    }
}
