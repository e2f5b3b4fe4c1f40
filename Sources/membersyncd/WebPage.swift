import Foundation
import Logging
import MemberSyncConfig
import MemberSyncNode
import MemberSyncServices
import MemberSyncWeb
import ServiceLifecycle

/// The node's web page on `http_listen` as a service of the daemon: started once the reactor
/// runs, stopped when the group shuts down (live streams end at once; connections still open
/// after a second are cut). An address the configuration names must be bound, else the daemon
/// does not start; the default (127.0.0.1:7480) is given up with a warning when taken, so a
/// second node on the machine still runs.
struct WebPageService: Service, CustomStringConvertible {
    let config: NodeConfig
    let reactor: ReactorService
    let logger: Logger

    var description: String { "web page" }

    func run() async throws {
        guard let address = config.httpListen else {
            WebServer.forgetLogin(dataDir: config.dataDir)
            return try await untilShutdown()
        }
        guard try await reactor.waitUntilStarted() else { return }
        let config = self.config, logger = self.logger
        // `start` and `stop` wait on semaphores (at most a few seconds): not on the task pool.
        let server = try await onOwnThread { try startWebPage(config, address: address, logger: logger) }
        try await untilShutdown()
        if let server { await onOwnThread { server.stop() } }
    }

    /// Returns at graceful shutdown or cancellation (the group is stopping either way).
    private func untilShutdown() async throws {
        try? await gracefulShutdown()
    }
}

func startWebPage(_ config: NodeConfig, address: ListenAddress, logger: Logger) throws -> WebServer? {
    var webLogger = logger
    webLogger[metadataKey: "component"] = "web"
    let server = WebServer(address: address, dataDir: config.dataDir, logger: webLogger,
                           identity: WebIdentity(nodeID: config.nodeID, organisation: config.organisation, role: config.role.rawValue))
    do {
        let bound = try server.start()
        logger.info("web page listening", metadata: ["address": "\(bound)", "login": "membersync web-login --data-dir \(config.dataDir)"])
        return server
    } catch {
        WebServer.forgetLogin(dataDir: config.dataDir)
        if config.httpListenExplicit { throw error }
        logger.warning("web page not served", metadata: [
            "address": "\(address)", "error": "\(error)", "hint": "set http_listen to a free HOST:PORT, or \"off\"",
        ])
        return nil
    }
}

/// Runs blocking work on a thread of its own and awaits its result.
func onOwnThread<T: Sendable>(_ work: @escaping @Sendable () throws -> T) async throws -> T {
    try await withCheckedThrowingContinuation { continuation in
        Thread.detachNewThread { continuation.resume(with: Result { try work() }) }
    }
}

func onOwnThread(_ work: @escaping @Sendable () -> Void) async {
    await withCheckedContinuation { continuation in
        Thread.detachNewThread {
            work()
            continuation.resume()
        }
    }
}
