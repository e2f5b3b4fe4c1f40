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

/// A full replica of the directory and registry, in memory and free of I/O. Local writes
/// become ops; remote ops merge in any order, any number of times.
public struct Replica: Sendable {
    public let id: ReplicaID
    public let schema: Schema
    public internal(set) var records: [RecordKey: Record] = [:]
    /// Per origin, the highest counter up to which every op has been applied.
    public private(set) var version = VersionVector()
    /// Ops applied ahead of a gap, per origin; folded into `version` once the gap fills.
    private var ahead: [ReplicaID: Set<UInt64>] = [:]
    private var log: [ReplicaID: OriginLog] = [:]
    public private(set) var clock: HybridClock
    /// Signs this replica's own ops before they are committed (the node installs the origin's
    /// Ed25519 key here; the model itself knows nothing of cryptography or wire bytes).
    public var signer: (@Sendable (Op) -> [UInt8])?
    /// Held ops whose effect the records do not show: the write rules refuse them (see
    /// `Replica+Withheld.swift`). Not stored: the node derives it from the ops and the rules.
    public internal(set) var withheld: Set<Dot> = []
    /// Held ops per record, for the collections `indexHistory` names (empty otherwise), and
    /// among them the ops that write one of the collection's tracked fields.
    var history: [RecordKey: [Dot]] = [:]
    var trackedHistory: [RecordKey: [Dot]] = [:]
    var historyCollections: [String: Set<String>] = [:]

    public init(id: ReplicaID, schema: Schema = .memberSync, wallClock: @escaping @Sendable () -> UInt64) {
        self.id = id
        self.schema = schema
        self.clock = HybridClock(wallClock: wallClock)
    }

    // MARK: reading

    public func record(_ key: RecordKey) -> Record? { records[key] }

    /// Keys of existing (not deleted) records of one collection, sorted.
    public func keys(in collection: String) -> [RecordKey] {
        records.compactMap { $0.key.collection == collection && $0.value.exists ? $0.key : nil }.sorted()
    }

    public func holds(_ dot: Dot) -> Bool {
        dot.counter <= version[dot.replica] || (!ahead.isEmpty && ahead[dot.replica]?.contains(dot.counter) == true)
    }

    /// Counters at or below which ops of each origin are no longer held.
    public var logFloor: VersionVector {
        VersionVector(log.mapValues(\.floor))
    }

    public func op(_ dot: Dot) -> Op? { log[dot.replica]?.op(dot.counter) }

    /// Number of ops held in the log.
    public var logCount: Int { log.values.reduce(0) { $0 + $1.heldCount } }

