import Foundation
import XCTest

/// The benchmark harness keeps working: a tiny run of its in-process scale benchmark and of
/// the raw transport baseline, with the binaries `swift build` made (debug). The real runs are
/// `./Benchmarks/run.sh` (release); CI never runs them.
final class BenchmarkSmokeTests: XCTestCase {
    func testQuickBenchmarkRunWritesResults() throws {
        let bin = try Federation.findBinaries()
        guard FileManager.default.isExecutableFile(atPath: bin + "/membersync-bench") else {
            throw XCTSkip("membersync-bench not built")
        }
        let fed = try Federation()
        defer { fed.shutdown() }
        let json = fed.root + "/results.json"
        let p = Process()
        p.executableURL = URL(fileURLWithPath: bin + "/membersync-bench")
        p.arguments = ["--quick", "--only", "transport,scale", "--size", "transport=2000", "--size", "scale=60",
                       "--json", json, "--work-dir", fed.root + "/work"]
        p.standardOutput = FileHandle.nullDevice
        p.standardError = FileHandle.nullDevice
        try p.run()
        let deadline = Date().addingTimeInterval(60)
        while p.isRunning && Date() < deadline { usleep(20_000) }
        if p.isRunning { p.terminate() }
        p.waitUntilExit()
        XCTAssertEqual(p.terminationStatus, 0)
        let data = try Data(contentsOf: URL(fileURLWithPath: json))
        let obj = try JSONSerialization.jsonObject(with: data) as? [String: Any]
        let rows = obj?["results"] as? [[String: Any]] ?? []
        XCTAssertEqual(rows.filter { $0["benchmark"] as? String == "Raw transport" }.count, 4)
        // Each node count: the secure row, then the insecure one.
        let scale = rows.filter { $0["benchmark"] as? String == "Scale" }
        XCTAssertEqual(scale.count, 6)
        XCTAssertEqual(scale.compactMap { $0["security"] as? String }, Array(repeating: ["secure", "insecure"], count: 3).flatMap { $0 })
        XCTAssertNotNil((obj?["machine"] as? [String: Any])?["nproc"])
    }
}
