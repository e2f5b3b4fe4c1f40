import Logging
import MemberSyncConfig
import MemberSyncNode
import MemberSyncWeb

/// Starts the node's web page on `http_listen`, or nothing when it is "off". An address
/// the configuration names must be bound, else the daemon does not start; the default
/// (127.0.0.1:7480) is given up with a warning when taken, so a second node on the machine
/// still runs.
func startWebPage(_ config: NodeConfig, logger: Logger) throws -> WebServer? {
    guard let address = config.httpListen else {
        WebServer.forgetLogin(dataDir: config.dataDir)
        return nil
    }
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
