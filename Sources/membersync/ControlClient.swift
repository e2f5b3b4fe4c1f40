import ArgumentParser
import Foundation
import MemberSyncNode
import ZeroMQ

/// Talks to the local node over its control socket (ipc, file mode 0600).
struct ControlClient {
    let dataDir: String
    var timeoutMilliseconds = 15_000

    /// Sends one request and returns its result, or exits with a clear message: status 2
    /// when no node answers, 1 when the node refused the request.
    func call(_ request: JSONObject) throws -> Any {
        let path = Node.controlSocketPath(dataDir: dataDir)
        guard FileManager.default.fileExists(atPath: path), Node.isRunning(dataDir: dataDir) else {
            throw CLIFailure(message: "no node is running for data directory \(dataDir) (start it with: membersyncd --config \((dataDir as NSString).appendingPathComponent(NodeConfig.fileName)))", code: 2)
        }
        let ctx = try ZMQContext()
        let socket = try ZMQSocket(ctx, .req)
        try socket.setLinger(milliseconds: 0)
        try socket.connect("ipc://" + path)
        try socket.send([JSONView.encode(request)])
        var poller = Poller()
        poller.add(.socket(socket))
        // Wait in slices, checking that the node still runs: a node that dies mid-request
        // (a crash, a kill) never answers, and the user should hear so at once, not after the
        // whole timeout. Its write may or may not have been stored.
        var waited = 0
        var frames: [[UInt8]]?
        while frames == nil {
            let slice = min(250, timeoutMilliseconds - waited)
            if try poller.poll(timeoutMilliseconds: slice) == [0] { frames = try socket.receive(dontWait: true) }
            waited += slice
            if frames != nil { break }
            if !Node.isRunning(dataDir: dataDir) {
                throw CLIFailure(message: "the node for \(dataDir) stopped before it answered; the request may or may not have been carried out (check with get or status once it runs again)", code: 2)
            }
            if waited >= timeoutMilliseconds {
                throw CLIFailure(message: "the node for \(dataDir) did not answer within \(timeoutMilliseconds / 1000) s", code: 2)
            }
        }
        guard let frames else { throw CLIFailure(message: "the node for \(dataDir) did not answer", code: 2) }
        let reply = try JSONView.decodeObject(frames.last ?? [])
        if reply["ok"] as? Bool == true { return reply["result"] ?? NSNull() }
        throw CLIFailure(message: reply["error"] as? String ?? "the node refused the request", code: 1)
    }
}

/// A failure the CLI reports as `membersync: MESSAGE` with an exit status.
struct CLIFailure: Error, CustomStringConvertible {
    let message: String
    let code: Int32
    var description: String { message }
}
