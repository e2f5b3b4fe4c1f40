import MemberSyncHarness
import XCTest
import MemberSyncCrypto
import MemberSyncModel

/// The model's SHA-256 (which the status digest hashes every record with) against libsodium's,
/// on random inputs fed in random pieces: bytes, counts and strings, short and across blocks.
final class SHA256HasherTests: XCTestCase {
    func testPiecewiseHashingMatchesLibsodiumOnRandomInputs() {
        var rng = SeededRandom(seed: 7)
        for _ in 0..<2000 {
            var hasher = SHA256Hasher()
            var stream: [UInt8] = []
            for _ in 0..<Int.random(in: 0...6, using: &rng) {
                switch Int.random(in: 0..<3, using: &rng) {
                case 0:
                    let bytes = (0..<Int.random(in: 0...200, using: &rng)).map { _ in UInt8.random(in: 0...255, using: &rng) }
                    if Bool.random(using: &rng) { hasher.update(bytes) } else { hasher.update(bytes.lazy.map { $0 }) }
                    stream += bytes
                case 1:
                    let value = UInt64.random(in: 0...UInt64.max, using: &rng)
                    hasher.update(value)
                    stream += (0..<8).reversed().map { UInt8(truncatingIfNeeded: value >> (UInt64($0) * 8)) }
                default:
                    let text = String((0..<Int.random(in: 0...90, using: &rng)).map { _ in ["a", "ø", "Æ", "-", "1", "é"].randomElement(using: &rng)! })
                    hasher.update(text)
                    let utf8 = Array(text.utf8)
                    stream += (0..<8).reversed().map { UInt8(truncatingIfNeeded: UInt64(utf8.count) >> (UInt64($0) * 8)) } + utf8
                }
            }
            XCTAssertEqual(hasher.finalize(), SHA256Digest.of(stream), "\(stream.count) bytes")
        }
    }
}
