import Foundation
import Logging
import MemberSyncConfig
import MemberSyncHarness
import MemberSyncNode
import NIOCore
@testable import MemberSyncServices
import ServiceLifecycle
import XCTest

#if canImport(Glibc)
import Glibc
#endif

/// The metrics listener answers what it should and survives what it should not get. It runs
/// as a service of a ServiceGroup on its own event loop, as in the daemon; clients are plain
/// blocking sockets on 127.0.0.1.
final class MetricsHTTPServiceTests: XCTestCase {
    var telemetry: NodeTelemetry!
    var service: MetricsHTTPService!
    var group: ServiceGroup!
    var running: Task<Void, Error>!
    var port = 0

    override func setUp() {
        telemetry = NodeTelemetry()
    }

    override func tearDown() {
        guard let group, let running else { return }
        let stopped = DispatchSemaphore(value: 0)
        Task {
            await group.triggerGracefulShutdown()
            _ = await running.result
            stopped.signal()
        }
        XCTAssertEqual(stopped.wait(timeout: .now() + 5), .success, "the listener stops promptly")
    }

    static func respond(_ path: String) -> MetricsHTTPService.Answer {
        switch path {
        case "/metrics": return .init(status: 200, contentType: PrometheusText.contentType, body: "membersync_records 3\n")
        case "/health": return .init(status: 503, body: "degraded: no hub reachable\n")
        default: return .init(status: 404, body: "not found\n")
        }
    }

    /// Starts the listener on a free port and waits until it accepts connections.
    func start(answers: @escaping MetricsHTTPService.Answers = MetricsHTTPServiceTests.respond, idleTimeout: TimeAmount = .seconds(5)) throws {
        let listening = DispatchSemaphore(value: 0)
        let bound = BoundPort()
        service = MetricsHTTPService(address: ListenAddress(host: "127.0.0.1", port: 0), answers: answers, factory: telemetry.factory,
                                     logger: Logger(label: "metrics-test"), idleTimeout: idleTimeout,
                                     onListening: { address in bound.set(address.port); listening.signal() })
        group = ServiceGroup(configuration: .init(services: [service], logger: Logger(label: "metrics-test")))
        let group = self.group!
        running = Task { try await group.run() }
        XCTAssertEqual(listening.wait(timeout: .now() + 10), .success, "listening within 10 s")
        port = bound.port
        XCTAssertNotEqual(port, 0, "the real port of an ephemeral bind")
    }

