import Foundation
import MemberSyncHarness
import XCTest

#if canImport(Glibc)
import Glibc
#endif

/// The systemd route (install.sh, the example config, `systemctl start`) never runs
/// `membersync init`: a secure node must make its keys at its first start, keep them for good,
/// and `--check-config` (the unit's ExecStartPre) must check them.
final class KeysAtFirstStartTests: XCTestCase {
    var fed: Federation!
    var processes: [Process] = []

    override func setUpWithError() throws {
        fed = try Federation()
    }

    override func tearDown() {
        for p in processes where p.isRunning { kill(p.processIdentifier, SIGKILL); p.waitUntilExit() }
        fed?.shutdown()
    }

    /// An example config from Deploy/config as the operator would edit it: its own data
    /// directory (not created yet) and a free port, nothing else changed.
    func config(_ example: String, name: String) throws -> (path: String, dataDir: String) {
        let source = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("Deploy/config/\(example).toml").path
        let dataDir = fed.root + "/\(name)-state"
        let port = fed.freePortPair()
        var lines: [String] = []
        for line in try String(contentsOfFile: source, encoding: .utf8).split(separator: "\n", omittingEmptySubsequences: false) {
            if line.hasPrefix("data_dir =") { lines.append("data_dir = \"\(dataDir)\"") }
            else if line.hasPrefix("listen =") { lines.append("listen = \"tcp://127.0.0.1:\(port)\"") }
            else if line.hasPrefix("metrics_listen =") { continue }
            else { lines.append(String(line)) }
        }
        let path = fed.root + "/\(name).toml"
        try lines.joined(separator: "\n").write(toFile: path, atomically: true, encoding: .utf8)
        return (path, dataDir)
    }

    func checkConfig(_ path: String) -> CommandResult {
        CommandRunner.run(fed.binDir + "/membersyncd", ["--check-config", "--config", path], timeout: 10, scratchDir: fed.root)
    }

    func start(_ path: String, _ dataDir: String, log: String) throws -> Process {
        let p = try DaemonLauncher.launch(binDir: fed.binDir, config: path, logPath: log)
        processes.append(p)
        XCTAssertTrue(waitUntil(timeout: 10) { self.fed.cli(["status", "--data-dir", dataDir, "--json"]).status != 2 },
                      "did not start: \((try? String(contentsOfFile: log, encoding: .utf8)) ?? "")")
        return p
    }

    func stop(_ p: Process) {
        kill(p.processIdentifier, SIGTERM)
        p.waitUntilExit()
    }

    func read(_ path: String) -> String { (try? String(contentsOfFile: path, encoding: .utf8)) ?? "" }

    func mode(_ path: String) -> Int {
        var st = stat()
        return stat(path, &st) == 0 ? Int(st.st_mode & 0o777) : -1
    }

    func testTheExampleConfigsStartSecureMakeTheirKeysOnceAndCheckThem() throws {
        for (example, role) in [("hub", "hub"), ("member", "member")] {
            let (path, dataDir) = try config(example, name: role)
            let log = fed.root + "/\(role).log"
            let before = checkConfig(path)
            XCTAssertEqual(before.status, 0, before.stderr)
            XCTAssertTrue(before.stdout.contains("keys: none yet"), before.stdout)

            let first = try start(path, dataDir, log: log)
            for file in ["signing.key", "curve.key"] { XCTAssertEqual(mode(dataDir + "/" + file), 0o600, file) }
            let signing = read(dataDir + "/signing.pub"), curve = read(dataDir + "/curve.pub")
            XCTAssertEqual(signing.trimmingCharacters(in: .whitespacesAndNewlines).count, 64)
            XCTAssertTrue(read(log).contains("created this node's keys"), read(log))
            XCTAssertTrue(read(log).contains(role == "hub" ? "members trust this hub with" : "membersync hub admit"), read(log))
            XCTAssertFalse(read(log).contains("security is OFF"))
            let status = fed.cli(["status", "--data-dir", dataDir, "--json"]).json as? [String: Any] ?? [:]
            XCTAssertEqual(status["role"] as? String, role)
            stop(first)

            // A second start keeps the keys and makes none.
            let second = try start(path, dataDir, log: log)
            stop(second)
            XCTAssertEqual(read(dataDir + "/signing.pub"), signing)
            XCTAssertEqual(read(dataDir + "/curve.pub"), curve)
            XCTAssertEqual(read(log).components(separatedBy: "created this node's keys").count - 1, 1, "created once")
            let after = checkConfig(path)
            XCTAssertEqual(after.status, 0, after.stderr)
            XCTAssertTrue(after.stdout.contains("keys: signing \(signing.trimmingCharacters(in: .whitespacesAndNewlines))"), after.stdout)

            // A key others can read fails the check (exit 78: systemd does not restart it).
            chmod(dataDir + "/signing.key", 0o644)
            let bad = checkConfig(path)
            XCTAssertEqual(bad.status, 78)
            XCTAssertTrue(bad.stderr.contains("chmod 600"), bad.stderr)
            chmod(dataDir + "/signing.key", 0o600)
        }
    }
}
