import Foundation
import MemberSyncModel

/// Bulk transfer over the control socket: `import` (a batch of records applied as local writes
/// and committed in one store transaction) and `export` (pages of records in the import
/// format, or CSV rows of one collection).
extension Node {
    /// Most records one `import` request may carry, so one batch never stalls the reactor (and
    /// with it replication) for long.
    static let maxImportBatch = 5000
    /// Most records one `export` page may carry.
    static let maxExportPage = 10_000

    func importBatch(_ request: JSONObject, now: UInt64) throws -> JSONObject {
        guard let list = request["records"] as? [Any] else {
            throw ControlError("missing 'records': a list of {\"key\": \"collection/id\", \"fields\": {...}} objects")
        }
        guard list.count <= Self.maxImportBatch else {
            throw ControlError("at most \(Self.maxImportBatch) records per import request (got \(list.count)); send several batches")
        }
        let lines = request["lines"] as? [Int] ?? []
        // Check the whole batch before writing any of it.
        var records: [ImportRecord] = []
        var problems: [ImportProblem] = []
        var firstLine: [RecordKey: Int] = [:]
        for (i, object) in list.enumerated() {
            let line = i < lines.count ? lines[i] : i + 1
            switch ImportFormat.record(object, line: line, schema: engine.replica.schema) {
            case .success(let r):
                if let first = firstLine[r.key] {
                    problems.append(ImportProblem(line: line, message: "\(r.key) appears twice (first on line \(first))"))
                } else {
                    firstLine[r.key] = line
                    records.append(r)
                }
            case .failure(let p):
                problems += p.problems
            }
        }
        if !problems.isEmpty {
            throw ControlError("\(problems.count) problem(s) in this batch; nothing of it was imported:\n"
                               + problems.map(\.description).joined(separator: "\n"))
        }
        var writes: [(key: RecordKey, changes: [FieldChange])] = []
        var writeLines: [Int] = []
        var created = 0, updated = 0, unchanged = 0
        for r in records {
            switch ImportFormat.action(for: r, current: engine.replica.record(r.key)) {
            case .unchanged:
                unchanged += 1
            case .write(let changes, let creates):
                writes.append((r.key, changes))
                writeLines.append(r.line)
                if creates { created += 1 } else { updated += 1 }
            }
        }
        let (ops, commit, failure) = engine.localWriteBatch(writes, allowEmpty: true, now: now)
        if let failure {
            throw ControlError("line \(writeLines[failure.index]): \(failure.error); nothing of this batch was imported")
        }
        // `check`: the whole batch was applied in memory (schema and write rules, as a real
        // import) and is taken back unstored, so `import --check` finds what the import would.
        let checkOnly = request["check"] as? Bool ?? false
        if let commit {
            if checkOnly { engine.rollBack(commit) } else { try commitLocal(commit, label: "import") }
        }
        return ["records": records.count, "created": created, "updated": updated, "unchanged": unchanged, "ops": ops.count,
                "checked_only": checkOnly]
    }

    /// One page of an export, in key order, starting after `after`.
    func exportPage(_ request: JSONObject) throws -> JSONObject {
        let format = request["format"] as? String ?? "json"
        guard format == "json" || format == "csv" else { throw ControlError("unknown export format '\(format)' (json or csv)") }
        let collection = request["collection"] as? String
        let schema = engine.replica.schema
        var columns: [String] = []
        if let collection {
            let c: CollectionSchema
            do { c = try schema.collection(collection) } catch { throw ControlError(error.description) }
            columns = CSVFormat.columns(c)
        } else if format == "csv" {
            throw ControlError("CSV export needs a COLLECTION: each collection has its own columns")
        }
        let after = request["after"] as? String ?? ""
        let limit = min(max(request["limit"] as? Int ?? 1000, 1), Self.maxExportPage)
        let replica = engine.replica
        // Bytewise order of "collection/id", as snapshot pages use.
        let keys = replica.records.compactMap { key, record -> (String, RecordKey)? in
            guard record.exists, collection == nil || key.collection == collection else { return nil }
            let k = key.description
            return k > after ? (k, key) : nil
        }.sorted { $0.0 < $1.0 }
        let page = keys.prefix(limit)
        var lines: [String] = []
        var conflicted = 0
        for (_, key) in page {
            guard let view = replica.view(key) else { continue }
            conflicted += view.fields.filter { $0.conflict != nil }.count
            lines.append(format == "csv" ? CSVFormat.row(view, columns: columns) : ImportFormat.line(view))
        }
        var out: JSONObject = ["lines": lines, "last_key": page.last?.0 ?? after, "done": keys.count <= limit,
                               "conflicted_fields": conflicted, "total": keys.count]
        if format == "csv" { out["header"] = CSVFormat.line(columns) }
        return out
    }
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
