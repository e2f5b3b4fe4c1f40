/// What became of an op handed to `Replica.apply`.
public enum ApplyOutcome: Equatable, Sendable {
    case applied
    /// Already held: joins are idempotent, so nothing changed.
    case duplicate
}

/// The answer to "which ops do you have that this version vector lacks".
public enum DeltaAnswer: Sendable, Equatable {
    case ops([Op])
    /// Some needed ops were compacted away: send a snapshot instead.
    case needsSnapshot
}

/// What a replica held before a run of local writes (see `Replica.rollBack`).
public struct LocalUndo: Sendable {
    let counter: UInt64
    var records: [RecordKey: Record?] = [:]
}

/// A full replica of the directory and registry, in memory and free of I/O. Local writes
/// become ops; remote ops merge in any order, any number of times.
public struct Replica: Sendable {
    public let id: ReplicaID
    public let schema: Schema
    public internal(set) var records: [RecordKey: Record] = [:]
    /// Digest and counts for `status`, kept as records change (`changed(_:)` after every
    /// change of `records`).
    var summary = StateSummary()
    /// Per origin, the highest counter up to which every op has been applied.
    public private(set) var version = VersionVector()
    /// Ops applied ahead of a gap, per origin; folded into `version` once the gap fills.
    private var ahead: [ReplicaID: Set<UInt64>] = [:]
    private var log: [ReplicaID: OriginLog] = [:]
    public private(set) var clock: HybridClock
    /// How far ahead of this node's wall clock a remote op's HLC may be (a node sets it from
    /// `max_clock_skew_seconds`). Further ahead is refused, so no op can drag every later
    /// local timestamp into the future (or, before saturation, wrap it to 1970). Nil checks
    /// nothing: a replica without a real clock (tests, benchmarks, a backup being read).
    public var maxClockSkewMilliseconds: UInt64?
    /// Signs this replica's own ops before they are committed (the node installs the origin's
    /// Ed25519 key here; the model itself knows nothing of cryptography or wire bytes). A node's
    /// engine seals its own writes itself, encoding each once (`commitLocal(_:sealing:)`).
    public var signer: (@Sendable (Op) -> [UInt8])?
    /// Hashes an op, encoded whole, for its origin's hash chain (MSP 5.9; the node installs
    /// SHA-256 over the wire encoding). Nil: own ops are not chained and links not checked.
    public var chainHasher: (@Sendable (Op) -> [UInt8])?
    /// This replica's newest own op and its chain hash, so the next local op links to it
    /// without encoding it again.
    private var ownHead: (counter: UInt64, hash: [UInt8])?
    /// Held ops whose effect the records do not show: the write rules refuse them (see
    /// `Replica+Withheld.swift`). Not stored: the node derives it from the ops and the rules.
    public internal(set) var withheld: Set<Dot> = []
    /// Held ops per record, for the collections `indexHistory` names (empty otherwise), and
    /// among them the ops that write one of the collection's tracked fields.
    var history: [RecordKey: [Dot]] = [:]
    /// Rights writes (ops on an indexed collection that write a tracked field) that compaction
    /// took out of the log, kept so the ops above the floor are still judged against them (MSP
    /// 11.7): without them a later rewrite of the same right would leave the ops in between
    /// judged against no right at all. Never served; the store keeps them too.
    public internal(set) var retainedRights: [Dot: Op] = [:]
    var trackedHistory: [RecordKey: [Dot]] = [:]
    var historyCollections: [String: Set<String>] = [:]
    /// The keys of every roster record (`nodes/…`) this replica has had, deleted ones
    /// included: the roster is read on every status and admission check, and a scan of all
    /// records for it cost ~10 ms per status at a million records. Kept by `changed`, which
    /// every change of a record goes through.
    private var rosterKeys = Set<RecordKey>()
    /// Changes whenever a fact a rights verdict rests on, beyond a record's own held rights
    /// writes, may have changed: a roster entry (`nodes/…`), what the log holds (compaction,
    /// a snapshot, a write taken back) or the history index. A verdict cached for a record
    /// (the engine's `RightsJudgements`, the writers read from the roster) is good while it
    /// stays the same. Each value is random, so a replica loaded afresh, or a copy that took
    /// other changes, never matches a cache made for another state.
    public internal(set) var rightsFactsGeneration = UInt64.random(in: 0...UInt64.max)

