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
}
