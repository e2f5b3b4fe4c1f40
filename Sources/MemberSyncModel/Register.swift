/// One value written by one event, kept until a causally later write replaces it.
public struct Sibling<V: Hashable & Sendable>: Hashable, Sendable {
    public let dot: Dot
    public let hlc: HLC
    public let value: V

    public init(dot: Dot, hlc: HLC, value: V) {
        self.dot = dot
        self.hlc = hlc
        self.value = value
    }
}

/// Multi-value register with a causal context (the field's version vector). Concurrent writes
/// survive side by side as siblings: nothing is lost, and a later write replaces them all.
public struct Register<V: Hashable & Sendable>: Hashable, Sendable {
    /// Sorted by dot, so equal states compare and encode equal.
    public private(set) var siblings: [Sibling<V>]
    public private(set) var context: VersionVector

    public init() {
        siblings = []
        context = VersionVector()
    }

    /// Builds a state from parts (e.g. decoded from the wire); siblings are normalised.
    public init(siblings: [Sibling<V>], context: VersionVector) {
        var ctx = context
        for s in siblings { ctx.add(s.dot) }
        self.context = ctx
        // One sibling (nearly every register) is already normal; more are deduplicated by
        // dot and sorted.
        if siblings.count <= 1 {
            self.siblings = siblings
        } else {
            var byDot: [Dot: Sibling<V>] = [:]
            for s in siblings { byDot[s.dot] = s }
            self.siblings = byDot.values.sorted { $0.dot < $1.dot }
        }
    }

    /// The state after `dot` writes `value` having seen this state: one sibling remains.
    public func writing(_ value: V, dot: Dot, hlc: HLC) -> Register {
        var ctx = context
        ctx.add(dot)
        var r = Register()
        r.siblings = [Sibling(dot: dot, hlc: hlc, value: value)]
        r.context = ctx
        return r
    }

    /// True when `other` holds everything this state knows: its context covers ours, and each
    /// of our siblings is either among its siblings or was seen and replaced by it. The join
    /// is then `other` itself; this is the usual case of a write that saw the previous one,
    /// and checking it allocates nothing.
    func isSubsumed(by other: Register) -> Bool {
        guard other.context.dominates(context) else { return false }
        for s in siblings where !other.siblings.contains(where: { $0.dot == s.dot }) {
            guard other.context.covers(s.dot) else { return false }
        }
        // Siblings of `other` that this side has seen and dropped would be dropped by the join.
        for s in other.siblings where context.covers(s.dot) {
            guard siblings.contains(where: { $0.dot == s.dot }) else { return false }
        }
        return true
    }

    /// Join: keep a sibling unless the other side has seen its dot and dropped it.
    public func joined(with other: Register) -> Register {
        if isSubsumed(by: other) { return other }
        if other.isSubsumed(by: self) { return self }
        var kept: [Dot: Sibling<V>] = [:]
        let otherDots = Set(other.siblings.map(\.dot))
        let selfDots = Set(siblings.map(\.dot))
        for s in siblings where !(other.context.covers(s.dot) && !otherDots.contains(s.dot)) { kept[s.dot] = s }
        for s in other.siblings where !(context.covers(s.dot) && !selfDots.contains(s.dot)) { kept[s.dot] = s }
        var r = Register()
        r.siblings = kept.values.sorted { $0.dot < $1.dot }
        r.context = context.merging(other.context)
        return r
    }

    /// The sibling reads show: highest HLC, then highest replica id. Deterministic everywhere.
    public var winner: Sibling<V>? {
        siblings.max { ($0.hlc, $0.dot.replica) < ($1.hlc, $1.dot.replica) }
    }

    /// True when siblings disagree on the value.
    public var isConflicted: Bool {
        guard let first = siblings.first else { return false }
        return siblings.contains { $0.value != first.value }
    }
}

/// Add-wins observed-remove set: every element is a presence register, so a concurrent add
/// and remove leave a `true` sibling and the element stays.
public struct ORSet: Hashable, Sendable {
    public private(set) var elements: [String: Register<Bool>]

    public init(elements: [String: Register<Bool>] = [:]) {
        self.elements = elements
    }

    public var members: Set<String> {
        Set(elements.compactMap { e, r in r.siblings.contains { $0.value } ? e : nil })
    }

    public func contains(_ element: String) -> Bool {
        elements[element]?.siblings.contains { $0.value } ?? false
    }

    /// The delta for adding (`present == true`) or removing an element.
    public func writing(_ element: String, present: Bool, dot: Dot, hlc: HLC) -> ORSet {
        let r = (elements[element] ?? Register()).writing(present, dot: dot, hlc: hlc)
        return ORSet(elements: [element: r])
    }

    public func joined(with other: ORSet) -> ORSet {
        var out = elements
        for (e, r) in other.elements {
            out[e] = out[e].map { $0.joined(with: r) } ?? r
        }
        return ORSet(elements: out)
    }
}
