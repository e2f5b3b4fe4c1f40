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
        func judged(_ op: Op, _ writes: [Op]) -> AuthRejection? {
            do { try judge(op, in: replica, view: Self.rightsState(key, writes, in: replica)); return nil } catch { return error }
        }
        var out: [Dot: AuthRejection] = [:]
        let rights = ops.filter(Self.isRightsWrite)
        // Hub operators' rights writes depend on the roster alone (a revoked hub's are refused).
        var hubRights: [Op] = []
        for w in rights where hub(w.origin.node) {
            if let why = judged(w, []) { out[w.dot] = why } else { hubRights.append(w) }
        }
        let memberRights = rights.filter { !hub($0.origin.node) }
        func notSeeing(_ list: [Op], _ op: Op) -> [Op] { list.filter { $0.dot != op.dot && !Self.saw($0, op.dot) } }
        // Plausible: against the hub operators' rights writes and the member ones it saw
        // (earlier in order, so crafted mutual claims cannot loop).
        var plausible = Set<Dot>()
        for (i, w) in memberRights.enumerated() {
            let seen = memberRights[..<i].filter { plausible.contains($0.dot) && Self.saw(w, $0.dot) }
            if judged(w, notSeeing(hubRights, w) + seen) == nil { plausible.insert(w.dot) }
        }
        var allowed = Set(hubRights.map(\.dot))
        for w in memberRights {
            if let why = judged(w, notSeeing(hubRights, w) + notSeeing(memberRights, w).filter { plausible.contains($0.dot) }) {
                out[w.dot] = why
            } else {
                allowed.insert(w.dot)
            }
        }
        if rightsWritesOnly { return out }
        let final = rights.filter { allowed.contains($0.dot) }
        for op in ops where !Self.isRightsWrite(op) {
            if let why = judged(op, notSeeing(final, op)) { out[op.dot] = why }
        }
        return out
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

    /// The values of a register formed by `deltas` (writes, each with its context) and by the
    /// siblings of `base` that no held op explains: a value survives unless another write saw
    /// it (the join's rule, applied to just these writes).
    static func survivors<V>(_ base: Register<V>, inLog: (Dot) -> Bool, _ deltas: [Register<V>]) -> [Sibling<V>] {
        var candidates = base.siblings.filter { !inLog($0.dot) }
        for d in deltas { candidates += d.siblings }
        return candidates.filter { s in !deltas.contains { d in d.context.covers(s.dot) && !d.siblings.contains { $0.dot == s.dot } } }
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
