import Foundation
import MemberSyncHarness
import XCTest

#if canImport(Glibc)
import Glibc
#endif

/// `membersyncd` as scripts and systemd see it: its flags and exit statuses
/// (swift-argument-parser), and its ServiceGroup's stop on SIGTERM and SIGINT.
final class DaemonLifecycleTests: FederationTestCase {
    func daemon(_ args: [String]) -> CommandResult {
        CommandRunner.run(fed.binDir + "/membersyncd", args, timeout: 10, scratchDir: fed.root)
    }

    func testFlagsAndExitStatuses() throws {
        let version = daemon(["--version"])
        XCTAssertEqual(version.status, 0)
        XCTAssertNotNil(version.stdout.range(of: #"^membersyncd [0-9][0-9.]*\n$"#, options: .regularExpression), version.stdout)
        let help = daemon(["--help"])
        XCTAssertEqual(help.status, 0)
        for text in ["--config PATH", "--check-config", "--repair", "-h, --help", "SIGTERM"] {
            XCTAssertTrue(help.stdout.contains(text), "help mentions \(text): \(help.stdout)")
        }
        XCTAssertEqual(daemon(["-h"]).status, 0)
        // Wrong arguments: EX_USAGE (64) with the usage on stderr, so scripts tell them from a
        // runtime failure and systemd does not restart.
        for wrong in [[], ["--bogus"], ["--config"], ["-c", "a.toml", "extra"], ["--check-config"], ["-c", "a.toml", "--repair=yes"]] {
            let r = daemon(wrong)
            XCTAssertEqual(r.status, 64, "\(wrong): \(r.stderr)")
            XCTAssertTrue(r.stderr.contains("membersyncd --config PATH"), "usage on stderr for \(wrong): \(r.stderr)")
            XCTAssertEqual(r.stdout, "", "\(wrong)")
        }
        // Bad configuration: 78, with the file named.
        let missing = daemon(["--config", fed.root + "/none.toml"])
        XCTAssertEqual(missing.status, 78)
        XCTAssertTrue(missing.stderr.contains("membersyncd: bad configuration: " + fed.root + "/none.toml"), missing.stderr)
        try fed.initNode("brussels", hub: true)
        let path = fed.dataDir("brussels") + "/membersync.toml"
        let check = daemon(["-c", path, "--check-config"])
        XCTAssertEqual(check.status, 0, check.stderr)
        XCTAssertTrue(check.stdout.hasPrefix("\(path): ok (node brussels, role hub"), check.stdout)
        XCTAssertTrue(check.stdout.contains("keys: signing "), check.stdout)
    }

    /// The daemon runs as a ServiceGroup (reactor, metrics listener, web page): SIGTERM and
    /// SIGINT stop every service within a second or so, exit 0, with the clean-stop lines.
    func testSIGTERMAndSIGINTStopAllServicesPromptly() throws {
        try fed.initNode("brussels", hub: true)
        let metricsPort = LoopbackPorts.freePair(), webPort = LoopbackPorts.freePair(avoiding: [metricsPort])
        let path = fed.dataDir("brussels") + "/membersync.toml"
        let text = try String(contentsOfFile: path, encoding: .utf8)
            .replacingOccurrences(of: "# http_listen = \"127.0.0.1:7480\"", with: "http_listen = \"127.0.0.1:\(webPort)\"")
            + "metrics_listen = \"127.0.0.1:\(metricsPort)\"\n"
        try text.write(toFile: path, atomically: true, encoding: .utf8)
        for signal in [SIGTERM, SIGINT] {
            try fed.start("brussels")
            XCTAssertTrue(waitUntil(timeout: 10) { RawHTTP(port: metricsPort).request("GET", "/health").hasSuffix("healthy\n") },
                          "metrics listener up; log:\n\(fed.log("brussels"))")
            XCTAssertTrue(waitUntil(timeout: 10) { RawHTTP(port: webPort).request("GET", "/health").hasSuffix("healthy\n") })
            let p = try XCTUnwrap(fed.processes["brussels"])
            let started = Date()
            kill(p.processIdentifier, signal)
            XCTAssertTrue(waitUntil(timeout: 10) { !p.isRunning })
            p.waitUntilExit()
            let seconds = Date().timeIntervalSince(started)
            fed.processes["brussels"] = nil
            XCTAssertLessThan(seconds, 2, "signal \(signal): every service stopped within two seconds")
            XCTAssertEqual(p.terminationReason, .exit)
            XCTAssertEqual(p.terminationStatus, 0)
            let events = fed.logEvents("brussels")
            XCTAssertEqual(events.last?["msg"], "stopped cleanly", fed.log("brussels"))
            XCTAssertTrue(events.contains { $0["msg"] == "metrics listening" && $0["address"] == "127.0.0.1:\(metricsPort)" })
            XCTAssertTrue(events.contains { $0["msg"] == "node stopping" })
            XCTAssertFalse(fed.log("brussels").contains("level=critical"), fed.log("brussels"))
            XCTAssertEqual(RawHTTP(port: metricsPort).request("GET", "/health"), "", "nothing listens after the stop")
            try FileManager.default.removeItem(atPath: fed.root + "/brussels.log")
        }
    }

    /// A metrics address that cannot be bound stops the start: exit 1, "cannot start" with
    /// the address; the reactor, which had started, goes through its own stop.
    func testATakenMetricsAddressCannotStart() throws {
        let port = LoopbackPorts.freePair()
        let blocker = LoopbackPorts.listen(port)
        defer { if blocker >= 0 { close(blocker) } }
        XCTAssertTrue(blocker >= 0, "bound and listening")
        XCTAssertFalse(LoopbackPorts.canBind(port), "the port is held")
        try fed.initNode("brussels", hub: true)
        let path = fed.dataDir("brussels") + "/membersync.toml"
        try (try String(contentsOfFile: path, encoding: .utf8) + "metrics_listen = \"127.0.0.1:\(port)\"\n").write(toFile: path, atomically: true, encoding: .utf8)
        let p = try DaemonLauncher.launch(binDir: fed.binDir, config: path, logPath: fed.root + "/taken.log")
        XCTAssertTrue(waitUntil(timeout: 10) { !p.isRunning }, "the daemon does not run without its metrics listener")
        p.waitUntilExit()
        XCTAssertEqual(p.terminationStatus, 1)
        let events = ((try? String(contentsOfFile: fed.root + "/taken.log", encoding: .utf8)) ?? "").split(separator: "\n").compactMap { parseLogfmt(String($0)) }
        let failure = try XCTUnwrap(events.first { $0["msg"] == "cannot start" })
        XCTAssertTrue(failure["error"]?.contains("metrics_listen 127.0.0.1:\(port): cannot listen") == true, "\(failure)")
        XCTAssertTrue(events.contains { $0["msg"] == "node stopping" }, "the reactor that had started stopped its own way")
        XCTAssertFalse(events.contains { $0["msg"] == "stopped cleanly" })
    }
}

