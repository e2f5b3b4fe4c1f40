import CSodium

/// libsodium must be initialised once before use; `sodium_init` is thread-safe and
/// idempotent (it returns 1 when already initialised), so a lazily evaluated global suffices.
let sodiumReady: Bool = sodium_init() >= 0

/// Why a key could not be made or read.
public struct CryptoError: Error, CustomStringConvertible, Sendable, Equatable {
    public let message: String
    public init(_ message: String) { self.message = message }
    public var description: String { message }
}

/// An Ed25519 signing key pair (libsodium `crypto_sign_*`). The secret key is 64 bytes (seed
/// followed by the public key), the public key 32, a detached signature 64.
public struct SigningKeyPair: Sendable, Equatable {
    public let publicKey: [UInt8]
    /// Never logged or printed; written only to a 0600 file.
    public let secretKey: [UInt8]

    public static let publicKeyBytes = 32
    public static let secretKeyBytes = 64
    public static let signatureBytes = 64

    public static func generate() throws(CryptoError) -> SigningKeyPair {
        guard sodiumReady else { throw CryptoError("libsodium failed to initialise") }
        var pk = [UInt8](repeating: 0, count: publicKeyBytes)
        var sk = [UInt8](repeating: 0, count: secretKeyBytes)
        guard crypto_sign_keypair(&pk, &sk) == 0 else { throw CryptoError("crypto_sign_keypair failed") }
        return SigningKeyPair(publicKey: pk, secretKey: sk)
    }

    /// Rebuilds a pair from its 64-byte secret key (the public key is its second half).
    public init(secretKey: [UInt8]) throws(CryptoError) {
        guard secretKey.count == Self.secretKeyBytes else { throw CryptoError("an Ed25519 secret key is \(Self.secretKeyBytes) bytes, not \(secretKey.count)") }
        guard sodiumReady else { throw CryptoError("libsodium failed to initialise") }
        var pk = [UInt8](repeating: 0, count: Self.publicKeyBytes)
        guard crypto_sign_ed25519_sk_to_pk(&pk, secretKey) == 0 else { throw CryptoError("not an Ed25519 secret key") }
        self.publicKey = pk
        self.secretKey = secretKey
    }

    /// The pair derived from a 32-byte seed (`crypto_sign_seed_keypair`): the same seed gives
    /// the same keys, and Ed25519 signatures are deterministic, so test vectors are stable.
    public init(seed: [UInt8]) throws(CryptoError) {
        guard seed.count == 32 else { throw CryptoError("an Ed25519 seed is 32 bytes, not \(seed.count)") }
        guard sodiumReady else { throw CryptoError("libsodium failed to initialise") }
        var pk = [UInt8](repeating: 0, count: Self.publicKeyBytes)
        var sk = [UInt8](repeating: 0, count: Self.secretKeyBytes)
        guard crypto_sign_seed_keypair(&pk, &sk, seed) == 0 else { throw CryptoError("crypto_sign_seed_keypair failed") }
        self.publicKey = pk
        self.secretKey = sk
    }

    private init(publicKey: [UInt8], secretKey: [UInt8]) {
        self.publicKey = publicKey
        self.secretKey = secretKey
    }

    /// A detached 64-byte signature over `message`.
    public func sign(_ message: [UInt8]) -> [UInt8] {
        var sig = [UInt8](repeating: 0, count: Self.signatureBytes)
        var len: UInt64 = 0
        _ = crypto_sign_detached(&sig, &len, message, UInt64(message.count), secretKey)
        return sig
    }

    /// True iff `signature` is a valid signature of `message` by `publicKey`. Wrong lengths are
    /// simply invalid; nothing here traps on hostile input.
    public static func verify(signature: [UInt8], message: [UInt8], publicKey: [UInt8]) -> Bool {
        guard sodiumReady, signature.count == signatureBytes, publicKey.count == publicKeyBytes else { return false }
        return crypto_sign_verify_detached(signature, message, UInt64(message.count), publicKey) == 0
    }
}

/// Lowercase hex, the text form of signing keys in the roster, configs and files.
public enum Hex {
    public static func encode(_ bytes: [UInt8]) -> String {
        let digits = Array("0123456789abcdef".utf8)
        var out = [UInt8]()
        out.reserveCapacity(bytes.count * 2)
        for b in bytes { out.append(digits[Int(b >> 4)]); out.append(digits[Int(b & 0xf)]) }
        return String(decoding: out, as: UTF8.self)
    }

    /// nil unless the text is an even number of hex digits (either case).
    public static func decode(_ text: String) -> [UInt8]? {
        let chars = Array(text.utf8)
        guard chars.count % 2 == 0 else { return nil }
        func nibble(_ c: UInt8) -> UInt8? {
            switch c {
            case 0x30...0x39: return c - 0x30
            case 0x61...0x66: return c - 0x61 + 10
            case 0x41...0x46: return c - 0x41 + 10
            default: return nil
            }
        }
        var out = [UInt8]()
        out.reserveCapacity(chars.count / 2)
        var i = 0
        while i < chars.count {
            guard let hi = nibble(chars[i]), let lo = nibble(chars[i + 1]) else { return nil }
            out.append(hi << 4 | lo)
            i += 2
        }
        return out
    }
}
