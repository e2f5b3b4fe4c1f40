import Foundation
import MemberSyncClient
import MemberSyncNode

/// Talks to the local node over its control socket (ipc, file mode 0600) through the shared
/// client (`MemberSyncClient`, also used by the web page), turning its errors into the CLI's.
struct ControlClient {
    let dataDir: String
    var timeoutMilliseconds = 15_000

    /// Sends one request and returns its result, or exits with a clear message: status 2
    /// when no node answers, 1 when the node refused the request.
    func call(_ request: JSONObject) throws -> Any {
        do {
            return try MemberSyncClient.ControlClient(dataDir: dataDir, timeoutMilliseconds: timeoutMilliseconds).call(request)
        } catch {
            switch error {
            case .unreachable(let m): throw CLIFailure(message: m, code: 2)
            case .refused(let m): throw CLIFailure(message: m, code: 1)
            }
        }
    }
}

/// A failure the CLI reports as `membersync: MESSAGE` with an exit status.
struct CLIFailure: Error, CustomStringConvertible {
    let message: String
    let code: Int32
    var description: String { message }
}
