import Foundation
import MemberSyncModel

/// A control request from the CLI: `{"command": "...", ...arguments}` as JSON.
public typealias JSONObject = [String: Any]

/// A control request that cannot be served, with the message the CLI prints.
public struct ControlError: Error, CustomStringConvertible {
    public let message: String
    public init(_ message: String) { self.message = message }
    public var description: String { message }
}

/// JSON views of model values, shared by the control service and the CLI.
public enum JSONView {
    public static func value(_ v: Value) -> Any {
        switch v {
        case .string(let s): return s
        case .int(let i): return i
        case .bool(let b): return b
        case .absent: return NSNull()  // a clear; shown only among a conflict's siblings
        }
    }

    public static func sibling(_ s: Sibling<Value>) -> JSONObject {
        ["value": value(s.value), "origin": s.dot.replica.description, "counter": s.dot.counter,
         "hlc": s.hlc.raw, "time": isoTime(milliseconds: s.hlc.milliseconds)]
    }

    /// `{"key": ..., "fields": {...}, "conflicts": {...}}`; the same shape import reads.
    public static func record(_ view: RecordView) -> JSONObject {
        var fields: JSONObject = [:]
        var conflicts: JSONObject = [:]
        for f in view.fields {
            if let m = f.members { fields[f.name] = m } else if let v = f.value { fields[f.name] = value(v) }
            if let c = f.conflict { conflicts[f.name] = c.map(sibling) }
        }
        var out: JSONObject = ["key": view.key.description, "fields": fields]
        if !conflicts.isEmpty { out["conflicts"] = conflicts }
        return out
    }

    public static func version(_ v: VersionVector) -> JSONObject {
        var out: JSONObject = [:]
        for e in v.sorted { out[e.replica.description] = e.counter }
        return out
    }

    public static func isoTime(milliseconds: UInt64) -> String {
        let f = ISO8601DateFormatter()
        f.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
        return f.string(from: Date(timeIntervalSince1970: Double(milliseconds) / 1000))
    }

    public static func encode(_ object: Any) -> [UInt8] {
        (try? JSONSerialization.data(withJSONObject: object, options: [.sortedKeys])).map { [UInt8]($0) } ?? Array("{}".utf8)
    }

    public static func decodeObject(_ bytes: [UInt8]) throws(ControlError) -> JSONObject {
        guard let obj = try? JSONSerialization.jsonObject(with: Data(bytes)), let dict = obj as? JSONObject else {
            throw ControlError("request is not a JSON object")
        }
        return dict
    }
}

/// Parses the CLI's edit arguments: `FIELD=VALUE`, `FIELD+=ELEMENT`, `FIELD-=ELEMENT`, typed
/// by the schema of the record's collection. `FIELD=` (nothing after `=`) clears the field;
/// a required field refuses that. (`FIELD=@PATH` is expanded by the CLI, which can read the
/// user's files; the node cannot.)
public enum EditParser {
    public static func changes(_ args: [String], key: RecordKey, schema: Schema = .memberSync) throws(ControlError) -> [FieldChange] {
        var out: [FieldChange] = []
        for arg in args {
            guard let eq = arg.firstIndex(of: "=") else {
                throw ControlError("'\(arg)': expected FIELD=VALUE, FIELD+=ELEMENT or FIELD-=ELEMENT")
            }
            var field = String(arg[..<eq])
            let value = String(arg[arg.index(after: eq)...])
            var mode: Character = "="
            if let last = field.last, last == "+" || last == "-" {
                mode = last
                field.removeLast()
            }
            guard !field.isEmpty else { throw ControlError("'\(arg)': missing field name") }
            do throws(SchemaError) {
                let type = try schema.fieldType(key.collection, field)
                switch mode {
                case "=" where value.isEmpty:
                    try schema.checkClear(collection: key.collection, field: field)
                    out.append(.assign(field: field, value: .absent))
                case "=":
                    out.append(.assign(field: field, value: try schema.parseValue(value, collection: key.collection, field: field)))
                default:
                    try schema.checkElement(value, type: type, collection: key.collection, field: field)
                    out.append(mode == "+" ? .add(field: field, element: value) : .remove(field: field, element: value))
                }
            } catch {
                throw ControlError(error.description)
            }
        }
        return out
    }
}
