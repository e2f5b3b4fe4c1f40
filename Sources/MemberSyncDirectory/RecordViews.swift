import Foundation
import MemberSyncModel

/// A scalar field value as JSON shows it: a string, an integer, a boolean, or `null` (a clear,
/// shown only among a conflict's siblings and in history).
public enum FieldValue: Sendable, Hashable, Codable, CustomStringConvertible {
    case string(String)
    case int(Int64)
    case bool(Bool)
    case null

    public init(_ v: Value) {
        switch v {
        case .string(let s): self = .string(s)
        case .int(let i): self = .int(i)
        case .bool(let b): self = .bool(b)
        case .absent: self = .null
        }
    }

    public init(from decoder: Decoder) throws {
        let c = try decoder.singleValueContainer()
        if c.decodeNil() { self = .null } else if let b = try? c.decode(Bool.self) { self = .bool(b) } else if let i = try? c.decode(Int64.self) {
            self = .int(i)
        } else { self = .string(try c.decode(String.self)) }
    }

    public func encode(to encoder: Encoder) throws {
        var c = encoder.singleValueContainer()
        switch self {
        case .string(let s): try c.encode(s)
        case .int(let i): try c.encode(i)
        case .bool(let b): try c.encode(b)
        case .null: try c.encodeNil()
        }
    }

    /// The value as text; a clear reads `(cleared)`.
    public var description: String {
        switch self {
        case .string(let s): return s
        case .int(let i): return String(i)
        case .bool(let b): return b ? "true" : "false"
        case .null: return "(cleared)"
        }
    }
}

/// A field of a record view: a scalar value, or the sorted members of a set.
public enum FieldJSON: Sendable, Hashable, Codable, CustomStringConvertible {
    case value(FieldValue)
    case members([String])

    public init(from decoder: Decoder) throws {
        let c = try decoder.singleValueContainer()
        if let m = try? c.decode([String].self) { self = .members(m) } else { self = .value(try c.decode(FieldValue.self)) }
    }

    public func encode(to encoder: Encoder) throws {
        switch self {
        case .value(let v): try v.encode(to: encoder)
        case .members(let m): var c = encoder.singleValueContainer(); try c.encode(m)
        }
    }

    public var members: [String]? { if case .members(let m) = self { m } else { nil } }
    public var value: FieldValue? { if case .value(let v) = self { v } else { nil } }

    /// Members joined with ", ", or the value's text.
    public var description: String {
        switch self {
        case .value(let v): return v.description
        case .members(let m): return m.joined(separator: ", ")
        }
    }
}

/// One sibling of a register: `{"value", "origin", "counter", "hlc", "time"}`.
public struct SiblingJSON: Sendable, Hashable, Codable {
    public var value: FieldValue
    public var origin: String
    public var counter: UInt64
    public var hlc: UInt64
    public var time: String

    public init(value: FieldValue, origin: String, counter: UInt64, hlc: UInt64, time: String) {
        self.value = value
        self.origin = origin
        self.counter = counter
        self.hlc = hlc
        self.time = time
    }

    public init(_ s: Sibling<Value>) {
        self.init(value: FieldValue(s.value), origin: s.dot.replica.description, counter: s.dot.counter, hlc: s.hlc.raw,
                  time: ISOTime.string(milliseconds: s.hlc.milliseconds))
    }
}

/// `{"key", "fields", "conflicts"?}`: a record as `get` and `list` show it.
public struct RecordJSON: Sendable, Hashable, Codable {
    public var key: String
    public var fields: [String: FieldJSON]
    public var conflicts: [String: [SiblingJSON]]?

    public init(key: String, fields: [String: FieldJSON], conflicts: [String: [SiblingJSON]]? = nil) {
        self.key = key
        self.fields = fields
        self.conflicts = conflicts
    }

    public init(_ view: RecordView) {
        var fields: [String: FieldJSON] = [:]
        var conflicts: [String: [SiblingJSON]] = [:]
        for f in view.fields {
            if let m = f.members { fields[f.name] = .members(m) } else if let v = f.value { fields[f.name] = .value(FieldValue(v)) }
            if let c = f.conflict { conflicts[f.name] = c.map(SiblingJSON.init) }
        }
        self.init(key: view.key.description, fields: fields, conflicts: conflicts.isEmpty ? nil : conflicts)
    }
}

/// A version vector as JSON: `{"node@epoch": COUNTER, ...}`.
public typealias VersionJSON = [String: UInt64]

extension VersionVector {
    public var json: VersionJSON {
        var out: VersionJSON = [:]
        for e in sorted { out[e.replica.description] = e.counter }
        return out
    }
}

/// Times as the control protocol shows them: ISO 8601 in UTC with milliseconds.
public enum ISOTime {
    public static func string(milliseconds: UInt64) -> String {
        let f = ISO8601DateFormatter()
        f.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
        return f.string(from: Date(timeIntervalSince1970: Double(milliseconds) / 1000))
    }
}

/// A directory request that cannot be answered, with the sentence that says why.
public struct DirectoryError: Error, Sendable, Equatable, CustomStringConvertible {
    public let message: String
    public init(_ message: String) { self.message = message }
    public var description: String { message }
}
