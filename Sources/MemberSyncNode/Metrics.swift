/// A Prometheus histogram with fixed buckets, kept by the reactor thread (no locks needed).
public struct Histogram: Sendable, Equatable {
    /// Upper bounds in seconds, ascending; the `+Inf` bucket is implicit.
    public let bounds: [Double]
    /// Observations per bucket (not cumulative); the last entry is the `+Inf` bucket.
    public private(set) var counts: [UInt64]
    public private(set) var sum: Double = 0
    public private(set) var count: UInt64 = 0

    public init(bounds: [Double]) {
        self.bounds = bounds.sorted()
        counts = Array(repeating: 0, count: bounds.count + 1)
    }

    public mutating func observe(_ seconds: Double) {
        let v = seconds.isFinite ? max(0, seconds) : 0
        let i = bounds.firstIndex { v <= $0 } ?? bounds.count
        counts[i] += 1
        sum += v
        count += 1
    }

    /// Cumulative counts per bound, as the exposition format wants them (`+Inf` last).
    public var cumulative: [UInt64] {
        var running: UInt64 = 0
        return counts.map { running += $0; return running }
    }

    /// For local commits: an fsync'd SQLite transaction takes a fraction of a millisecond to
    /// tens of milliseconds depending on the disk.
    public static let commitBounds: [Double] = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5]
    /// For edit-to-apply delay: milliseconds when live, up to days for offline edits.
    public static let replicationBounds: [Double] = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30,
                                                     60, 300, 1800, 3600, 21600, 86400]
}

/// Measurements only the reactor can take (they need a clock); the engine's own counters
/// live in `EngineCounters`.
public struct NodeMetrics: Sendable {
    /// Time from receiving a local write to its durable commit (what the CLI waits for).
    public var localWriteCommit = Histogram(bounds: Histogram.commitBounds)
    /// Time from an op's HLC (its edit time at the origin) to its durable apply here.
    public var opApplyLatency = Histogram(bounds: Histogram.replicationBounds)
    public init() {}
}

/// Writes the Prometheus text exposition format (version 0.0.4) by hand: a few dozen lines
/// do not justify a metrics library and its dependencies.
public struct PrometheusText {
    public private(set) var text = ""
    private var declared = Set<String>()

    public init() {}

    public static let contentType = "text/plain; version=0.0.4; charset=utf-8"

    public mutating func counter(_ name: String, _ help: String, _ value: UInt64, labels: [(String, String)] = []) {
        declare(name, "counter", help)
        sample(name, labels, String(value))
    }

    public mutating func gauge(_ name: String, _ help: String, _ value: Double, labels: [(String, String)] = []) {
        declare(name, "gauge", help)
        sample(name, labels, Self.number(value))
    }

    public mutating func gauge(_ name: String, _ help: String, _ value: Int, labels: [(String, String)] = []) {
        gauge(name, help, Double(value), labels: labels)
    }

    public mutating func histogram(_ name: String, _ help: String, _ h: Histogram) {
        declare(name, "histogram", help)
        let cumulative = h.cumulative
        for (i, bound) in h.bounds.enumerated() { sample(name + "_bucket", [("le", Self.number(bound))], String(cumulative[i])) }
        sample(name + "_bucket", [("le", "+Inf")], String(h.count))
        sample(name + "_sum", [], Self.number(h.sum))
        sample(name + "_count", [], String(h.count))
    }

    /// HELP and TYPE once per metric family, before its first sample.
    private mutating func declare(_ name: String, _ type: String, _ help: String) {
        guard declared.insert(name).inserted else { return }
        text += "# HELP \(name) \(help.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "\n", with: "\\n"))\n"
        text += "# TYPE \(name) \(type)\n"
    }

    private mutating func sample(_ name: String, _ labels: [(String, String)], _ value: String) {
        text += name
        if !labels.isEmpty {
            text += "{" + labels.map { "\($0.0)=\"\(Self.escapeLabel($0.1))\"" }.joined(separator: ",") + "}"
        }
        text += " " + value + "\n"
    }

    static func escapeLabel(_ s: String) -> String {
        var out = ""
        for ch in s.unicodeScalars {
            switch ch {
            case "\\": out += "\\\\"
            case "\"": out += "\\\""
            case "\n": out += "\\n"
            default: out.unicodeScalars.append(ch)
            }
        }
        return out
    }

    static func number(_ v: Double) -> String {
        if v.isNaN { return "NaN" }
        if v.isInfinite { return v > 0 ? "+Inf" : "-Inf" }
        if v == v.rounded(), abs(v) < 1e15 { return String(Int64(v)) }
        return String(v)
    }
}