    /// Sends `request` (then half-closes if asked) and returns everything the server sent
    /// until it closed the connection.
    func exchange(_ request: [UInt8], halfClose: Bool = false) -> String {
        let fd = connectTo(port: port)
        defer { close(fd) }
        _ = request.withUnsafeBytes { send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
        if halfClose { shutdown(fd, Int32(SHUT_WR)) }
        return readAll(fd)
    }

    func get(_ path: String, method: String = "GET") -> String {
        exchange(Array("\(method) \(path) HTTP/1.1\r\nHost: localhost\r\nUser-Agent: test\r\n\r\n".utf8))
    }

    func waitFor(_ seconds: Double, _ done: () -> Bool) -> Bool {
        let deadline = Date().addingTimeInterval(seconds)
        while !done() && Date() < deadline { usleep(10_000) }
        return done()
    }

    func testMetricsAndHealthAnswer() throws {
        try start()
        let metrics = get("/metrics")
        XCTAssertTrue(metrics.hasPrefix("HTTP/1.1 200 OK\r\n"), metrics)
        XCTAssertTrue(metrics.contains("Content-Type: text/plain; version=0.0.4"), metrics)
        XCTAssertTrue(metrics.contains("Content-Length: 21\r\n"), metrics)
        XCTAssertTrue(metrics.contains("Connection: close\r\n") && metrics.contains("Cache-Control: no-store\r\n"), metrics)
        XCTAssertTrue(metrics.hasSuffix("\r\n\r\nmembersync_records 3\n"), metrics)
        XCTAssertTrue(get("/metrics?name=x").hasPrefix("HTTP/1.1 200"), "query strings are ignored")
        XCTAssertTrue(get("/health").hasPrefix("HTTP/1.1 503 Service Unavailable"))
        let head = get("/metrics", method: "HEAD")
        XCTAssertTrue(head.hasPrefix("HTTP/1.1 200") && head.contains("Content-Length: 21") && head.hasSuffix("\r\n\r\n"), head)
        let counted = telemetry.exposition()
        XCTAssertTrue(counted.contains("membersync_http_responses_total{code=\"200\"} 3\n"), counted)
        XCTAssertTrue(counted.contains("membersync_http_responses_total{code=\"503\"} 1\n"), counted)
    }

    func testANodesTelemetryIsServed() throws {
        try start(answers: MetricsHTTPService.answers(telemetry))
        let health = get("/health")
        XCTAssertTrue(health.hasPrefix("HTTP/1.1 503") && health.hasSuffix("\r\n\r\ndegraded: starting\n"), "nothing published yet: \(health)")
        XCTAssertTrue(get("/metrics").contains("# TYPE membersync_http_responses_total counter\n"))
        XCTAssertTrue(get("/nothing").hasSuffix("not found: try /metrics or /health\n"))
    }

    func testUnknownPathsAndMethods() throws {
        try start()
        XCTAssertTrue(get("/").hasPrefix("HTTP/1.1 404"))
        XCTAssertTrue(get("/metrics/../etc/passwd").hasPrefix("HTTP/1.1 404"))
        let post = get("/metrics", method: "POST")
        XCTAssertTrue(post.hasPrefix("HTTP/1.1 405") && post.contains("Allow: GET, HEAD"), post)
    }

    func testGarbageGetsBadRequestAndTheServerGoesOn() throws {
        try start(idleTimeout: .seconds(1))
        // Blank lines before a request line are allowed (RFC 9112, section 2.2): the parser
        // waits for the request, and the idle timeout closes the connection, unanswered.
        XCTAssertEqual(exchange(Array("\r\n\r\n".utf8)), "")
        for junk in ["GET\r\n\r\n", "GET /metrics\r\n\r\n", "GET metrics HTTP/1.1\r\n\r\n", "get /metrics HTTP/1.1\r\n\r\n",
                     "GET /metrics SPDY/3\r\n\r\n", "\u{0}\u{1}\u{2}\n\n"] {
            let answer = exchange(Array(junk.utf8))
            XCTAssertTrue(answer.hasPrefix("HTTP/1.1 400"), junk.debugDescription + ": " + answer)
        }
        var binary = (0..<3000).map { _ in UInt8.random(in: 0...255) }
        binary += Array("\r\n\r\n".utf8)
        XCTAssertTrue(exchange(binary).hasPrefix("HTTP/1.1 4"))
        XCTAssertTrue(get("/metrics").hasPrefix("HTTP/1.1 200"), "still serving")
    }

    func testOversizedRequestIsRefused() throws {
        try start()
        let huge = Array("GET /metrics HTTP/1.1\r\nX-Filler: \(String(repeating: "a", count: 20_000))\r\n\r\n".utf8)
        let answer = exchange(huge)
        XCTAssertTrue(answer.hasPrefix("HTTP/1.1 431"), answer)
        XCTAssertTrue(waitFor(2) { self.service.connections.current == 0 }, "the connection is closed")
    }

    func testClientsThatLeaveEarlyOrStallCostNothing() throws {
        try start(idleTimeout: .milliseconds(500))
        // Closes before sending a full request.
        XCTAssertEqual(exchange(Array("GET /met".utf8), halfClose: true), "")
        XCTAssertTrue(waitFor(2) { self.service.connections.current == 0 })
        // Connects and says nothing: dropped after the idle timeout.
        let fd = connectTo(port: port)
        defer { close(fd) }
        XCTAssertTrue(waitFor(2) { self.service.connections.current == 1 })
        XCTAssertEqual(readAll(fd), "", "closed without an answer")
        // The count drops on the event loop right after the close the client just saw.
        XCTAssertTrue(waitFor(2) { self.service.connections.current == 0 })
        XCTAssertTrue(get("/metrics").hasPrefix("HTTP/1.1 200"))
    }

    func testConnectionLimitStopsAccepting() throws {
        try start(idleTimeout: .seconds(2))
        var fds: [Int32] = []
        for _ in 0..<MetricsHTTPService.maxConnections { fds.append(connectTo(port: port)) }
        XCTAssertTrue(waitFor(3) { self.service.connections.current >= MetricsHTTPService.maxConnections })
        // One more is not accepted while the stalled clients hold every slot: its request
        // waits in the kernel's backlog (the listener is not read, so it cannot spin).
        let late = connectTo(port: port)
        defer { close(late) }
        _ = Array("GET /metrics HTTP/1.1\r\n\r\n".utf8).withUnsafeBytes { send(late, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
        usleep(300_000)
        XCTAssertEqual(service.connections.current, MetricsHTTPService.maxConnections, "no more than the limit")
        // The stalled clients time out; then the waiting request is served.
        XCTAssertTrue(readAll(late).hasPrefix("HTTP/1.1 200"), "serves again once stalled clients are gone")
        fds.forEach { close($0) }
        XCTAssertTrue(get("/metrics").hasPrefix("HTTP/1.1 200"))
    }

    func testLargeAnswerIsWrittenInPieces() throws {
        let big = String(repeating: "membersync_padding 1\n", count: 800_000) // 16 MB: more than loopback buffers hold
        try start(answers: { _ in .init(status: 200, body: big) })
        let fd = connectTo(port: port)
        defer { close(fd) }
        _ = Array("GET /metrics HTTP/1.1\r\n\r\n".utf8).withUnsafeBytes { send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
        usleep(200_000) // let the server fill the socket buffer and wait for writability
        XCTAssertEqual(readAll(fd).hasSuffix(big), true)
    }

    func testAnAddressInUseIsAnError() throws {
        try start()
        let second = MetricsHTTPService(address: ListenAddress(host: "127.0.0.1", port: port), answers: Self.respond,
                                        factory: telemetry.factory, logger: Logger(label: "metrics-test"))
        let outcome = DispatchSemaphore(value: 0)
        let message = BoundText()
        Task {
            do { try await second.run() } catch { message.set("\(error)") }
            outcome.signal()
        }
        XCTAssertEqual(outcome.wait(timeout: .now() + 10), .success)
        XCTAssertTrue(message.text.hasPrefix("metrics_listen 127.0.0.1:\(port): cannot listen"), message.text)
    }
}

fileprivate final class BoundPort: @unchecked Sendable {
    private let lock = NSLock()
    private var value = 0
    var port: Int { lock.lock(); defer { lock.unlock() }; return value }
    func set(_ p: Int) { lock.lock(); value = p; lock.unlock() }
}

fileprivate final class BoundText: @unchecked Sendable {
    private let lock = NSLock()
    private var value = ""
    var text: String { lock.lock(); defer { lock.unlock() }; return value }
    func set(_ s: String) { lock.lock(); value = s; lock.unlock() }
}

fileprivate func connectTo(port: Int) -> Int32 { LoopbackPorts.connect(port, timeoutSeconds: 10) }

fileprivate func readAll(_ fd: Int32) -> String { LoopbackPorts.readToEnd(fd) }
