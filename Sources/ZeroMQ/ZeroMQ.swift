import CZeroMQ

#if canImport(Glibc)
import Glibc
#endif

/// A libzmq failure, carrying the errno so callers can tell "try again" from real faults.
public struct ZMQError: Error, CustomStringConvertible, Sendable, Equatable {
    public let code: Int32
    public let operation: String

    public init(code: Int32, operation: String) {
        self.code = code
        self.operation = operation
    }

    static func last(_ operation: String) -> ZMQError {
        ZMQError(code: zmq_errno(), operation: operation)
    }

    /// True when a non-blocking call found nothing to do (EAGAIN).
    public var isWouldBlock: Bool { code == EAGAIN }
    /// True when the call was interrupted by a signal.
    public var isInterrupted: Bool { code == EINTR }
    /// True when the context is being terminated.
    public var isTerminated: Bool { code == ETERM }
    /// True when a ROUTER with ROUTER_MANDATORY had no route to the peer.
    public var isHostUnreachable: Bool { code == EHOSTUNREACH }

    public var description: String {
        "\(operation): \(String(cString: zmq_strerror(code))) (errno \(code))"
    }
}

/// Reports whether the linked libzmq supports a capability such as "curve" or "ipc".
public func zmqHas(_ capability: String) -> Bool {
    zmq_has(capability) != 0
}

/// The libzmq version, e.g. (4, 3, 4).
public func zmqVersion() -> (major: Int32, minor: Int32, patch: Int32) {
    var major: Int32 = 0, minor: Int32 = 0, patch: Int32 = 0
    zmq_version(&major, &minor, &patch)
    return (major, minor, patch)
}

/// Owns one libzmq context. Sockets keep their context alive; terminating waits for sockets,
/// which is why every socket created here gets a bounded linger.
///
/// `@unchecked Sendable`: libzmq documents contexts as thread safe; only sockets are not.
public final class ZMQContext: @unchecked Sendable {
    let handle: UnsafeMutableRawPointer

    public init() throws {
        guard let h = zmq_ctx_new() else { throw ZMQError.last("zmq_ctx_new") }
        handle = h
    }

    deinit {
        while zmq_ctx_term(handle) != 0 && zmq_errno() == EINTR {}
    }
}

/// Socket kinds used by MemberSync (and a few more for completeness).
public enum SocketType: Int32, Sendable {
    case pair, pub, sub, req, rep, dealer, router, pull, push, xpub, xsub
    var raw: Int32 {
        switch self {
        case .pair: return ZMQ_PAIR
        case .pub: return ZMQ_PUB
        case .sub: return ZMQ_SUB
        case .req: return ZMQ_REQ
        case .rep: return ZMQ_REP
        case .dealer: return ZMQ_DEALER
        case .router: return ZMQ_ROUTER
        case .pull: return ZMQ_PULL
        case .push: return ZMQ_PUSH
        case .xpub: return ZMQ_XPUB
        case .xsub: return ZMQ_XSUB
        }
    }
}

/// One libzmq socket. Not thread safe (libzmq sockets are not): a socket must be used by one
/// thread at a time, which in MemberSync is the node's reactor thread.
public final class ZMQSocket {
    public private(set) var handle: UnsafeMutableRawPointer?
    public let type: SocketType
    private let context: ZMQContext

    /// Linger applied to every new socket so that closing or terminating the context can
    /// never hang on undelivered messages.
    public static let defaultLingerMilliseconds: Int32 = 200

    public init(_ context: ZMQContext, _ type: SocketType) throws {
        guard let h = zmq_socket(context.handle, type.raw) else { throw ZMQError.last("zmq_socket") }
        self.handle = h
        self.type = type
        self.context = context
        try setOption(ZMQ_LINGER, Self.defaultLingerMilliseconds)
    }

    deinit { close() }

    /// Closes the socket now; later calls fail with ENOTSOCK. Safe to call twice.
    public func close() {
        if let h = handle {
            zmq_close(h)
            handle = nil
        }
    }

    func liveHandle(_ op: String) throws -> UnsafeMutableRawPointer { try live(op) }

    private func live(_ op: String) throws -> UnsafeMutableRawPointer {
        guard let h = handle else { throw ZMQError(code: ENOTSOCK, operation: op) }
        return h
    }

    public func bind(_ endpoint: String) throws {
        if zmq_bind(try live("zmq_bind"), endpoint) != 0 { throw ZMQError.last("zmq_bind \(endpoint)") }
    }

    public func connect(_ endpoint: String) throws {
        if zmq_connect(try live("zmq_connect"), endpoint) != 0 { throw ZMQError.last("zmq_connect \(endpoint)") }
    }

    public func disconnect(_ endpoint: String) throws {
        if zmq_disconnect(try live("zmq_disconnect"), endpoint) != 0 { throw ZMQError.last("zmq_disconnect \(endpoint)") }
    }

