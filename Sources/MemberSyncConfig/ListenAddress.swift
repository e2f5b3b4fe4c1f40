import Foundation

#if canImport(Glibc)
import Glibc
#endif

/// A numeric IP address and TCP port to listen on: `127.0.0.1:9464` or `[::1]:9464`.
/// Numeric only, so a daemon never waits on name resolution to start.
public struct ListenAddress: Sendable, Equatable, CustomStringConvertible {
    public let host: String
    public let port: Int

    public init(host: String, port: Int) {
        self.host = host
        self.port = port
    }

    public struct ParseError: Error, Equatable {
        public let message: String
    }

    public init(parsing text: String) throws(ParseError) {
        let example = "expected HOST:PORT with a numeric address, e.g. \"127.0.0.1:9464\" or \"[::1]:9464\", not '\(text)'"
        let hostPart: Substring, portPart: Substring
        if text.hasPrefix("[") {
            guard let close = text.firstIndex(of: "]"), text[text.index(after: close)...].hasPrefix(":") else { throw ParseError(message: example) }
            hostPart = text[text.index(after: text.startIndex)..<close]
            portPart = text[text.index(close, offsetBy: 2)...]
        } else {
            guard let colon = text.lastIndex(of: ":"), !text[..<colon].contains(":") else { throw ParseError(message: example) }
            hostPart = text[..<colon]
            portPart = text[text.index(after: colon)...]
        }
        guard let port = Int(portPart), (1...65535).contains(port) else {
            throw ParseError(message: "port must be a number between 1 and 65535 in '\(text)'")
        }
        let host = String(hostPart)
        var v4 = in_addr(), v6 = in6_addr()
        guard inet_pton(AF_INET, host, &v4) == 1 || inet_pton(AF_INET6, host, &v6) == 1 else { throw ParseError(message: example) }
        self.init(host: host, port: port)
    }

    public var description: String { host.contains(":") ? "[\(host)]:\(port)" : "\(host):\(port)" }
}