    public init(id: ReplicaID, schema: Schema = .memberSync, wallClock: @escaping @Sendable () -> UInt64) {
        self.id = id
        self.schema = schema
        self.clock = HybridClock(wallClock: wallClock)
    }

    // MARK: reading

    public func record(_ key: RecordKey) -> Record? { records[key] }

    /// Notes that `records[key]` changed, for the status summary.
    mutating func changed(_ key: RecordKey) {
        if !summary.allDirty { summary.dirty.insert(key) }
        if !summary.computedAhead.isEmpty { summary.computedAhead[key] = nil }
        if key.collection == "nodes" {
            rightsFactsChanged()
            rosterKeys.insert(key)
        }
    }

    mutating func rightsFactsChanged() { rightsFactsGeneration = UInt64.random(in: 0...UInt64.max) }

    /// Keys of existing (not deleted) records of one collection, sorted.
    public func keys(in collection: String) -> [RecordKey] {
        if collection == "nodes" { return rosterKeys.filter { records[$0]?.exists ?? false }.sorted() }
        return records.compactMap { $0.key.collection == collection && $0.value.exists ? $0.key : nil }.sorted()
    }

    public func holds(_ dot: Dot) -> Bool {
        dot.counter <= version[dot.replica] || (!ahead.isEmpty && ahead[dot.replica]?.contains(dot.counter) == true)
    }

    /// Counters at or below which ops of each origin are no longer held.
    public var logFloor: VersionVector {
        VersionVector(log.mapValues(\.floor))
    }

    public func op(_ dot: Dot) -> Op? { log[dot.replica]?.op(dot.counter) ?? retainedRights[dot] }

    /// Number of ops held in the log.
    public var logCount: Int { log.values.reduce(0) { $0 + $1.heldCount } }

    /// Ops held ahead of a gap (applied, not yet covered by `version`), over all origins.
    public var aheadCount: Int { ahead.values.reduce(0) { $0 + $1.count } }

    /// The ops still held in the log, oldest first (by HLC, then dot); only those touching
    /// `key` when one is given. Ops at or below an origin's log floor were compacted away (or
    /// arrived inside a snapshot) and are not in the answer: history is what the log holds.
    public func heldOps(for key: RecordKey? = nil) -> [Op] {
        var out: [Op] = []
        for originLog in log.values {
            for op in originLog.all where key == nil || op.key == key { out.append(op) }
        }
        return out.sorted { ($0.hlc, $0.dot) < ($1.hlc, $1.dot) }
    }

    /// Every field whose siblings disagree, sorted by record and field.
    public func conflicts() -> [Conflict] {
        var out: [Conflict] = []
        for (key, record) in records {
            for (name, state) in record.fields {
                if case .register(let r) = state, r.isConflicted {
                    out.append(Conflict(key: key, field: name, siblings: r.siblings))
                }
            }
        }
        return out.sorted { ($0.key, $0.field) < ($1.key, $1.field) }
    }

    /// Ops this replica holds that a holder of `other` lacks, in per-origin counter order, at
    /// most `limit` of them. `.needsSnapshot` when some were compacted away.
    public func ops(since other: VersionVector, limit: Int = .max) -> DeltaAnswer {
        var out: [Op] = []
        for (origin, originLog) in log.sorted(by: { $0.key < $1.key }) {
            let from = other[origin]
            let held = max(version[origin], originLog.highest)
            guard held > from else { continue }
            if from < originLog.floor { return .needsSnapshot }
            // Walks the ops held, not the counters between: a gap costs nothing.
            var full = false
            originLog.forEach(after: from) { op in
                out.append(op)
                full = out.count >= limit
                return !full
            }
            if full { return .ops(out) }
        }
        return .ops(out)
    }

    // MARK: writing

    /// Applies a local edit: validates it, makes the op, applies it, and returns the op to
    /// persist and send. Every edit also writes `$exists = true`. `allowEmpty` permits an edit
    /// that only writes `$exists = true`: it creates (or revives) a record with no fields, which
    /// import needs for exact round trips and resolve needs for an edit-versus-delete conflict.
    public mutating func write(_ key: RecordKey, _ changes: [FieldChange], allowEmpty: Bool = false) throws(ModelError) -> Op {
        let op = try prepareWrite(key, changes, allowEmpty: allowEmpty)
        return commitLocal(op)
    }

