import Foundation
import MemberSyncNode
import ZeroMQ

/// A writer's own connection to a node's control socket: the same JSON protocol the CLI
/// speaks, without a process per edit, so the workload reaches thousands of edits.
/// `@unchecked Sendable`: each instance is created for, and then used by, exactly one writer thread.
final class ControlConnection: @unchecked Sendable {
    let context: ZMQContext
    let path: String
    private var socket: ZMQSocket?

    init(context: ZMQContext, dataDir: String) {
        self.context = context
        path = Node.controlSocketPath(dataDir: dataDir)
    }

    /// Sends one request; nil when the node did not answer in time (killed, stopped,
    /// partitioned from nothing — the control socket is local). A REQ socket that timed out
    /// is replaced, since it cannot send again before a reply.
    func call(_ request: JSONObject, timeoutMilliseconds: Int = 3000) -> JSONObject? {
        do {
            if socket == nil {
                let s = try ZMQSocket(context, .req)
                try s.setLinger(milliseconds: 0)
                try s.connect("ipc://" + path)
                socket = s
            }
            guard let s = socket else { return nil }
            try s.send([JSONView.encode(request)])
            var poller = Poller()
            poller.add(.socket(s))
            guard try poller.poll(timeoutMilliseconds: timeoutMilliseconds) == [0], let frames = try s.receive(dontWait: true) else {
                reset()
                return nil
            }
            return try JSONView.decodeObject(frames.last ?? [])
        } catch {
            reset()
            return nil
        }
    }

    private func reset() {
        socket?.close()
        socket = nil
    }
}
