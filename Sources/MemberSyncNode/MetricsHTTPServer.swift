import Foundation

#if canImport(Glibc)
import Glibc
import MemberSyncConfig
#endif

/// Why the metrics listener could not start.
public struct MetricsServerError: Error, CustomStringConvertible {
    public let message: String
    public var description: String { message }
}

/// A minimal HTTP/1.x server for metrics scrapes and health checks, driven by the reactor.
///
/// Why not a thread or NIO: the reactor thread owns all node state, so answering on it needs no
/// locks. Every socket is non-blocking and polled with the ZeroMQ sockets; each connection
/// carries one bounded request (`Connection: close`) and gets a few seconds to complete, so a
/// slow, stuck or hostile client costs a file descriptor and a few KiB, never reactor time.
final class MetricsHTTPServer {
    struct Request: Equatable {
        let method: String
        let path: String
    }

    struct Response {
        var status: Int
        var contentType = "text/plain; charset=utf-8"
        var body: [UInt8]
        var headers: [(String, String)] = []

        init(status: Int, contentType: String = "text/plain; charset=utf-8", body: String, headers: [(String, String)] = []) {
            self.status = status
            self.contentType = contentType
            self.body = Array(body.utf8)
            self.headers = headers
        }
    }

    /// Largest request head accepted; scrapers send a few hundred bytes.
    static let maxRequestBytes = 8 * 1024
    /// Simultaneous connections; past this the listener is not polled until one closes.
    static let maxConnections = 32
    /// A connection must have sent its request and taken its answer within this time.
    static let connectionTimeoutMilliseconds: UInt64 = 5_000

    private struct Connection {
        var input: [UInt8] = []
        var output: [UInt8] = []
        var written = 0
        var answered = false
        let openedAt: UInt64
    }

    let address: ListenAddress
    private(set) var listenFD: Int32
    private var connections: [Int32: Connection] = [:]
    private var acceptPausedUntil: UInt64 = 0
    /// Answers sent, by HTTP status code (a handful of fixed codes).
    private(set) var responses: [Int: UInt64] = [:]

    init(address: ListenAddress) throws(MetricsServerError) {
        var hints = addrinfo()
        hints.ai_flags = AI_NUMERICHOST | AI_NUMERICSERV | AI_PASSIVE
        hints.ai_socktype = Int32(SOCK_STREAM.rawValue)
        var list: UnsafeMutablePointer<addrinfo>?
        guard getaddrinfo(address.host, String(address.port), &hints, &list) == 0, let ai = list else {
            throw MetricsServerError(message: "metrics_listen \(address): not a numeric address")
        }
        defer { freeaddrinfo(list) }
        let fd = socket(ai.pointee.ai_family, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_NONBLOCK.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else { throw MetricsServerError(message: "metrics_listen \(address): socket: \(Self.errnoText())") }
        var one: Int32 = 1
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, socklen_t(MemoryLayout<Int32>.size))
        guard bind(fd, ai.pointee.ai_addr, ai.pointee.ai_addrlen) == 0, listen(fd, 16) == 0 else {
            let why = Self.errnoText()
            Glibc.close(fd)
            throw MetricsServerError(message: "metrics_listen \(address): cannot listen: \(why)")
        }
        listenFD = fd
        self.address = ListenAddress(host: address.host, port: Self.boundPort(fd) ?? address.port)
    }

    deinit { close() }

    /// Closes the listener and every connection.
    func close() {
        for fd in connections.keys { Glibc.close(fd) }
        connections.removeAll()
        if listenFD >= 0 { Glibc.close(listenFD) }
        listenFD = -1
    }

    var connectionCount: Int { connections.count }

    /// The descriptors to poll now: the listener while there is room for another client, each
    /// client for input until its request is in, then for output until its answer is out.
    func pollSet(now: UInt64) -> [(fd: Int32, writable: Bool)] {
        var out: [(fd: Int32, writable: Bool)] = []
        if listenFD >= 0, connections.count < Self.maxConnections, now >= acceptPausedUntil { out.append((listenFD, false)) }
        for (fd, c) in connections { out.append((fd, c.answered)) }
        return out
    }