    public func unbind(_ endpoint: String) throws {
        if zmq_unbind(try live("zmq_unbind"), endpoint) != 0 { throw ZMQError.last("zmq_unbind \(endpoint)") }
    }

    // MARK: options

    public func setOption(_ option: Int32, _ value: Int32) throws {
        var v = value
        if zmq_setsockopt(try live("zmq_setsockopt"), option, &v, MemoryLayout<Int32>.size) != 0 {
            throw ZMQError.last("zmq_setsockopt \(option)")
        }
    }

    public func setOption(_ option: Int32, _ value: Int64) throws {
        var v = value
        if zmq_setsockopt(try live("zmq_setsockopt"), option, &v, MemoryLayout<Int64>.size) != 0 {
            throw ZMQError.last("zmq_setsockopt \(option)")
        }
    }

    public func setOption(_ option: Int32, bytes: [UInt8]) throws {
        let h = try live("zmq_setsockopt")
        let rc = bytes.withUnsafeBytes { zmq_setsockopt(h, option, $0.baseAddress, bytes.count) }
        if rc != 0 { throw ZMQError.last("zmq_setsockopt \(option)") }
    }

    public func setOption(_ option: Int32, string: String) throws {
        try setOption(option, bytes: Array(string.utf8))
    }

    public func getInt32Option(_ option: Int32) throws -> Int32 {
        var v: Int32 = 0
        var size = MemoryLayout<Int32>.size
        if zmq_getsockopt(try live("zmq_getsockopt"), option, &v, &size) != 0 { throw ZMQError.last("zmq_getsockopt \(option)") }
        return v
    }

    public func getStringOption(_ option: Int32) throws -> String {
        var buffer = [CChar](repeating: 0, count: 512)
        var size = buffer.count
        if zmq_getsockopt(try live("zmq_getsockopt"), option, &buffer, &size) != 0 { throw ZMQError.last("zmq_getsockopt \(option)") }
        return String(decoding: buffer.prefix(while: { $0 != 0 }).map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }

    /// The endpoint actually bound, useful after binding to `tcp://127.0.0.1:*`.
    public var lastEndpoint: String { (try? getStringOption(ZMQ_LAST_ENDPOINT)) ?? "" }

    public func setLinger(milliseconds: Int32) throws { try setOption(ZMQ_LINGER, milliseconds) }
    public func setReceiveTimeout(milliseconds: Int32) throws { try setOption(ZMQ_RCVTIMEO, milliseconds) }
    public func setSendTimeout(milliseconds: Int32) throws { try setOption(ZMQ_SNDTIMEO, milliseconds) }
    public func setSendHighWaterMark(_ n: Int32) throws { try setOption(ZMQ_SNDHWM, n) }
    public func setReceiveHighWaterMark(_ n: Int32) throws { try setOption(ZMQ_RCVHWM, n) }
    /// Bounds what a peer can make us allocate: larger messages drop the connection.
    public func setMaxMessageSize(_ bytes: Int64) throws { try setOption(ZMQ_MAXMSGSIZE, bytes) }
    public func setIdentity(_ identity: [UInt8]) throws { try setOption(ZMQ_ROUTING_ID, bytes: identity) }
    /// Queue messages only to completed connections, so a send to an absent peer fails fast.
    public func setImmediate(_ on: Bool) throws { try setOption(ZMQ_IMMEDIATE, Int32(on ? 1 : 0)) }
    public func setRouterMandatory(_ on: Bool) throws { try setOption(ZMQ_ROUTER_MANDATORY, Int32(on ? 1 : 0)) }
    public func subscribe(_ prefix: [UInt8] = []) throws { try setOption(ZMQ_SUBSCRIBE, bytes: prefix) }
    public func setReconnectInterval(milliseconds: Int32, max: Int32) throws {
        try setOption(ZMQ_RECONNECT_IVL, milliseconds)
        try setOption(ZMQ_RECONNECT_IVL_MAX, max)
    }
    /// ZMTP heartbeats so a dead TCP peer is noticed even when no traffic flows.
    public func setHeartbeat(intervalMilliseconds: Int32, timeoutMilliseconds: Int32) throws {
        try setOption(ZMQ_HEARTBEAT_IVL, intervalMilliseconds)
        try setOption(ZMQ_HEARTBEAT_TIMEOUT, timeoutMilliseconds)
    }

    // MARK: CURVE

    /// Makes this socket a CURVE server holding `secretKey` (Z85, 40 characters).
    public func makeCurveServer(secretKey: String) throws {
        try setOption(ZMQ_CURVE_SERVER, Int32(1))
        try setOption(ZMQ_CURVE_SECRETKEY, string: secretKey)
    }

    /// Makes this socket a CURVE client that only talks to a server with `serverKey`.
    public func makeCurveClient(serverKey: String, publicKey: String, secretKey: String) throws {
        try setOption(ZMQ_CURVE_SERVERKEY, string: serverKey)
        try setOption(ZMQ_CURVE_PUBLICKEY, string: publicKey)
        try setOption(ZMQ_CURVE_SECRETKEY, string: secretKey)
    }

    /// ZAP domain; a server with a domain set consults the ZAP handler for every connection.
    public func setZAPDomain(_ domain: String) throws { try setOption(ZMQ_ZAP_DOMAIN, string: domain) }

    // MARK: messages

    /// Sends a multipart message. With `dontWait`, returns false instead of blocking when the
    /// message cannot be queued now.
    @discardableResult
    public func send(_ frames: [[UInt8]], dontWait: Bool = false) throws -> Bool {
        let h = try live("zmq_send")
        let parts = frames.isEmpty ? [[]] : frames
        for (i, frame) in parts.enumerated() {
            var flags: Int32 = dontWait ? ZMQ_DONTWAIT : 0
            if i < parts.count - 1 { flags |= ZMQ_SNDMORE }
            while true {
                let rc = frame.withUnsafeBytes { zmq_send(h, $0.baseAddress, frame.count, flags) }
                if rc >= 0 { break }
                let err = ZMQError.last("zmq_send")
                if err.isInterrupted { continue }
                if err.isWouldBlock && i == 0 { return false }
                throw err
            }
        }
        return true
    }

    public func send(_ frame: [UInt8], dontWait: Bool = false) throws -> Bool {
        try send([frame], dontWait: dontWait)
    }

    /// Receives one whole multipart message, or nil when `dontWait` and nothing is queued
    /// (or the receive timeout expired).
    public func receive(dontWait: Bool = false) throws -> [[UInt8]]? {
        try receive(dontWait: dontWait, property: nil)?.frames
    }

    /// Like `receive`, also returning a metadata property of the message (`zmq_msg_gets`),
    /// e.g. "User-Id", the user id the ZAP handler gave the sender's connection.
    public func receive(dontWait: Bool = false, property: String?) throws -> (frames: [[UInt8]], property: String?)? {
        var value: String?
        let h = try live("zmq_msg_recv")
        var frames: [[UInt8]] = []
        var msg = zmq_msg_t()
        zmq_msg_init(&msg)
        defer { zmq_msg_close(&msg) }
        while true {
            let flags: Int32 = (dontWait && frames.isEmpty) ? ZMQ_DONTWAIT : 0
            let rc = zmq_msg_recv(&msg, h, flags)
            if rc < 0 {
                let err = ZMQError.last("zmq_msg_recv")
                if err.isInterrupted { continue }
                if err.isWouldBlock && frames.isEmpty { return nil }
                throw err
            }
            let size = zmq_msg_size(&msg)
            // Metadata rides on the frames the peer sent (a ROUTER's routing-id frame has none).
            if value == nil, let property, let p = zmq_msg_gets(&msg, property) { value = String(cString: p) }
            if size > 0, let data = zmq_msg_data(&msg) {
                frames.append(Array(UnsafeRawBufferPointer(start: data, count: size)))
            } else {
                frames.append([])
            }
            if zmq_msg_more(&msg) == 0 { return (frames, value) }
        }
    }
}

/// A CURVE key pair in Z85 text (40 characters each), as libzmq expects in socket options.
public struct CurveKeyPair: Sendable, Equatable, Codable {
    public let publicKey: String
    public let secretKey: String

