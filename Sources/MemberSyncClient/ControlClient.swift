import Foundation
import MemberSyncConfig
import MemberSyncNode
import ZeroMQ

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

/// One client of a node's control socket (`Protocols/CONTROL.md`): a REQ socket per request,
/// so a request that times out cannot leave a later one stuck behind REQ's lock-step.
/// Shared by the CLI and the web module. Blocking: call it from a thread that may wait
/// (the CLI's main thread, the web module's control queue), never from the cooperative pool.
/// `Sendable`: it holds only immutable values and a libzmq context, which is thread safe.
public struct ControlClient: Sendable {
    public let dataDir: String
    public var timeoutMilliseconds: Int
    /// A context to reuse across calls (a long-lived caller such as the web module); nil
    /// creates one per call, which suits a short-lived CLI process.
    public let context: ZMQContext?

    public init(dataDir: String, timeoutMilliseconds: Int = 15_000, context: ZMQContext? = nil) {
        self.dataDir = dataDir
        self.timeoutMilliseconds = timeoutMilliseconds
        self.context = context
    }

    /// Sends one request and returns its `result`.
    public func call(_ request: JSONObject) throws(ControlClientError) -> Any {
        let path = Node.controlSocketPath(dataDir: dataDir)
        guard FileManager.default.fileExists(atPath: path), Node.isRunning(dataDir: dataDir) else {
            throw .unreachable("no node is running for data directory \(dataDir) (start it with: membersyncd --config \((dataDir as NSString).appendingPathComponent(NodeConfig.fileName)))")
        }
        let frames: [[UInt8]]
        do {
            frames = try exchange(request, path: path)
        } catch let e as ControlClientError {
            throw e
        } catch {
            throw .unreachable("cannot talk to the node for \(dataDir): \(error)")
        }
        let reply: JSONObject
        do { reply = try JSONView.decodeObject(frames.last ?? []) } catch {
            throw .refused("the node sent a reply that is not a JSON object")
        }
        if reply["ok"] as? Bool == true { return reply["result"] ?? NSNull() }
        throw .refused(reply["error"] as? String ?? "the node refused the request")
    }

    private func exchange(_ request: JSONObject, path: String) throws -> [[UInt8]] {
        let ctx = try context ?? ZMQContext()
        let socket = try ZMQSocket(ctx, .req)
        defer { socket.close() }
        try socket.setLinger(milliseconds: 0)
        try socket.connect("ipc://" + path)
        try socket.send([JSONView.encode(request)])
        var poller = Poller()
        poller.add(.socket(socket))
        // Wait in slices, checking that the node still runs: a node that dies mid-request
        // (a crash, a kill) never answers, and the caller should hear so at once, not after
        // the whole timeout. Its write may or may not have been stored.
        var waited = 0
        while true {
            let slice = max(1, min(250, timeoutMilliseconds - waited))
            if try poller.poll(timeoutMilliseconds: slice) == [0], let frames = try socket.receive(dontWait: true) { return frames }
            waited += slice
            if !Node.isRunning(dataDir: dataDir) {
                throw ControlClientError.unreachable("the node for \(dataDir) stopped before it answered; the request may or may not have been carried out (check with get or status once it runs again)")
            }
            if waited >= timeoutMilliseconds {
                throw ControlClientError.unreachable("the node for \(dataDir) did not answer within \(timeoutMilliseconds / 1000) s")
            }
        }
    }
}
