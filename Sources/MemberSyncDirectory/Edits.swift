import Foundation
import MemberSyncModel

/// Parses the CLI's edit arguments: `FIELD=VALUE`, `FIELD+=ELEMENT`, `FIELD-=ELEMENT`, typed
/// by the schema of the record's collection. `FIELD=` (nothing after `=`) clears the field;
/// a required field refuses that. (`FIELD=@PATH` is expanded by the CLI, which can read the
/// user's files; the node cannot.)
public enum EditParser {
    public static func changes(_ args: [String], key: RecordKey, schema: Schema = .memberSync) throws(DirectoryError) -> [FieldChange] {
        var out: [FieldChange] = []
        for arg in args {
            guard let eq = arg.firstIndex(of: "=") else {
                throw DirectoryError("'\(arg)': expected FIELD=VALUE, FIELD+=ELEMENT or FIELD-=ELEMENT")
            }
            var field = String(arg[..<eq])
            let value = String(arg[arg.index(after: eq)...])
            var mode: Character = "="
            if let last = field.last, last == "+" || last == "-" {
                mode = last
                field.removeLast()
            }
            guard !field.isEmpty else { throw DirectoryError("'\(arg)': missing field name") }
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
                throw DirectoryError(error.description)
            }
        }
        return out
    }
}

/// One `FIELD=VALUE` condition of `list --where`: equality for scalar fields (typed by the
/// schema, so `population=68000` compares numbers), membership for set fields. `FIELD=` (no
/// value) matches records where the field has no value, the way `set FIELD=` leaves it.
public struct RecordFilter: Sendable {
    enum Test: Sendable { case equals(Value), contains(String), missing }
    let field: String
    let test: Test

    public init(parsing text: String, collection: CollectionSchema, schema: Schema) throws(DirectoryError) {
        guard let eq = text.firstIndex(of: "=") else { throw DirectoryError("'\(text)': a condition has the form FIELD=VALUE") }
        field = String(text[..<eq])
        let value = String(text[text.index(after: eq)...])
        do throws(SchemaError) {
            let type = try schema.fieldType(collection.name, field)
            if value.isEmpty {
                test = .missing
            } else if type.isSet {
                try schema.checkElement(value, type: type, collection: collection.name, field: field)
                test = .contains(value)
            } else {
                test = .equals(try schema.parseValue(value, collection: collection.name, field: field))
            }
        } catch {
            throw DirectoryError("--where \(text): \(error.description)")
        }
    }

    public func matches(_ view: RecordView) -> Bool {
        switch test {
        case .equals(let v): return view.field(field)?.value == v
        case .contains(let e): return view.field(field)?.members?.contains(e) ?? false
        case .missing: return view.field(field).map { $0.value == nil && $0.members == nil } ?? true
        }
    }
}

/// One page of `export`: `{"lines", "header"?, "last_key", "done", "conflicted_fields", "total"}`.
public struct ExportPage: Sendable, Hashable, Codable {
    public var lines: [String]
    public var header: String?
    public var lastKey: String
    public var done: Bool
    public var conflictedFields: Int
    public var total: Int

    enum CodingKeys: String, CodingKey {
        case lines, header, done, total
        case lastKey = "last_key", conflictedFields = "conflicted_fields"
    }

    public init(lines: [String], header: String?, lastKey: String, done: Bool, conflictedFields: Int, total: Int) {
        self.lines = lines
        self.header = header
        self.lastKey = lastKey
        self.done = done
        self.conflictedFields = conflictedFields
        self.total = total
    }
}

/// The formats records leave a node in.
public enum ExportFormat: String, Sendable, Codable, CaseIterable {
    case json, csv
}

extension Directory {
    /// Most records one `export` page may carry.
    public static let maxExportPage = 10_000

    /// The keys an export pages through: existing records (of `collection`, if given) in
    /// bytewise key order ("collection/id", as snapshot pages use).
    public static func exportKeys(_ replica: Replica, collection: CollectionSchema?) -> [ExportKey] {
        replica.records.compactMap { key, record -> ExportKey? in
            guard record.exists, collection == nil || key.collection == collection?.name else { return nil }
            return ExportKey(text: key.description, key: key)
        }.sorted { $0.text < $1.text }
    }

    /// One page of an export starting after `after`: import-format lines, or CSV rows of one
    /// collection. `keys` is `exportKeys` of the replica as it is (a node keeps them between
    /// pages: sorting every record for every page made an export quadratic); a key whose
    /// record no longer exists is skipped.
    public static func exportPage(_ replica: Replica, format: ExportFormat, collection: CollectionSchema?, keys: [ExportKey], after: String,
                                  limit: Int) throws(DirectoryError) -> ExportPage {
        var columns: [String] = []
        if let collection {
            columns = CSVFormat.columns(collection)
        } else if format == .csv {
            throw DirectoryError("CSV export needs a COLLECTION: each collection has its own columns")
        }
        let limit = min(max(limit, 1), maxExportPage)
        // The first key after `after` (binary search: the keys are sorted).
        var low = 0, high = keys.count
        while low < high {
            let mid = (low + high) / 2
            if keys[mid].text > after { high = mid } else { low = mid + 1 }
        }
        let rest = keys.count - low
        let page = keys[low..<(low + min(limit, rest))]
        var lines: [String] = []
        lines.reserveCapacity(page.count)
        var conflicted = 0
        for k in page {
            guard let view = replica.view(k.key) else { continue }
            conflicted += view.fields.filter { $0.conflict != nil }.count
            lines.append(format == .csv ? CSVFormat.row(view, columns: columns) : ImportFormat.line(view))
        }
        return ExportPage(lines: lines, header: format == .csv ? CSVFormat.line(columns) : nil, lastKey: page.last?.text ?? after,
                          done: rest <= limit, conflictedFields: conflicted, total: rest)
    }
}

/// A record key with its text, in the order an export writes records.
public struct ExportKey: Sendable, Equatable {
    public let text: String
    public let key: RecordKey
}

/// CSV rows for one collection (RFC 4180 quoting): a `key` column, then the collection's title
/// field, then its other fields by name. Set members are joined with ';' in sorted order.
public enum CSVFormat {
    public static func columns(_ c: CollectionSchema) -> [String] {
        ["key", c.titleField] + c.fields.keys.filter { $0 != c.titleField }.sorted()
    }

    public static func row(_ view: RecordView, columns: [String]) -> String {
        line(columns.map { column -> String in
            if column == "key" { return view.key.description }
            guard let f = view.field(column) else { return "" }
            if let m = f.members { return m.joined(separator: ";") }
            return f.value?.description ?? ""
        })
    }

    /// Quotes a cell when it holds a comma, quote, line break or surrounding space.
    public static func cell(_ s: String) -> String {
        let needsQuotes = s.utf8.contains { $0 == 0x2C || $0 == 0x22 || $0 == 0x0A || $0 == 0x0D }
            || s.first == " " || s.last == " "
        return needsQuotes ? "\"" + s.replacingOccurrences(of: "\"", with: "\"\"") + "\"" : s
    }

    public static func line(_ cells: [String]) -> String { cells.map(cell).joined(separator: ",") }
}