    /// Handles readiness of a descriptor from `pollSet`; `respond` answers complete requests.
    func handle(fd: Int32, now: UInt64, respond: (Request) -> Response) {
        if fd == listenFD { acceptClients(now: now); return }
        guard var c = connections[fd] else { return }
        if c.answered {
            flush(fd, &c)
            return
        }
        var chunk = [UInt8](repeating: 0, count: 4096)
        while true {
            let n = chunk.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, Int32(MSG_DONTWAIT)) }
            if n > 0 {
                c.input += chunk[0..<n]
                if c.input.count > Self.maxRequestBytes { break }
                continue
            }
            if n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK) { break }
            if n < 0 && errno == EINTR { continue }
            drop(fd) // EOF before a complete request, or a socket error
            return
        }
        let response: Response
        switch Self.parse(c.input) {
        case .incomplete:
            if c.input.count <= Self.maxRequestBytes {
                connections[fd] = c
                return
            }
            response = Response(status: 431, body: "request too large\n")
        case .bad(let why):
            response = Response(status: 400, body: why + "\n")
        case .request(let request):
            if request.method != "GET" && request.method != "HEAD" {
                response = Response(status: 405, body: "only GET and HEAD\n", headers: [("Allow", "GET, HEAD")])
            } else {
                var r = respond(request)
                if request.method == "HEAD" {
                    r.headers.append(("Content-Length", String(r.body.count)))
                    r.body = []
                }
                response = r
            }
        }
        c.output = Self.serialise(response)
        c.answered = true
        responses[response.status, default: 0] += 1
        flush(fd, &c)
    }

    /// Closes connections that did not finish within the time allowed.
    func expire(now: UInt64) {
        for (fd, c) in connections where now &- c.openedAt > Self.connectionTimeoutMilliseconds { drop(fd) }
    }

    // MARK: internals

    private func acceptClients(now: UInt64) {
        while connections.count < Self.maxConnections {
            let fd = accept(listenFD, nil, nil)
            if fd >= 0 {
                // Glibc's module map hides accept4; the daemon never forks, so setting the
                // flags after accept leaves no window that matters.
                _ = fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK)
                _ = fcntl(fd, F_SETFD, FD_CLOEXEC)
                connections[fd] = Connection(openedAt: now)
                continue
            }
            switch errno {
            case EINTR, ECONNABORTED, EPROTO: continue
            case EMFILE, ENFILE, ENOBUFS, ENOMEM:
                // Out of descriptors: the listener would stay readable and spin the reactor.
                acceptPausedUntil = now + 250
                return
            default: return // EAGAIN: nobody else waiting
            }
        }
    }

    private func flush(_ fd: Int32, _ c: inout Connection) {
        while c.written < c.output.count {
            let n = c.output.withUnsafeBytes { buf in
                send(fd, buf.baseAddress! + c.written, buf.count - c.written, Int32(MSG_DONTWAIT | MSG_NOSIGNAL))
            }
            if n > 0 { c.written += n; continue }
            if n < 0 && errno == EINTR { continue }
            if n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK) {
                connections[fd] = c // wait until writable
                return
            }
            drop(fd)
            return
        }
        // Answer out: half-close, discard what the client may still have sent (so closing does
        // not reset the connection under the answer), and close.
        shutdown(fd, Int32(SHUT_WR))
        var sink = [UInt8](repeating: 0, count: 1024)
        for _ in 0..<8 {
            if sink.withUnsafeMutableBytes({ recv(fd, $0.baseAddress, $0.count, Int32(MSG_DONTWAIT)) }) <= 0 { break }
        }
        drop(fd)
    }

    private func drop(_ fd: Int32) {
        connections[fd] = nil
        Glibc.close(fd)
    }

    enum Parsed: Equatable {
        case incomplete
        case bad(String)
        case request(Request)
    }

    /// Reads the request line once the head is complete (a blank line); headers are ignored.
    static func parse(_ input: [UInt8]) -> Parsed {
        guard let end = headEnd(input) else { return .incomplete }
        guard let lineEnd = input[..<end].firstIndex(of: 0x0a) else { return .bad("bad request line") }
        var line = input[..<lineEnd]
        if line.last == 0x0d { line = line.dropLast() }
        let parts = line.split(separator: 0x20, omittingEmptySubsequences: false)
        guard parts.count == 3, let version = String(validating: parts[2], as: UTF8.self), version.hasPrefix("HTTP/1."),
              let method = String(validating: parts[0], as: UTF8.self), !method.isEmpty, method.utf8.count <= 16,
              method.utf8.allSatisfy({ (0x41...0x5a).contains($0) }),
              let target = String(validating: parts[1], as: UTF8.self), target.hasPrefix("/")
        else { return .bad("bad request line") }
        let path = target.split(separator: "?", maxSplits: 1, omittingEmptySubsequences: false).first.map(String.init) ?? target
        return .request(Request(method: method, path: path))
    }

    /// Index of the blank line ending the head (CRLF CRLF, or bare LF LF from hand-typed input).
    private static func headEnd(_ b: [UInt8]) -> Int? {
        var i = 0
        while i < b.count {
            if b[i] == 0x0a {
                if i + 1 < b.count, b[i + 1] == 0x0a { return i + 1 }
                if i + 2 < b.count, b[i + 1] == 0x0d, b[i + 2] == 0x0a { return i + 2 }
            }
            i += 1
        }
        return nil
    }

    static func serialise(_ r: Response) -> [UInt8] {
        var head = "HTTP/1.1 \(r.status) \(reason(r.status))\r\n"
        head += "Content-Type: \(r.contentType)\r\n"
        if !r.headers.contains(where: { $0.0 == "Content-Length" }) { head += "Content-Length: \(r.body.count)\r\n" }
        for (k, v) in r.headers { head += "\(k): \(v)\r\n" }
        head += "Cache-Control: no-store\r\nConnection: close\r\n\r\n"
        return Array(head.utf8) + r.body
    }

    static func reason(_ status: Int) -> String {
        switch status {
        case 200: return "OK"
        case 400: return "Bad Request"
        case 404: return "Not Found"
        case 405: return "Method Not Allowed"
        case 431: return "Request Header Fields Too Large"
        case 503: return "Service Unavailable"
        default: return "Status"
        }
    }

    private static func boundPort(_ fd: Int32) -> Int? {
        var storage = sockaddr_storage()
        var len = socklen_t(MemoryLayout<sockaddr_storage>.size)
        let ok = withUnsafeMutablePointer(to: &storage) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &len) == 0 }
        }
        guard ok else { return nil }
        switch Int32(storage.ss_family) {
        case AF_INET:
            return withUnsafePointer(to: &storage) { $0.withMemoryRebound(to: sockaddr_in.self, capacity: 1) { Int(UInt16(bigEndian: $0.pointee.sin_port)) } }
        case AF_INET6:
            return withUnsafePointer(to: &storage) { $0.withMemoryRebound(to: sockaddr_in6.self, capacity: 1) { Int(UInt16(bigEndian: $0.pointee.sin6_port)) } }
        default:
            return nil
        }
    }

    private static func errnoText() -> String { String(cString: strerror(errno)) }
}
