import Foundation
import MemberSyncControl
import MemberSyncDirectory

/// Bulk import at a member, as `membersync import FILE` sends it: `import` control requests
/// of 5,000 records each (the node's most per request), each checked against the schema and
/// the write rules and committed in one transaction. The records are contacts of the
/// importing member's organisation (a member may import nothing else), six fields each.
/// Measured at `asker`: records per second from the first request to the last reply (every
/// record durable there), while the hub and `baerum` receive them; then checked that
/// `baerum` got every op and refused none. Secure and insecure.
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

    /// Records per second, and per CPU-second of the importing node.
    func measure(_ security: Security) throws -> (rate: Double, perCPU: Double) {
        let cluster = try ProcessCluster.hubWithTwoMembers(root: workDir + "/import-\(security)", binDir: binDir, security: security)
        defer { cluster.shutdown() }
        let writer = try cluster.replicaID("asker")
        let batchSize = 5000
        // Built before the clock starts: the JSON a CLI would have read from its file.
        let batches = stride(from: 0, to: records, by: batchSize).map { Self.batch(from: $0, count: min(batchSize, records - $0), organisation: "asker") }
        progress("import (\(security)): \(records) records at asker")
        let cpu0 = cluster.cpuSeconds(["asker"])
        let t0 = now()
        var created = 0
        for b in batches {
            created += try cluster.control("asker", Control.Import(records: b)).created
        }
        let seconds = now() - t0
        let cpu = cluster.cpuSeconds(["asker"]) - cpu0
        guard created == records else { throw BenchFailure("asker created \(created) of \(records) records") }
        let last = try cluster.version("asker")[writer] ?? 0
        guard cluster.waitHolds("baerum", origin: writer, counter: last, timeout: 600, interval: 0.02) else {
            throw BenchFailure("baerum did not receive the imported records")
        }
        try cluster.checkNothingRefused(["brussels", "baerum"])
        return (Double(records) / seconds, Double(records) / cpu)
    }

    func run(_ report: Report) throws {
        var rates: [Security: (rate: Double, perCPU: Double)] = [:]
        for security in Security.headlineFirst { rates[security] = try measure(security) }
        report.details["import"] = ["records": records, "batch": 5000, "secure_records_per_second": rates[.secure]!.rate,
                                    "insecure_records_per_second": rates[.insecure]!.rate,
                                    "secure_records_per_importer_cpu_second": rates[.secure]!.perCPU,
                                    "insecure_records_per_importer_cpu_second": rates[.insecure]!.perCPU]
        var row = ResultRow(benchmark: "Import", metric: "\(records) contacts imported at a member (import requests of 5,000), durable",
                            value: rates[.secure]!.rate, unit: "records/s", target: ">= 50k records/s")
        row.met = row.value >= 50_000
        report.addPair(row, insecure: rates[.insecure]!.rate)
        report.addPair(ResultRow(benchmark: "Import", metric: "records per CPU-second of the importing node", value: rates[.secure]!.perCPU, unit: "records/s"),
                       insecure: rates[.insecure]!.perCPU)
    }
}
