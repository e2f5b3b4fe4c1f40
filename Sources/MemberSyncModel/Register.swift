/// One value written by one event, kept until a causally later write replaces it.
public struct Sibling<V: Hashable & Sendable>: Hashable, Sendable {
    public let dot: Dot
    public let hlc: HLC
    public let value: V

    @_specialize(exported: true, where V == Value)
    @_specialize(exported: true, where V == Bool)
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
    /// Exported specialised for the two value types a record holds, so the wire's decoders
    /// (another module), which build every register a node loads or receives, call those
    /// instead of the generic body (which looks up type metadata at every call).
    @_specialize(exported: true, where V == Value)
    @_specialize(exported: true, where V == Bool)
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
    /// and checking it allocates nothing. Both sibling lists are sorted by dot, so one merge
    /// walk decides it: linear, where a search per sibling made many siblings quadratic.
    func isSubsumed(by other: Register) -> Bool {
        guard other.context.dominates(context) else { return false }
        let a = siblings, b = other.siblings
        var i = 0, j = 0
        while i < a.count || j < b.count {
            if j == b.count || (i < a.count && a[i].dot < b[j].dot) {
                // Ours only: the join keeps it unless `other` has seen it.
                guard other.context.covers(a[i].dot) else { return false }
                i += 1
            } else if i == a.count || b[j].dot < a[i].dot {
                // Theirs only, and we have seen and dropped it: the join would drop it too.
                if context.covers(b[j].dot) { return false }
                j += 1
            } else {
                i += 1
                j += 1
            }
        }
        return true
    }

    /// Join: keep a sibling unless the other side has seen its dot and dropped it. One merge
    /// walk over the two sorted sibling lists: linear in the siblings, no hashing.
    public func joined(with other: Register) -> Register {
        if isSubsumed(by: other) { return other }
        if other.isSubsumed(by: self) { return self }
        let a = siblings, b = other.siblings
        var kept: [Sibling<V>] = []
        kept.reserveCapacity(a.count + b.count)
        var i = 0, j = 0
        while i < a.count || j < b.count {
            if j == b.count || (i < a.count && a[i].dot < b[j].dot) {
                if !other.context.covers(a[i].dot) { kept.append(a[i]) }
                i += 1
            } else if i == a.count || b[j].dot < a[i].dot {
                if !context.covers(b[j].dot) { kept.append(b[j]) }
                j += 1
            } else {
                // The same event on both sides is kept once (the other side's copy, as before).
                kept.append(b[j])
                i += 1
                j += 1
            }
        }
        var r = Register()
        r.siblings = kept
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
    /// Estimated encoded bytes of all elements (`EncodedSize.element` summed), kept up to date
    /// by every change so the set's size limit is checked in time proportional to what an op
    /// touches, not to the whole set. A function of `elements`, so equality is unaffected.
    public var elementBytes: Int { Int(storedElementBytes) }
    /// `elementBytes` in 32 bits (clamped; sets are refused far below 4 GiB, `Limits`): with
    /// no 64-bit integer beside the elements, `FieldState` fits in 16 bytes instead of 24,
    /// and every record's field table is that much smaller.
    private var storedElementBytes: UInt32

    public init(elements: [String: Register<Bool>] = [:]) {
        self.elements = elements
        var n = 0
        for (e, r) in elements { n += EncodedSize.element(e, r) }
        storedElementBytes = UInt32(clamping: n)
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

    /// Sets one element's presence register, keeping `elementBytes` exact.
    mutating func put(_ element: String, _ presence: Register<Bool>) {
        var n = elementBytes
        if let old = elements.updateValue(presence, forKey: element) {
            n -= EncodedSize.element(element, old)
        }
        n += EncodedSize.element(element, presence)
        storedElementBytes = UInt32(clamping: n)
    }

    /// Joins `other` in place: work proportional to `other`, not to this set.
    public mutating func join(_ other: ORSet) {
        for (e, r) in other.elements {
            put(e, elements[e].map { $0.joined(with: r) } ?? r)
        }
    }

    public func joined(with other: ORSet) -> ORSet {
        var out = self
        out.join(other)
        return out
    }
}
