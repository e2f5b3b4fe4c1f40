import Foundation
import MemberSyncHarness
import XCTest

#if canImport(Glibc)
import Glibc
#endif

/// The daemon's web page (`http_listen`): served with the node, reached through
/// `membersync web-login`, stopped as fast as the node; and the browser test
/// (Tests/Browser/web_e2e.py: headless Chromium driven by Selenium against a secure hub and two
/// members), which must run: missing browser packages fail it, they never skip it.
final class WebPageTests: FederationTestCase {
    static let repoRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent().path

    func freePort() -> Int { fed.freePortPair() }

    func initHub(httpListen: String?) throws {
        fed.ports["brussels"] = fed.freePortPair()
        var args = ["init", fed.dataDir("brussels"), "--id", "brussels", "--organisation", "oslo-region-european-office", "--hub",
                    "--listen", fed.endpoint("brussels"), "--json"]
        if let httpListen { args += ["--http-listen", httpListen] }
        let r = fed.cli(args)
        XCTAssertEqual(r.status, 0, r.stderr)
    }

    func testTheDaemonServesItsWebPageAndStopsFast() throws {
        let port = freePort()
        try initHub(httpListen: "127.0.0.1:\(port)")
        try fed.start("brussels")
        let link = fed.on("brussels", "web-login")
        XCTAssertEqual(link.status, 0, link.stderr)
        XCTAssertTrue(link.stdout.hasPrefix("http://127.0.0.1:\(port)/login?token="), link.stdout)
        let json = fed.on("brussels", "web-login", "--json").json as? [String: Any]
        XCTAssertEqual(json?["url"] as? String, link.stdout.trimmingCharacters(in: .whitespacesAndNewlines))
        let http = RawHTTP(port: port)
        XCTAssertTrue(http.request("GET", "/health").hasSuffix("healthy\n"), "health on the web listener")
        XCTAssertTrue(http.request("GET", "/metrics").contains("membersync_build_info{"), "metrics on the web listener")
        let path = String(link.stdout.trimmingCharacters(in: .whitespacesAndNewlines).dropFirst("http://127.0.0.1:\(port)".count))
        XCTAssertTrue(http.request("GET", path).hasPrefix("HTTP/1.1 303"), "the link logs in")
        XCTAssertTrue(http.request("GET", path).hasPrefix("HTTP/1.1 403"), "once")
        XCTAssertTrue(fed.log("brussels").contains("msg=\"web page listening\""), fed.log("brussels"))
        // A page listening for live events must not slow the stop down.
        let again = fed.on("brussels", "web-login").stdout.trimmingCharacters(in: .whitespacesAndNewlines)
        let login = http.request("GET", String(again.dropFirst("http://127.0.0.1:\(port)".count)))
        let cookie = login.components(separatedBy: "\r\n").first { $0.lowercased().hasPrefix("set-cookie:") }?
            .dropFirst("set-cookie: ".count).split(separator: ";").first.map(String.init) ?? ""
        let events = try XCTUnwrap(http.open("GET /events HTTP/1.1\r\nHost: 127.0.0.1:\(port)\r\nCookie: \(cookie)\r\n\r\n"))
        defer { close(events) }
        XCTAssertTrue(http.read(events, timeout: 5) { $0.contains("event: status") }.text.contains("event: status"))
        let seconds = fed.stop("brussels")
        XCTAssertLessThan(seconds, 3, "SIGTERM stops the node and its web page within a few seconds")
        XCTAssertTrue(fed.log("brussels").contains("stopped cleanly"), fed.log("brussels"))
    }