    /// Builds the op for a local edit without applying it (only the clock advances), so the
    /// caller can check it, e.g. for write authorisation, before `commitLocal`. `ahead` gives
    /// the op the counter it would have after that many more own ops were committed first: a
    /// check of a batch that applies none of it (`SyncEngine.checkWriteBatch`) numbers each
    /// op as the batch written would.
    public mutating func prepareWrite(_ key: RecordKey, _ changes: [FieldChange], allowEmpty: Bool = false, ahead: UInt64 = 0) throws(ModelError) -> Op {
        guard !changes.isEmpty || allowEmpty else { throw ModelError.emptyChange }
        let record = records[key] ?? Record()
        let dot = Dot(id, try nextCounter(ahead: ahead))
        let hlc = clock.now()
        var fields: [String: FieldState] = [:]
        var sets: [String: ORSet] = [:]
        do throws(SchemaError) {
            _ = try schema.collection(key.collection)
            for change in changes {
                let type = try schema.fieldType(key.collection, change.field)
                switch change {
                case .assign(let field, let value):
                    if value.isAbsent {
                        try schema.checkClear(collection: key.collection, field: field)
                    } else {
                        try schema.checkScalar(value, type: type, collection: key.collection, field: field)
                    }
                    fields[field] = .register(record.register(field).writing(value, dot: dot, hlc: hlc))
                case .add(let field, let element), .remove(let field, let element):
                    try schema.checkElement(element, type: type, collection: key.collection, field: field)
                    var present = true
                    if case .remove = change { present = false }
                    // The element's state as this edit leaves it so far (an element changed twice
                    // in one edit: the last change wins). Built in place, one element at a time:
                    // merging whole sets per change made a large edit quadratic.
                    let base = sets[field]?.elements[element] ?? record.set(field).elements[element] ?? Register()
                    sets[field, default: ORSet()].put(element, base.writing(present, dot: dot, hlc: hlc))
                }
            }
        } catch {
            throw ModelError.schema(error)
        }
        for (field, set) in sets { fields[field] = .set(set) }
        fields[Record.existsField] = .register(record.register(Record.existsField).writing(.bool(true), dot: dot, hlc: hlc))
        // The same limits as for remote ops: a record this node accepts must be able to travel.
        _ = try record.planJoin(fields)
        return Op(origin: id, counter: dot.counter, hlc: hlc, key: key, fields: fields)
    }

    /// The counter of the next local op; checked, so a version raised to the maximum (say by
    /// a hostile snapshot) refuses writes instead of trapping.
    private func nextCounter(ahead: UInt64 = 0) throws(ModelError) -> UInt64 {
        let (step, tooFar) = ahead.addingReportingOverflow(1)
        let (next, overflow) = version[id].addingReportingOverflow(step)
        if overflow || tooFar { throw ModelError.refused(.counterExhausted, "replica \(id) has used every counter") }
        return next
    }

    /// Deletes a record by writing `$exists = false`; a concurrent edit elsewhere keeps it.
    public mutating func delete(_ key: RecordKey) throws(ModelError) -> Op {
        commitLocal(try prepareDelete(key))
    }

    /// Builds the delete op without applying it (see `prepareWrite`).
    public mutating func prepareDelete(_ key: RecordKey) throws(ModelError) -> Op {
        guard let record = records[key], record.exists else { throw ModelError.noSuchRecord(key) }
        let dot = Dot(id, try nextCounter())
        let hlc = clock.now()
        let state = record.register(Record.existsField).writing(.bool(false), dot: dot, hlc: hlc)
        return Op(origin: id, counter: dot.counter, hlc: hlc, key: key, fields: [Record.existsField: .register(state)])
    }

    /// Signs (when a signer is installed) and applies an op made by `prepareWrite` or
    /// `prepareDelete`; returns the op as stored and sent.
    @discardableResult
    public mutating func commitLocal(_ prepared: Op) -> Op {
        let signer = signer, hasher = chainHasher
        return commitLocal(prepared) { linked in
            var op = linked
            if let signer { op.signature = signer(op) }
            return (op, hasher?(op) ?? [])
        }
    }

