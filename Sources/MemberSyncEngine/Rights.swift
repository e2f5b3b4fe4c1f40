import MemberSyncModel

/// Deterministic authorisation (MSP 11.7). Whether an op is allowed must depend only on the op
/// and on facts every node eventually holds alike, never on what a node happened to receive
/// first. Two facts decide:
///
/// - the roster, with a revocation bounded by the counters it accepts (`accepted_through`);
/// - for the records whose rights live in the record itself (a project's `lead` and
///   `partners`, a contact's `organisation`), the *rights writes* on the record (the ops that
///   write those fields) that had not seen the op: an op X is judged against the state formed
///   by the rights writes whose `$exists` context does not cover X's dot (X's causal past and
///   whatever was concurrent with it; what came after X does not count). Every node ends up
///   holding the same rights writes, each with its context, so every node reaches the same
///   verdict, and X's own claims play no part: its origin cannot hide a concurrent removal.
///
/// Rights writes are judged against rights writes too, which could go round in circles (two
/// concurrent lead changes, each refusing the other). A member's rights write is therefore
/// judged in two steps: first against the hub operators' rights writes and the members' ones
/// it claims to have seen (its *plausible* verdict), then against the hub operators' and every
/// member rights write that did not see it and is plausible. Concurrent conflicting member
/// rights writes thus refuse each other (fail closed), and one that lies about its past to
/// dodge a removal is still refused by that removal. Every other op is judged against the
/// rights writes finally allowed. Hub operators' ops are always allowed.
///
/// A verdict can change when a fact arrives late (a concurrent removal, a revocation): the op
/// is then withheld (kept in the log and the version, so it is served and never fetched
/// again, but taken out of its record, which is rebuilt) or released again.
extension WriteAuthority {
    /// Per collection, the fields whose history decides who may write a record.
    public static let rightsFields: [String: Set<String>] = ["projects": ["lead", "partners"], "contacts": ["organisation"]]

    /// Writes a field that decides rights on its record.
    static func isRightsWrite(_ op: Op) -> Bool {
        guard let fields = rightsFields[op.key.collection] else { return false }
        return op.fields.keys.contains(where: fields.contains)
    }

    /// `w` saw the op `dot` (both on one record): `w`'s `$exists` context covers it.
    static func saw(_ w: Op, _ dot: Dot) -> Bool {
        if case .register(let r)? = w.fields[Record.existsField] { return r.context.covers(dot) }
        return false
    }

    /// Whether applying (or holding) `op` can change the verdict on an op already held: only
    /// a rights write can, and only one that did not see every op held on its record, or that
    /// a held rights write saw. An op X is judged against the rights writes that did not see
    /// X; a write that saw X is not among them, and when no held rights write saw the
    /// newcomer, it also changes no other rights write's plausibility (see `verdicts`). So a
    /// record edited in sequence costs no judging again.
    static func mayChangeVerdicts(_ op: Op, in replica: Replica) -> Bool {
        guard isRightsWrite(op) else { return false }
        // `saw(op, d)` for every held dot, with the op's context read once per run of dots of
        // one replica (a record's history holds long runs of them).
        let context = RightsJudgements.context(of: op)
        var replicaRead: ReplicaID?, seenThrough: UInt64 = 0
        for d in replica.heldDots(on: op.key) where d != op.dot {
            if d.replica != replicaRead { replicaRead = d.replica; seenThrough = context[d.replica] }
            if d.counter > seenThrough { return true }
        }
        // A held op's context may cover a dot its receiver does not hold yet (causal delivery
        // waits only for what an op retires); a rights write that saw the newcomer can change.
        return replica.heldTrackedOps(on: op.key).contains { $0.dot != op.dot && saw($0, op.dot) }
    }

    func isHubOperator(_ node: String, in replica: Replica) -> Bool {
        (try? writer(node, in: replica).hubOperator) ?? false
    }

    /// The rights facts a non-rights op (or any op, when `verdicts` is not needed) is judged
    /// against: the state of the rights writes on its record that did not see it and are not
    /// withheld.
    public func view(for op: Op, in replica: Replica) -> RightsView {
        guard Self.rightsFields[op.key.collection] != nil else { return RightsView() }
        let writes = replica.heldTrackedOps(on: op.key).filter { $0.dot != op.dot && !Self.saw($0, op.dot) && !replica.withheld.contains($0.dot) }
        return Self.rightsState(op.key, writes, in: replica)
    }

