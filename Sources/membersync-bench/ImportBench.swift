import Foundation
import MemberSyncControl
import MemberSyncDirectory

/// Bulk import and export at a member, through the real CLI: `membersync import FILE` of a
/// JSON Lines file (written before the clock starts) of contacts of the importing member's
/// organisation (a member may import nothing else), six fields each, with the CLI's default
/// options; then `membersync export --output FILE` of everything the member holds. Import is
/// timed from starting the CLI to its exit (the file read and checked, every record checked
/// by the node against the schema and the write rules and committed durably there), while the
/// hub and `baerum` receive the records; then `baerum` must hold every op and refuse none.
/// Export is timed from start to exit too. Secure and insecure.
struct ImportBench {
    let records: Int
    let workDir: String
    let binDir: String

    static func batch(from: Int, count: Int, organisation: String) -> [JSONValue] {
        var rng = SplitMix64(seed: 71 &+ UInt64(from))
        return (from..<(from + count)).map { i in
            let first = rng.pick(Vocabulary.firstNames), last = rng.pick(Vocabulary.lastNames)
            let fields: [String: JSONValue] = [
                "name": .string("\(first.capitalized) \(last.capitalized)"), "organisation": .string(organisation),
                "role": .string(rng.pick(Vocabulary.roles)), "email": .string("\(first).\(last)@\(organisation).kommune.no"),
                "phone": .string("+47 \(10 + rng.below(89)) \(10 + rng.below(89)) \(10 + rng.below(89)) \(10 + rng.below(89))"),
                "topics": [.string(rng.pick(Vocabulary.topics))]]
            return ["key": .string("contacts/\(first)-\(last)-\(i)"), "fields": .object(fields)]
        }
    }

    /// The import file: one JSON line per record, as `membersync export` writes them.
    func writeFile(_ path: String) throws {
        var data = Data()
        for start in stride(from: 0, to: records, by: 5000) {
            for r in Self.batch(from: start, count: min(5000, records - start), organisation: "asker") {
                data.append(contentsOf: r.bytes)
                data.append(UInt8(ascii: "\n"))
            }
        }
        try data.write(to: URL(fileURLWithPath: path))
    }

    struct Figures {
        var importRate: Double
        var importPerCPU: Double
        var exportRate: Double
    }

    func measure(_ security: Security, file: String) throws -> Figures {
        let cluster = try ProcessCluster.hubWithTwoMembers(root: workDir + "/import-\(security)", binDir: binDir, security: security)
        defer { cluster.shutdown() }
        let writer = try cluster.replicaID("asker")
        let held = try cluster.control("asker", Control.VersionQuery()).records
        progress("import (\(security)): \(records) records at asker, through membersync import")
        let cpu0 = cluster.cpuSeconds(["asker"])
        let t0 = now()
        let imported = cluster.cli(["--data-dir", cluster.dataDir("asker"), "import", "--json", file], timeout: 3600)
        let seconds = now() - t0
        let cpu = cluster.cpuSeconds(["asker"]) - cpu0
        guard imported.status == 0, let summary = imported.json as? [String: Any] else {
            throw BenchFailure("membersync import failed (\(imported.status)): \(imported.stderr.suffix(500))")
        }
        guard summary["created"] as? Int == records else { throw BenchFailure("asker created \(summary["created"] ?? "nothing") of \(records) records") }
        let last = try cluster.version("asker")[writer] ?? 0
        guard cluster.waitHolds("baerum", origin: writer, counter: last, timeout: 600, interval: 0.02) else {
            throw BenchFailure("baerum did not receive the imported records")
        }
        try cluster.checkNothingRefused(["brussels", "baerum"])

        progress("export (\(security)): \(records + held) records at asker, through membersync export")
        let out = cluster.root + "/export.jsonl"
        let t1 = now()
        let exported = cluster.cli(["--data-dir", cluster.dataDir("asker"), "export", "--json", "--output", out], timeout: 3600)
        let exportSeconds = now() - t1
        guard exported.status == 0, let e = exported.json as? [String: Any], let count = e["records"] as? Int else {
            throw BenchFailure("membersync export failed (\(exported.status)): \(exported.stderr.suffix(500))")
        }
        guard count == records + held else { throw BenchFailure("export wrote \(count) records; asker holds \(records + held)") }
        return Figures(importRate: Double(records) / seconds, importPerCPU: Double(records) / cpu, exportRate: Double(count) / exportSeconds)
    }

    func run(_ report: Report) throws {
        try FileManager.default.createDirectory(atPath: workDir, withIntermediateDirectories: true)
        let file = workDir + "/import-\(records).jsonl"
        try writeFile(file)
        defer { try? FileManager.default.removeItem(atPath: file) }
        var figures: [Security: Figures] = [:]
        for security in Security.headlineFirst { figures[security] = try measure(security, file: file) }
        let s = figures[.secure]!, i = figures[.insecure]!
        report.details["import"] = ["records": records, "secure_records_per_second": s.importRate, "insecure_records_per_second": i.importRate,
                                    "secure_records_per_importer_cpu_second": s.importPerCPU, "insecure_records_per_importer_cpu_second": i.importPerCPU,
                                    "secure_export_records_per_second": s.exportRate, "insecure_export_records_per_second": i.exportRate]
        var row = ResultRow(benchmark: "Import", metric: "membersync import of \(records) contacts at a member (file to exit), durable",
                            value: s.importRate, unit: "records/s", target: ">= 50k records/s")
        row.met = row.value >= 50_000
        report.addPair(row, insecure: i.importRate)
        report.addPair(ResultRow(benchmark: "Import", metric: "records per CPU-second of the importing node", value: s.importPerCPU, unit: "records/s"),
                       insecure: i.importPerCPU)
        var export = ResultRow(benchmark: "Export", metric: "membersync export --output FILE of the same member's records (start to exit)",
                               value: s.exportRate, unit: "records/s", target: ">= 50k records/s")
        export.met = export.value >= 50_000
        report.addPair(export, insecure: i.exportRate)
    }
}
