import Foundation

/// Any JSON value, losslessly: what a file line or a control request holds before it is read
/// into a typed value. Parsing goes through `JSONSerialization` (so what counts as JSON is what
/// it always was); encoding and decoding inside a typed value go through `Codable`.
public enum JSONValue: Sendable, Hashable, Codable, CustomStringConvertible {
    case null
    case bool(Bool)
    case int(Int64)
    case double(Double)
    case string(String)
    case array([JSONValue])
    case object([String: JSONValue])

    /// Parses one JSON text; nil when it is not JSON. `fragments`: a top-level scalar is allowed.
    public init?(parsing bytes: some Collection<UInt8>, fragments: Bool = false) {
        guard let any = try? JSONSerialization.jsonObject(with: Data(bytes), options: fragments ? [.fragmentsAllowed] : []) else { return nil }
        self.init(foundation: any)
    }

    /// A value `JSONSerialization` produced. Booleans arrive as NSNumbers of ObjC type "c".
    /// Strings, objects and arrays are tried first: asking a Swift dictionary or array whether
    /// it is an `NSNull` or `NSNumber` bridges it (and everything in it) to Foundation objects,
    /// which made this conversion cost several times the parse itself.
    public init(foundation v: Any) {
        switch v {
        case let s as String: self = .string(s)
        case let o as [String: Any]: self = .object(o.mapValues(JSONValue.init(foundation:)))
        case let a as [Any]: self = .array(a.map(JSONValue.init(foundation:)))
        case is NSNull: self = .null
        case let n as NSNumber:
            switch String(cString: n.objCType) {
            case "c", "B": self = .bool(n.boolValue)
            case "d", "f": self = .double(n.doubleValue)
            case "Q" where n.uint64Value > UInt64(Int64.max): self = .double(n.doubleValue)
            default: self = .int(n.int64Value)
            }
        case let b as Bool: self = .bool(b)
        default: self = .string("\(v)")
        }
    }

    public init(from decoder: Decoder) throws {
        let c = try decoder.singleValueContainer()
        if c.decodeNil() { self = .null; return }
        if let b = try? c.decode(Bool.self) { self = .bool(b); return }
        if let i = try? c.decode(Int64.self) { self = .int(i); return }
        if let d = try? c.decode(Double.self) { self = .double(d); return }
        if let s = try? c.decode(String.self) { self = .string(s); return }
        if let a = try? c.decode([JSONValue].self) { self = .array(a); return }
        self = .object(try c.decode([String: JSONValue].self))
    }

    public func encode(to encoder: Encoder) throws {
        var c = encoder.singleValueContainer()
        switch self {
        case .null: try c.encodeNil()
        case .bool(let b): try c.encode(b)
        case .int(let i): try c.encode(i)
        case .double(let d): try c.encode(d)
        case .string(let s): try c.encode(s)
        case .array(let a): try c.encode(a)
        case .object(let o): try c.encode(o)
        }
    }

    public var string: String? { if case .string(let s) = self { s } else { nil } }
    public var bool: Bool? { if case .bool(let b) = self { b } else { nil } }
    /// A whole number (a JSON 5.0 counts, as it did for `as? Int`).
    public var int: Int? {
        switch self {
        case .int(let i): return Int(exactly: i)
        case .double(let d): return Int(exactly: d)
        default: return nil
        }
    }
    /// A member of an object (nil for anything else).
    public subscript(member: String) -> JSONValue? { object?[member] }
    public var array: [JSONValue]? { if case .array(let a) = self { a } else { nil } }
    public var object: [String: JSONValue]? { if case .object(let o) = self { o } else { nil } }
    /// Every element a string, or nil.
    public var strings: [String]? {
        guard let a = array else { return nil }
        var out: [String] = []
        for e in a { guard let s = e.string else { return nil }; out.append(s) }
        return out
    }

    /// How a value is named in a message about it: `'text'`, `null`, `an array`, `12`.
    public var description: String {
        switch self {
        case .null: return "null"
        case .bool(let b): return b ? "true" : "false"
        case .int(let i): return String(i)
        case .double(let d): return Double(Int64(exactly: d) ?? 0) == d && abs(d) < 1e15 ? String(Int64(d)) : String(d)
        case .string(let s): return "'\(s)'"
        case .array: return "an array"
        case .object: return "an object"
        }
    }

    /// The JSON text, keys sorted.
    public var bytes: [UInt8] { JSONCoding.encode(self) }
}

/// The one JSON encoder and decoder setup of the control protocol and the directory formats.
public enum JSONCoding {
    /// Compact JSON with sorted keys (deterministic bytes for equal values).
    public static func encode(_ value: some Encodable) -> [UInt8] {
        let e = JSONEncoder()
        e.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return (try? e.encode(value)).map { [UInt8]($0) } ?? Array("null".utf8)
    }

    /// Indented JSON with sorted keys: what `--json` prints.
    public static func pretty(_ value: some Encodable) -> String {
        let e = JSONEncoder()
        e.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        return (try? e.encode(value)).map { String(decoding: $0, as: UTF8.self) } ?? "null"
    }

    public static func decode<T: Decodable>(_ type: T.Type, from bytes: some Collection<UInt8>) throws -> T {
        try JSONDecoder().decode(type, from: Data(bytes))
    }
}

extension JSONValue: ExpressibleByStringLiteral, ExpressibleByIntegerLiteral, ExpressibleByBooleanLiteral, ExpressibleByFloatLiteral,
    ExpressibleByArrayLiteral, ExpressibleByDictionaryLiteral, ExpressibleByNilLiteral {
    public init(stringLiteral value: String) { self = .string(value) }
    public init(integerLiteral value: Int64) { self = .int(value) }
    public init(booleanLiteral value: Bool) { self = .bool(value) }
    public init(floatLiteral value: Double) { self = .double(value) }
    public init(arrayLiteral elements: JSONValue...) { self = .array(elements) }
    public init(dictionaryLiteral elements: (String, JSONValue)...) { self = .object(Dictionary(elements, uniquingKeysWith: { _, new in new })) }
    public init(nilLiteral: ()) { self = .null }
}
