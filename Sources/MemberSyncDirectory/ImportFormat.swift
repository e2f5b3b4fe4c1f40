import Foundation
import MemberSyncModel

/// One record of an import file, checked against the schema: the values it gives its scalar
/// fields and the exact members it gives its set fields.
public struct ImportRecord: Equatable, Sendable {
    public let line: Int
    public let key: RecordKey
    public let scalars: [String: Value]
    public let sets: [String: Set<String>]
}

/// One thing wrong with an import file, with its position, so every bad line can be reported
/// at once and fixed in one pass.
public struct ImportProblem: Error, Equatable, Sendable, CustomStringConvertible {
    public let line: Int
    public let field: String?
    public let message: String

    public init(line: Int, field: String? = nil, message: String) {
        self.line = line
        self.field = field
        self.message = message
    }

    public var description: String {
        "line \(line)" + (field.map { ", field \($0)" } ?? "") + ": " + message
    }

    /// `{"line", "field"?, "message"}`, as `import --json` lists problems.
    public var json: JSONValue {
        var o: [String: JSONValue] = ["line": .int(Int64(line)), "message": .string(message)]
        if let field { o["field"] = .string(field) }
        return .object(o)
    }
}

/// What importing one record does to the replica.
public enum ImportAction: Equatable, Sendable {
    /// The record already holds exactly these values: no op is written.
    case unchanged
    /// Write these changes; `creates` when the record does not exist yet (or was deleted).
    case write([FieldChange], creates: Bool)
}

/// The import and export format: JSON Lines, one `{"key": "collection/id", "fields": {...}}`
/// per line; set fields are arrays. Export writes exactly what import reads, so a round trip
/// reproduces every visible value.
public enum ImportFormat {
    /// Checks every line of a file. Blank lines are skipped; a key given twice is an error
    /// (the second line would silently override the first). Lines are parsed and checked in
    /// chunks on every core (a million lines are seconds of JSON parsing), then gathered in
    /// file order, so the records and problems are those of one pass from the top.
    public static func parse(_ data: Data, schema: Schema = .memberSync) -> (records: [ImportRecord], problems: [ImportProblem]) {
        let lines = data.split(separator: UInt8(ascii: "\n"), omittingEmptySubsequences: false)
        // Chunks of 4,096 lines.
        let checked = lines.indices.mapOnEveryCore(parts: (lines.count + 4_095) / 4_096) { i in check(lines[i], line: i + 1, schema: schema) }
        var batch = Batch()
        for line in checked {
            switch line {
            case .blank: break
            case .problem(let p): batch.add(p)
            case .record(let r, let line): batch.add(r, line: line)
            }
        }
        return (batch.records, batch.problems)
    }

    /// What one line of a file is.
    enum LineCheck: Sendable {
        case blank
        case problem(ImportProblem)
        case record(Result<ImportRecord, Problems>, line: Int)
    }

    static func check(_ raw: Data, line: Int, schema: Schema) -> LineCheck {
        var bytes = raw
        if bytes.last == UInt8(ascii: "\r") { bytes = bytes.dropLast() }
        if bytes.allSatisfy({ $0 == 0x20 || $0 == 0x09 }) { return .blank }
        if let bad = TextRules.firstInvalidUTF8(bytes) {
            return .problem(ImportProblem(line: line, message: "not valid UTF-8 (byte \(bad + 1) of the line); save the file as UTF-8"))
        }
        guard let object = JSONValue(parsing: bytes) else { return .problem(ImportProblem(line: line, message: "not valid JSON")) }
        return .record(record(object, line: line, schema: schema), line: line)
    }

    /// Checked records of one file or request, each key once: a key given again is a problem
    /// (the second line would silently override the first), with the line it first came on.
    public struct Batch: Sendable {
        public private(set) var records: [ImportRecord] = []
        public private(set) var problems: [ImportProblem] = []
        private var firstLine: [RecordKey: Int] = [:]

        public init(problems: [ImportProblem] = []) { self.problems = problems }

        /// A problem found before the record could be checked (the line's syntax).
        public mutating func add(_ problem: ImportProblem) { problems.append(problem) }