    /// The final verdict on every held op on `key`, and on `extra` (an op not held yet): nil
    /// for allowed, else why not. With `rightsWritesOnly`, only the rights writes are judged:
    /// their verdicts never depend on the other ops, and judging every other op on the record
    /// against them is what made one rights write cost the record's whole history.
    func verdicts(on key: RecordKey, in replica: Replica, extra: Op? = nil, rightsWritesOnly: Bool = false) -> [Dot: AuthRejection] {
        judgeRights(on: key, in: replica, extra: extra, rightsWritesOnly: rightsWritesOnly).verdicts
    }

    /// `verdicts`, and what a newcomer that saw all of the record's rights writes would be
    /// judged against (see `RightsJudgements`).
    private func judgeRights(on key: RecordKey, in replica: Replica, extra: Op?, rightsWritesOnly: Bool) -> (verdicts: [Dot: AuthRejection], judged: RightsJudgements.Entry) {
        var ops = replica.heldOps(on: key)
        if let extra, !ops.contains(where: { $0.dot == extra.dot }) { ops.append(extra) }
        ops.sort { ($0.hlc, $0.dot) < ($1.hlc, $1.dot) }
        var hubs: [String: Bool] = [:]
        func hub(_ node: String) -> Bool {
            if let known = hubs[node] { return known }
            let h = isHubOperator(node, in: replica)
            hubs[node] = h
            return h
        }
        var out: [Dot: AuthRejection] = [:]
        let rights = ops.filter(Self.isRightsWrite)
        // Hub operators' rights writes depend on the roster alone (a revoked hub's are refused).
        var hubRights: [Op] = []
        for w in rights where hub(w.origin.node) {
            if let why = judged(w, key, [], in: replica) { out[w.dot] = why } else { hubRights.append(w) }
        }
        let memberRights = rights.filter { !hub($0.origin.node) }
        func notSeeing(_ list: [Op], _ op: Op) -> [Op] { list.filter { $0.dot != op.dot && !Self.saw($0, op.dot) } }
        // Plausible: against the hub operators' rights writes and the member ones it saw
        // (earlier in order, so crafted mutual claims cannot loop).
        var plausible = Set<Dot>()
        for (i, w) in memberRights.enumerated() {
            let seen = memberRights[..<i].filter { plausible.contains($0.dot) && Self.saw(w, $0.dot) }
            if judged(w, key, notSeeing(hubRights, w) + seen, in: replica) == nil { plausible.insert(w.dot) }
        }
        let hubAllowed = Set(hubRights.map(\.dot))
        var allowed = hubAllowed
        for w in memberRights {
            if let why = judged(w, key, notSeeing(hubRights, w) + notSeeing(memberRights, w).filter { plausible.contains($0.dot) }, in: replica) {
                out[w.dot] = why
            } else {
                allowed.insert(w.dot)
            }
        }
        var seen = VersionVector()
        for w in rights { seen.merge(RightsJudgements.context(of: w)) }
        let entry = RightsJudgements.Entry(dots: Set(rights.map(\.dot)), last: rights.last,
                                           counted: rights.filter { hubAllowed.contains($0.dot) || plausible.contains($0.dot) }, seen: seen)
        if rightsWritesOnly { return (out, entry) }
        let final = rights.filter { allowed.contains($0.dot) }
        for op in ops where !Self.isRightsWrite(op) {
            if let why = judged(op, key, notSeeing(final, op), in: replica) { out[op.dot] = why }
        }
        return (out, entry)
    }

    /// The verdict on `op` judged against the rights state `writes` form on `key`.
    private func judged(_ op: Op, _ key: RecordKey, _ writes: [Op], in replica: Replica) -> AuthRejection? {
        judged(op, view: Self.rightsState(key, writes, in: replica), in: replica)
    }

    private func judged(_ op: Op, view: RightsView, in replica: Replica) -> AuthRejection? {
        do { try judge(op, in: replica, view: view); return nil } catch { return error }
    }

