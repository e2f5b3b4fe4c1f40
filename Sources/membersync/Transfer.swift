import ArgumentParser
import Foundation
import MemberSyncControl
import MemberSyncDirectory
import MemberSyncModel

/// Collection names, for shell completion.
let collectionNames = Schema.memberSync.collections.keys.sorted()

extension NodeOptions {
    /// A client for requests that may legitimately take long (a batch on a busy node, merging a
    /// large snapshot): the default 15 s is meant for detecting a node that does not answer.
    func client(timeoutSeconds: Int) -> ControlClient {
        let c = client
        c.timeoutMilliseconds = timeoutSeconds * 1000
        return c
    }
}

struct Import: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Import records from a JSON Lines file (the export format) or from the CSV that export --format csv writes.",
        discussion: """
            Each line is {"key": "collection/id", "fields": {...}}; set fields are arrays, and null clears a \
            field. Every line is checked first: if any is bad, every bad line is reported with its line number \
            and field, and nothing is written. Fields a line does not mention are left as they are; a set field \
            becomes exactly the given members. Records are sent to the node in batches, each one store transaction.

            CSV (--format csv, or a file name ending in .csv): a header row `key,FIELD,...`, then one row per \
            record; set members are joined with ';'. An empty cell means the field has no value: it is cleared \
            (a set emptied), except a required field, which is left as it is.
            """)

    @OptionGroup var options: NodeOptions
    @Argument(help: "The file to import; - reads standard input.", completion: .file()) var file: String
    @Option(help: "json or csv (default: csv for a file name ending in .csv, else json).") var format: ExportFormatOption?
    @Option(name: .customLong("batch-size"), help: "Records per request to the node (1-5000).") var batchSize = 5000
    @Flag(name: .customLong("check"), help: "Only check the file against the schema and this node's write rules; write nothing.") var checkOnly = false

    func validate() throws {
        guard (1...5000).contains(batchSize) else { throw ValidationError("--batch-size must be between 1 and 5000") }
    }

    func run() throws {
        try runReporting {
            let started = Date()
            let data: Data
            if file == "-" {
                data = FileHandle.standardInput.readDataToEndOfFile()
            } else {
                guard let d = FileManager.default.contents(atPath: file) else {
                    throw CLIFailure(message: "cannot read \(file)", code: 1)
                }
                data = d
            }
            let csv = (format ?? (file.lowercased().hasSuffix(".csv") ? .csv : .json)) == .csv
            let (records, problems) = csv ? ImportFormat.parseCSV(data) : ImportFormat.parse(data)
            if !problems.isEmpty { try reportProblems(problems, records: records.count) }
            let client = options.client(timeoutSeconds: 120)
            // The node checks every batch first (schema and write rules, applied in memory and
            // taken back): a line that breaks a rule stops the import before anything is
            // written, in any batch. Batches are stored one by one after that.
            // One batch is all or nothing by itself, so a file that fits in one needs no check pass.
            if checkOnly || records.count > batchSize {
                var checking = ProgressBar(label: "checking", unit: "records", json: options.json)
                for start in stride(from: 0, to: records.count, by: batchSize) {
                    let batch = records[start..<min(start + batchSize, records.count)]
                    do { _ = try client.request(Control.Import(packing: batch, check: true)) } catch {
                        checking.finish()
                        throw error
                    }
                    checking.update(start + batch.count, of: records.count)
                }
                checking.finish()
            }
            if checkOnly {
                if options.json { Output.json(["file": .string(file), "records": .int(Int64(records.count)), "problems": []] as JSONValue) } else {
                    print("\(file): \(records.count) record(s), no problems")
                }
                return
            }
            var totals = (created: 0, updated: 0, unchanged: 0, ops: 0)
            var bar = ProgressBar(label: "importing", unit: "records", json: options.json)
            var done = 0
            for start in stride(from: 0, to: records.count, by: batchSize) {
                let batch = records[start..<min(start + batchSize, records.count)]
                let r: Control.Import.Result
                do {
                    r = try client.request(Control.Import(packing: batch))
                } catch let f as CLIFailure {
                    bar.finish()
                    throw CLIFailure(message: f.message + (done > 0 ? "\n(the \(done) record(s) before line \(batch.first!.line) were imported)" : ""), code: f.code)
                }
                totals.created += r.created
                totals.updated += r.updated
                totals.unchanged += r.unchanged
                totals.ops += r.ops
                done += batch.count
                bar.update(done, of: records.count)
            }
            bar.finish()
            let seconds = Date().timeIntervalSince(started)
            if options.json {
                Output.json(["file": .string(file), "records": .int(Int64(records.count)), "seconds": .double((seconds * 1000).rounded() / 1000),
                             "created": .int(Int64(totals.created)), "updated": .int(Int64(totals.updated)),
                             "unchanged": .int(Int64(totals.unchanged)), "ops": .int(Int64(totals.ops))] as JSONValue)
            } else {
                print("imported \(records.count) record(s) from \(file): \(totals.created) created, \(totals.updated) updated, "
                      + "\(totals.unchanged) unchanged; \(totals.ops) op(s) in \(String(format: "%.2f", seconds)) s")
            }
        }
    }

    /// Reports every problem (stderr, or JSON on stdout) and fails without writing anything.
    func reportProblems(_ problems: [ImportProblem], records: Int) throws -> Never {
        let badLines = Set(problems.map(\.line)).count
        if options.json {
            Output.json(["file": .string(file), "records": .int(Int64(records)), "bad_lines": .int(Int64(badLines)), "problems": .array(problems.map(\.json))] as JSONValue)
        } else {
            let err = FileHandle.standardError
            for p in problems {
                err.write(Data("membersync: \(file):\(p.line): \(p.field.map { "field \($0): " } ?? "")\(p.message)\n".utf8))
            }
        }
        throw CLIFailure(message: "\(badLines) bad line(s) in \(file); nothing was imported", code: 1)
    }
}

