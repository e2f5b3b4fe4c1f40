import Foundation
import MemberSyncControl
import MemberSyncDirectory
import MemberSyncModel

/// Bulk transfer over the control socket: `import` (a batch of records applied as local writes
/// and committed in one store transaction) and `export` (pages of records in the import
/// format, or CSV rows of one collection: `Directory.exportPage`).
extension Node {
    func importBatch(_ request: Control.Import, now: UInt64) throws -> Control.Import.Result {
        let list = request.records
        guard list.count <= Control.Import.maxRecords else {
            throw ControlError("at most \(Control.Import.maxRecords) records per import request (got \(list.count)); send several batches")
        }
        let lines = request.lines ?? []
        // Check the whole batch before writing any of it.
        var batch = ImportFormat.Batch()
        for (i, object) in list.enumerated() {
            let line = i < lines.count ? lines[i] : i + 1
            batch.add(ImportFormat.record(object, line: line, schema: engine.replica.schema), line: line)
        }
        let (records, problems) = (batch.records, batch.problems)
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
        let checkOnly = request.check ?? false
        if let commit {
            if checkOnly { engine.rollBack(commit) } else { try commitLocal(commit, label: "import") }
        }
        return .init(records: records.count, created: created, updated: updated, unchanged: unchanged, ops: ops.count, checkedOnly: checkOnly)
    }

    /// One page of an export, in key order, starting after `after`.
    func exportPage(_ request: Control.Export) throws -> ExportPage {
        let formatText = request.format ?? "json"
        guard let format = ExportFormat(rawValue: formatText) else { throw ControlError("unknown export format '\(formatText)' (json or csv)") }
        let collection = try request.collection.map(collectionSchema)
        return try directory { () throws(DirectoryError) in
            try Directory.exportPage(engine.replica, format: format, collection: collection, after: request.after ?? "", limit: request.limit ?? 1000)
        }
    }
}
