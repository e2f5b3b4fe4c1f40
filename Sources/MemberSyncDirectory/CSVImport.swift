import Foundation
import MemberSyncModel

/// Reading the CSV that `export --format csv` writes, so a collection can go out to a
/// spreadsheet and come back. The header names the columns: `key`, then field names. Every
/// row becomes the same record an import line would: a cell is the field's value as text
/// (typed by the schema, so "68000" is an integer), a set cell lists its members joined with
/// ';' (the set becomes exactly those), and an empty cell means "no value": the field is
/// cleared if it has one, a set emptied. Required fields cannot be cleared, so an empty cell of
/// one leaves the field as it is.
extension ImportFormat {
    public static func parseCSV(_ data: Data, schema: Schema = .memberSync) -> (records: [ImportRecord], problems: [ImportProblem]) {
        var bytes = [UInt8](data)
        if bytes.starts(with: [0xEF, 0xBB, 0xBF]) { bytes.removeFirst(3) }  // a spreadsheet's BOM
        guard let text = String(bytes: bytes, encoding: .utf8) else {
            return ([], [ImportProblem(line: 1, message: "not UTF-8 text")])
        }
        let (rows, syntax) = CSVFormat.rows(text)
        let problems = syntax
        guard let header = rows.first else {
            return ([], problems.isEmpty ? [ImportProblem(line: 1, message: "empty file: expected a header row (key,FIELD,...)")] : problems)
        }
        let columns = header.cells
        guard columns.first == "key" else {
            return ([], problems + [ImportProblem(line: header.line, message: "the header must start with 'key' (as export --format csv writes it), got '\(columns.first ?? "")'")])
        }
        if let twice = columns.first(where: { c in columns.filter { $0 == c }.count > 1 }) {
            return ([], problems + [ImportProblem(line: header.line, message: "column '\(twice)' appears twice in the header")])
        }
        var batch = Batch(problems: problems)
        for row in rows.dropFirst() {
            if row.cells.allSatisfy({ $0.isEmpty }) { continue }
            guard row.cells.count == columns.count else {
                batch.add(ImportProblem(line: row.line, message: "has \(row.cells.count) cell(s), the header has \(columns.count)"))
                continue
            }
            let keyText = row.cells[0]
            let collection = (try? RecordKey(parsing: keyText)).flatMap { schema.collections[$0.collection] }
            var fields: [String: JSONValue] = [:]
            for (name, cell) in zip(columns.dropFirst(), row.cells.dropFirst()) {
                guard let collection, let type = collection.fields[name] else {
                    fields[name] = .string(cell)  // reported by `record` (unknown field), with the key's own problem first
                    continue
                }
                if type.isSet {
                    fields[name] = .array(cell.split(separator: ";", omittingEmptySubsequences: true).map { .string(String($0)) })
                } else if cell.isEmpty {
                    if !collection.required.contains(name) { fields[name] = .null }
                } else {
                    fields[name] = .string(cell)
                }
            }
            batch.add(record(JSONValue.object(["key": .string(keyText), "fields": .object(fields)]), line: row.line, schema: schema), line: row.line)
        }
        return (batch.records, batch.problems)
    }
}

extension CSVFormat {
    /// One row of a CSV file and the line it starts on.
    public struct Row: Equatable, Sendable {
        public let line: Int
        public let cells: [String]
    }

    /// Splits CSV text into rows (RFC 4180: cells separated by commas, rows by CRLF or LF,
    /// quoted cells may hold commas, line breaks and doubled quotes). Malformed quoting is
    /// reported with its line, and that row is dropped.
    public static func rows(_ text: String) -> (rows: [Row], problems: [ImportProblem]) {
        var rows: [Row] = []
        var problems: [ImportProblem] = []
        var cells: [String] = []
        var cell = ""
        var line = 1, rowLine = 1
        var bad: String?
        // Unicode scalars, not Characters: "\r\n" is a single Character.
        let scalars = Array(text.unicodeScalars)
        var i = 0
        func endRow() {
            cells.append(cell)
            cell = ""
            if let bad { problems.append(ImportProblem(line: rowLine, message: bad)) } else { rows.append(Row(line: rowLine, cells: cells)) }
            cells = []
            bad = nil
        }
        while i < scalars.count {
            let c = scalars[i]
            if c == "\"" && cell.isEmpty {
                // A quoted cell: up to the closing quote; "" is one quote.
                var closed = false
                i += 1
                while i < scalars.count {
                    let q = scalars[i]
                    if q == "\"" {
                        if i + 1 < scalars.count && scalars[i + 1] == "\"" { cell.unicodeScalars.append("\""); i += 2; continue }
                        closed = true
                        i += 1
                        break
                    }
                    if q == "\n" { line += 1 }
                    cell.unicodeScalars.append(q)
                    i += 1
                }
                if !closed {
                    bad = "a quoted cell is not closed (a '\"' is missing)"
                    break
                }
                if i < scalars.count && scalars[i] != "," && scalars[i] != "\n" && scalars[i] != "\r" {
                    bad = bad ?? "text after a closing quote (inside a quoted cell write a quote as \"\")"
                    // Skip to the end of the cell.
                    while i < scalars.count && scalars[i] != "," && scalars[i] != "\n" { i += 1 }
                }
                continue
            }
            switch c {
            case ",":
                cells.append(cell)
                cell = ""
            case "\r" where i + 1 < scalars.count && scalars[i + 1] == "\n":
                break
            case "\n":
                endRow()
                line += 1
                rowLine = line
            case "\"":
                bad = bad ?? "a quote inside an unquoted cell (quote the whole cell and write the quote as \"\")"
                cell.unicodeScalars.append(c)
            default:
                cell.unicodeScalars.append(c)
            }
            i += 1
        }
        if !cell.isEmpty || !cells.isEmpty || bad != nil { endRow() }
        return (rows, problems)
    }
}
