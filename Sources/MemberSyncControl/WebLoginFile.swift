import Foundation
import MemberSyncCrypto

#if canImport(Glibc)
import Glibc
#endif

/// The web page's login token, in a file only the node's user can read (mode 0600 in the
/// data directory, which is 0700): whoever can read it may open a session, and nobody else
/// can. The daemon writes a fresh token at every start and after each use (a link logs in
/// once); `membersync web-login` reads it and prints the link. Line 1 is the token, line 2
/// the page's base URL as the daemon bound it.
public enum WebLoginFile {
    public static let fileName = "web-login"

    public struct Error: Swift.Error, CustomStringConvertible, Sendable {
        public let message: String
        public var description: String { message }
    }

    public static func path(dataDir: String) -> String {
        (dataDir as NSString).appendingPathComponent(fileName)
    }

    /// 32 random bytes in hex, from the system's cryptographic generator.
    public static func newToken() -> String {
        var g = SystemRandomNumberGenerator()
        return Hex.encode((0..<32).map { _ in UInt8.random(in: 0...255, using: &g) })
    }

    /// Replaces the file atomically: written to a new 0600 file, then renamed over the old.
    public static func write(dataDir: String, token: String, baseURL: String) throws(Error) {
        let target = path(dataDir: dataDir)
        let temp = target + ".new"
        unlink(temp)
        let fd = open(temp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o600)
        guard fd >= 0 else { throw Error(message: "cannot create \(temp): \(String(cString: strerror(errno)))") }
        let bytes = Array((token + "\n" + baseURL + "\n").utf8)
        let written = bytes.withUnsafeBytes { Glibc.write(fd, $0.baseAddress, $0.count) }
        fsync(fd)
        close(fd)
        guard written == bytes.count, rename(temp, target) == 0 else {
            unlink(temp)
            throw Error(message: "cannot write \(target): \(String(cString: strerror(errno)))")
        }
    }

    /// The token and base URL, or why they cannot be read.
    public static func read(dataDir: String) throws(Error) -> (token: String, baseURL: String) {
        let p = path(dataDir: dataDir)
        guard let text = try? String(contentsOfFile: p, encoding: .utf8) else {
            throw Error(message: "cannot read \(p): the node writes it when its web page runs (http_listen), and only the node's user can read it")
        }
        let lines = text.split(separator: "\n").map(String.init)
        guard lines.count >= 2, lines[0].count == 64, lines[1].hasPrefix("http") else {
            throw Error(message: "\(p) is not a web login file (a token line and a URL line)")
        }
        return (lines[0], lines[1])
    }

    /// The one-time login link.
    public static func link(dataDir: String) throws(Error) -> String {
        let (token, base) = try read(dataDir: dataDir)
        return base + "/login?token=" + token
    }
}
