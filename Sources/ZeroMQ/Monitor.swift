import CZeroMQ

/// What `zmq_socket_monitor` reported about one connection of a socket. libzmq says nothing
/// else when a CURVE handshake fails (a wrong server key, a client the ZAP handler refused),
/// so this is how a node learns, and logs, why a link never comes up.
public struct SocketEvent: Sendable, Equatable, CustomStringConvertible {
    public enum Kind: Sendable, Equatable {
        case connected
        case disconnected
        case handshakeSucceeded
        /// The handshake failed without detail (for example the peer closed it).
        case handshakeFailed
        /// The handshake failed in the protocol; `code` is a `ZMQ_PROTOCOL_ERROR_*` value.
        case handshakeFailedProtocol(code: UInt32)
        /// The peer's ZAP handler refused us; `status` is its status code (400 for refused).
        case handshakeFailedAuth(status: UInt32)
        case other(event: UInt16, value: UInt32)
    }

    public let kind: Kind
    /// The endpoint of the connection (`tcp://host:port`).
    public let endpoint: String

    /// The protocol error of a CURVE handshake whose boxes do not open (a wrong key).
    public static let cryptographicProtocolError = UInt32(ZMQ_PROTOCOL_ERROR_ZMTP_CRYPTOGRAPHIC)

    public var isHandshakeFailure: Bool {
        switch kind {
        case .handshakeFailed, .handshakeFailedProtocol, .handshakeFailedAuth: return true
        default: return false
        }
    }

    /// A sentence for the operator's log.
    public var description: String {
        switch kind {
        case .connected: return "connected to \(endpoint)"
        case .disconnected: return "disconnected from \(endpoint)"
        case .handshakeSucceeded: return "handshake with \(endpoint) succeeded"
        case .handshakeFailed: return "handshake with \(endpoint) failed (the other side closed it)"
        case .handshakeFailedAuth(let status):
            return "handshake with \(endpoint) refused by the other side's admission (ZAP status \(status)): this node's key is not admitted there"
        case .handshakeFailedProtocol(let code):
            if code == UInt32(ZMQ_PROTOCOL_ERROR_ZMTP_CRYPTOGRAPHIC) {
                return "CURVE handshake with \(endpoint) failed cryptographically: the server key configured for it is not its key, or it is not a CURVE server"
            }
            if code & 0xF000_0000 == 0x2000_0000 {
                return "handshake with \(endpoint) failed in admission (ZAP protocol error 0x\(String(code, radix: 16)))"
            }
            return "handshake with \(endpoint) failed (protocol error 0x\(String(code, radix: 16)))"
        case .other(let event, let value): return "socket event 0x\(String(event, radix: 16)) (\(value)) on \(endpoint)"
        }
    }

    /// Decodes a monitor message: frame 1 holds the event (16 bits) and its value (32 bits),
    /// little-endian as libzmq writes them on every platform it runs on here; frame 2 the endpoint.
    public init?(frames: [[UInt8]]) {
        guard frames.count == 2, frames[0].count == 6 else { return nil }
        let f = frames[0]
        let event = UInt16(f[0]) | UInt16(f[1]) << 8
        let value = UInt32(f[2]) | UInt32(f[3]) << 8 | UInt32(f[4]) << 16 | UInt32(f[5]) << 24
        endpoint = String(decoding: frames[1], as: UTF8.self)
        switch Int32(event) {
        case ZMQ_EVENT_CONNECTED: kind = .connected
        case ZMQ_EVENT_DISCONNECTED: kind = .disconnected
        case ZMQ_EVENT_HANDSHAKE_SUCCEEDED: kind = .handshakeSucceeded
        case ZMQ_EVENT_HANDSHAKE_FAILED_NO_DETAIL: kind = .handshakeFailed
        case ZMQ_EVENT_HANDSHAKE_FAILED_PROTOCOL: kind = .handshakeFailedProtocol(code: value)
        case ZMQ_EVENT_HANDSHAKE_FAILED_AUTH: kind = .handshakeFailedAuth(status: value)
        default: kind = .other(event: event, value: value)
        }
    }
}

extension ZMQSocket {
    /// The events a node watches: handshakes (their failures say why a link is down) and
    /// disconnects.
    public static let handshakeEvents: Int32 = ZMQ_EVENT_HANDSHAKE_FAILED_NO_DETAIL | ZMQ_EVENT_HANDSHAKE_FAILED_PROTOCOL
        | ZMQ_EVENT_HANDSHAKE_FAILED_AUTH | ZMQ_EVENT_HANDSHAKE_SUCCEEDED | ZMQ_EVENT_DISCONNECTED

    /// Starts reporting `events` of this socket and returns the PAIR socket they arrive on
    /// (poll it like any socket; decode each message with `SocketEvent(frames:)`). The
    /// monitor lives at `inproc://` address `name`, which must be unique in the context.
    public func monitor(_ context: ZMQContext, name: String, events: Int32 = ZMQSocket.handshakeEvents) throws -> ZMQSocket {
        let address = "inproc://monitor-" + name
        if zmq_socket_monitor(try liveHandle("zmq_socket_monitor"), address, events) != 0 {
            throw ZMQError.last("zmq_socket_monitor \(address)")
        }
        let pair = try ZMQSocket(context, .pair)
        try pair.setLinger(milliseconds: 0)
        // libzmq's I/O thread sends each event with a blocking send: with a bounded queue a
        // burst of reconnects could fill it and stop that thread, and every socket with it.
        try pair.setReceiveHighWaterMark(0)
        try pair.connect(address)
        return pair
    }

    /// Stops the reports `monitor` started; afterwards no event is sent any more.
    public func stopMonitor() {
        if let h = handle { zmq_socket_monitor(h, nil, 0) }
    }

    /// Closes this socket and the PAIR socket its events arrive on, in the one safe order:
    /// monitoring stopped first, then the reader, then the socket. libzmq's I/O thread sends
    /// each event with a blocking send, so an event (a DISCONNECTED while the socket shuts
    /// down) sent after its reader is gone waits forever, and that thread serves every socket
    /// of the context: a node that closed the reader first went silent for minutes.
    public func close(monitor: ZMQSocket?) {
        if monitor != nil { stopMonitor() }
        monitor?.close()
        close()
    }
}
