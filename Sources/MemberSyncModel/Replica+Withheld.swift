/// Withheld ops and record rebuilding: what lets a node take back the effect of an op that its
/// write rules refuse only once a later fact arrives (a revocation or a removal from a project
/// that did not see the op, MSP 11.7). The op stays held; the record is rebuilt from the held
/// ops that are not withheld.
extension Replica {
    /// Starts keeping, per record, the dots of the held ops on it, for the collections named
    /// (and apart, the ops that write one of the fields given for the collection): rebuilding
    /// a record and judging an op against a record's history then cost the ops on that record,
    /// not a scan of the whole log.
    public mutating func indexHistory(of collections: [String: Set<String>]) {
        historyCollections = collections
        rightsFactsChanged()
        history = [:]
        trackedHistory = [:]
        // Ops a store kept below the floor count only as rights writes of these collections (a
        // member's store may also hold ops a snapshot's floor passed).
        retainedRights = retainedRights.filter { _, op in
            collections[op.key.collection].map { tracked in op.fields.keys.contains(where: tracked.contains) } ?? false
        }
        for op in retainedRights.values.sorted(by: { ($0.hlc, $0.dot) < ($1.hlc, $1.dot) }) + heldOps() { noteHistory(op) }
    }

    mutating func noteHistory(_ op: Op) {
        guard let tracked = historyCollections[op.key.collection] else { return }
        history[op.key, default: []].append(op.dot)
        if op.fields.keys.contains(where: tracked.contains) { trackedHistory[op.key, default: []].append(op.dot) }
    }

    /// The held ops on `key` (withheld ones included), from the index when the collection is
    /// indexed, else by a scan of the log.
    public func heldOps(on key: RecordKey) -> [Op] {
        guard historyCollections[key.collection] != nil else { return heldOps(for: key) }
        return (history[key] ?? []).compactMap { op($0) }
    }

    /// The dots of the held ops on `key` (withheld ones included), for an indexed collection;
    /// otherwise those of a scan of the log.
    public func heldDots(on key: RecordKey) -> [Dot] {
        guard historyCollections[key.collection] != nil else { return heldOps(for: key).map(\.dot) }
        return history[key] ?? []
    }

    /// How many ops writing a tracked field the history of `key` has taken in: it rises with
    /// every such op held (compaction, which may lower what is held, changes
    /// `rightsFactsGeneration`).
    public func trackedWriteCount(on key: RecordKey) -> Int { trackedHistory[key]?.count ?? 0 }

    /// The dots of the held ops on `key` that write one of its collection's tracked fields
    /// (indexed collections only).
    public func heldTrackedDots(on key: RecordKey) -> [Dot] {
        (trackedHistory[key] ?? []).filter { op($0) != nil }
    }

    /// The held ops on `key` that write one of its collection's tracked fields (indexed
    /// collections only).
    public func heldTrackedOps(on key: RecordKey) -> [Op] { heldTrackedOps(on: key, after: 0) }

    /// The held ops on `key` that write a tracked field and joined its history after the first
    /// `count` of them. Within one `rightsFactsGeneration` that history only grows (a roll-back
    /// or compaction, which shorten it, change the generation), so a judgement kept for the
    /// record can take in just these.
    public func heldTrackedOps(on key: RecordKey, after count: Int) -> [Op] {
        guard let dots = trackedHistory[key], count < dots.count else { return [] }
        return dots[count...].compactMap { op($0) }
    }

    /// Whether a held op on `key` is withheld: its record is then what a rebuild made, not the
    /// plain join of the held ops (see `rebuild`).
    public func hasWithheld(on key: RecordKey) -> Bool {
        !withheld.isEmpty && heldDots(on: key).contains(where: withheld.contains)
    }

    /// Applies a withheld op after all: its effect joins the record. Returns its key.
    @discardableResult
    public mutating func release(_ dot: Dot) -> RecordKey? {
        guard withheld.remove(dot) != nil, let op = op(dot) else { return nil }
        rightsFactsChanged()
        records[op.key, default: Record()].join(op.fields)
        changed(op.key)
        return op.key
    }

