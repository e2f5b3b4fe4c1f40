import XCTest
import ZeroMQ

final class ZeroMQTests: XCTestCase {
    func recv(_ s: ZMQSocket, timeout: Int = 2000) throws -> [[UInt8]]? {
        var poller = Poller()
        poller.add(.socket(s))
        guard try poller.poll(timeoutMilliseconds: timeout) == [0] else { return nil }
        return try s.receive(dontWait: true)
    }

    func pubSub(endpoint: String) throws {
        let ctx = try ZMQContext()
        let pub = try ZMQSocket(ctx, .pub)
        try pub.bind(endpoint)
        let sub = try ZMQSocket(ctx, .sub)
        try sub.subscribe(Array("MSP".utf8))
        try sub.connect(pub.lastEndpoint)
        // Slow joiner: publish until the subscription has arrived.
        var got: [[UInt8]]?
        for _ in 0..<50 where got == nil {
            try pub.send([Array("MSP/1".utf8), [1, 2, 3]])
            try pub.send([Array("other".utf8)])
            got = try recv(sub, timeout: 100)
        }
        XCTAssertEqual(got, [Array("MSP/1".utf8), [1, 2, 3]], "filtered multipart message arrives intact")
    }

    func testPubSubInproc() throws { try pubSub(endpoint: "inproc://pubsub-test") }
    func testPubSubTCP() throws { try pubSub(endpoint: "tcp://127.0.0.1:*") }

    func testRouterDealerMultipartRoundTrip() throws {
        for endpoint in ["inproc://rd-test", "tcp://127.0.0.1:*"] {
            let ctx = try ZMQContext()
            let router = try ZMQSocket(ctx, .router)
            try router.setRouterMandatory(true)
            try router.bind(endpoint)
            let dealer = try ZMQSocket(ctx, .dealer)
            try dealer.setIdentity(Array("asker".utf8))
            try dealer.connect(router.lastEndpoint)
            let big = [UInt8](repeating: 7, count: 100_000)
            try dealer.send([Array("MSP/1".utf8), [], big])
            let got = try XCTUnwrap(try recv(router))
            XCTAssertEqual(got.count, 4)
            XCTAssertEqual(got[0], Array("asker".utf8), "ROUTER prefixes the peer identity")
            XCTAssertEqual(got[2], [], "empty frames survive")
            XCTAssertEqual(got[3], big)
            try router.send([got[0], Array("reply".utf8)])
            XCTAssertEqual(try recv(dealer), [Array("reply".utf8)])
            // ROUTER_MANDATORY: a send to an unknown peer errors instead of vanishing.
            XCTAssertThrowsError(try router.send([Array("nobody".utf8), [1]])) { error in
                XCTAssertTrue((error as? ZMQError)?.isHostUnreachable ?? false, "\(error)")
            }
        }
    }

    func testPollTimesOutWithNothingToRead() throws {
        let ctx = try ZMQContext()
        let pull = try ZMQSocket(ctx, .pull)
        try pull.bind("inproc://quiet")
        var poller = Poller()
        poller.add(.socket(pull))
        let start = DispatchTime.now()
        XCTAssertEqual(try poller.poll(timeoutMilliseconds: 50), [])
        let elapsedMs = Double(DispatchTime.now().uptimeNanoseconds - start.uptimeNanoseconds) / 1e6
        XCTAssertGreaterThanOrEqual(elapsedMs, 45)
        XCTAssertNil(try pull.receive(dontWait: true))
    }

    func testCurveEncryptedPair() throws {
        XCTAssertTrue(zmqHas("curve"))
        let server = try CurveKeyPair.generate(), client = try CurveKeyPair.generate()
        XCTAssertEqual(server.publicKey.count, 40)
        XCTAssertEqual(CurveKeyPair.publicKey(forSecret: server.secretKey), server.publicKey)
        XCTAssertNil(CurveKeyPair.publicKey(forSecret: "short"))
        let ctx = try ZMQContext()
        let router = try ZMQSocket(ctx, .router)
        try router.makeCurveServer(secretKey: server.secretKey)
        try router.bind("tcp://127.0.0.1:*")
        let dealer = try ZMQSocket(ctx, .dealer)
        try dealer.makeCurveClient(serverKey: server.publicKey, publicKey: client.publicKey, secretKey: client.secretKey)
        try dealer.connect(router.lastEndpoint)
        try dealer.send([Array("secret hello".utf8)])
        let got = try XCTUnwrap(try recv(router))
        XCTAssertEqual(got.last, Array("secret hello".utf8))

        // A client that expects another server key never completes the handshake.
        let wrong = try ZMQSocket(ctx, .dealer)
        let other = try CurveKeyPair.generate()
        try wrong.makeCurveClient(serverKey: other.publicKey, publicKey: client.publicKey, secretKey: client.secretKey)
        try wrong.setImmediate(true)
        try wrong.connect(router.lastEndpoint)
        _ = try wrong.send([Array("nope".utf8)], dontWait: true)
        XCTAssertNil(try recv(router, timeout: 300))
    }

