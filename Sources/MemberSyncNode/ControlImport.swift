import Foundation
import MemberSyncControl
import MemberSyncDirectory
import MemberSyncModel

/// Bulk transfer over the control socket: `import` (a batch of records applied as local writes
/// and committed in one store transaction) and `export` (pages of records in the import
/// format, or CSV rows of one collection: `Directory.exportPage`).
extension Node {
    func importBatch(_ request: Control.Import, now: UInt64) throws -> Control.Import.Result {
        let packed = try request.unpacked()
        let count = packed?.count ?? request.records?.count ?? 0
        guard count <= Control.Import.maxRecords else {
            throw ControlError("at most \(Control.Import.maxRecords) records per import request (got \(count)); send several batches")
        }
        // Check the whole batch before writing any of it.
        var batch = ImportFormat.Batch()
        let schema = engine.replica.schema
        if let packed {
            for e in packed { batch.add(ImportFormat.record(key: e.key, fields: e.fields, line: e.line, schema: schema), line: e.line) }
        } else {
            let lines = request.lines ?? []
            for (i, object) in (request.records ?? []).enumerated() {
                let line = i < lines.count ? lines[i] : i + 1
                batch.add(ImportFormat.record(object, line: line, schema: schema), line: line)
            }
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
        // `check`: the whole batch is applied in memory (schema and write rules, as a real
        // import) and taken back unstored, so `import --check` finds what the import would.
        let checkOnly = request.check ?? false
        func refused(_ f: (index: Int, error: ModelError)) -> ControlError {
            ControlError("line \(writeLines[f.index]): \(f.error); nothing of this batch was imported")
        }
        let opCount: Int
        if checkOnly {
            let (count, failure) = engine.checkWriteBatch(writes, allowEmpty: true)
            if let failure { throw refused(failure) }
            opCount = count
        } else {
            let (ops, commit, failure) = engine.localWriteBatch(writes, allowEmpty: true, publish: false, now: now)
            if let failure { throw refused(failure) }
            if let commit { try commitLocal(commit, label: "import") }
            opCount = ops.count
        }
        return .init(records: records.count, created: created, updated: updated, unchanged: unchanged, ops: opCount, checkedOnly: checkOnly)
    }

    /// One page of an export, in key order, starting after `after`.
    func exportPage(_ request: Control.Export) throws -> ExportPage {
        let formatText = request.format ?? "json"
        guard let format = ExportFormat(rawValue: formatText) else { throw ControlError("unknown export format '\(formatText)' (json or csv)") }
        let collection = try request.collection.map(collectionSchema)
        // The sorted keys are kept while nothing changes, so the pages of one export share
        // them: they are taken again after any write (a new version) and after any release or
        // withhold (a new rights-facts generation), which can bring a record back or take it
        // away without a new op.
        let version = engine.replica.version, generation = engine.replica.rightsFactsGeneration
        if exportKeys?.version != version || exportKeys?.generation != generation || exportKeys?.collection != collection?.name {
            exportKeys = (version, generation, collection?.name, Directory.exportKeys(engine.replica, collection: collection))
        }
        let keys = exportKeys!.keys
        let page = try directory { () throws(DirectoryError) in
            try Directory.exportPage(engine.replica, format: format, collection: collection, keys: keys, after: request.after ?? "",
                                     limit: request.limit ?? 1000)
        }
        // Held only while an export runs (a million keys are ~100 MB).
        if page.done { exportKeys = nil }
        return page
    }
}