typealias ExportFormatOption = ExportFormat

extension ExportFormat: ExpressibleByArgument {}

struct Export: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Export records as JSON Lines (the import format) or as CSV (one collection).",
        discussion: """
            JSON export then import into an empty node reproduces the same state digest, unless some \
            fields are in conflict: only their visible value is exported (a note says how many). CSV has \
            a header row (key, then the collection's fields); set members are joined with ';'. `import` \
            reads both back (a set element containing ';' does not survive CSV).
            """)

    @OptionGroup var options: NodeOptions
    @Option(help: "json or csv.") var format: ExportFormatOption = .json
    @Option(name: [.short, .customLong("output")], help: "Write to this file instead of standard output.", completion: .file())
    var output: String?
    @Argument(help: "Only this collection (required for csv).", completion: .list(collectionNames)) var collection: String?

    func validate() throws {
        if format == .csv && collection == nil { throw ValidationError("CSV export needs a COLLECTION: each collection has its own columns") }
    }

    func run() throws {
        try runReporting {
            let client = options.client(timeoutSeconds: 120)
            let tmp = output.map { $0 + ".partial-\(getpid())" }
            let sink: FileHandle
            if let tmp {
                guard FileManager.default.createFile(atPath: tmp, contents: nil), let h = FileHandle(forWritingAtPath: tmp) else {
                    throw CLIFailure(message: "cannot write \(output!)", code: 1)
                }
                sink = h
            } else {
                sink = FileHandle.standardOutput
            }
            var after = "", count = 0, conflicted = 0, headerWritten = false
            do {
                while true {
                    let page = try client.request(Control.Export(format: format, collection: collection, after: after, limit: 10_000))
                    if !headerWritten, let header = page.header {
                        sink.write(Data((header + "\n").utf8))
                        headerWritten = true
                    }
                    if !page.lines.isEmpty { sink.write(Data((page.lines.joined(separator: "\n") + "\n").utf8)) }
                    count += page.lines.count
                    conflicted += page.conflictedFields
                    after = page.lastKey
                    if page.done { break }
                }
            } catch {
                if let tmp { try? FileManager.default.removeItem(atPath: tmp) }
                throw error
            }
            if let tmp, let output {
                try? sink.close()
                _ = try? FileManager.default.removeItem(atPath: output)
                try FileManager.default.moveItem(atPath: tmp, toPath: output)
            }
            let note = conflicted > 0
                ? "\(conflicted) conflicted field(s) were exported with their visible value only; resolve them for an exact copy" : nil
            if let note { FileHandle.standardError.write(Data("membersync: note: \(note)\n".utf8)) }
            if options.json {
                var out: [String: JSONValue] = ["records": .int(Int64(count)), "format": .string(format.rawValue), "conflicted_fields": .int(Int64(conflicted))]
                if let output { out["file"] = .string(output) }
                if let collection { out["collection"] = .string(collection) }
                if output != nil { Output.json(JSONValue.object(out)) } else {
                    // JSON Lines already went to standard output; the summary would corrupt it.
                    FileHandle.standardError.write(Data("membersync: exported \(count) record(s)\n".utf8))
                }
            } else if let output {
                print("exported \(count) record(s) to \(output)")
            }
        }
    }
}