    /// Links (when a chain hasher is installed) and applies an op made by `prepareWrite` or
    /// `prepareDelete`, sealed by the caller: `seal` gets the op with its `prev` set and
    /// returns it signed, with its chain hash. A node signs, hashes and encodes the op in one
    /// go there, and keeps the bytes for its store and its messages.
    @discardableResult
    public mutating func commitLocal(_ prepared: Op, sealing seal: (Op) -> (op: Op, chainHash: [UInt8])) -> Op {
        var op = prepared
        if let chainHasher { op.prev = chainLink(before: op.counter, chainHasher) }
        let sealed = seal(op)
        op = sealed.op
        if chainHasher != nil { ownHead = (op.counter, sealed.chainHash) }
        commit(op)
        return op
    }

    /// The `prev` of this replica's own op `counter`: genesis for the first, the hash of the
    /// op before otherwise (empty only if that op is no longer held, which compaction avoids
    /// by keeping every origin's newest op).
    private func chainLink(before counter: UInt64, _ hasher: (Op) -> [UInt8]) -> [UInt8] {
        if counter == 1 { return OpChain.genesis }
        if let ownHead, ownHead.counter == counter - 1 { return ownHead.hash }
        return log[id]?.op(counter - 1).map(hasher) ?? []
    }

    /// How an op fits its origin's hash chain as this replica holds it (MSP 5.9).
    public enum ChainFit: Equatable, Sendable {
        case fits
        /// `op` is chained to a predecessor other than the one held, or a held successor is
        /// chained to an op other than `op`: with both validly signed, the origin signed two
        /// histories that part at `counter` (the dot with two versions). `held` is the op
        /// held here that contradicts `op`.
        case forked(counter: UInt64, held: Op)
        /// `op` carries no link though the predecessor held here does: a chain, once begun,
        /// continues.
        case breaksChain
    }

    /// Checks `op`'s links to the neighbours of its origin this replica holds. Ops whose
    /// neighbours are not held (compacted, not arrived, before a snapshot) are not checked.
    /// `known` holds hashes the caller already computed (a batch's), so none is computed twice.
    public func chainFit(_ op: Op, known: [Dot: [UInt8]] = [:]) -> ChainFit {
        guard let hasher = chainHasher, let origin = log[op.origin] else { return .fits }
        if op.counter > 1, let before = origin.op(op.counter - 1) {
            if op.isChained {
                if (known[before.dot] ?? hasher(before)) != op.prev { return .forked(counter: op.counter - 1, held: before) }
            } else if before.isChained {
                return .breaksChain
            }
        }
        if op.counter < UInt64.max, let after = origin.op(op.counter + 1), after.isChained, (known[op.dot] ?? hasher(op)) != after.prev {
            return .forked(counter: op.counter, held: after)
        }
        return .fits
    }

    /// Like `commitLocal`, also noting in `undo` what the op's record held before, so that a
    /// run of local writes can be taken back with `rollBack` when storing them fails.
    @discardableResult
    public mutating func commitLocal(_ prepared: Op, undo: inout LocalUndo) -> Op {
        saveUndo(of: prepared, in: &undo)
        return commitLocal(prepared)
    }

    /// `commitLocal(_:sealing:)`, noting in `undo` what the op's record held before.
    @discardableResult
    public mutating func commitLocal(_ prepared: Op, undo: inout LocalUndo, sealing seal: (Op) -> (op: Op, chainHash: [UInt8])) -> Op {
        saveUndo(of: prepared, in: &undo)
        return commitLocal(prepared, sealing: seal)
    }

    private func saveUndo(of prepared: Op, in undo: inout LocalUndo) {
        if undo.records.index(forKey: prepared.key) == nil { undo.records[prepared.key] = .some(records[prepared.key]) }
    }

    /// The point to which `rollBack` returns: this replica's own ops so far.
    public func undoPoint() -> LocalUndo { LocalUndo(counter: version[id]) }

