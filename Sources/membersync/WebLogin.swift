import ArgumentParser
import Foundation
import MemberSyncControl
import MemberSyncDirectory

/// Prints the one-time link that opens a session on the node's web page. Only the node's
/// user can read the token behind it; the link works once, then the node makes a new one.
struct WebLogin: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "web-login",
        abstract: "Print a one-time link that logs you in to the node's web page.",
        discussion: "The node serves its web page on http_listen (default 127.0.0.1:7480). Open the link in a browser on this machine; it works once (run web-login again for a new one)."
    )

    @OptionGroup var node: NodeOptions

    func run() throws {
        try runReporting {
            let dir = node.resolvedDataDir
            guard ControlSocket.nodeIsRunning(dataDir: dir) else {
                throw CLIFailure(message: "no node is running for data directory \(dir): start it, then run web-login again", code: 2)
            }
            let link: String
            do throws(WebLoginFile.Error) { link = try WebLoginFile.link(dataDir: dir) } catch { throw CLIFailure(message: error.message, code: 1) }
            if node.json { Output.json(["url": .string(link)] as JSONValue) } else { print(link) }
        }
    }
}
