import Foundation
import Logging
import MemberSyncEngine
import ZeroMQ

/// Decides which occurrences of a repeating warning reach the log: the first per key within
/// a window, and at most `budget` lines per window in all. A client whose handshake is refused
/// retries every few hundred milliseconds, and fresh keys cost an attacker nothing, so neither
/// may flood the journal. What it holds back is counted and reported with the next line.
struct LogLimiter {
    let windowMilliseconds: UInt64
    let budget: Int
    private var lastLogged: [String: UInt64] = [:]
    private var windowStart: UInt64 = 0
    private var linesInWindow = 0
    private var heldBack: UInt64 = 0

    init(windowMilliseconds: UInt64, budget: Int) {
        self.windowMilliseconds = windowMilliseconds
        self.budget = budget
    }

    /// Whether to log an occurrence of `key` now, and how many were held back since the last
    /// line that was logged.
    mutating func check(_ key: String, now: UInt64) -> (log: Bool, heldBack: UInt64) {
        if now &- windowStart >= windowMilliseconds {
            windowStart = now
            linesInWindow = 0
            lastLogged = lastLogged.filter { now &- $0.value < windowMilliseconds }
        }
        if let at = lastLogged[key], now &- at < windowMilliseconds {
            heldBack += 1
            return (false, 0)
        }
        guard linesInWindow < budget else {
            heldBack += 1
            return (false, 0)
        }
        linesInWindow += 1
        lastLogged[key] = now
        defer { heldBack = 0 }
        return (true, heldBack)
    }
}

/// Why a link's last CURVE handshake failed, as `membersync status` and `doctor` report it.
struct HandshakeFailure {
    enum Cause: String {
        /// The other side's admission (ZAP) refused this node's key.
        case notAdmitted = "not-admitted"
        /// The server could not be authenticated, or closed the handshake: almost always a
        /// configured server key that is not the server's `curve.pub`.
        case wrongServerKey = "wrong-server-key"
        case other
    }
    let cause: Cause
    let message: String
    let at: UInt64

    init(_ event: SocketEvent, at: UInt64) {
        switch event.kind {
        case .handshakeFailedAuth: cause = .notAdmitted
        // The server closes a handshake it cannot decrypt, which the client sees without detail.
        case .handshakeFailed: cause = .wrongServerKey
        case .handshakeFailedProtocol(let code): cause = code == SocketEvent.cryptographicProtocolError ? .wrongServerKey : .other
        default: cause = .other
        }
        message = event.description
        self.at = at
    }
}

/// Handshake events of this node's sockets, read on the reactor thread from their monitors
/// (never blocking), logged at warning level through `handshakeLogLimiter`.
extension Node {
    /// A link's events: a failure is remembered for `status` and logged with the server key
    /// this node expected and the node it meant to reach; a success clears it.
    func drainMonitor(link l: LinkID) {
        let link: Link
        switch l {
        case .hub(let i): link = hubLinks[i]
        case .peer(let i): link = peerLinks[i]
        }
        guard let monitor = link.monitor else { return }
        let now = wallClockMilliseconds()
        for _ in 0..<64 {
            guard let frames = try? monitor.receive(dontWait: true) else { break }
            guard let event = SocketEvent(frames: frames) else { continue }
            if event.kind == .handshakeSucceeded {
                handshakeFailures[l] = nil
                continue
            }
            guard event.isHandshakeFailure else { continue }
            let failure = HandshakeFailure(event, at: now)
            handshakeFailures[l] = failure
            let t = target(l)
            let verdict = handshakeLogLimiter.check("link \(l) \(failure.cause.rawValue)", now: now)
            guard verdict.log else { continue }
            var m: Logger.Metadata = [
                "link": "\(l)", "endpoint": "\(event.endpoint)", "cause": "\(failure.cause.rawValue)",
                "curve.server_key": "\(t.serverKey ?? "-")", "curve.key": "\(curve?.publicKey ?? "-")",
                "error": "\(event.description)",
            ]
            if let id = t.nodeID ?? engine.link(l).remoteNode { m["peer.id"] = "\(id)" }
            if verdict.heldBack > 0 { m["unlogged_since_last"] = "\(verdict.heldBack)" }
            let what: String
            switch failure.cause {
            case .notAdmitted: what = "CURVE handshake refused: the other side does not admit this node's key (curve.key)"
            case .wrongServerKey: what = "CURVE handshake refused: the configured server key is not the other side's curve.pub"
            case .other: what = "CURVE handshake failed"
            }
            logger.warning("\(what)", metadata: m)
        }
    }

    /// The ROUTER's events: a client that cannot complete the handshake (it holds a wrong key
    /// for this node). Refusals by admission are logged by `serveZAP`, which knows the key.
    func drainRouterMonitor() {
        guard let routerMonitor else { return }
        let now = wallClockMilliseconds()
        for _ in 0..<64 {
            guard let frames = try? routerMonitor.receive(dontWait: true) else { break }
            guard let event = SocketEvent(frames: frames), event.isHandshakeFailure else { continue }
            if case .handshakeFailedAuth = event.kind { continue }
            let verdict = handshakeLogLimiter.check("server \(event.kind)", now: now)
            guard verdict.log else { continue }
            var m: Logger.Metadata = ["endpoint": "\(event.endpoint)", "error": "\(event.description)",
                                      "curve.key": "\(curve?.publicKey ?? "-")"]
            if verdict.heldBack > 0 { m["unlogged_since_last"] = "\(verdict.heldBack)" }
            logger.warning("CURVE handshake with a client failed: it does not hold this node's curve.pub as the server key", metadata: m)
        }
    }
}