    /// The verdict on a rights write that no node holds yet, from `judgements` when the
    /// record's entry is current and the write saw every rights write the entry judged (and
    /// comes after them in the judging order): then the whole judging would compare it with
    /// the entry's `counted` writes only, and change no other verdict. Otherwise the record is
    /// judged whole and the entry renewed. Either way the entry then includes the write, so
    /// the next one on the record finds it current once this one is held. A write on a record
    /// with no held op is judged alone (`firstRightsVerdict`).
    func rightsVerdict(_ op: Op, _ w: Writer, in replica: Replica, judgements: inout RightsJudgements) -> AuthRejection? {
        judgements.follow(replica)
        if replica.heldDots(on: op.key).isEmpty { return firstRightsVerdict(op, in: replica, judgements: &judgements) }
        if var entry = judgements.entries[op.key], entry.isCurrent(on: op.key, in: replica), entry.isSeenAndPreceded(by: op) {
            let why: AuthRejection?
            if !w.hubOperator && entry.countsEveryWrite && !replica.hasWithheld(on: op.key) {
                // Every held rights write is counted and applied: their state is the record's.
                let view = Self.recordRightsState(op.key, in: replica)
                assert(view == Self.rightsState(op.key, entry.counted, in: replica), "the rights state of \(op.key) differs from its record's")
                why = judged(op, view: view, in: replica)
            } else {
                why = judged(op, op.key, w.hubOperator ? [] : entry.counted, in: replica)
            }
            // Debug builds (the tests) check the shortcut against the whole judging.
            assert(judgeRights(on: op.key, in: replica, extra: op, rightsWritesOnly: true).verdicts[op.dot]?.detail == why?.detail,
                   "the verdict judged alone on \(op.dot) differs from the whole judging of \(op.key)")
            entry.add(op, counted: why == nil)
            judgements.entries[op.key] = entry
            return why
        }
        let (out, entry) = judgeRights(on: op.key, in: replica, extra: op, rightsWritesOnly: true)
        judgements.entries[op.key] = entry
        return out[op.dot]
    }

    /// The verdict on a rights write to a record on which no op is held (a new record, as an
    /// import makes them by the thousand, or one that came whole in a snapshot): the whole
    /// judging then has this write alone to judge, in both of its steps (hub operator or
    /// member, plausible or final) against the rights state the record shows without any held
    /// op, so its verdict is `judged(op, key, [])`. No entry is kept for the record: its next
    /// rights write, if any, judges a history of one op whole, and a million imported records
    /// would otherwise keep a million entries.
    private func firstRightsVerdict(_ op: Op, in replica: Replica, judgements: inout RightsJudgements) -> AuthRejection? {
        let why = judged(op, op.key, [], in: replica)
        // Debug builds (the tests) check the shortcut against the whole judging.
        assert(judgeRights(on: op.key, in: replica, extra: op, rightsWritesOnly: true).verdicts[op.dot]?.detail == why?.detail,
               "the verdict on \(op.dot), the first op on \(op.key), differs from the whole judging")
        if judgements.entries.index(forKey: op.key) != nil { judgements.entries[op.key] = nil }
        return why
    }

    /// The rights state `writes` form on `key`, plus the part of the record's rights state no
    /// held op explains (it came with a snapshot or from compacted ops).
    static func rightsState(_ key: RecordKey, _ writes: [Op], in replica: Replica) -> RightsView {
        guard let tracked = rightsFields[key.collection] else { return RightsView() }
        let record = replica.record(key) ?? Record()
        let inLog = { (d: Dot) in replica.op(d) != nil }
        var view = RightsView()
        func texts(_ field: String) -> Set<String> {
            var deltas: [Register<Value>] = []
            for w in writes { if case .register(let r)? = w.fields[field] { deltas.append(r) } }
            var out = Set<String>()
            for s in survivors(record.register(field), inLog: inLog, deltas) { if case .string(let v) = s.value { out.insert(v) } }
            return out
        }
        if tracked.contains("lead") { view.leads = texts("lead") }
        if tracked.contains("organisation") { view.organisations = texts("organisation") }
        if tracked.contains("partners") {
            var deltas: [ORSet] = []
            for w in writes { if case .set(let s)? = w.fields["partners"] { deltas.append(s) } }
            let base = record.set("partners")
            var elements = Set(base.elements.keys)
            for d in deltas { elements.formUnion(d.elements.keys) }
            for e in elements where survivors(base.elements[e] ?? Register(), inLog: inLog, deltas.compactMap { $0.elements[e] }).contains(where: \.value) {
                view.partners.insert(e)
            }
        }
        view.isNew = view.leads.isEmpty && view.partners.isEmpty && view.organisations.isEmpty
        return view
    }

    /// `rightsState` of every rights write held on `key`, read off the record: while none of
    /// them is withheld, the record is their join (with what a snapshot or compacted ops left
    /// it), and the join keeps exactly the values `survivors` keeps. Reading it costs the
    /// record's rights fields instead of its whole history of rights writes, which a record
    /// edited for long makes the larger part of judging an op. Callers check that none is
    /// withheld; debug builds (the tests) compare it with `rightsState`.
    static func recordRightsState(_ key: RecordKey, in replica: Replica) -> RightsView {
        guard rightsFields[key.collection] != nil else { return RightsView() }
        return RightsView(replica.record(key))
    }

