/// Per replica, the highest counter covered. For a node's replica the entries are contiguous
/// (every counter up to the entry is held); for a field it is the causal context of its writes.
public struct VersionVector: Hashable, Sendable, CustomStringConvertible {
    public private(set) var entries: [ReplicaID: UInt64]

    public init(_ entries: [ReplicaID: UInt64] = [:]) {
        // Filtering builds a new dictionary: only pay for it when there is a zero to drop.
        self.entries = entries.values.contains(0) ? entries.filter { $0.value > 0 } : entries
    }

    public subscript(_ replica: ReplicaID) -> UInt64 {
        get { entries[replica] ?? 0 }
        set {
            if newValue == 0 { entries[replica] = nil } else { entries[replica] = newValue }
        }
    }

    public func covers(_ dot: Dot) -> Bool { self[dot.replica] >= dot.counter }

    /// True when every entry of `other` is covered by this vector.
    public func dominates(_ other: VersionVector) -> Bool {
        other.entries.allSatisfy { self[$0.key] >= $0.value }
    }

    public mutating func add(_ dot: Dot) {
        if dot.counter > self[dot.replica] { self[dot.replica] = dot.counter }
    }

    /// Pointwise maximum: the join of two version vectors.
    public mutating func merge(_ other: VersionVector) {
        for (r, c) in other.entries where c > self[r] { entries[r] = c }
    }

    public func merging(_ other: VersionVector) -> VersionVector {
        var v = self
        v.merge(other)
        return v
    }

    /// Pointwise minimum over the replicas of both vectors (missing entries count as 0).
    public func meet(_ other: VersionVector) -> VersionVector {
        var out: [ReplicaID: UInt64] = [:]
        for (r, c) in entries { out[r] = min(c, other[r]) }
        return VersionVector(out)
    }

    /// Replicas ordered by id, for deterministic output and encoding.
    public var sorted: [(replica: ReplicaID, counter: UInt64)] {
        entries.sorted { $0.key < $1.key }.map { ($0.key, $0.value) }
    }

    /// Total number of events covered; handy for "how many ops behind".
    public var total: UInt64 { entries.values.reduce(0, +) }

    /// How many events `other` has that this vector lacks.
    public func missing(from other: VersionVector) -> UInt64 {
        other.entries.reduce(0) { $0 + ($1.value > self[$1.key] ? $1.value - self[$1.key] : 0) }
    }

    public var description: String {
        "[" + sorted.map { "\($0.replica)=\($0.counter)" }.joined(separator: ", ") + "]"
    }
}
