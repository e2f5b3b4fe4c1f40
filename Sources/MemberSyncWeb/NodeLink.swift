import Dispatch
import Foundation
import MemberSyncControl
import MemberSyncDirectory
import ZeroMQ

/// A JSON object as the page's templates and handlers read it (Foundation values).
typealias JSONObject = [String: Any]

/// The page's JSON texts: its own answers (errors of the JSON API) and live events (keys sorted).
enum WebJSON {
    static func encode(_ object: Any) -> [UInt8] {
        (try? JSONSerialization.data(withJSONObject: object, options: [.sortedKeys, .fragmentsAllowed])).map { [UInt8]($0) } ?? Array("{}".utf8)
    }
}

/// The web page's way to its node: the control socket, through the one control client and
/// the typed commands of `MemberSyncControl`, like the CLI. The calls block on libzmq, so
/// they run on dispatch queues of their own and never hold a thread of the cooperative pool;
/// the live poller has its own queue, so a slow page request cannot delay the status every
/// open page shows.
final class NodeLink: Sendable {
    let dataDir: String
    private let context: ZMQContext
    private let pageQueue = DispatchQueue(label: "membersync.web.control")
    private let liveQueue = DispatchQueue(label: "membersync.web.live")

    init(dataDir: String) throws {
        self.dataDir = dataDir
        context = try ZMQContext()
    }

    /// One control command (`Protocols/CONTROL.md`) and its typed result; `live` requests use
    /// the poller's queue and a short timeout.
    func call<C: ControlCommand>(_ command: C, live: Bool = false) async throws(ControlClientError) -> C.Result {
        let (dataDir, context, timeout) = (dataDir, context, live ? 2_000 : 10_000)
        let result: Result<C.Result, ControlClientError> = await withCheckedContinuation { continuation in
            (live ? liveQueue : pageQueue).async {
                do throws(ControlClientError) {
                    let reply = try ControlClient(dataDir: dataDir, timeoutMilliseconds: timeout, context: context).call(command)
                    continuation.resume(returning: .success(reply))
                } catch {
                    continuation.resume(returning: .failure(error))
                }
            }
        }
        return try result.get()
    }

    /// A command whose arguments come as JSON (the JSON API's bodies), read by the command's
    /// own `init(arguments:)`, the code the node reads a request with: arguments it would
    /// refuse are refused here with the node's sentence, before anything is sent.
    func call<C: ControlCommand>(_ type: C.Type, arguments: [String: JSONValue]) async throws(ControlClientError) -> C.Result {
        let command: C
        do throws(ControlError) { command = try C(arguments: ControlArguments(arguments)) } catch { throw .refused(error.message) }
        return try await call(command)
    }
}