        public mutating func add(_ checked: Result<ImportRecord, Problems>, line: Int) {
            switch checked {
            case .success(let r):
                if let first = firstLine[r.key] {
                    problems.append(ImportProblem(line: line, message: "\(r.key) appears twice (first on line \(first))"))
                } else {
                    firstLine[r.key] = line
                    records.append(r)
                }
            case .failure(let list):
                problems += list.problems
            }
        }
    }

    /// A list of problems as one error (for `Result`).
    public struct Problems: Error { public let problems: [ImportProblem] }

    /// Checks one value `JSONSerialization` decoded.
    public static func record(_ object: Any, line: Int, schema: Schema = .memberSync) -> Result<ImportRecord, Problems> {
        record(JSONValue(foundation: object), line: line, schema: schema)
    }

    /// Checks one JSON value; every problem of the line is reported, not just the first.
    public static func record(_ object: JSONValue, line: Int, schema: Schema = .memberSync) -> Result<ImportRecord, Problems> {
        func fail(_ m: String, _ field: String? = nil) -> Result<ImportRecord, Problems> {
            .failure(Problems(problems: [ImportProblem(line: line, field: field, message: m)]))
        }
        guard let dict = object.object else { return fail("expected an object {\"key\": ..., \"fields\": {...}}") }
        // "conflicts" is what `get --json` adds; it describes the source and is ignored here.
        if let extra = dict.keys.sorted().first(where: { !["key", "fields", "conflicts"].contains($0) }) {
            return fail("unexpected member '\(extra)' (a line holds only \"key\" and \"fields\")")
        }
        guard let keyText = dict["key"]?.string else { return fail("missing \"key\" (\"collection/id\")") }
        return record(key: keyText, fields: dict["fields"]?.object, line: line, schema: schema)
    }

    /// Checks one record's key and fields (nil: the line has no `fields` object), from a JSON
    /// line or a packed request (`ImportPack`), so both are checked alike; every problem of the
    /// record is reported, not just the first.
    public static func record(key keyText: String, fields: [String: JSONValue]?, line: Int, schema: Schema = .memberSync) -> Result<ImportRecord, Problems> {
        func fail(_ m: String, _ field: String? = nil) -> Result<ImportRecord, Problems> {
            .failure(Problems(problems: [ImportProblem(line: line, field: field, message: m)]))
        }
        let key: RecordKey
        let collection: CollectionSchema
        do throws(SchemaError) {
            key = try RecordKey(parsing: keyText)
            collection = try schema.collection(key.collection)
        } catch {
            return fail("key '\(keyText)': \(error.reason)")
        }
        guard let fields else { return fail("missing \"fields\" (an object)") }
        var problems: [ImportProblem] = []
        var scalars: [String: Value] = [:]
        var sets: [String: Set<String>] = [:]
        for name in fields.keys.sorted() {
            let raw = fields[name]!
            func problem(_ m: String) { problems.append(ImportProblem(line: line, field: name, message: m)) }
            guard let type = collection.fields[name] else {
                problem("unknown field of \(collection.name) (known: \(collection.fields.keys.sorted().joined(separator: ", ")))")
                continue
            }
            do throws(SchemaError) {
                if type.isSet {
                    guard let array = raw.array else { problem("is a set: give an array, e.g. [\"a\", \"b\"]"); continue }
                    var members = Set<String>()
                    for element in array {
                        guard let s = element.string else { problem("set elements are strings, got \(element)"); continue }
                        try schema.checkElement(s, type: type, collection: collection.name, field: name)
                        members.insert(s)
                    }
                    sets[name] = members
                } else if raw == .null {
                    // null: the field has no value (cleared if it had one), as export writes it.
                    try schema.checkClear(collection: collection.name, field: name)
                    scalars[name] = .absent
                } else {
                    guard let value = try scalar(raw, type: type, schema: schema, collection: collection.name, field: name) else {
                        problem("expected \(type), got \(raw)")
                        continue
                    }
                    scalars[name] = value
                }
            } catch {
                problem(error.reason)
            }
        }
        if !problems.isEmpty { return .failure(Problems(problems: problems)) }
        return .success(ImportRecord(line: line, key: key, scalars: scalars, sets: sets))
    }

