import Dispatch
import Foundation
import MemberSyncClient
import MemberSyncNode
import ZeroMQ

/// A JSON value of a control request or reply. `@unchecked Sendable`: JSONSerialization's
/// results are immutable Foundation values, and nothing mutates them once built.
struct JSONValue: @unchecked Sendable {
    let value: Any
    var object: JSONObject { value as? JSONObject ?? [:] }
    var array: [JSONObject] { value as? [JSONObject] ?? [] }
}

/// The web page's way to its node: the control socket, like the CLI. The calls block on
/// libzmq, so they run on dispatch queues of their own and never hold a thread of the
/// cooperative pool; the live poller has its own queue, so a slow page request cannot
/// delay the status every open page shows.
final class NodeLink: Sendable {
    let dataDir: String
    private let context: ZMQContext
    private let pageQueue = DispatchQueue(label: "membersync.web.control")
    private let liveQueue = DispatchQueue(label: "membersync.web.live")

    init(dataDir: String) throws {
        self.dataDir = dataDir
        context = try ZMQContext()
    }

    /// One control request (`Protocols/CONTROL.md`); `live` requests use the poller's queue
    /// and a short timeout.
    func call(_ command: String, _ arguments: JSONObject = [:], live: Bool = false) async throws(ControlClientError) -> JSONValue {
        var request = arguments
        request["command"] = command
        let boxed = JSONValue(value: request)
        let client = ControlClient(dataDir: dataDir, timeoutMilliseconds: live ? 2_000 : 10_000, context: context)
        let result: Result<JSONValue, ControlClientError> = await withCheckedContinuation { continuation in
            (live ? liveQueue : pageQueue).async {
                do throws(ControlClientError) {
                    continuation.resume(returning: .success(JSONValue(value: try client.call(boxed.object))))
                } catch {
                    continuation.resume(returning: .failure(error))
                }
            }
        }
        return try result.get()
    }
}
