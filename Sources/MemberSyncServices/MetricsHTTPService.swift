import CoreMetrics
import HTTPTypes
import Hummingbird
import HummingbirdCore
import Logging
import MemberSyncConfig
import MemberSyncNode
import NIOCore
import ServiceLifecycle
import Synchronization

/// The metrics and health listener (`metrics_listen`): `GET /metrics` (the Prometheus text
/// exposition) and `GET /health` (200 `healthy` or 503 `degraded: …`), served by Hummingbird
/// on SwiftNIO's shared event-loop threads, never the reactor's. It reads what the reactor
/// published (the metrics registry and the last health verdict) and never waits for the
/// reactor, so a slow, stuck or hostile client cannot slow replication.
///
/// Each connection carries one request (the answer says `Connection: close`); a request head
/// larger than 8 KiB gets 431, one the HTTP parser refuses gets 400; methods other than GET
/// and HEAD get 405; a connection idle for `idleTimeout` is closed; at most
/// `maxConnections` are open at once, and the listener accepts no more until one closes.
public struct MetricsHTTPService: Service, CustomStringConvertible {
    /// What the listener answers for a path.
    public struct Answer: Sendable {
        public var status: Int
        public var contentType: String
        public var body: String

        public init(status: Int, contentType: String = "text/plain; charset=utf-8", body: String) {
            self.status = status
            self.contentType = contentType
            self.body = body
        }
    }

    public typealias Answers = @Sendable (_ path: String) -> Answer

    /// Largest request head accepted; scrapers send a few hundred bytes.
    public static let maxRequestHeadBytes = 8 * 1024
    public static let maxConnections = 32

    public let address: ListenAddress
    private let answers: Answers
    private let factory: NodeMetricsFactory
    private let logger: Logger
    private let idleTimeout: TimeAmount
    private let ready: (@Sendable () async throws -> Bool)?
    private let onListening: @Sendable (ListenAddress) -> Void
    /// Connections open now (for tests and the log).
    public let connections = OpenConnections()

    /// - Parameters:
    ///   - ready: awaited before binding; the service ends without serving when it returns
    ///     false (the reactor did not start, or the daemon stops first).
    ///   - onListening: called with the bound address (the real port when `address` says 0).
    public init(address: ListenAddress, answers: @escaping Answers, factory: NodeMetricsFactory, logger: Logger,
                idleTimeout: TimeAmount = .seconds(5), ready: (@Sendable () async throws -> Bool)? = nil,
                onListening: @escaping @Sendable (ListenAddress) -> Void = { _ in }) {
        self.address = address
        self.answers = answers
        self.factory = factory
        self.logger = logger
        self.idleTimeout = idleTimeout
        self.ready = ready
        self.onListening = onListening
    }

    /// Serves a node's telemetry: /metrics, /health, 404 for anything else.
    public init(address: ListenAddress, telemetry: NodeTelemetry, logger: Logger,
                ready: (@Sendable () async throws -> Bool)? = nil, onListening: @escaping @Sendable (ListenAddress) -> Void = { _ in }) {
        self.init(address: address, answers: Self.answers(telemetry), factory: telemetry.factory, logger: logger,
                  ready: ready, onListening: onListening)
    }

    public var description: String { "metrics listener" }

    public static func answers(_ telemetry: NodeTelemetry) -> Answers {
        { path in
            switch path {
            case "/metrics":
                return Answer(status: 200, contentType: PrometheusText.contentType, body: telemetry.exposition())
            case "/health":
                let h = telemetry.health
                return Answer(status: h.healthy ? 200 : 503, body: h.word + (h.reasons.isEmpty ? "" : ": " + h.reasons.joined(separator: "; ")) + "\n")
            default:
                return Answer(status: 404, body: "not found: try /metrics or /health\n")
            }
        }
    }

    public func run() async throws {
        if let ready, try await !ready() { return }
        let factory = self.factory, connections = self.connections, host = address.host, onListening = self.onListening
        let count: @Sendable (Int) -> Void = { code in
            CoreMetrics.Counter(label: "membersync_http_responses_total", dimensions: [("code", String(code))], factory: factory).increment()
        }
        let http1 = HTTP1Channel.Configuration(
            additionalChannelHandlers: [OneRequestPerConnection(connections: connections, count: count)],
            idleTimeout: idleTimeout,
            httpDecoderConfiguration: .init(maxHeaderFieldSize: Self.maxRequestHeadBytes, maxHeaderListSize: Self.maxRequestHeadBytes))
        let application = Application(
            responder: MetricsResponder(answers: answers),
            server: .http1(configuration: http1),
            configuration: ApplicationConfiguration(address: .hostname(address.host, port: address.port), serverName: nil,
                                                    availableConnectionsDelegate: MaximumAvailableConnections(Self.maxConnections)),
            onServerRunning: { channel in
                onListening(ListenAddress(host: host, port: channel.localAddress?.port ?? 0))
            },
            // NIO's shared event loops (never shut down, so no connection still closing at the
            // stop can schedule work on a loop that is gone).
            eventLoopGroupProvider: .singleton,
            logger: logger
        )
        do {
            try await application.run()
        } catch {
            throw MetricsListenError(message: "metrics_listen \(address): cannot listen: \(error)")
        }
    }
}

/// Why the metrics listener could not serve.
public struct MetricsListenError: Error, CustomStringConvertible {
    public let message: String
    public var description: String { message }
}

/// The number of connections a listener has open.
public final class OpenConnections: Sendable {
    private let count = Atomic<Int>(0)
    public var current: Int { count.load(ordering: .relaxed) }
    func opened() { count.add(1, ordering: .relaxed) }
    func closed() { count.subtract(1, ordering: .relaxed) }
}

/// Answers requests from `answers`: GET and HEAD (the same head, no body), 405 otherwise.
struct MetricsResponder: HTTPResponder {
    typealias Context = BasicRequestContext
    let answers: MetricsHTTPService.Answers

    func respond(to request: Request, context: Context) async throws -> Response {
        // An absolute or asterisk form is not what a scraper sends.
        guard request.head.path?.hasPrefix("/") == true else {
            return Self.response(.init(status: 400, body: "bad request line\n"))
        }
        switch request.method {
        case .get:
            return Self.response(answers(request.uri.path))
        case .head:
            var response = Self.response(answers(request.uri.path))
            let length = response.headers[.contentLength]
            response.body = ResponseBody()
            response.headers[.contentLength] = length
            return response
        default:
            var response = Self.response(.init(status: 405, body: "only GET and HEAD\n"))
            response.headers[.allow] = "GET, HEAD"
            return response
        }
    }

    static func response(_ answer: MetricsHTTPService.Answer) -> Response {
        let body = ByteBuffer(string: answer.body)
        return Response(status: HTTPResponse.Status(code: answer.status), headers: [
            .contentType: answer.contentType, .contentLength: String(body.readableBytes),
            .cacheControl: "no-store", .connection: "close",
        ], body: ResponseBody(byteBuffer: body))
    }
}