    /// A JSON value as a typed scalar: strings go through `Schema.parseValue` (so "68000" is
    /// fine for an integer), numbers must be whole for integers, booleans only for booleans.
    static func scalar(_ raw: JSONValue, type: FieldType, schema: Schema, collection: String, field: String) throws(SchemaError) -> Value? {
        let value: Value
        switch raw {
        case .string(let s): return try schema.parseValue(s, collection: collection, field: field)
        case .bool(let b): value = .bool(b)
        case .int(let i): value = .int(i)
        case .double(let d):
            guard let i = Int64(exactly: d) else { return nil }
            value = .int(i)
        default: return nil
        }
        try schema.checkScalar(value, type: type, collection: collection, field: field)
        return value
    }

    /// What importing `r` over the current state of its record must write. Fields the line does
    /// not mention are left alone; a set field becomes exactly the given members. A scalar whose
    /// visible value already matches is not written again, so re-importing a file adds no ops
    /// and never resolves a conflict as a side effect (that is what `resolve` is for).
    public static func action(for r: ImportRecord, current: Record?) -> ImportAction {
        let exists = current?.exists ?? false
        var changes: [FieldChange] = []
        for name in r.scalars.keys.sorted() {
            let value = r.scalars[name]!
            let visible = current?.register(name).winner?.value ?? .absent
            if value.isAbsent {
                // Nothing to clear where the field shows no value already.
                if !visible.isAbsent { changes.append(.assign(field: name, value: .absent)) }
            } else if !exists || visible != value {
                changes.append(.assign(field: name, value: value))
            }
        }
        for name in r.sets.keys.sorted() {
            let want = r.sets[name]!
            let have = current?.set(name).members ?? []
            for e in want.subtracting(have).sorted() { changes.append(.add(field: name, element: e)) }
            for e in have.subtracting(want).sorted() { changes.append(.remove(field: name, element: e)) }
        }
        if exists && changes.isEmpty { return .unchanged }
        return .write(changes, creates: !exists)
    }

    /// One export line: `{"key":...,"fields":{...}}` with fields sorted by name and set members
    /// sorted, so equal data exports to equal bytes.
    /// Written by hand rather than with JSONSerialization, which was nine tenths of the cost of
    /// exporting (it bridges every value and sorts keys with locale-aware comparison).
    public static func line(_ view: RecordView) -> String {
        var out = "{\"key\":" + JSONText.string(view.key.description) + ",\"fields\":{"
        for (i, f) in view.fields.sorted(by: { $0.name < $1.name }).enumerated() {
            if i > 0 { out += "," }
            out += JSONText.string(f.name) + ":"
            if let m = f.members {
                out += "[" + m.sorted().map(JSONText.string).joined(separator: ",") + "]"
            } else if let v = f.value {
                out += JSONText.value(v)
            } else {
                out += "null"
            }
        }
        return out + "}}"
    }
}

/// Minimal JSON text for export lines: strings escaped per RFC 8259 (quote, backslash and
/// control characters; everything else, non-ASCII included, is written as UTF-8).
enum JSONText {
    static func string(_ s: String) -> String {
        // Most values need no escape: then the text is copied whole, not scalar by scalar
        // (which was most of an export's cost).
        if !s.utf8.contains(where: { $0 < 0x20 || $0 == 0x22 || $0 == 0x5C }) { return "\"" + s + "\"" }
        var out = "\""
        out.reserveCapacity(s.utf8.count + 2)
        for scalar in s.unicodeScalars {
            switch scalar {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            case "\t": out += "\\t"
            case _ where scalar.value < 0x20:
                let hex = String(scalar.value, radix: 16)
                out += "\\u" + String(repeating: "0", count: 4 - hex.count) + hex
            default: out.unicodeScalars.append(scalar)
            }
        }
        return out + "\""
    }

    static func value(_ v: Value) -> String {
        switch v {
        case .string(let s): return string(s)
        case .int(let i): return String(i)
        case .bool(let b): return b ? "true" : "false"
        case .absent: return "null"
        }
    }
}