    /// Takes back every local write committed since `undo` was made (with
    /// `commitLocal(_:undo:)`): their records return to their earlier states, their ops leave
    /// the log, and this replica's counter goes back, so the next write reuses it. Only for
    /// writes nobody else has seen: the node calls it when storing them failed.
    public mutating func rollBack(_ undo: LocalUndo) {
        rightsFactsChanged()
        if let ownHead, ownHead.counter > undo.counter { self.ownHead = nil }
        for (key, record) in undo.records { records[key] = record; changed(key) }
        log[id]?.drop(above: undo.counter)
        version[id] = undo.counter
        // The history index must not keep the taken-back dots: the next write reuses them.
        if !historyCollections.isEmpty {
            let gone: (Dot) -> Bool = { $0.replica == self.id && $0.counter > undo.counter }
            for key in undo.records.keys {
                history[key]?.removeAll(where: gone)
                trackedHistory[key]?.removeAll(where: gone)
            }
        }
    }

    /// Checks that an op is well formed and obeys the schema, without applying it.
    public func validate(_ op: Op) throws(ModelError) {
        guard op.counter > 0 else { throw ModelError.malformedOp("counter must be at least 1") }
        guard !op.fields.isEmpty else { throw ModelError.malformedOp("op changes no field") }
        guard isValidSlug(op.key.id) else { throw ModelError.malformedOp("record id '\(op.key.id)' is not a slug") }
        guard op.prev.isEmpty || op.isChained else { throw ModelError.malformedOp("prev must be empty or \(OpChain.hashBytes) bytes") }
        guard op.counter > 1 || op.prev.isEmpty || op.prev == OpChain.genesis else {
            throw ModelError.malformedOp("an origin's first op links to no predecessor (prev must be \(OpChain.hashBytes) zero bytes)")
        }
        let dot = op.dot
        do throws(SchemaError) {
            _ = try schema.collection(op.key.collection)
            for (name, state) in op.fields {
                try schema.checkStateAllowingClears(state, collection: op.key.collection, field: name)
            }
        } catch {
            throw ModelError.schema(error)
        }
        // A delta may only carry values written by this op, at the op's time: nobody can smuggle
        // in siblings attributed to another event, nor stamp a value with a time other than the
        // op's (a local edit stamps every value with the op's hlc, MSP 5.7). (Loops rather than
        // collected arrays: this runs per op.)
        for (name, state) in op.fields {
            switch state {
            case .register(let r):
                if r.siblings.isEmpty { throw ModelError.malformedOp("field \(name) carries no value") }
                try Self.checkWrittenByOp(r.siblings, op, field: name)
            case .set(let s):
                for presence in s.elements.values {
                    if presence.siblings.isEmpty { throw ModelError.malformedOp("field \(name) carries a set element without a value") }
                    try Self.checkWrittenByOp(presence.siblings, op, field: name)
                }
            }
        }
    }

    /// Every sibling has the op's dot and the op's hlc (MSP 5.6, rule 2).
    private static func checkWrittenByOp<V>(_ siblings: [Sibling<V>], _ op: Op, field name: String) throws(ModelError) {
        for s in siblings {
            if s.dot != op.dot { throw ModelError.malformedOp("field \(name) carries a value not written by op \(op.dot)") }
            if s.hlc != op.hlc {
                throw ModelError.malformedOp("field \(name) carries a value stamped \(s.hlc.raw), not the op's hlc \(op.hlc.raw)")
            }
        }
    }

    /// Merges a remote op. Duplicates and arrivals ahead of a gap are fine; invalid ops are
    /// refused whole and change nothing. An op whose contexts cover dots this replica does not
    /// hold is refused with `.refused(.causality, …)`: it must wait until they arrive (see
    /// `admissible` and `unmetDependency`), so no op can retire a value its writer never saw.
    ///
    /// `checked`: the caller has just passed the op through `admissible`, `validate` and
    /// `unmetDependency` on this same state (a secure node does, before its write rules), so
    /// they are not run twice.
    @discardableResult
    public mutating func apply(_ op: Op, checked: Bool = false) throws(ModelError) -> ApplyOutcome {
        if holds(op.dot) { return .duplicate }
        if !checked {
            try admissible(op)
            try validate(op)
            if let needed = unmetDependency(op) {
                throw ModelError.refused(.causality, "op \(op.dot) has seen \(needed), which this node does not hold yet")
            }
        }
        if let plan = try plan(op) {
            records[op.key]!.commit(plan)
            changed(op.key)
        } else {
            records[op.key] = Record(fields: op.fields)
            changed(op.key)
        }
        clock.observe(op.hlc)
        log[op.origin, default: OriginLog()].insert(op)
        markHeld(op.dot)
        // Remote rights writes must be in the history index: the write rules judge by it.
        if !historyCollections.isEmpty { noteHistory(op) }
        return .applied
    }

