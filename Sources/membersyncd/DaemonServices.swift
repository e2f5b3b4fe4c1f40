import Logging
import MemberSyncConfig
import MemberSyncNode
import MemberSyncServices
import ServiceLifecycle

/// The daemon's services, in the order they start; the group stops them in reverse, so the
/// HTTP listeners close before the reactor makes its last commit.
struct DaemonServices {
    let reactor: ReactorService
    let all: [any Service]
    let logger: Logger

    init(config: NodeConfig, repair: Bool, logger: Logger) {
        self.logger = logger
        let telemetry = NodeTelemetry()
        let reactor = ReactorService { try Node(config: config, logger: logger, repair: repair, telemetry: telemetry) }
        self.reactor = reactor
        var all: [any Service] = [reactor]
        if let address = config.metricsListen {
            all.append(MetricsHTTPService(address: address, telemetry: telemetry, logger: logger,
                                          ready: { try await reactor.waitUntilStarted() },
                                          onListening: { bound in
                logger.info("metrics listening", metadata: ["address": "\(bound)", "paths": "/metrics /health"])
            }))
        }
        all.append(WebPageService(config: config, reactor: reactor, logger: logger))
        self.all = all
    }

    /// SIGTERM and SIGINT start a graceful shutdown. One that takes longer than
    /// `gracefulSeconds` (a web client that will not let go) turns into cancellation, which
    /// the reactor treats as the same stop request: nothing is cut short but HTTP connections.
    static let gracefulSeconds = 2

    func groupConfiguration() -> ServiceGroupConfiguration {
        var configuration = ServiceGroupConfiguration(services: all, gracefulShutdownSignals: [.sigterm, .sigint], logger: logger)
        configuration.maximumGracefulShutdownDuration = .seconds(Self.gracefulSeconds)
        return configuration
    }
}
