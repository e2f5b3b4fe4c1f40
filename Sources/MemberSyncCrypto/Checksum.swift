import CSodium

/// A 64-bit checksum of stored bytes (BLAKE2b, libsodium `crypto_generichash`), so the store
/// can tell a damaged row from a sound one when it loads. Not a MAC: it catches disk and
/// editing accidents, not a local attacker (who could recompute it).
public enum Checksum {
    /// BLAKE2b's shortest output is 16 bytes; the first 8 make the checksum.
    private static let outputBytes = 16

    /// The checksum of `parts`, each length-prefixed so ("ab", "c") and ("a", "bc") differ.
    public static func of(_ parts: [UInt8]...) -> Int64 {
        precondition(sodiumReady, "libsodium failed to initialise")
        // One buffer, one call: the streaming state is an over-aligned C struct that Swift
        // cannot declare, and rows are small.
        var input: [UInt8] = []
        input.reserveCapacity(parts.reduce(0) { $0 + $1.count + 8 })
        for part in parts {
            var length = UInt64(part.count)
            for _ in 0..<8 { input.append(UInt8(truncatingIfNeeded: length)); length >>= 8 }
            input.append(contentsOf: part)
        }
        var out = [UInt8](repeating: 0, count: outputBytes)
        crypto_generichash(&out, outputBytes, input, UInt64(input.count), nil, 0)
        var value: UInt64 = 0
        for i in 0..<8 { value |= UInt64(out[i]) << (8 * UInt64(i)) }
        return Int64(bitPattern: value)
    }
}