    /// The join plan for an existing record, or nil for a new one (whose delta is checked
    /// alone). A function of its own so no copy of the record outlives the check: the commit
    /// that follows then mutates the record's storage in place.
    private func plan(_ op: Op) throws(ModelError) -> JoinPlan? {
        guard let record = records[op.key] else {
            _ = try Record().planJoin(op.fields)
            return nil
        }
        return try record.planJoin(op.fields)
    }

    /// The checks of an op that depend on what this replica holds and on its clock, but not on
    /// the op's contents being well formed: cheap, so a node runs them before verifying a
    /// signature. Refuses an op numbered, or a context entry claiming a dot, more than
    /// `Limits.maxCounterGap` beyond what this replica holds of that replica (`gap-too-large`);
    /// a context claiming dots of the op's own origin beyond the op itself (`bad-context`: its
    /// origin cannot have seen events it had not made yet); and an HLC further ahead of the
    /// wall clock than `maxClockSkewMilliseconds` (`clock-skew`).
    public func admissible(_ op: Op) throws(ModelError) {
        let held = version[op.origin]
        if op.counter > held && op.counter - held > Limits.maxCounterGap {
            throw ModelError.refused(.gapTooLarge, "op \(op.dot) is \(op.counter - held) ops ahead of the \(held) held of \(op.origin), at most \(Limits.maxCounterGap)")
        }
        if held == 0 && log[op.origin] == nil && op.origin != id {
            // The first op of a replica id new here: bound how many one node may have.
            let epochs = max(version.sorted.lazy.filter { $0.replica.node == op.origin.node }.count,
                             log.keys.lazy.filter { $0.node == op.origin.node }.count)
            if epochs >= Limits.maxEpochsPerNode {
                throw ModelError.refused(.tooManyEpochs, "\(op.origin.node) already has \(epochs) replica ids here, at most \(Limits.maxEpochsPerNode)")
            }
        }
        if let skew = maxClockSkewMilliseconds {
            let wall = clock.wallMilliseconds
            let (limit, overflow) = wall.addingReportingOverflow(skew)
            if !overflow && op.hlc.milliseconds > limit {
                throw ModelError.refused(.clockSkew, "op \(op.dot) is stamped \((op.hlc.milliseconds - wall) / 1000) s ahead of this node's clock, at most \(skew / 1000) s")
            }
        }
        for (name, state) in op.fields {
            switch state {
            case .register(let r): try checkClaims(r.context, of: op, field: name)
            case .set(let s):
                for presence in s.elements.values { try checkClaims(presence.context, of: op, field: name) }
            }
        }
    }

    private func checkClaims(_ context: VersionVector, of op: Op, field: String) throws(ModelError) {
        for (r, c) in context.sorted {
            if r == op.origin {
                if c > op.counter {
                    throw ModelError.refused(.badContext, "op \(op.dot) field \(field) claims to have seen \(r):\(c), after itself")
                }
            } else {
                let held = version[r]
                if c > held && c - held > Limits.maxCounterGap {
                    throw ModelError.refused(.gapTooLarge, "op \(op.dot) field \(field) claims \(r):\(c), \(c - held) beyond the \(held) held here")
                }
            }
        }
    }

    /// A dot the op's contexts cover that this replica does not hold, or nil when it holds its
    /// whole causal past. Contexts are version vectors: an entry `r: c` covers `r`'s events
    /// 1…c, so it is met once `version[r] >= c`. The op's own origin is exempt: its entry is
    /// the op's own dot (and `admissible` refuses more), and earlier ops of the same origin may
    /// arrive later, as before, because the op can only retire that origin's own values.
    public func unmetDependency(_ op: Op) -> Dot? {
        for state in op.fields.values {
            switch state {
            case .register(let r):
                if let d = unmet(r.context, origin: op.origin) { return d }
            case .set(let s):
                for presence in s.elements.values {
                    if let d = unmet(presence.context, origin: op.origin) { return d }
                }
            }
        }
        return nil
    }

    @inline(__always) private func unmet(_ context: VersionVector, origin: ReplicaID) -> Dot? {
        for (r, c) in context.sorted where r != origin && version[r] < c {
            return Dot(r, version[r] + 1)
        }
        return nil
    }

