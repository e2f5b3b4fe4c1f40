import CSodium

/// SHA-256 by libsodium, for the op hash chain (MSP 5.9): every verified op is hashed, so the
/// fast implementation, not the model's small one (which digests state, not ops).
public enum SHA256Digest {
    public static let bytes = 32

    public static func of(_ message: [UInt8]) -> [UInt8] {
        var out = [UInt8](repeating: 0, count: bytes)
        _ = message.withUnsafeBufferPointer { m in
            out.withUnsafeMutableBufferPointer { o in
                crypto_hash_sha256(o.baseAddress!, m.baseAddress, UInt64(m.count))
            }
        }
        return out
    }
}
