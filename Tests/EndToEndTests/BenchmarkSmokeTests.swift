import Foundation
import MemberSyncHarness
import XCTest

/// The benchmark harness keeps working: a tiny run of its in-process scale benchmark and of
/// the raw transport baseline, with the binaries `swift build` made (debug). The real runs are
/// `./Benchmarks/run.sh` (release); CI never runs them.
final class BenchmarkSmokeTests: XCTestCase {
    func testQuickBenchmarkRunWritesResults() throws {
        let bin = try Federation.binaries()
        guard FileManager.default.isExecutableFile(atPath: bin + "/membersync-bench") else {
            throw XCTSkip("membersync-bench not built")
        }
        let fed = try Federation()
        defer { fed.shutdown() }
        let json = fed.root + "/results.json"
        let run = CommandRunner.run(bin + "/membersync-bench", ["--quick", "--only", "transport,scale", "--size", "transport=2000",
                                                                "--size", "scale=60", "--json", json, "--work-dir", fed.root + "/work"],
                                    timeout: 60, scratchDir: fed.root)
        XCTAssertEqual(run.status, 0)
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