    func testAnAddressAskedForMustBeFreeButTheDefaultIsGivenUp() throws {
        // Something else holds the port: an explicit http_listen stops the start with the reason.
        let port = freePort()
        let blocker = LoopbackPorts.listen(port)
        defer { if blocker >= 0 { close(blocker) } }
        XCTAssertTrue(blocker >= 0, "bound and listening")
        XCTAssertFalse(LoopbackPorts.canBind(port), "the port is held")
        try initHub(httpListen: "127.0.0.1:\(port)")
        let p = try DaemonLauncher.launch(binDir: fed.binDir, config: fed.dataDir("brussels") + "/membersync.toml", logPath: fed.root + "/explicit.log")
        XCTAssertTrue(waitUntil(timeout: 10) { !p.isRunning }, "the daemon does not run without its web page")
        p.waitUntilExit()
        XCTAssertEqual(p.terminationStatus, 1)
        let log = (try? String(contentsOfFile: fed.root + "/explicit.log", encoding: .utf8)) ?? ""
        XCTAssertTrue(log.contains("cannot listen on 127.0.0.1:\(port)"), log)

        // Without http_listen in the file the default address is used if free, and given up
        // with a warning if not: the node runs either way.
        try FileManager.default.removeItem(atPath: fed.dataDir("brussels") + "/membersync.toml")
        try initHub(httpListen: nil)
        let config = try String(contentsOfFile: fed.dataDir("brussels") + "/membersync.toml", encoding: .utf8)
        XCTAssertTrue(config.contains("# http_listen = \"127.0.0.1:7480\""), config)
        try fed.start("brussels")
        // The web page starts once the node runs, so its line may follow the control socket's answer.
        func decided(_ log: String) -> Bool {
            log.contains("msg=\"web page listening\" address=127.0.0.1:7480") || log.contains("msg=\"web page not served\" address=127.0.0.1:7480")
        }
        XCTAssertTrue(waitUntil(timeout: 10) { decided(self.fed.log("brussels")) }, fed.log("brussels"))
        XCTAssertEqual(fed.status("brussels")["role"] as? String, "hub", "the node runs")
    }

    func testInitRefusesABadHTTPAddress() throws {
        fed.ports["brussels"] = fed.freePortPair()
        let r = fed.cli(["init", fed.dataDir("brussels"), "--id", "brussels", "--organisation", "x", "--hub",
                         "--listen", fed.endpoint("brussels"), "--http-listen", "localhost:80"])
        XCTAssertEqual(r.status, 64)
        XCTAssertTrue(r.stderr.contains("http_listen"), r.stderr)
        let off = fed.cli(["init", fed.dataDir("brussels"), "--id", "brussels", "--organisation", "x", "--hub",
                           "--listen", fed.endpoint("brussels"), "--http-listen", "off"])
        XCTAssertEqual(off.status, 0, off.stderr)
        try fed.start("brussels")
        let login = fed.on("brussels", "web-login")
        XCTAssertEqual(login.status, 1, "no web page, no link")
        XCTAssertTrue(login.stderr.contains("http_listen"), login.stderr)
    }

    /// The browser test. It installs Chromium, chromium-driver and Selenium when they are
    /// missing (scripts/install-web-test-deps.sh) and fails if that is impossible.
    func testInARealBrowser() throws {
        let install = CommandRunner.run("/bin/bash", [Self.repoRoot + "/scripts/install-web-test-deps.sh"], timeout: 900, scratchDir: fed.root)
        guard install.status == 0, let python = install.stdout.split(separator: "\n").last.map(String.init), !python.isEmpty else {
            return XCTFail("the browser test needs chromium, chromium-driver and selenium, and installing them failed:\n\(install.stderr)")
        }
        var args = [Self.repoRoot + "/Tests/Browser/web_e2e.py", "--bin-dir", fed.binDir, "--timeout", "360"]
        if let shots = ProcessInfo.processInfo.environment["MEMBERSYNC_WEB_SCREENSHOTS"] { args += ["--screenshots", shots] }
        let run = CommandRunner.run(python, args, timeout: 420, scratchDir: fed.root)
        print(run.stdout)
        if !run.stderr.isEmpty { print(run.stderr) }
        XCTAssertEqual(run.status, 0, "the browser test failed:\n\(run.stdout)\n\(run.stderr)")
        XCTAssertTrue(run.stdout.contains(" passed, 0 failed"), run.stdout)
    }
}
