/// A hybrid logical clock timestamp: 48 bits of milliseconds since the Unix epoch and 16 bits
/// of logical counter, packed so that integer order is causal-then-wall-clock order.
public struct HLC: Hashable, Comparable, Sendable, CustomStringConvertible {
    public let raw: UInt64

    public init(raw: UInt64) { self.raw = raw }
    public init(milliseconds: UInt64, logical: UInt16) {
        raw = (milliseconds << 16) | UInt64(logical)
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

    public mutating func now() -> HLC {
        let pt = wallClock()
        if pt > last.milliseconds {
            last = HLC(milliseconds: pt, logical: 0)
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