    /// Takes back the effect of held ops: they become withheld and every record they touched
    /// is rebuilt without them. Returns the rebuilt keys.
    public mutating func withhold(_ dots: some Sequence<Dot>) -> Set<RecordKey> {
        var keys = Set<RecordKey>()
        for dot in dots where !withheld.contains(dot) {
            guard let op = op(dot) else { continue }
            withheld.insert(dot)
            keys.insert(op.key)
        }
        if !keys.isEmpty { rightsFactsChanged() }
        for key in keys { rebuild(key) }
        return keys
    }

    /// Rebuilds a record from the held ops on it that are not withheld, keeping the part of
    /// its state no held op explains (it came with a snapshot or from compacted ops). Exact
    /// when the log holds every op that wrote the record: then the result is the join of the
    /// ops that are not withheld. Otherwise a value that a withheld op replaced and that only
    /// a snapshot or a compacted op carried is lost (MSP 11.7 says so).
    ///
    /// What compacted ops did stays done: a held value the record retired stays retired unless
    /// a withheld op may have retired it, and the register keeps the part of its context that
    /// lies at or below the log floors (compacted ops are never withheld, MSP 7.7). Without
    /// that, a hub that had compacted the op retiring a value brought the value back when it
    /// rebuilt the record, and the members, which held that op, did not.
    public mutating func rebuild(_ key: RecordKey) {
        let current = records[key] ?? Record()
        let refused = withheld
        let held = heldOps(on: key)
        let sources = held.filter { !refused.contains($0.dot) }
        let withheldOps = held.filter { refused.contains($0.dot) }
        let compacted = logFloor
        func register<V>(_ base: Register<V>, _ deltas: [Register<V>], _ withheldDeltas: [Register<V>]) -> Register<V> {
            var candidates: [Dot: Sibling<V>] = [:]
            for s in base.siblings where !refused.contains(s.dot) { candidates[s.dot] = s }
            for d in deltas {
                for s in d.siblings where candidates[s.dot] == nil {
                    // Retired here by an op no longer held (compacted): it stays retired.
                    if base.context.covers(s.dot) && !withheldDeltas.contains(where: { $0.context.covers(s.dot) }) { continue }
                    candidates[s.dot] = s
                }
            }
            // A value survives unless another allowed write saw it (the join's rule).
            let kept = candidates.values.filter { s in
                !deltas.contains { d in d.context.covers(s.dot) && !d.siblings.contains { $0.dot == s.dot } }
            }
            var context = base.context.meet(compacted)
            for d in deltas { context.merge(d.context) }
            for s in kept { context.add(s.dot) }
            return Register(siblings: Array(kept), context: context)
        }
        var names = Set(current.fields.keys)
        for op in sources { names.formUnion(op.fields.keys) }
        var fields: [String: FieldState] = [:]
        for name in names {
            let isSet: Bool
            if let state = current.fields[name] ?? sources.lazy.compactMap({ $0.fields[name] }).first, case .set = state { isSet = true } else { isSet = false }
            if isSet {
                let base = current.set(name)
                var deltas: [ORSet] = [], withheldDeltas: [ORSet] = []
                for op in sources { if case .set(let s)? = op.fields[name] { deltas.append(s) } }
                for op in withheldOps { if case .set(let s)? = op.fields[name] { withheldDeltas.append(s) } }
                var elements = Set(base.elements.keys)
                for d in deltas { elements.formUnion(d.elements.keys) }
                var out: [String: Register<Bool>] = [:]
                for e in elements {
                    let r = register(base.elements[e] ?? Register(), deltas.compactMap { $0.elements[e] }, withheldDeltas.compactMap { $0.elements[e] })
                    if !r.siblings.isEmpty { out[e] = r }
                }
                if !out.isEmpty { fields[name] = .set(ORSet(elements: out)) }
            } else {
                var deltas: [Register<Value>] = [], withheldDeltas: [Register<Value>] = []
                for op in sources { if case .register(let r)? = op.fields[name] { deltas.append(r) } }
                for op in withheldOps { if case .register(let r)? = op.fields[name] { withheldDeltas.append(r) } }
                let r = register(current.register(name), deltas, withheldDeltas)
                if !r.siblings.isEmpty { fields[name] = .register(r) }
            }
        }
        records[key] = Record(fields: fields)
        changed(key)
    }
}
