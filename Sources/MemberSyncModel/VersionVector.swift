/// Per replica, the highest counter covered. For a node's replica the entries are contiguous
/// (every counter up to the entry is held); for a field it is the causal context of its writes.
///
/// Stored as an array sorted by replica id rather than a dictionary: nearly every vector is a
/// field's causal context with one to five entries, read and joined once per op, and a short
/// sorted array needs no hashing, one allocation instead of a hash table's, and no sort when
/// it is encoded. Lookups are a binary search, joins a linear merge.
public struct VersionVector: Hashable, Sendable, CustomStringConvertible {
    /// Sorted by replica id; counters are at least 1 (a zero entry is no entry).
    public private(set) var sorted: [(replica: ReplicaID, counter: UInt64)]

    public init() { sorted = [] }

    public init(_ entries: [ReplicaID: UInt64]) {
        sorted = entries.filter { $0.value > 0 }.map { (replica: $0.key, counter: $0.value) }.sorted { $0.replica < $1.replica }
    }

    /// Builds a vector from entries in strictly increasing replica order (the order the wire
    /// carries them in); nil when they are not, so the caller can take a checked path.
    public init?(strictlyIncreasing entries: [(replica: ReplicaID, counter: UInt64)]) {
        for i in entries.indices.dropFirst() where !(entries[i - 1].replica < entries[i].replica) { return nil }
        sorted = entries.contains { $0.counter == 0 } ? entries.filter { $0.counter > 0 } : entries
    }

    /// The entries as a dictionary (built on each call: hot paths use `sorted` or the subscript).
    public var entries: [ReplicaID: UInt64] {
        Dictionary(uniqueKeysWithValues: sorted.lazy.map { ($0.replica, $0.counter) })
    }

    /// Number of replicas with a counter above zero.
    public var count: Int { sorted.count }

    /// Index of `replica` in `sorted`, or where it would be inserted.
    @inline(__always) private func position(_ replica: ReplicaID) -> (index: Int, found: Bool) {
        var lo = 0, hi = sorted.count
        // Contexts are short: a linear scan with equality beats comparing strings for order.
        if hi <= 4 {
            for i in 0..<hi {
                let r = sorted[i].replica
                if r == replica { return (i, true) }
                if replica < r { return (i, false) }
            }
            return (hi, false)
        }
        while lo < hi {
            let mid = (lo + hi) / 2
            let r = sorted[mid].replica
            if r == replica { return (mid, true) }
            if r < replica { lo = mid + 1 } else { hi = mid }
        }
        return (lo, false)
    }

    public subscript(_ replica: ReplicaID) -> UInt64 {
        get {
            let p = position(replica)
            return p.found ? sorted[p.index].counter : 0
        }
        set {
            let p = position(replica)
            switch (p.found, newValue) {
            case (true, 0): sorted.remove(at: p.index)
            case (true, _): sorted[p.index].counter = newValue
            case (false, 0): break
            case (false, _): sorted.insert((replica, newValue), at: p.index)
            }
        }
    }

    public func covers(_ dot: Dot) -> Bool { self[dot.replica] >= dot.counter }

    /// True when every entry of `other` is covered by this vector.
    public func dominates(_ other: VersionVector) -> Bool {
        var i = 0
        for (r, c) in other.sorted {
            while i < sorted.count && sorted[i].replica < r { i += 1 }
            guard i < sorted.count, sorted[i].replica == r, sorted[i].counter >= c else { return false }
        }
        return true
    }

    public mutating func add(_ dot: Dot) {
        let p = position(dot.replica)
        if p.found {
            if dot.counter > sorted[p.index].counter { sorted[p.index].counter = dot.counter }
        } else if dot.counter > 0 {
            sorted.insert((dot.replica, dot.counter), at: p.index)
        }
    }

    /// Pointwise maximum: the join of two version vectors.
    public mutating func merge(_ other: VersionVector) {
        if other.sorted.isEmpty { return }
        if sorted.isEmpty { sorted = other.sorted; return }
        if dominates(other) { return }
        if other.dominates(self) { sorted = other.sorted; return }
        var out: [(replica: ReplicaID, counter: UInt64)] = []
        out.reserveCapacity(sorted.count + other.sorted.count)
        var i = 0, j = 0
        while i < sorted.count || j < other.sorted.count {
            if j == other.sorted.count || (i < sorted.count && sorted[i].replica < other.sorted[j].replica) {
                out.append(sorted[i]); i += 1
            } else if i == sorted.count || other.sorted[j].replica < sorted[i].replica {
                out.append(other.sorted[j]); j += 1
            } else {
                out.append((sorted[i].replica, max(sorted[i].counter, other.sorted[j].counter))); i += 1; j += 1
            }
        }
        sorted = out
    }

    public func merging(_ other: VersionVector) -> VersionVector {
        var v = self
        v.merge(other)
        return v
    }

    /// Pointwise minimum over the replicas of both vectors (missing entries count as 0).
    public func meet(_ other: VersionVector) -> VersionVector {
        var v = VersionVector()
        for (r, c) in sorted {
            let m = min(c, other[r])
            if m > 0 { v.sorted.append((r, m)) }
        }
        return v
    }

    /// Total number of events covered; handy for "how many ops behind". Saturates: vectors
    /// from the network may claim any counters, and a sum must not trap.
    public var total: UInt64 {
        var t: UInt64 = 0
        for e in sorted { t = Self.saturatingAdd(t, e.counter) }
        return t
    }

    /// How many events `other` has that this vector lacks (saturating, like `total`).
    public func missing(from other: VersionVector) -> UInt64 {
        var t: UInt64 = 0
        for e in other.sorted {
            let mine = self[e.replica]
            if e.counter > mine { t = Self.saturatingAdd(t, e.counter - mine) }
        }
        return t
    }

    @inline(__always) static func saturatingAdd(_ a: UInt64, _ b: UInt64) -> UInt64 {
        let (s, overflow) = a.addingReportingOverflow(b)
        return overflow ? .max : s
    }

    public var description: String {
        "[" + sorted.map { "\($0.replica)=\($0.counter)" }.joined(separator: ", ") + "]"
    }

    public static func == (a: VersionVector, b: VersionVector) -> Bool {
        a.sorted.count == b.sorted.count && zip(a.sorted, b.sorted).allSatisfy { $0.replica == $1.replica && $0.counter == $1.counter }
    }

    public func hash(into hasher: inout Hasher) {
        hasher.combine(sorted.count)
        for (r, c) in sorted {
            hasher.combine(r)
            hasher.combine(c)
        }
    }
}