    /// Waits for the first handshake event on a monitor, meanwhile answering ZAP requests
    /// (on the same thread: sockets stay on one thread) by admitting only `admitted`.
    func handshakeEvent(_ monitor: ZMQSocket, zap: ZMQSocket, admitted: String) throws -> SocketEvent? {
        let deadline = Date().addingTimeInterval(5)
        while Date() < deadline {
            // version, request id, domain, address, identity, mechanism, client key
            if let req = try zap.receive(dontWait: true) {
                let ok = req.count > 6 && CurveKeyPair.z85(req[6]) == admitted
                _ = try zap.send([req[0], req[1], Array((ok ? "200" : "400").utf8), Array((ok ? "OK" : "refused").utf8), [], []])
            }
            guard let frames = try recv(monitor, timeout: 20), let e = SocketEvent(frames: frames) else { continue }
            if e.isHandshakeFailure || e.kind == .handshakeSucceeded { return e }
        }
        return nil
    }

    /// The monitor tells why a CURVE link never comes up: on the client, a wrong server key
    /// is a cryptographic failure and a key the server's ZAP handler refuses is an auth
    /// failure; a good handshake says so too.
    /// Contexts a failed run of the test below leaves behind: their I/O thread is stuck, so
    /// terminating them would hang the test instead of failing it.
    nonisolated(unsafe) static var stuckContexts: [ZMQContext] = []

    /// The chaos run's frozen node: it closed a monitored DEALER's event reader before the
    /// DEALER, the DEALER's failing CURVE handshake then reported to nobody, and libzmq's one
    /// I/O thread waited on that send for good, stopping every other socket of the process.
    /// Here the DEALER stays open and keeps failing its handshake (wrong server key, a retry
    /// every 100 ms), which makes the wait certain instead of a race with its closing.
    func testAStoppedMonitorLeavesTheContextWorkingWhileItsSocketKeepsFailing() throws {
        let ctx = try ZMQContext()
        let router = try ZMQSocket(ctx, .router)
        try router.makeCurveServer(secretKey: try CurveKeyPair.generate().secretKey)
        try router.bind("tcp://127.0.0.1:*")
        let client = try CurveKeyPair.generate()
        let dealer = try ZMQSocket(ctx, .dealer)
        try dealer.makeCurveClient(serverKey: try CurveKeyPair.generate().publicKey, publicKey: client.publicKey, secretKey: client.secretKey)
        let monitor = try dealer.monitor(ctx, name: "failing")
        try dealer.connect(router.lastEndpoint)
        XCTAssertNotNil(try recv(monitor), "the failing handshake is reported")
        dealer.stopMonitor()
        monitor.close()
        usleep(600_000)  // several more failed handshakes, reported to no one
        let pull = try ZMQSocket(ctx, .pull)
        try pull.bind("tcp://127.0.0.1:*")
        let push = try ZMQSocket(ctx, .push)
        try push.connect(pull.lastEndpoint)
        try push.send([Array("still here".utf8)])
        let got = try recv(pull, timeout: 3000)
        if got == nil { Self.stuckContexts.append(ctx) }
        XCTAssertEqual(got, [Array("still here".utf8)], "the context's I/O thread still moves messages")
        push.close(); pull.close(); router.close()
        // The one call a node makes when it drops a link does the same, in that order.
        let again = try ZMQSocket(ctx, .dealer)
        try again.makeCurveClient(serverKey: try CurveKeyPair.generate().publicKey, publicKey: client.publicKey, secretKey: client.secretKey)
        again.close(monitor: try again.monitor(ctx, name: "closed"))
    }

    func testTheMonitorSaysWhyAHandshakeFailed() throws {
        let server = try CurveKeyPair.generate(), client = try CurveKeyPair.generate()
        let ctx = try ZMQContext()
        // A ZAP handler that admits only `client`.
        let zap = try ZMQSocket(ctx, .rep)
        try zap.bind("inproc://zeromq.zap.01")
        let router = try ZMQSocket(ctx, .router)
        try router.makeCurveServer(secretKey: server.secretKey)
        try router.setZAPDomain("test")
        try router.bind("tcp://127.0.0.1:*")

        func attempt(serverKey: String, as pair: CurveKeyPair, _ name: String) throws -> SocketEvent? {
            let dealer = try ZMQSocket(ctx, .dealer)
            try dealer.makeCurveClient(serverKey: serverKey, publicKey: pair.publicKey, secretKey: pair.secretKey)
            let monitor = try dealer.monitor(ctx, name: name)
            try dealer.connect(router.lastEndpoint)
            defer { dealer.close(monitor: monitor) }
            return try handshakeEvent(monitor, zap: zap, admitted: client.publicKey)
        }
        let good = try XCTUnwrap(try attempt(serverKey: server.publicKey, as: client, "good"))
        XCTAssertEqual(good.kind, .handshakeSucceeded)
        let wrongKey = try XCTUnwrap(try attempt(serverKey: try CurveKeyPair.generate().publicKey, as: client, "wrong-key"))
        XCTAssertTrue(wrongKey.isHandshakeFailure, "\(wrongKey)")
        XCTAssertTrue(wrongKey.description.contains(router.lastEndpoint), wrongKey.description)
        let stranger = try XCTUnwrap(try attempt(serverKey: server.publicKey, as: try CurveKeyPair.generate(), "stranger"))
        XCTAssertEqual(stranger.kind, .handshakeFailedAuth(status: 400), "\(stranger)")
        XCTAssertTrue(stranger.description.contains("not admitted"), stranger.description)
    }
}