    /// The values of a register formed by `deltas` (writes, each with its context) and by the
    /// siblings of `base` that no held op explains: a value survives unless another write saw
    /// it (the join's rule, applied to just these writes).
    /// The deltas come oldest first; a value is usually retired by a newer write, so they are
    /// searched newest first, which makes a record edited in sequence cost linear time.
    static func survivors<V>(_ base: Register<V>, inLog: (Dot) -> Bool, _ deltas: [Register<V>]) -> [Sibling<V>] {
        var candidates = base.siblings.filter { !inLog($0.dot) }
        for d in deltas { candidates += d.siblings }
        return candidates.filter { s in !deltas.reversed().contains { d in d.context.covers(s.dot) && !d.siblings.contains { $0.dot == s.dot } } }
    }
}

/// What judging one record's rights writes found, per record, kept for the record's next
/// rights write. When that write saw every rights write judged (a record edited in
/// sequence, the usual case), the whole judging of MSP 11.7 would compare it with the hub
/// operators' allowed rights writes and the members' plausible ones only (`counted`): all of
/// them did not see it, none of them saw it, so no other verdict or plausibility moves.
/// Judging it alone gives the same verdict at the cost of one write instead of the record's
/// whole history. Entries are dropped when the replica's `rightsFactsGeneration` moves (a
/// roster entry, compaction, a snapshot), and an entry whose writes are not exactly the
/// record's held rights writes is not used.
public struct RightsJudgements: Sendable {
    struct Entry: Sendable {
        /// The rights writes judged.
        var dots: Set<Dot>
        /// The last of them in the judging order, (hlc, dot).
        var last: Op?
        /// The hub operators' allowed and the members' plausible rights writes among them.
        var counted: [Op]
        /// What they saw (their `$exists` contexts joined). A held op's context may cover a
        /// dot its receiver does not hold yet (causal delivery waits only for what an op
        /// retires), so a newcomer some of them saw is judged whole.
        var seen: VersionVector

        /// The writes judged are exactly the rights writes `replica` holds on `key`.
        func isCurrent(on key: RecordKey, in replica: Replica) -> Bool {
            let held = replica.heldTrackedDots(on: key)
            return held.count == dots.count && held.allSatisfy(dots.contains)
        }

        /// `op` is new, saw every write judged and comes after them in the judging order.
        func isSeenAndPreceded(by op: Op) -> Bool {
            guard !dots.contains(op.dot), !seen.covers(op.dot) else { return false }
            if let last, (op.hlc, op.dot) <= (last.hlc, last.dot) { return false }
            return dots.allSatisfy { WriteAuthority.saw(op, $0) }
        }

        /// Every write judged is counted (none was refused or found implausible), so while
        /// none is withheld their state is the record's own (`recordRightsState`).
        var countsEveryWrite: Bool { counted.count == dots.count }

        mutating func add(_ op: Op, counted isCounted: Bool) {
            dots.insert(op.dot)
            last = op
            if isCounted { counted.append(op) }
            seen.merge(RightsJudgements.context(of: op))
        }
    }

    var entries: [RecordKey: Entry] = [:]
    /// Per record, the rights view an op no node holds yet is judged against (every rights
    /// write on it that is not withheld: none of them saw the op), with the number of rights
    /// writes the record's history had then and what they saw. Any op on the record that is
    /// not a rights write is judged against it, so it is kept, and renewed from the record
    /// when rights writes arrive.
    var currentViews: [RecordKey: (trackedWrites: Int, view: RightsView, seen: VersionVector)] = [:]
    var generation: UInt64?

    public init() {}

    /// What a write saw: its `$exists` context (see `WriteAuthority.saw`).
    static func context(of op: Op) -> VersionVector {
        if case .register(let r)? = op.fields[Record.existsField] { return r.context }
        return VersionVector()
    }

    /// Drops everything kept once the replica's rights facts moved (`rightsFactsGeneration`).
    mutating func follow(_ replica: Replica) {
        guard generation != replica.rightsFactsGeneration else { return }
        self = RightsJudgements()
        generation = replica.rightsFactsGeneration
    }

