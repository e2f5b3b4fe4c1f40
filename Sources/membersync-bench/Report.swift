import Foundation

/// One line of the results table: a figure, the baseline measured in the same run, their
/// ratio, and the target it is held to.
struct ResultRow {
    var benchmark: String
    var metric: String
    var value: Double
    var unit: String
    var baselineName: String? = nil
    var baselineValue: Double? = nil
    /// Which configuration the figure was measured with; nil for figures without nodes
    /// (raw transport, in-process scale).
    var security: Security? = nil
    /// On a secure row: the insecure figure of the same run, for the secure/insecure ratio.
    var insecureValue: Double? = nil
    /// How the ratio reads, e.g. "x pycrdt" or "of raw PUB/SUB".
    var ratioLabel: String? = nil
    var target: String? = nil
    var met: Bool? = nil
    var note: String? = nil

    var ratio: Double? {
        guard let b = baselineValue, b != 0 else { return nil }
        return value / b
    }

    var secureRatio: Double? {
        guard let i = insecureValue, i != 0 else { return nil }
        return value / i
    }

    var json: [String: Any] {
        var o: [String: Any] = ["benchmark": benchmark, "metric": metric, "value": value, "unit": unit]
        if let security { o["security"] = security.rawValue }
        if let insecureValue { o["insecure_value"] = insecureValue }
        if let secureRatio { o["secure_to_insecure"] = secureRatio }
        if let baselineName { o["baseline"] = baselineName }
        if let baselineValue { o["baseline_value"] = baselineValue }
        if let ratio { o["ratio"] = ratio }
        if let target { o["target"] = target }
        if let met { o["target_met"] = met }
        if let note { o["note"] = note }
        return o
    }
}

func formatValue(_ v: Double, _ unit: String) -> String {
    switch unit {
    case "ops/s", "msgs/s", "records/s": return "\(formatRate(v)) \(unit)"
    case "bytes": return formatBytes(v)
    case "ms": return String(format: v < 10 ? "%.2f ms" : "%.0f ms", v)
    case "s": return String(format: "%.2f s", v)
    default: return String(format: v == v.rounded() && abs(v) < 1e9 ? "%.0f %@" : "%.2f %@", v, unit as NSString)
    }
}

/// Collects results and machine facts, and writes them as JSON and as a Markdown table.
final class Report {
    var rows: [ResultRow] = []
    var details: [String: Any] = [:]
    var notes: [String] = []
    let machine = MachineInfo.collect()
    let startedAt = Date()
    var command = ""
    var mode = "full"

    /// `row` (the secure figure) as the headline row with its ratio to `insecure`, then the
    /// insecure figure as the second row, next to the same baseline; the target is the
    /// product's, so it is judged on the secure row only.
    func addPair(_ row: ResultRow, insecure: Double, insecureBaseline: Double? = nil, insecureNote: String? = nil) {
        var secure = row
        secure.security = .secure
        secure.insecureValue = insecure
        add(secure)
        var second = row
        second.security = .insecure
        second.value = insecure
        if let insecureBaseline { second.baselineValue = insecureBaseline }
        if let insecureNote { second.note = insecureNote }
        second.target = nil
        second.met = nil
        add(second)
    }

    func add(_ row: ResultRow) {
        rows.append(row)
        var line = "\(row.benchmark) / \(row.security.map { "\($0.rawValue) / " } ?? "")\(row.metric): \(formatValue(row.value, row.unit))"
        if let b = row.baselineValue, let name = row.baselineName { line += " vs \(name) \(formatValue(b, row.unit))" }
        if let r = row.ratio { line += String(format: " (ratio %.3f)", r) }
        if let r = row.secureRatio { line += String(format: " (secure/insecure %.3f)", r) }
        if let met = row.met { line += met ? " [target met]" : " [target MISSED]" }
        progress(line)
    }

    var iso: String {
        let f = ISO8601DateFormatter()
        return f.string(from: startedAt)
    }

    func json() -> [String: Any] {
        ["date": iso, "command": command, "mode": mode, "machine": machine,
         "results": rows.map(\.json), "details": details, "notes": notes]
    }

    func markdown() -> String {
        var s = "# MemberSync benchmark results\n\n"
        s += "Made by `\(command)` (\(mode) mode) on \(iso).\n\n"
        // The sizes the command chose, so a figure is never read as one at the full size.
        if let sizes = details["sizes"] as? [String: Any] {
            s += "Sizes: " + sizes.keys.sorted().map { "\($0) \(sizes[$0]!)" }.joined(separator: ", ") + ".\n\n"
        }
        let mem = (machine["memory_bytes"] as? Int).map { formatBytes(Double($0)) } ?? "?"
        s += "Machine: \(machine["nproc"] ?? "?") CPUs (`nproc`), \(machine["cpu_model"] ?? "?"), \(mem) RAM, "
        s += "Linux \(machine["kernel"] ?? "?"), load average at start \(machine["load_average_at_start"] ?? "?").\n\n"
        s += "The machine's 2 cores are shared with other developers' builds and tests: absolute figures are noisy. "
        s += "Every figure with a baseline was measured in the same run, next to it; compare the ratios.\n\n"
        s += "Rows marked **secure** run as the product does (CURVE, admission, signed ops verified by every receiver, write rules); "
        s += "the **insecure** row below each (`insecure = true`) is the same benchmark in the same run. "
        s += "Secure/insecure is the ratio of the two figures (for times, above 1 means secure is slower; for rates, below 1).\n\n"
        s += "| Benchmark | Measure | Security | MemberSync | Baseline (same run) | Ratio | Secure / insecure | Target | Met |\n"
        s += "|---|---|---|---:|---:|---:|---:|---|:-:|\n"
        for r in rows {
            let base = r.baselineValue.map { "\(r.baselineName ?? ""): \(formatValue($0, r.unit))" } ?? ""
            let ratio = r.ratio.map { String(format: "%.2f", $0) + (r.ratioLabel.map { " \($0)" } ?? "") } ?? ""
            let met = r.met.map { $0 ? "yes" : "**no**" } ?? ""
            var measure = r.metric
            if let n = r.note { measure += " (\(n))" }
            let security = r.security.map { $0 == .secure ? "**secure**" : "insecure" } ?? ""
            let versus = r.secureRatio.map { String(format: "%.2f", $0) } ?? ""
            s += "| \(r.benchmark) | \(measure) | \(security) | \(formatValue(r.value, r.unit)) | \(base) | \(ratio) | \(versus) | \(r.target ?? "") | \(met) |\n"
        }
        if !notes.isEmpty {
            s += "\n## Notes from this run\n\n"
            for n in notes { s += "- \(n)\n" }
        }
        s += "\nThe JSON with every detail is `Benchmarks/results.json`; what each benchmark does exactly, and why the missed targets are missed, is in `Benchmarks/README.md`.\n"
        return s
    }
}
