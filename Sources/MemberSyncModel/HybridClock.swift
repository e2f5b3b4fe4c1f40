/// A hybrid logical clock timestamp: 48 bits of milliseconds since the Unix epoch and 16 bits
/// of logical counter, packed so that integer order is causal-then-wall-clock order.
public struct HLC: Hashable, Comparable, Sendable, CustomStringConvertible {
    public let raw: UInt64

    /// Largest representable milliseconds (48 bits).
    public static let maxMilliseconds: UInt64 = (1 << 48) - 1
    public static let max = HLC(raw: .max)

    public init(raw: UInt64) { self.raw = raw }
    /// Milliseconds beyond 48 bits saturate to `HLC.max` instead of wrapping (a shift that
    /// dropped the high bits turned a far-future time into 1970).
    public init(milliseconds: UInt64, logical: UInt16) {
        raw = milliseconds > Self.maxMilliseconds ? .max : (milliseconds << 16) | UInt64(logical)
    }

    public var milliseconds: UInt64 { raw >> 16 }
    public var logical: UInt16 { UInt16(truncatingIfNeeded: raw) }

    public static func < (a: HLC, b: HLC) -> Bool { a.raw < b.raw }
    public var description: String { "\(milliseconds).\(logical)" }
}

/// Issues HLC timestamps that never go backwards and that move past any timestamp observed,
/// so a later edit sorts after what its author had seen even when wall clocks disagree.
public struct HybridClock: Sendable {
    private var last: HLC
    private let wallClock: @Sendable () -> UInt64

    /// `wallClock` returns milliseconds since the Unix epoch; injected so tests control time.
    public init(wallClock: @escaping @Sendable () -> UInt64, last: HLC = HLC(raw: 0)) {
        self.wallClock = wallClock
        self.last = last
    }

    public var latest: HLC { last }

    /// The wall clock this clock reads, in milliseconds since the Unix epoch.
    public var wallMilliseconds: UInt64 { wallClock() }

    /// Arithmetic saturates: at `HLC.max` the clock stays there (it never wraps to 0). Remote
    /// ops far ahead of the wall clock are refused before they are observed (`Replica.apply`),
    /// so an honest node never gets there.
    public mutating func now() -> HLC {
        let pt = wallClock()
        if pt > last.milliseconds {
            last = HLC(milliseconds: pt, logical: 0)
        } else if last.raw == .max {
            // Saturated: stay.
        } else if last.logical == UInt16.max {
            last = HLC(milliseconds: last.milliseconds + 1, logical: 0)
        } else {
            last = HLC(raw: last.raw + 1)
        }
        return last
    }

    /// Folds in a timestamp seen on a remote op.
    public mutating func observe(_ remote: HLC) {
        if remote > last { last = remote }
    }
}