    /// `view(for:)` of an op the replica does not hold, from `currentViews` when no rights
    /// write joined the record's history since and none of them saw the op.
    mutating func currentView(on key: RecordKey, in replica: Replica, op: Op, read: () -> RightsView) -> RightsView {
        follow(replica)
        let tracked = replica.trackedWriteCount(on: key)
        if var known = currentViews[key] {
            if known.trackedWrites != tracked {
                // Rights writes joined the history since (within a generation it only grows):
                // take in what they saw; while none of them saw the op and none is withheld,
                // the view of all of them is the record's (`recordRightsState`), which costs
                // the record's rights fields instead of its history.
                for w in replica.heldTrackedOps(on: key, after: known.trackedWrites) { known.seen.merge(Self.context(of: w)) }
                guard !known.seen.covers(op.dot), !replica.hasWithheld(on: key) else {
                    currentViews[key] = nil
                    return read()
                }
                known.trackedWrites = tracked
                known.view = WriteAuthority.recordRightsState(key, in: replica)
                currentViews[key] = known
            }
            // A rights write that saw the op is not in its view (see `Entry.seen`).
            if known.seen.covers(op.dot) { return read() }
            // Debug builds (the tests) check the kept view against a fresh one.
            assert(known.view == read(), "the rights view kept for \(key) is out of date")
            return known.view
        }
        let view = read()
        var seen = VersionVector()
        for w in replica.heldTrackedOps(on: key) { seen.merge(Self.context(of: w)) }
        // Kept only when it is the view of every op none of them saw.
        if !seen.covers(op.dot) { currentViews[key] = (tracked, view, seen) }
        return view
    }
}

/// What judging held ops again changed.
struct Reconsideration {
    var released: [Op] = []
    var withheld: [(op: Op, why: AuthRejection)] = []
    var keys = Set<RecordKey>()
    var isEmpty: Bool { released.isEmpty && withheld.isEmpty }
}

extension SyncEngine {
    /// Judges again every held op on `keys` and every held op of the nodes in `nodes` (whose
    /// roster entries changed), releases those now allowed and withholds those now refused,
    /// rebuilding their records. Returns the rejections and the records to store.
    mutating func reconsider(keys: Set<RecordKey>, nodes: Set<String>) -> [Directive] {
        counters.recordsJudgedAgain += UInt64(keys.count)
        let change = judgeAgain(keys: keys, nodes: nodes)
        guard !change.isEmpty else { return [] }
        var out: [Directive] = []
        var keys = change.keys
        for op in change.released {
            if let k = replica.release(op.dot) { keys.insert(k) }
            counters.opsApplied += 1
        }
        keys.formUnion(replica.withhold(change.withheld.map(\.op.dot)))
        // Own edits: a withheld one is refused as its user must learn, a released one is no
        // longer refused (MSP 11.7).
        var refusedChanged = forgetRefusals(released: Set(change.released.map(\.dot)))
        for (op, why) in change.withheld {
            counters.opsRejected[why.reason.rawValue, default: 0] += 1
            let detail = "withdrawn after the fact: " + why.detail
            out.append(.event(.opRejected(origin: op.origin, counter: op.counter, key: op.key, reason: why.reason, detail: detail)))
            refusedChanged = noteOwnRefusal(op.dot, reason: why.reason.rawValue, detail: detail, held: true, now: replica.clock.wallMilliseconds,
                                            into: &out) || refusedChanged
        }
        if refusedChanged { out.append(.persistRefused) }
        out.append(.persist(ops: [], keys: keys.sorted()))
        return out
    }

    /// The verdicts that differ from what the replica shows now, without changing anything.
    func judgeAgain(keys: Set<RecordKey>, nodes: Set<String>) -> Reconsideration {
        guard let authority else { return Reconsideration() }
        var keys = keys
        var loose: [Op] = []
        for node in nodes {
            for op in replica.heldOps(of: node) {
                if WriteAuthority.rightsFields[op.key.collection] != nil { keys.insert(op.key) } else { loose.append(op) }
            }
        }
        var out = Reconsideration()
        func settle(_ op: Op, _ rejection: AuthRejection?) {
            let isWithheld = replica.withheld.contains(op.dot)
            if let rejection, !isWithheld { out.withheld.append((op, rejection)) }
            if rejection == nil, isWithheld { out.released.append(op) }
        }
        for key in keys.sorted() {
            let verdicts = authority.verdicts(on: key, in: replica)
            for op in replica.heldOps(on: key) { settle(op, verdicts[op.dot]) }
        }
        for op in loose {
            do { try authority.judge(op, in: replica, view: RightsView()); settle(op, nil) } catch { settle(op, error) }
        }
        return out
    }
}
