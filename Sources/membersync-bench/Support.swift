import Foundation
import MemberSyncHarness

#if canImport(Glibc)
import Glibc
#endif

/// The harness's seeded generator (SplitMix64), so every run builds the same workload, with
/// the picks the workloads use.
typealias SplitMix64 = SeededRandom

extension SeededRandom {
    mutating func below(_ n: Int) -> Int { Int(next() % UInt64(n)) }
    mutating func chance(_ p: Double) -> Bool { Double(next() >> 11) / Double(1 << 53) < p }
    mutating func pick<T>(_ a: [T]) -> T { a[below(a.count)] }
}

/// Monotonic seconds (the harness's clock).
func now() -> Double { MonotonicClock.seconds() }

/// CPU seconds used by the calling thread: unlike wall time, barely disturbed by other
/// processes competing for the cores.
func threadCPUTime() -> Double {
    var ts = timespec()
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts)
    return Double(ts.tv_sec) + Double(ts.tv_nsec) / 1e9
}

func sleepSeconds(_ s: Double) {
    if s > 0 { usleep(UInt32(s * 1e6)) }
}

/// Percentile of sorted values (nearest rank).
func percentile(_ sorted: [Double], _ p: Double) -> Double {
    guard !sorted.isEmpty else { return .nan }
    let rank = Int((p / 100 * Double(sorted.count)).rounded(.up)) - 1
    return sorted[max(0, min(sorted.count - 1, rank))]
}

/// What the benchmark ran on: reported next to every result.
struct MachineInfo {
    static func collect() -> [String: Any] {
        var cpu = "unknown"
        if let text = try? String(contentsOfFile: "/proc/cpuinfo", encoding: .utf8),
           let line = text.split(separator: "\n").first(where: { $0.hasPrefix("model name") }),
           let colon = line.firstIndex(of: ":") {
            cpu = line[line.index(after: colon)...].trimmingCharacters(in: .whitespaces)
        }
        var memory = 0
        if let text = try? String(contentsOfFile: "/proc/meminfo", encoding: .utf8),
           let line = text.split(separator: "\n").first(where: { $0.hasPrefix("MemTotal:") }) {
            memory = (line.split(separator: " ").dropFirst().first.flatMap { Int($0) } ?? 0) * 1024
        }
        var load = ""
        if let text = try? String(contentsOfFile: "/proc/loadavg", encoding: .utf8) {
            load = text.split(separator: " ").prefix(3).joined(separator: " ")
        }
        var uts = utsname()
        uname(&uts)
        let kernel = withUnsafeBytes(of: &uts.release) { String(decoding: $0.prefix(while: { $0 != 0 }), as: UTF8.self) }
        return [
            "nproc": ProcessInfo.processInfo.activeProcessorCount,
            "cpu_model": cpu,
            "memory_bytes": memory,
            "kernel": kernel,
            "load_average_at_start": load,
            "hostname": ProcessInfo.processInfo.hostName,
        ]
    }
}

/// Prints progress to stderr (stdout stays clean for the final report).
func progress(_ s: String) {
    FileHandle.standardError.write(Data("[bench] \(s)\n".utf8))
}

struct BenchFailure: Error, CustomStringConvertible {
    let description: String
    init(_ d: String) { description = d }
}

func formatRate(_ x: Double) -> String {
    if x.isNaN { return "n/a" }
    if x >= 1e6 { return String(format: "%.2f M", x / 1e6) }
    if x >= 1e3 { return String(format: "%.1f k", x / 1e3) }
    return String(format: "%.0f", x)
}

func formatBytes(_ b: Double) -> String {
    let k = 1024.0
    if b >= k * k * k { return String(format: "%.2f GiB", b / (k * k * k)) }
    if b >= k * k { return String(format: "%.1f MiB", b / (k * k)) }
    if b >= k { return String(format: "%.1f KiB", b / k) }
    return String(format: "%.0f B", b)
}

/// Set `MEMBERSYNC_BENCH_KEEP_STORES=1` to leave the work directory and every node's data
/// directory in place at the end (to start a node under `perf` on the stores a run built).
let keepStores = ProcessInfo.processInfo.environment["MEMBERSYNC_BENCH_KEEP_STORES"] != nil