    /// The ops still held in the log, oldest first (by HLC, then dot); only those touching
    /// `key` when one is given. Ops at or below an origin's log floor were compacted away (or
    /// arrived inside a snapshot) and are not in the answer: history is what the log holds.
    public func heldOps(for key: RecordKey? = nil) -> [Op] {
        var out: [Op] = []
        for originLog in log.values {
            for case let op? in originLog.ops where key == nil || op.key == key { out.append(op) }
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
            let held = max(version[origin], ahead[origin]?.max() ?? 0)
            guard held > from else { continue }
            if from < originLog.floor { return .needsSnapshot }
            var c = from + 1
            while c <= held {
                if let op = originLog.op(c) {
                    out.append(op)
                    if out.count >= limit { return .ops(out) }
                }
                c += 1
            }
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
    /// caller can check it, e.g. for write authorisation, before `commitLocal`.
    public mutating func prepareWrite(_ key: RecordKey, _ changes: [FieldChange], allowEmpty: Bool = false) throws(ModelError) -> Op {
        guard !changes.isEmpty || allowEmpty else { throw ModelError.emptyChange }
        let record = records[key] ?? Record()
        let dot = Dot(id, version[id] + 1)
        let hlc = clock.now()
        var fields: [String: FieldState] = [:]
        do throws(SchemaError) {
            _ = try schema.collection(key.collection)
            for change in changes {
                let type = try schema.fieldType(key.collection, change.field)
                switch change {
                case .assign(let field, let value):
                    try schema.checkScalar(value, type: type, collection: key.collection, field: field)
                    fields[field] = .register(record.register(field).writing(value, dot: dot, hlc: hlc))
                case .add(let field, let element), .remove(let field, let element):
                    try schema.checkElement(element, type: type, collection: key.collection, field: field)
                    var present = true
                    if case .remove = change { present = false }
                    let current: ORSet
                    if case .set(let pending)? = fields[field] { current = record.set(field).joined(with: pending) } else { current = record.set(field) }
                    let delta = current.writing(element, present: present, dot: dot, hlc: hlc)
                    if case .set(let pending)? = fields[field] {
                        fields[field] = .set(ORSet(elements: pending.elements.merging(delta.elements) { _, new in new }))
                    } else {
                        fields[field] = .set(delta)
                    }
                }
            }
        } catch {
            throw ModelError.schema(error)
        }
        fields[Record.existsField] = .register(record.register(Record.existsField).writing(.bool(true), dot: dot, hlc: hlc))
        return Op(origin: id, counter: dot.counter, hlc: hlc, key: key, fields: fields)
    }

    /// Deletes a record by writing `$exists = false`; a concurrent edit elsewhere keeps it.
    public mutating func delete(_ key: RecordKey) throws(ModelError) -> Op {
        commitLocal(try prepareDelete(key))
    }

    /// Builds the delete op without applying it (see `prepareWrite`).
    public mutating func prepareDelete(_ key: RecordKey) throws(ModelError) -> Op {
        guard let record = records[key], record.exists else { throw ModelError.noSuchRecord(key) }
        let dot = Dot(id, version[id] + 1)
        let hlc = clock.now()
        let state = record.register(Record.existsField).writing(.bool(false), dot: dot, hlc: hlc)
        return Op(origin: id, counter: dot.counter, hlc: hlc, key: key, fields: [Record.existsField: .register(state)])
    }

    /// Signs (when a signer is installed) and applies an op made by `prepareWrite` or
    /// `prepareDelete`; returns the op as stored and sent.
    @discardableResult
    public mutating func commitLocal(_ prepared: Op) -> Op {
        var op = prepared
        if let signer { op.signature = signer(op) }
        commit(op)
        return op
    }

    /// Checks that an op is well formed and obeys the schema, without applying it.
    public func validate(_ op: Op) throws(ModelError) {
        guard op.counter > 0 else { throw ModelError.malformedOp("counter must be at least 1") }
        guard !op.fields.isEmpty else { throw ModelError.malformedOp("op changes no field") }
        guard isValidSlug(op.key.id) else { throw ModelError.malformedOp("record id '\(op.key.id)' is not a slug") }
        let dot = op.dot
        do throws(SchemaError) {
            _ = try schema.collection(op.key.collection)
            for (name, state) in op.fields {
                try schema.checkState(state, collection: op.key.collection, field: name)
            }
        } catch {
            throw ModelError.schema(error)
        }
        // A delta may only carry values written by this op: nobody can smuggle in siblings
        // attributed to another event. (Loops rather than collected arrays: this runs per op.)
        for (name, state) in op.fields {
            switch state {
            case .register(let r):
                if r.siblings.isEmpty { throw ModelError.malformedOp("field \(name) carries no value") }
                if r.siblings.contains(where: { $0.dot != dot }) {
                    throw ModelError.malformedOp("field \(name) carries a value not written by op \(dot)")
                }
            case .set(let s):
                for presence in s.elements.values {
                    if presence.siblings.isEmpty { throw ModelError.malformedOp("field \(name) carries a set element without a value") }
                    if presence.siblings.contains(where: { $0.dot != dot }) {
                        throw ModelError.malformedOp("field \(name) carries a value not written by op \(dot)")
                    }
                }
            }
        }
    }

    /// Merges a remote op. Duplicates and out-of-order arrivals are fine; invalid ops are
    /// refused whole and change nothing.
    @discardableResult
    public mutating func apply(_ op: Op) throws(ModelError) -> ApplyOutcome {
        if holds(op.dot) { return .duplicate }
        try validate(op)
        clock.observe(op.hlc)
        commit(op)
        return .applied
    }

    private mutating func commit(_ op: Op) {
        records[op.key, default: Record()].join(op.fields)
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
        clock.observe(op.hlc)
        log[op.origin, default: OriginLog()].insert(op)
        markHeld(op.dot)
        withheld.insert(op.dot)
        if !historyCollections.isEmpty { noteHistory(op) }
    }

    /// Every origin whose ops the log holds (or held, below its floor).
    public var origins: [ReplicaID] { Array(log.keys) }

    /// The held ops of every replica of node `node`, in counter order per replica.
    public func heldOps(of node: String) -> [Op] {
        var out: [Op] = []
        for (origin, originLog) in log where origin.node == node {
            for case let op? in originLog.ops { out.append(op) }
        }
        return out
    }

    private mutating func markHeld(_ dot: Dot) {
        let r = dot.replica
        if dot.counter == version[r] + 1 {
            var v = dot.counter
            if var pending = ahead[r] {
                while pending.remove(v + 1) != nil { v += 1 }
                ahead[r] = pending.isEmpty ? nil : pending
            }
            version[r] = v
        } else if dot.counter > version[r] {
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
        try validate(snapshot)
        for (key, record) in snapshot.records {
            records[key, default: Record()].join(record.fields)
        }
        for (origin, counter) in snapshot.version.sorted where counter > version[origin] {
            log[origin, default: OriginLog()].compact(through: counter)
            version[origin] = counter
            if var pending = ahead[origin] {
                pending = pending.filter { $0 > counter }
                var v = counter
                while pending.remove(v + 1) != nil { v += 1 }
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
                for (name, state) in record.fields { try schema.checkState(state, collection: key.collection, field: name) }
            } catch {
                throw ModelError.schema(error)
            }
        }
    }

    /// Drops ops covered by `stable` (what every live node has acknowledged).
    public mutating func compact(below stable: VersionVector) {
        for (origin, counter) in stable.sorted {
            log[origin]?.compact(through: min(counter, version[origin]))
        }
    }
}

extension Replica {
    /// Joins ops' field states into the records again, changing nothing else. Joins are
    /// idempotent, so an op whose effect a record already holds changes nothing: a store that
    /// writes record states lazily rebuilds the newest ones this way when it loads.
    public mutating func rejoin(_ ops: some Sequence<Op>) {
        for op in ops { records[op.key, default: Record()].join(op.fields) }
    }

    /// Rebuilds a replica from what a store persisted: record states, the contiguous version,
    /// per-origin log floors and the ops still held. Ops above `version` count as held ahead
    /// of a gap. The clock moves past every stored timestamp so time never runs backwards.
    public init(restoring id: ReplicaID, schema: Schema = .memberSync, wallClock: @escaping @Sendable () -> UInt64,
                records: [RecordKey: Record], version: VersionVector, floor: VersionVector, ops: [Op]) {
        self.init(id: id, schema: schema, wallClock: wallClock)
        self.records = records
        self.version = version
        for (origin, f) in floor.sorted { log[origin, default: OriginLog()].floor = f }
        for op in ops {
            log[op.origin, default: OriginLog()].insert(op)
            if op.counter > version[op.origin] { ahead[op.origin, default: []].insert(op.counter) }
            clock.observe(op.hlc)
        }
    }
}
