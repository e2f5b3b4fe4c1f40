import Foundation
import MemberSyncConfig
import MemberSyncDirectory
import ZeroMQ

#if canImport(Glibc)
import Glibc
#endif

/// Where a node's control socket and lock live in its data directory, for the node that
/// binds them and the clients that look for it.
public enum ControlSocket {
    public static func path(dataDir: String) -> String {
        (dataDir as NSString).appendingPathComponent("control.sock")
    }

    public static func lockPath(dataDir: String) -> String {
        (dataDir as NSString).appendingPathComponent("membersyncd.lock")
    }

    /// True when a daemon holds the data directory's lock, so a client need not wait for a
    /// control socket that a killed node left behind.
    public static func nodeIsRunning(dataDir: String) -> Bool {
        let fd = open(lockPath(dataDir: dataDir), O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { return false }
        defer { close(fd) }
        if flock(fd, LOCK_SH | LOCK_NB) == 0 {
            flock(fd, LOCK_UN)
            return false
        }
        return true
    }
}

/// A reply frame: `{"ok": true, "result": RESULT}` or `{"ok": false, "error": MESSAGE}`.
public enum ControlReply {
    struct Success<R: Encodable>: Encodable {
        let ok = true
        let result: R
    }

    struct Failure: Codable {
        var ok = false
        var error: String
    }

    struct Decoded<R: Decodable>: Decodable {
        let ok: Bool
        let result: R?
        let error: String?
    }

    public static func encode(result: some Encodable) -> [UInt8] { JSONCoding.encode(Success(result: result)) }
    public static func encode(error: ControlError) -> [UInt8] { JSONCoding.encode(Failure(error: error.message)) }
}

/// Why a control request got no result: no node runs for the data directory, the node died
/// or stayed silent before answering (`unreachable`, the CLI's exit status 2), or the node
/// answered with an error (`refused`, exit status 1; `message` is the node's sentence).
public enum ControlClientError: Error, CustomStringConvertible, Sendable, Equatable {
    case unreachable(String)
    case refused(String)

    public var message: String {
        switch self {
        case .unreachable(let m), .refused(let m): return m
        }
    }

    public var description: String { message }
}

/// The client of a node's control socket (`Protocols/CONTROL.md`), for the CLI, the web page,
/// the benchmarks, the chaos tool and the tests. It keeps one REQ socket for its calls and
/// replaces it after a call that got no answer, so a request that timed out cannot leave a
/// later one stuck behind REQ's lock-step. Blocking: call it from a thread that may wait (the
/// CLI's main thread, the web module's control queues), never from the cooperative pool.
/// Not thread safe: one instance per thread (they may share a context, which is).
public final class ControlClient {
    public let dataDir: String
    public var timeoutMilliseconds: Int
    private let sharedContext: ZMQContext?
    private var context: ZMQContext?
    private var socket: ZMQSocket?

    /// `context`: one to share across clients (a long-lived caller such as the web module);
    /// nil makes one for this client, which suits a short-lived CLI process.
    public init(dataDir: String, timeoutMilliseconds: Int = 15_000, context: ZMQContext? = nil) {
        self.dataDir = dataDir
        self.timeoutMilliseconds = timeoutMilliseconds
        sharedContext = context
    }

    deinit { socket?.close() }

    /// Sends one command and returns its typed result.
    public func call<C: ControlCommand>(_ command: C) throws(ControlClientError) -> C.Result {
        let frame = try exchange(command.requestBytes)
        let reply: ControlReply.Decoded<C.Result>
        do { reply = try JSONCoding.decode(ControlReply.Decoded<C.Result>.self, from: frame) } catch {
            if let failure = try? JSONCoding.decode(ControlReply.Failure.self, from: frame), !failure.ok { throw .refused(failure.error) }
            throw .refused("the node sent a reply to '\(C.name)' that this client cannot read: \(error)")
        }
        if reply.ok, let result = reply.result { return result }
        throw .refused(reply.error ?? "the node refused the request")
    }

    /// One request frame out, its reply frame back.
    private func exchange(_ request: [UInt8]) throws(ControlClientError) -> [UInt8] {
        let path = ControlSocket.path(dataDir: dataDir)
        guard FileManager.default.fileExists(atPath: path), ControlSocket.nodeIsRunning(dataDir: dataDir) else {
            throw .unreachable("no node is running for data directory \(dataDir) (start it with: membersyncd --config \((dataDir as NSString).appendingPathComponent(NodeConfig.fileName)))")
        }
        do {
            return try send(request, path: path)
        } catch let e as ControlClientError {
            drop()
            throw e
        } catch {
            drop()
            throw .unreachable("cannot talk to the node for \(dataDir): \(error)")
        }
    }

    private func send(_ request: [UInt8], path: String) throws -> [UInt8] {
        let s: ZMQSocket
        if let socket { s = socket } else {
            let ctx: ZMQContext
            if let c = sharedContext ?? context { ctx = c } else {
                ctx = try ZMQContext()
                context = ctx
            }
            s = try ZMQSocket(ctx, .req)
            try s.setLinger(milliseconds: 0)
            try s.connect("ipc://" + path)
            socket = s
        }
        try s.send([request])
        var poller = Poller()
        poller.add(.socket(s))
        // Wait in slices, checking that the node still runs: a node that dies mid-request
        // (a crash, a kill) never answers, and the caller should hear so at once, not after
        // the whole timeout. Its write may or may not have been stored.
        var waited = 0
        while true {
            let slice = max(1, min(250, timeoutMilliseconds - waited))
            if try poller.poll(timeoutMilliseconds: slice) == [0], let frames = try s.receive(dontWait: true) { return frames.last ?? [] }
            waited += slice
            if !ControlSocket.nodeIsRunning(dataDir: dataDir) {
                throw ControlClientError.unreachable("the node for \(dataDir) stopped before it answered; the request may or may not have been carried out (check with get or status once it runs again)")
            }
            if waited >= timeoutMilliseconds {
                throw ControlClientError.unreachable("the node for \(dataDir) did not answer within \(timeoutMilliseconds / 1000) s")
            }
        }
    }

    /// Forgets the socket (REQ cannot send again before a reply that may never come).
    private func drop() {
        socket?.close()
        socket = nil
    }
}
