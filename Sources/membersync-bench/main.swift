import Foundation

#if canImport(Glibc)
import Glibc
#endif

/// membersync-bench: runs MemberSync's benchmarks next to their baselines and writes the
/// results as JSON and Markdown. Normally started by `Benchmarks/run.sh`.
///
///   membersync-bench [--quick] [--only NAME,...] [--python PATH] [--pycrdt-script PATH]
///                    [--bin-dir DIR] [--work-dir DIR] [--json PATH] [--markdown PATH]
///                    [--command TEXT] [--size NAME=N]
///
/// NAME: merge, transport, e2e, latency, catchup, snapshot, import, scale.
struct Options {
    var quick = false
    var only: Set<String>? = nil
    var python: String? = nil
    var script = "Benchmarks/pycrdt_merge.py"
    var binDir: String = {
        let exe = URL(fileURLWithPath: CommandLine.arguments[0]).resolvingSymlinksInPath()
        return exe.deletingLastPathComponent().path
    }()
    var workDir: String? = nil
    var jsonPath: String? = nil
    var markdownPath: String? = nil
    var command: String? = nil
    var sizeOverrides: [String: Int] = [:]

    static func parse(_ args: [String]) throws -> Options {
        var o = Options()
        var i = 0
        func value() throws -> String {
            i += 1
            guard i < args.count else { throw BenchFailure("\(args[i - 1]) needs a value") }
            return args[i]
        }
        while i < args.count {
            switch args[i] {
            case "--quick": o.quick = true
            case "--only": o.only = Set(try value().split(separator: ",").map(String.init))
            case "--python": o.python = try value()
            case "--pycrdt-script": o.script = try value()
            case "--bin-dir": o.binDir = try value()
            case "--work-dir": o.workDir = try value()
            case "--json": o.jsonPath = try value()
            case "--markdown": o.markdownPath = try value()
            case "--command": o.command = try value()
            case "--size":
                // NAME=N overrides one size, e.g. --size catchup=100000
                let kv = try value().split(separator: "=")
                guard kv.count == 2, let n = Int(kv[1]) else { throw BenchFailure("--size takes NAME=NUMBER") }
                o.sizeOverrides[String(kv[0])] = n
            case "-h", "--help":
                print("usage: membersync-bench [--quick] [--only merge,transport,e2e,latency,catchup,snapshot,import,scale] [--size NAME=N] [--python PATH] [--pycrdt-script PATH] [--bin-dir DIR] [--work-dir DIR] [--json PATH] [--markdown PATH]")
                exit(0)
            default: throw BenchFailure("unknown argument \(args[i])")
            }
            i += 1
        }
        return o
    }

    func wants(_ name: String) -> Bool { only?.contains(name) ?? true }
}

/// Sizes of every benchmark; `--quick` shrinks them for a smoke test.
struct Sizes {
    var mergeOps = 1_000_000, mergeRecords = 20_000
    var transportMessages = 200_000
    var e2eOps = 200_000
    var latencyEdits = 10_000, latencyRate = 500.0
    /// Records in every latency node's store before the edits.
    var latencyPreload = 100_000
    var catchupOps = 1_000_000
    var snapshotRecords = 1_000_000
    var importRecords = 1_000_000
    var scaleNodes = [2, 4, 8, 16, 32, 64], scaleTotalOps = 6_300

    static let quick = Sizes(mergeOps: 20_000, mergeRecords: 2_000, transportMessages: 20_000, e2eOps: 4_000,
                             latencyEdits: 300, latencyRate: 500, latencyPreload: 2_000, catchupOps: 10_000, snapshotRecords: 10_000,
                             importRecords: 10_000, scaleNodes: [2, 4, 8], scaleTotalOps: 630)
}

signal(SIGPIPE, SIG_IGN)
let options: Options
do { options = try Options.parse(Array(CommandLine.arguments.dropFirst())) } catch {
    FileHandle.standardError.write(Data("membersync-bench: \(error)\n".utf8))
    exit(2)
}
var sizes = options.quick ? Sizes.quick : Sizes()
for (name, n) in options.sizeOverrides {
    switch name {
    case "merge": sizes.mergeOps = n
    case "transport": sizes.transportMessages = n
    case "e2e": sizes.e2eOps = n
    case "latency": sizes.latencyEdits = n
    case "latency-preload": sizes.latencyPreload = n
    case "catchup": sizes.catchupOps = n
    case "snapshot": sizes.snapshotRecords = n
    case "import": sizes.importRecords = n
    case "scale": sizes.scaleTotalOps = n
    default:
        FileHandle.standardError.write(Data("membersync-bench: unknown size '\(name)' (merge, transport, e2e, latency, latency-preload, catchup, snapshot, import, scale)\n".utf8))
        exit(2)
    }
}
let workDir = options.workDir ?? NSTemporaryDirectory() + "membersync-bench-\(getpid())"
try? FileManager.default.removeItem(atPath: workDir)
try FileManager.default.createDirectory(atPath: workDir, withIntermediateDirectories: true)

