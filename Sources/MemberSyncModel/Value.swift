/// A scalar field value. Dates and references travel as strings; the schema checks their form.
public enum Value: Hashable, Sendable, Comparable, CustomStringConvertible {
    case string(String)
    case int(Int64)
    case bool(Bool)

    public var description: String {
        switch self {
        case .string(let s): return s
        case .int(let i): return String(i)
        case .bool(let b): return b ? "true" : "false"
        }
    }

    private var rank: Int {
        switch self {
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
