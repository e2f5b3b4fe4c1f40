import Dispatch
import Foundation
import HTTPTypes
import Hummingbird
import Logging
import MemberSyncControl
import MemberSyncConfig
import NIOCore
import NIOPosix
import ServiceLifecycle
import Synchronization

/// Why the web page could not start.
public struct WebServerError: Error, CustomStringConvertible {
    public let message: String
    public var description: String { message }
}

/// The node's web page (and JSON API, /metrics, /health) on `http_listen`, run by the daemon
/// beside its reactor: Hummingbird on one event-loop thread of its own, handlers on the
/// Swift concurrency pool, control requests on dispatch queues. It only talks to the node
/// through the control socket, so it cannot block replication or corrupt anything.
public final class WebServer: Sendable {
    public let address: ListenAddress
    private let identity: WebIdentity
    private let dataDir: String
    private let logger: Logger
    private let group: MultiThreadedEventLoopGroup
    private let tasks = Mutex<(server: Task<Void, Never>?, poller: Task<Void, Never>?, feed: LiveFeed?, group: ServiceGroup?)>((nil, nil, nil, nil))
    private let finished = DispatchSemaphore(value: 0)

    public init(address: ListenAddress, dataDir: String, logger: Logger, identity: WebIdentity) {
        self.address = address
        self.identity = identity
        self.dataDir = dataDir
        self.logger = logger
        group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
    }

    /// Binds and starts serving; returns the address it listens on (the real port when
    /// `address` names port 0) once it accepts connections, and writes the login file.
    /// Throws when it cannot bind or start within 10 s.
    public func start() throws(WebServerError) -> ListenAddress {
        let link: NodeLink, sessions: Sessions, app: WebApp
        let feed = LiveFeed()
        let loopback = address.host.hasPrefix("127.") || address.host == "::1"
        do {
            link = try NodeLink(dataDir: dataDir)
            sessions = Sessions(dataDir: dataDir)
            // On loopback, no Host is accepted until the bound port is known (below).
            app = try WebApp(identity: identity, link: link, sessions: sessions, feed: feed, allowedHosts: loopback ? [] : nil)
        } catch {
            throw WebServerError(message: "cannot prepare the web page: \(error)")
        }
        let ready = DispatchSemaphore(value: 0)
        let outcome = Mutex<Result<Int, WebServerError>?>(nil)
        let port = address.port
        let application = Application(
            responder: WebResponder(app: app),
            configuration: ApplicationConfiguration(address: .hostname(address.host, port: port), serverName: nil),
            onServerRunning: { channel in
                outcome.withLock { if $0 == nil { $0 = .success(channel.localAddress?.port ?? port) } }
                ready.signal()
            },
            eventLoopGroupProvider: .shared(group),
            logger: logger
        )
        let where_ = address.description
        let done = finished
        // No signal handlers here: the daemon owns SIGTERM/SIGINT and calls `stop`.
        let services = ServiceGroup(configuration: .init(services: [application], gracefulShutdownSignals: [], cancellationSignals: [], logger: logger))
        let server = Task.detached {
            do {
                try await services.run()
            } catch {
                outcome.withLock { if $0 == nil { $0 = .failure(WebServerError(message: "cannot listen on \(where_): \(error)")) } }
            }
            ready.signal()
            done.signal()
        }
        if ready.wait(timeout: .now() + 10) == .timedOut {
            server.cancel()
            throw WebServerError(message: "the web page did not start listening on \(where_) within 10 s")
        }
        let bound: Int
        switch outcome.withLock({ $0 }) {
        case .success(let p)?: bound = p
        case .failure(let e)?: throw e
        case nil: throw WebServerError(message: "the web page stopped before it listened on \(where_)")
        }
        let actual = ListenAddress(host: address.host, port: bound)
        if loopback { app.allowHosts(WebApp.loopbackHosts(port: bound)) }
        // A link needs an address a browser can open: an unspecified bind (0.0.0.0, ::)
        // is reached on this machine through loopback.
        let linkHost = address.host == "0.0.0.0" ? "127.0.0.1" : address.host == "::" ? "::1" : address.host
        let base = "http://" + ListenAddress(host: linkHost, port: bound).description
        do { try sessions.publish(baseURL: base) } catch {
            server.cancel()
            throw WebServerError(message: "cannot write the web login file: \(error.message)")
        }
        let role = identity.role
        let poller = Task.detached { await feed.run(link: link, role: role) }
        tasks.withLock { $0 = (server, poller, feed, services) }
        return actual
    }

    /// Stops serving: live streams end, the listener closes and open connections are let
    /// finish; what is still open after `timeoutMilliseconds` is cancelled (the daemon's stop
    /// must stay fast).
    public func stop(timeoutMilliseconds: Int = 1000) {
        let (server, poller, feed, services) = tasks.withLock { t in defer { t = (nil, nil, nil, nil) }; return t }
        guard let server else { return }
        Task.detached {
            await feed?.stop()
            poller?.cancel()
            await services?.triggerGracefulShutdown()
        }
        if finished.wait(timeout: .now() + .milliseconds(timeoutMilliseconds)) == .timedOut {
            server.cancel()
            _ = finished.wait(timeout: .now() + .milliseconds(timeoutMilliseconds / 2))
        }
        try? group.syncShutdownGracefully()
        Self.forgetLogin(dataDir: dataDir)
    }

    /// Removes the login file: its token dies with the page that issued it, so web-login
    /// never prints a link to a page that is not served.
    public static func forgetLogin(dataDir: String) {
        try? FileManager.default.removeItem(atPath: WebLoginFile.path(dataDir: dataDir))
    }
}

/// Hands Hummingbird's requests to the web app and its answers back.
struct WebResponder: HTTPResponder {
    typealias Context = BasicRequestContext
    let app: WebApp
    static let maxBodyBytes = 256 * 1024

    func respond(to request: Request, context: Context) async throws -> Response {
        var request = request
        var body: [UInt8] = []
        if request.method == .post {
            do {
                let buffer = try await request.collectBody(upTo: Self.maxBodyBytes)
                body = Array(buffer.readableBytesView)
            } catch {
                return Response(status: .contentTooLarge, headers: [.contentType: "text/plain; charset=utf-8"],
                                body: ResponseBody(byteBuffer: ByteBuffer(string: "A request body may hold at most \(Self.maxBodyBytes / 1024) KiB.\n")))
            }
        }
        var headers: [String: String] = [:]
        for field in request.headers {
            let name = field.name.canonicalName
            if let old = headers[name] { headers[name] = old + (name == "cookie" ? "; " : ", ") + field.value } else { headers[name] = field.value }
        }
        // HTTPTypes keeps the Host header as the request's authority.
        if let authority = request.head.authority { headers["host"] = authority }
        let answer = await app.handle(WebRequest(method: request.method.rawValue, path: request.uri.path,
                                                 query: request.uri.query ?? "", headers: headers, body: body))
        var fields = HTTPFields()
        for (name, value) in answer.headers {
            if let n = HTTPField.Name(name) { fields.append(HTTPField(name: n, value: value)) }
        }
        let status = HTTPResponse.Status(code: answer.status)
        if let events = answer.events {
            return Response(status: status, headers: fields, body: ResponseBody { writer in
                for await event in events {
                    try await writer.write(ByteBuffer(string: event))
                }
                try await writer.finish(nil)
            })
        }
        return Response(status: status, headers: fields, body: ResponseBody(byteBuffer: ByteBuffer(bytes: answer.body)))
    }
}
