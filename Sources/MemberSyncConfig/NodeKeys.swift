import Foundation
import MemberSyncCrypto
import ZeroMQ

#if canImport(Glibc)
import Glibc
#endif

/// The node's key files in its data directory. Secret keys are created with mode 0600 (never
/// widened by the umask, refused at startup if readable by others) and are never logged.
///
/// - `signing.key` / `signing.pub`: the Ed25519 key that signs this node's ops (hex).
/// - `curve.key` / `curve.pub`: the CURVE key pair of this node's sockets (Z85).
public enum NodeKeys {
    public static let signingSecretFile = "signing.key"
    public static let signingPublicFile = "signing.pub"

    static func path(_ dataDir: String, _ file: String) -> String {
        (dataDir as NSString).appendingPathComponent(file)
    }

    /// Returns the node's signing key, creating it when the data directory has none yet
    /// (an existing key is kept: re-running `init --force` must not change a node's identity).
    public static func ensureSigningKey(dataDir: String) throws -> SigningKeyPair {
        if let existing = try loadSigningKey(dataDir: dataDir) { return existing }
        let pair = try SigningKeyPair.generate()
        try writeSecret(path(dataDir, signingSecretFile), Hex.encode(pair.secretKey) + "\n")
        try (Hex.encode(pair.publicKey) + "\n").write(toFile: path(dataDir, signingPublicFile), atomically: true, encoding: .utf8)
        return pair
    }

    public static let curveSecretFile = "curve.key"
    public static let curvePublicFile = "curve.pub"

    /// Returns the node's CURVE key pair, creating it when missing (an existing one is kept).
    public static func ensureCurveKey(dataDir: String) throws -> CurveKeyPair {
        if let existing = try loadCurveKey(dataDir: dataDir) { return existing }
        let pair = try CurveKeyPair.generate()
        try writeSecret(path(dataDir, curveSecretFile), pair.secretKey + "\n")
        try (pair.publicKey + "\n").write(toFile: path(dataDir, curvePublicFile), atomically: true, encoding: .utf8)
        return pair
    }

    /// The node's CURVE key pair, or nil when the file does not exist.
    public static func loadCurveKey(dataDir: String) throws -> CurveKeyPair? {
        let file = path(dataDir, curveSecretFile)
        guard FileManager.default.fileExists(atPath: file) else { return nil }
        let secret = try readSecret(file).trimmingCharacters(in: .whitespacesAndNewlines)
        guard let pub = CurveKeyPair.publicKey(forSecret: secret) else {
            throw KeyFileError(message: "\(file) is not a Z85 CURVE secret key")
        }
        return CurveKeyPair(publicKey: pub, secretKey: secret)
    }

    /// The node's signing key, or nil when the file does not exist.
    public static func loadSigningKey(dataDir: String) throws -> SigningKeyPair? {
        let file = path(dataDir, signingSecretFile)
        guard FileManager.default.fileExists(atPath: file) else { return nil }
        let text = try readSecret(file)
        guard let bytes = Hex.decode(text.trimmingCharacters(in: .whitespacesAndNewlines)) else {
            throw KeyFileError(message: "\(file) is not a hex Ed25519 secret key")
        }
        do { return try SigningKeyPair(secretKey: bytes) } catch { throw KeyFileError(message: "\(file): \(error)") }
    }

    /// The public halves of a node's keys (signing: hex, CURVE: Z85).
    public struct PublicKeys: Sendable, Equatable {
        public let signing: String
        public let curve: String
    }

