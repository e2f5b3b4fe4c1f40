import HTTPTypes
import NIOCore
import NIOHTTP1
import NIOHTTPTypes

/// In the metrics listener's pipeline, between Hummingbird's HTTP decoding and its request
/// handling, for every connection:
///
/// - one request per connection: the request is marked `Connection: close`, so Hummingbird
///   closes the connection once it has answered (scrapers reconnect; a client cannot hold a
///   connection open by sending more);
/// - a request the HTTP parser refuses is answered here, 431 when its head is too large and
///   400 otherwise, with the reason on one line, and the connection closed (one cut short by
///   the client's close gets no answer);
/// - every answer's status is counted (`count`), and open connections in `connections`.
final class OneRequestPerConnection: ChannelDuplexHandler, RemovableChannelHandler {
    typealias InboundIn = HTTPRequestPart
    typealias InboundOut = HTTPRequestPart
    typealias OutboundIn = HTTPResponsePart
    typealias OutboundOut = HTTPResponsePart

    private let connections: OpenConnections
    private let count: @Sendable (Int) -> Void
    private var answered = false
    private var counted = false

    init(connections: OpenConnections, count: @escaping @Sendable (Int) -> Void) {
        self.connections = connections
        self.count = count
    }

    func handlerAdded(context: ChannelHandlerContext) {
        connections.opened()
        counted = true
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        if counted { connections.closed() }
        counted = false
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        guard case .head(var head) = unwrapInboundIn(data) else { return context.fireChannelRead(data) }
        head.headerFields[.connection] = "close"
        context.fireChannelRead(wrapInboundOut(.head(head)))
    }

    func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        if case .head(let head) = unwrapOutboundIn(data) {
            answered = true
            count(head.status.code)
        }
        context.write(data, promise: promise)
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        guard let parseError = error as? HTTPParserError else { return context.fireErrorCaught(error) }
        // Answered already, or the client closed before it finished its request: nobody to
        // tell, just close.
        guard !answered, parseError != .invalidEOFState else { return context.close(promise: nil) }
        answered = true
        let tooLarge = parseError == .headerOverflow
        let status = tooLarge ? 431 : 400
        let body = ByteBuffer(string: tooLarge ? "request too large\n" : "bad request: \(parseError)\n")
        let head = HTTPResponse(status: .init(code: status), headerFields: [
            .contentType: "text/plain; charset=utf-8", .contentLength: String(body.readableBytes),
            .cacheControl: "no-store", .connection: "close",
        ])
        count(status)
        context.write(wrapOutboundOut(.head(head)), promise: nil)
        context.write(wrapOutboundOut(.body(body)), promise: nil)
        context.writeAndFlush(wrapOutboundOut(.end(nil))).assumeIsolated().whenComplete { _ in context.close(promise: nil) }
    }
}