let report = Report()
report.mode = options.quick ? "quick" : "full"
report.command = options.command ?? (["membersync-bench"] + CommandLine.arguments.dropFirst()).joined(separator: " ")
report.details["sizes"] = [
    "merge_ops": sizes.mergeOps, "merge_records": sizes.mergeRecords, "transport_messages": sizes.transportMessages,
    "e2e_ops": sizes.e2eOps, "latency_edits": sizes.latencyEdits, "latency_rate_per_second": sizes.latencyRate, "latency_preload_records": sizes.latencyPreload,
    "catchup_ops": sizes.catchupOps, "snapshot_records": sizes.snapshotRecords, "import_records": sizes.importRecords,
    "scale_nodes": sizes.scaleNodes,
    "scale_total_ops": sizes.scaleTotalOps,
]

var failures = 0
@MainActor
func section(_ name: String, _ body: () throws -> Void) {
    guard options.wants(name) else { return }
    let t0 = now()
    do { try body() } catch {
        failures += 1
        report.notes.append("\(name) failed: \(error)")
        progress("\(name) FAILED: \(error)")
    }
    progress(String(format: "%@ took %.1f s", name, now() - t0))
}

section("merge") {
    try MergeBench(ops: sizes.mergeOps, records: sizes.mergeRecords, workDir: workDir, python: options.python, script: options.script).run(report)
}

section("transport") {
    try TransportBench.run(report, messages: sizes.transportMessages, sizes: [64, 256, 1024, 16384])
}
section("e2e") {
    try EndToEndBench(ops: sizes.e2eOps, batch: 1000, workDir: workDir, binDir: options.binDir).run(report)
}
section("latency") {
    let fsyncs = options.quick ? 200 : 2000
    try LatencyBench.run(report, edits: sizes.latencyEdits, rate: sizes.latencyRate, baseDir: workDir, label: "disk", fsyncs: fsyncs, preload: sizes.latencyPreload)
    if !options.quick && FileManager.default.fileExists(atPath: "/dev/shm") {
        // Same again with every store on tmpfs, where fsync costs nothing: the difference is
        // the disk's share of the latency.
        let shm = "/dev/shm/membersync-bench-\(getpid())"
        defer { try? FileManager.default.removeItem(atPath: shm) }
        try LatencyBench.run(report, edits: sizes.latencyEdits, rate: sizes.latencyRate, baseDir: shm, label: "tmpfs", fsyncs: fsyncs, preload: sizes.latencyPreload)
    }
}
section("catchup") {
    try CatchUpBench(ops: sizes.catchupOps, workDir: workDir, binDir: options.binDir).run(report)
}
section("snapshot") {
    // 10k, 100k and 1M up to the chosen size, so the growth per record is visible.
    let steps = [10_000, 100_000, 1_000_000].filter { $0 < sizes.snapshotRecords } + [sizes.snapshotRecords]
    try SnapshotBench(sizes: steps, workDir: workDir, binDir: options.binDir).run(report)
}
section("import") {
    try ImportBench(records: sizes.importRecords, workDir: workDir, binDir: options.binDir).run(report)
}
section("scale") {
    try ScaleBench(nodeCounts: sizes.scaleNodes, totalOps: sizes.scaleTotalOps).run(report)
}

let jsonData = try JSONSerialization.data(withJSONObject: report.json(), options: [.prettyPrinted, .sortedKeys])
if let p = options.jsonPath { try jsonData.write(to: URL(fileURLWithPath: p)) }
let markdown = report.markdown()
if let p = options.markdownPath { try markdown.write(toFile: p, atomically: true, encoding: .utf8) }
print(markdown)
if !keepStores { try? FileManager.default.removeItem(atPath: workDir) }
exit(failures == 0 ? 0 : 1)