    /// Applies an op this replica made (already checked by `prepareWrite`).
    private mutating func commit(_ op: Op) {
        records[op.key, default: Record()].join(op.fields)
        changed(op.key)
        log[op.origin, default: OriginLog()].insert(op)
        markHeld(op.dot)
        if !historyCollections.isEmpty { noteHistory(op) }
    }

    /// Holds an op without applying it: it is logged (served to others, never fetched again)
    /// and its dot counts as held, but the records do not change. For ops the write rules
    /// refuse: every node refuses them alike, so every node holds them alike.
    public mutating func hold(_ op: Op) throws(ModelError) {
        if holds(op.dot) { return }
        try validate(op)
        // An op whose own delta breaks a record limit could never apply anywhere: it is
        // refused by that reason, not stored (a refused op must not bloat the log either).
        try Record(fields: op.fields).checkLimits()
        clock.observe(op.hlc)
        log[op.origin, default: OriginLog()].insert(op)
        markHeld(op.dot)
        withheld.insert(op.dot)
        if !historyCollections.isEmpty { noteHistory(op) }
    }

    /// Joins into its record every held op that is not withheld and that the record does not
    /// show having seen (a field's context not covering the op's dot); returns the keys it
    /// changed. Joins are idempotent, so on a consistent replica this changes nothing. Which ops
    /// are withheld is not stored (it is judged again at start), so a record stored without the
    /// effect of an op the rules allow would otherwise stay so: stores written while
    /// `heldOps(of:)` missed ops held ahead of a gap can hold such records.
    public mutating func joinAllowedOpsMissingFromRecords() -> Set<RecordKey> {
        var keys = Set<RecordKey>()
        for originLog in log.values {
            for op in originLog.all where !withheld.contains(op.dot) {
                let record = records[op.key] ?? Record()
                let seen = op.fields.allSatisfy { name, state in
                    switch state {
                    case .register: return record.register(name).context.covers(op.dot)
                    case .set(let s):
                        let held = record.set(name).elements
                        return s.elements.keys.allSatisfy { held[$0]?.context.covers(op.dot) ?? false }
                    }
                }
                if seen { continue }
                records[op.key, default: Record()].join(op.fields)
                changed(op.key)
                keys.insert(op.key)
            }
        }
        if !keys.isEmpty { rightsFactsChanged() }
        return keys
    }

    /// Every origin whose ops the log holds (or held, below its floor).
    public var origins: [ReplicaID] { Array(log.keys) }

    /// The held ops of every replica of node `node`, in counter order per replica: those held
    /// ahead of a gap too (an origin's ops may arrive out of order). Judging a node's ops again
    /// after its roster entry changed reads them all here; one left out would keep the verdict
    /// it got under the old entry on this node only.
    public func heldOps(of node: String) -> [Op] {
        var out: [Op] = []
        for (origin, originLog) in log where origin.node == node {
            out.append(contentsOf: originLog.all)
        }
        return out
    }

    private mutating func markHeld(_ dot: Dot) {
        let r = dot.replica
        let v0 = version[r]
        if v0 < .max && dot.counter == v0 + 1 {
            var v = dot.counter
            if var pending = ahead[r] {
                while v < .max, pending.remove(v + 1) != nil { v += 1 }
                ahead[r] = pending.isEmpty ? nil : pending
            }
            version[r] = v
        } else if dot.counter > v0 {
            ahead[r, default: []].insert(dot.counter)
        }
    }

    // MARK: snapshots and compaction

    public func snapshot() -> Snapshot {
        Snapshot(version: version, records: records)
    }

    /// Joins a snapshot in. Ops it covers that this replica never held cannot be served
    /// afterwards, so the log floor rises to the snapshot's version where that is ahead.
    public mutating func load(_ snapshot: Snapshot) throws(ModelError) {
        rightsFactsChanged()
        try validate(snapshot)
        for (key, record) in snapshot.records {
            records[key, default: Record()].join(record.fields)
            changed(key)
        }
        for (origin, counter) in snapshot.version.sorted where counter > version[origin] {
            log[origin, default: OriginLog()].compact(through: counter)
            version[origin] = counter
            if var pending = ahead[origin] {
                pending = pending.filter { $0 > counter }
                var v = counter
                while v < .max, pending.remove(v + 1) != nil { v += 1 }
                version[origin] = v
                ahead[origin] = pending.isEmpty ? nil : pending
            }
        }
    }