    /// Makes sure a secure node has both key pairs: creates the data directory (mode 0700)
    /// and whichever key is missing, never replacing one that exists. The systemd route
    /// installs no keys, so the daemon makes them at its first start. `created` says whether
    /// anything was made (then the operator needs the public keys to admit the node).
    public static func ensureKeys(dataDir: String) throws -> (keys: PublicKeys, created: Bool) {
        if !FileManager.default.fileExists(atPath: dataDir) {
            try FileManager.default.createDirectory(atPath: dataDir, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
        }
        let existed = FileManager.default.fileExists(atPath: path(dataDir, signingSecretFile)) && FileManager.default.fileExists(atPath: path(dataDir, curveSecretFile))
        let signing = try ensureSigningKey(dataDir: dataDir)
        let curve = try ensureCurveKey(dataDir: dataDir)
        return (PublicKeys(signing: Hex.encode(signing.publicKey), curve: curve.publicKey), !existed)
    }

    /// Checks the keys a data directory holds without creating any: nil when there are none
    /// yet (the first start makes them); throws when one is unreadable, readable by others or
    /// not a key.
    public static func checkKeys(dataDir: String) throws -> PublicKeys? {
        let signing = try loadSigningKey(dataDir: dataDir)
        let curve = try loadCurveKey(dataDir: dataDir)
        guard let signing, let curve else { return nil }
        return PublicKeys(signing: Hex.encode(signing.publicKey), curve: curve.publicKey)
    }

    /// Creates a file readable and writable by its owner only; fails if it exists.
    static func writeSecret(_ file: String, _ text: String) throws {
        let fd = open(file, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o600)
        guard fd >= 0 else { throw KeyFileError(message: "cannot create \(file): \(String(cString: strerror(errno)))") }
        defer { close(fd) }
        fchmod(fd, 0o600)
        let bytes = Array(text.utf8)
        guard write(fd, bytes, bytes.count) == bytes.count, fsync(fd) == 0 else {
            throw KeyFileError(message: "cannot write \(file): \(String(cString: strerror(errno)))")
        }
    }

    /// Reads a secret file, refusing one that group or others may read or write.
    static func readSecret(_ file: String) throws -> String {
        var st = stat()
        guard stat(file, &st) == 0 else { throw KeyFileError(message: "cannot read \(file): \(String(cString: strerror(errno)))") }
        guard st.st_mode & 0o077 == 0 else {
            throw KeyFileError(message: "\(file) is accessible by other users (mode \(String(st.st_mode & 0o777, radix: 8))): chmod 600 it")
        }
        do { return try String(contentsOfFile: file, encoding: .utf8) } catch {
            throw KeyFileError(message: "cannot read \(file): \(error.localizedDescription)")
        }
    }
}

/// Checks of public keys given as text (by an operator, in the roster), so a typo is refused
/// where it is made instead of leaving a node that can never connect or whose every op is
/// refused as `unknown-origin`.
public enum KeyText {
    /// Why `text` is not an Ed25519 public key in hex (64 hex digits), or nil when it is.
    public static func signingKeyProblem(_ text: String) -> String? {
        guard text.utf8.count == 64 else { return "a signing key is 64 hex digits (as in signing.pub), got \(text.utf8.count) characters" }
        guard text.utf8.allSatisfy({ (0x30...0x39).contains($0) || (0x61...0x66).contains($0) || (0x41...0x46).contains($0) }) else {
            return "a signing key is 64 hex digits (0-9, a-f, as in signing.pub); '\(text.prefix(64))' has other characters"
        }
        return nil
    }

    /// Why `text` is not a CURVE public key in Z85 (40 characters), or nil when it is.
    public static func curveKeyProblem(_ text: String) -> String? {
        guard text.utf8.count == 40 else { return "a CURVE key is 40 Z85 characters (as in curve.pub), got \(text.utf8.count)" }
        guard isZ85Key(text) else { return "a CURVE key is 40 Z85 characters (as in curve.pub); '\(text)' has characters outside Z85" }
        return nil
    }
}

/// A key file that cannot be created or read, or holds no key, naming the file.
public struct KeyFileError: Error, CustomStringConvertible, Sendable {
    public let message: String
    public init(message: String) { self.message = message }
    public var description: String { message }
}
