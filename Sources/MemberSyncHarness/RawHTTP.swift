import Foundation

#if canImport(Glibc)
import Glibc
#endif

/// A plain HTTP/1.1 client over a socket, so a test sees exactly what a server sends (the
/// web page's tests: headers, status lines, a stream of server-sent events).
public struct RawHTTP {
    public let port: Int

    public init(port: Int) { self.port = port }

    /// Connects and sends `request`; the caller reads. Nil when the connection fails.
    public func open(_ request: String) -> Int32? {
        let fd = LoopbackPorts.connect(port, timeoutSeconds: 0.2)
        guard fd >= 0 else { return nil }
        let bytes = Array(request.utf8)
        _ = bytes.withUnsafeBytes { send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
        return fd
    }

    /// Reads until `done` holds for what arrived, the peer closes, or `timeout` passes.
    public func read(_ fd: Int32, timeout: TimeInterval, until done: (String) -> Bool = { _ in false }) -> (text: String, closed: Bool) {
        var data = [UInt8]()
        let deadline = Date().addingTimeInterval(timeout)
        var buffer = [UInt8](repeating: 0, count: 16_384)
        while Date() < deadline {
            let n = buffer.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
            if n == 0 { return (String(decoding: data, as: UTF8.self), true) }
            if n > 0 {
                data += buffer[0..<n]
                if done(String(decoding: data, as: UTF8.self)) { break }
            }
        }
        return (String(decoding: data, as: UTF8.self), false)
    }

    public func request(_ method: String, _ path: String, headers: [String: String] = [:], body: String = "") -> String {
        var head = "\(method) \(path) HTTP/1.1\r\nHost: 127.0.0.1:\(port)\r\nConnection: close\r\n"
        for (k, v) in headers { head += "\(k): \(v)\r\n" }
        if !body.isEmpty { head += "Content-Length: \(body.utf8.count)\r\n" }
        guard let fd = open(head + "\r\n" + body) else { return "" }
        defer { close(fd) }
        return read(fd, timeout: 10).text
    }
}