    public init(publicKey: String, secretKey: String) {
        self.publicKey = publicKey
        self.secretKey = secretKey
    }

    /// Generates a fresh key pair (libzmq must be built with libsodium: `zmqHas("curve")`).
    public static func generate() throws -> CurveKeyPair {
        var pub = [CChar](repeating: 0, count: 41)
        var sec = [CChar](repeating: 0, count: 41)
        if zmq_curve_keypair(&pub, &sec) != 0 { throw ZMQError.last("zmq_curve_keypair") }
        func str(_ a: [CChar]) -> String {
            String(decoding: a.prefix(40).map { UInt8(bitPattern: $0) }, as: UTF8.self)
        }
        return CurveKeyPair(publicKey: str(pub), secretKey: str(sec))
    }

    /// Z85 text of a binary key (32 bytes), e.g. the CURVE key a ZAP request carries.
    public static func z85(_ binary: [UInt8]) -> String? {
        guard binary.count == 32 else { return nil }
        var out = [CChar](repeating: 0, count: 41)
        guard zmq_z85_encode(&out, binary, 32) != nil else { return nil }
        return String(decoding: out.prefix(40).map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }

    /// Derives the public key from a Z85 secret key; nil when the text is not a valid key.
    public static func publicKey(forSecret secret: String) -> String? {
        guard secret.utf8.count == 40 else { return nil }
        var pub = [CChar](repeating: 0, count: 41)
        let rc = secret.withCString { zmq_curve_public(&pub, $0) }
        guard rc == 0 else { return nil }
        return String(decoding: pub.prefix(40).map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }
}
