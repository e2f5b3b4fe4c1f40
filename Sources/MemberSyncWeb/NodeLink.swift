import Dispatch
import Foundation
import MemberSyncControl
import MemberSyncDirectory
import ZeroMQ

/// A JSON object as the page's templates and handlers read it (Foundation values).
typealias JSONObject = [String: Any]

/// The page's JSON texts: its API answers and live events (keys sorted).
enum WebJSON {
    static func encode(_ object: Any) -> [UInt8] {
        (try? JSONSerialization.data(withJSONObject: object, options: [.sortedKeys, .fragmentsAllowed])).map { [UInt8]($0) } ?? Array("{}".utf8)
    }
}

/// A JSON value of a control request or reply. `@unchecked Sendable`: JSONSerialization's
/// results are immutable Foundation values, and nothing mutates them once built.
struct JSONValueBox: @unchecked Sendable {
    let value: Any
    var object: JSONObject { value as? JSONObject ?? [:] }
    var array: [JSONObject] { value as? [JSONObject] ?? [] }
}

/// The web page's way to its node: the control socket, through the one control client, like
/// the CLI. The page passes results on to its templates and JSON API, so it sends requests and
/// reads results as JSON (`ControlClient.call(json:)`). The calls block on libzmq, so they run
/// on dispatch queues of their own and never hold a thread of the cooperative pool; the live
/// poller has its own queue, so a slow page request cannot delay the status every open page shows.
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
    func call(_ command: String, _ arguments: JSONObject = [:], live: Bool = false) async throws(ControlClientError) -> JSONValueBox {
        var request = JSONValue(foundation: arguments).object ?? [:]
        request["command"] = .string(command)
        let (dataDir, context, timeout) = (dataDir, context, live ? 2_000 : 10_000)
        let result: Result<JSONValueBox, ControlClientError> = await withCheckedContinuation { [request] continuation in
            (live ? liveQueue : pageQueue).async {
                do throws(ControlClientError) {
                    let reply = try ControlClient(dataDir: dataDir, timeoutMilliseconds: timeout, context: context).call(json: request)
                    // As Foundation values, the way the templates read them.
                    let value = (try? JSONSerialization.jsonObject(with: Data(reply.bytes), options: [.fragmentsAllowed])) ?? NSNull()
                    continuation.resume(returning: .success(JSONValueBox(value: value)))
                } catch {
                    continuation.resume(returning: .failure(error))
                }
            }
        }
        return try result.get()
    }
}