    /// Checks every record of a snapshot against the schema, changing nothing.
    public func validate(_ snapshot: Snapshot) throws(ModelError) {
        for (key, record) in snapshot.records {
            do throws(SchemaError) {
                _ = try schema.collection(key.collection)
                for (name, state) in record.fields {
                    try schema.checkStateAllowingClears(state, collection: key.collection, field: name, clearsMustBeAllowed: false)
                }
            } catch {
                throw ModelError.schema(error)
            }
            do { try record.checkLimits() } catch {
                if case .refused(let reason, let why) = error { throw ModelError.refused(reason, "\(key): \(why)") }
                throw error
            }
        }
    }

    /// Drops ops covered by `stable` (what every live node has acknowledged).
    public mutating func compact(below stable: VersionVector) {
        rightsFactsChanged()
        // A withheld op stays, and its origin's later ops with it: a later write that grants
        // the right again releases it (MSP 11.7), and releasing needs the op.
        var firstWithheld: [ReplicaID: UInt64] = [:]
        for d in withheld { firstWithheld[d.replica] = min(firstWithheld[d.replica] ?? .max, d.counter) }
        // Every origin's newest op stays too: the next op of its chain is checked against it,
        // and this replica's own next op links to it (MSP 5.9, 7.7).
        func through(_ origin: ReplicaID) -> UInt64 {
            min(stable[origin], version[origin] &- 1, (firstWithheld[origin] ?? .max) &- 1)
        }
        for dots in trackedHistory.values {
            for d in dots where d.counter > (log[d.replica]?.floor ?? 0) && d.counter <= through(d.replica) {
                if let op = log[d.replica]?.op(d.counter) { retainedRights[d] = op }
            }
        }
        for (origin, _) in stable.sorted { log[origin]?.compact(through: through(origin)) }
    }
}

extension Replica {
    /// Joins ops' field states into the records again, changing nothing else. Joins are
    /// idempotent, so an op whose effect a record already holds changes nothing: a store that
    /// writes record states lazily rebuilds the newest ones this way when it loads.
    public mutating func rejoin(_ ops: some Sequence<Op>) {
        rightsFactsChanged()
        for op in ops { records[op.key, default: Record()].join(op.fields); changed(op.key) }
    }

    /// Rebuilds a replica from what a store persisted: record states, the contiguous version,
    /// per-origin log floors and the ops still held. Ops above `version` count as held ahead
    /// of a gap, unless they are further ahead than `Limits.maxCounterGap` (a store written
    /// before that limit may hold such an op; it is left out, as it would be refused now). The
    /// clock moves past every stored timestamp so time never runs backwards, but not beyond
    /// the allowed skew: a stored far-future stamp cannot drag later local edits along.
    public init(restoring id: ReplicaID, schema: Schema = .memberSync, wallClock: @escaping @Sendable () -> UInt64,
                records: [RecordKey: Record], version: VersionVector, floor: VersionVector, ops: [Op]) {
        self.init(id: id, schema: schema, wallClock: wallClock)
        self.records = records
        rosterKeys = Set(records.keys.lazy.filter { $0.collection == "nodes" })
        self.version = version
        for (origin, f) in floor.sorted { log[origin] = OriginLog(floor: f) }
        let skew = UInt64(Limits.defaultMaxClockSkewSeconds) * 1000
        let wall = clock.wallMilliseconds
        let latest = HLC(milliseconds: wall.addingReportingOverflow(skew).overflow ? .max : wall + skew, logical: 0)
        for op in ops {
            let held = version[op.origin]
            if op.counter > held {
                if op.counter - held > Limits.maxCounterGap { continue }
                ahead[op.origin, default: []].insert(op.counter)
            }
            if op.counter <= floor[op.origin] {
                // Below the floor: a rights write compaction kept (see `retainedRights`; which
                // ones are is `indexHistory`'s to say, and it drops the others).
                retainedRights[op.dot] = op
            } else {
                log[op.origin, default: OriginLog()].insert(op)
            }
            clock.observe(min(op.hlc, latest))
        }
    }
}
