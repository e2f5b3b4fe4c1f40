/// What `membersync status` reports of a replica's state (its digest, existing records and
/// open conflicts), kept per record as records change so that a status call costs what
/// changed since the last one, not a walk over a million records on the reactor thread.
///
/// The digest is a homomorphic sum, as LtHash does: each existing record contributes the
/// SHA-256 of its visible state (key, field values, set members, conflict siblings), added
/// lane-wise as four 64-bit words modulo 2^64. Equal visible states give equal digests
/// whatever the order records were written in, and one record's change moves the sum by its
/// old and new shares only. It tells replicas apart for convergence checks; it is not a
/// commitment an adversary could not collide (four 64-bit lanes are too few for that).
struct StateSummary: Sendable {
    /// Four 64-bit words added modulo 2^64 each. Plain fields rather than `SIMD4`, whose
    /// 32-byte alignment would make every share (one per record) 64 bytes instead of 40.
    struct Lanes: Equatable, Sendable {
        var a: UInt64 = 0, b: UInt64 = 0, c: UInt64 = 0, d: UInt64 = 0
        static func &+ (x: Lanes, y: Lanes) -> Lanes { Lanes(a: x.a &+ y.a, b: x.b &+ y.b, c: x.c &+ y.c, d: x.d &+ y.d) }
        static func &- (x: Lanes, y: Lanes) -> Lanes { Lanes(a: x.a &- y.a, b: x.b &- y.b, c: x.c &- y.c, d: x.d &- y.d) }
        /// The four words big-endian, 32 bytes: how the digest is shown and a share stored.
        var bytes: [UInt8] {
            var out: [UInt8] = []
            out.reserveCapacity(32)
            for word in [a, b, c, d] { for i in (0..<8).reversed() { out.append(UInt8(truncatingIfNeeded: word >> (UInt64(i) * 8))) } }
            return out
        }

        /// Reads 32 big-endian bytes (a SHA-256, or what `bytes` wrote).
        init(bytes: ArraySlice<UInt8>) {
            precondition(bytes.count == 32)
            func word(_ lane: Int) -> UInt64 {
                let start = bytes.startIndex + lane * 8
                return bytes[start..<(start + 8)].reduce(0) { $0 << 8 | UInt64($1) }
            }
            self.init(a: word(0), b: word(1), c: word(2), d: word(3))
        }

        init(a: UInt64 = 0, b: UInt64 = 0, c: UInt64 = 0, d: UInt64 = 0) {
            self.a = a; self.b = b; self.c = c; self.d = d
        }
    }

    typealias Share = RecordShare

    private(set) var shares: [RecordKey: Share] = [:]
    private(set) var sum = Lanes()
    private(set) var existing = 0
    private(set) var conflicts = 0
    /// Records changed since their shares were last computed.
    var dirty = Set<RecordKey>()
    /// Every record may have changed (a replica restored or loaded in bulk).
    var allDirty = true
    /// Shares of dirty records computed before the fold, for a store writing them
    /// (`Replica.sharesForStoring`): the fold takes them instead of hashing those records
    /// again. A change of the record drops its entry (`Replica.changed`).
    var computedAhead: [RecordKey: Share] = [:]

    /// The totals with the changes of `dirty` (or of every record) folded in, without storing
    /// anything: only the changed records' shares are computed, and nothing is copied.
    func totals(_ records: [RecordKey: Record]) -> (sum: Lanes, existing: Int, conflicts: Int) {
        var out = allDirty ? (sum: Lanes(), existing: 0, conflicts: 0) : (sum: sum, existing: existing, conflicts: conflicts)
        func add(_ share: Share, _ sign: Int) {
            out.sum = sign > 0 ? out.sum &+ share.hash : out.sum &- share.hash
            out.existing += share.exists ? sign : 0
            out.conflicts += sign * Int(share.conflicts)
        }
        if allDirty {
            for (key, record) in records { add(Self.share(key, record), 1) }
            return out
        }
        for key in dirty {
            if let old = shares[key] { add(old, -1) }
            if let record = records[key] { add(Self.share(key, record), 1) }
        }
        return out
    }

    /// An empty summary: every record is still to be folded.
    init() {}

    /// A summary of `records` that starts from shares computed before (a store keeps each
    /// record's share with its row, so a restart need not hash every record again). Records
    /// without a share in `kept` are marked dirty, so the next fold computes theirs.
    init(records: [RecordKey: Record], kept: [RecordKey: Share]) {
        assert(kept.keys.allSatisfy { records[$0] != nil }, "a kept share for a record the replica does not hold")
        allDirty = false
        shares = kept
        for share in kept.values {
            sum = sum &+ share.hash
            existing += share.exists ? 1 : 0
            conflicts += Int(share.conflicts)
        }
        if kept.count < records.count {
            for key in records.keys where kept[key] == nil { dirty.insert(key) }
        }
    }

    /// The share of `record` at `key`: the one kept when the record has not changed since it
    /// was computed, else computed now.
    func share(_ key: RecordKey, _ record: Record) -> Share { current(key, record) ?? Self.share(key, record) }

    /// The kept share of `record` at `key` when the record has not changed since the fold.
    private func current(_ key: RecordKey, _ record: Record) -> Share? {
        guard !allDirty, !dirty.contains(key), let kept = shares[key] else { return nil }
        assert(kept == Self.share(key, record), "the kept share of \(key) is stale")
        return kept
    }

    /// Computes the shares of what changed (at most `limit` records of it) and keeps them.
    mutating func refresh(_ records: [RecordKey: Record], limit: Int = .max) {
        if allDirty {
            self = StateSummary()
            allDirty = false
            guard limit < records.count else {
                // Sized once: growing a table to a million shares rehashes it ~20 times.
                shares.reserveCapacity(records.count)
                for ((key, _), share) in zip(records, Self.allShares(records)) { put(key, share) }
                return
            }
            dirty = Set(records.keys)
        }
        if limit >= dirty.count {
            let ahead = computedAhead
            computedAhead = [:]
            let changed = ahead.isEmpty ? dirty : dirty.filter { ahead[$0] == nil }
            for (key, share) in zip(changed, Self.shares(of: changed, records)) { put(key, share) }
            for (key, share) in ahead {
                assert(records[key].map { Self.share(key, $0) } == share, "the share of \(key) computed ahead is stale")
                put(key, share)
            }
            dirty.removeAll(keepingCapacity: true)
            return
        }
        for _ in 0..<limit {
            guard let key = dirty.popFirst() else { break }
            put(key, computedAhead.removeValue(forKey: key) ?? records[key].map { Self.share(key, $0) })
        }
    }

    /// The share of `record` at `key` for a store writing it now: the kept one when the
    /// record has not changed since the fold, else computed and kept for the next fold.
    mutating func shareForStoring(_ key: RecordKey, _ record: Record) -> Share {
        if allDirty { return Self.share(key, record) }
        if let kept = current(key, record) ?? computedAhead[key] { return kept }
        let share = Self.share(key, record)
        computedAhead[key] = share
        return share
    }

    /// Every record's share, in the order `records` iterates, hashed on all cores. A loaded
    /// replica's first fold hashes every record, which took about 40% of the loading thread's
    /// samples in a profile of a hub loading 200,000 records; shares are independent, so the
    /// work splits cleanly.
    static func allShares(_ records: [RecordKey: Record]) -> [Share] {
        // More parts than cores evens out records of different sizes.
        records.mapOnEveryCore(parts: 16, sequentialBelow: 4_096) { share($0.key, $0.value) }
    }

    /// The shares of the records at `keys` (nil where none is held), in the order `keys`
    /// iterates, on every core when they are many: a catch-up page changes thousands of
    /// records per turn, and a restart from a store without kept shares folds them all.
    static func shares(of keys: Set<RecordKey>, _ records: [RecordKey: Record]) -> [Share?] {
        keys.mapOnEveryCore(parts: 16, sequentialBelow: 1_024) { key in records[key].map { share(key, $0) } }
    }

    private mutating func put(_ key: RecordKey, _ share: Share?) {
        if let old = shares[key] {
            sum = sum &- old.hash
            existing -= old.exists ? 1 : 0
            conflicts -= Int(old.conflicts)
        }
        shares[key] = share
        if let share {
            sum = sum &+ share.hash
            existing += share.exists ? 1 : 0
            conflicts += Int(share.conflicts)
        }
    }

    /// One record's share: the hash of its visible state when it exists, and its conflicted
    /// registers (counted as `Replica.conflicts()` lists them, deleted records included).
    static func share(_ key: RecordKey, _ record: Record) -> Share {
        var conflicted: UInt32 = 0
        for state in record.fields.values {
            if case .register(let r) = state, r.isConflicted { conflicted += 1 }
        }
        guard record.exists else { return Share(hash: Lanes(), conflicts: conflicted, exists: false) }
        // What `Replica.view` shows of the record, hashed field by field: folding runs for
        // every changed record in every reactor turn, so it builds no view and no tag strings.
        var hasher = SHA256Hasher()
        hasher.update(joining: key.collection, "/", key.id)
        if case .register(let e)? = record.fields[Record.existsField], e.isConflicted {
            hasher.update("$exists-conflict")
            for s in e.siblings { hasher.update(s.dot.description); hash(tagOf: s.value, &hasher) }
        }
        Replica.forEachVisibleField(of: record) { f in
            hasher.update(f.name)
            if let v = f.value { hasher.update("v"); hash(tagOf: v, &hasher) }
            if let m = f.members { hasher.update("m"); hasher.update(UInt64(m.count)); m.forEach { hasher.update($0) } }
            if let c = f.conflict {
                hasher.update("c")
                for s in c { hasher.update(s.dot.description); hash(tagOf: s.value, &hasher) }
            }
        }
        return Share(hash: Lanes(bytes: hasher.finalize()[...]), conflicts: conflicted, exists: true)
    }

    /// Hashes `valueTag(v)` as one string, without making it for the common string values.
    static func hash(tagOf v: Value, _ hasher: inout SHA256Hasher) {
        if case .string(let s) = v { hasher.update(joining: "s:", s) } else { hasher.update(valueTag(v)) }
    }

    static func valueTag(_ v: Value) -> String {
        switch v {
        case .string(let s): return "s:" + s
        case .int(let i): return "i:\(i)"
        case .bool(let b): return "b:\(b)"
        case .absent: return "a"
        }
    }
}

/// One record's part of the status summary (see `StateSummary`): the hash of its visible
/// state, its conflicted registers and whether it exists. A pure function of the record, so a
/// store can keep it beside the record's row and a restart can use it instead of hashing.
public struct RecordShare: Equatable, Sendable {
    var hash: StateSummary.Lanes
    var conflicts: UInt32
    var exists: Bool

    init(hash: StateSummary.Lanes, conflicts: UInt32, exists: Bool) {
        self.hash = hash
        self.conflicts = conflicts
        self.exists = exists
    }

    /// The share of `record` at `key`, computed.
    public init(_ key: RecordKey, _ record: Record) { self = StateSummary.share(key, record) }

    /// How a store keeps it: the four lanes big-endian, the conflict count (big-endian) and
    /// one byte for `exists`, 37 bytes.
    public var bytes: [UInt8] {
        var out = hash.bytes
        out.reserveCapacity(Self.byteCount)
        for i in (0..<4).reversed() { out.append(UInt8(truncatingIfNeeded: conflicts >> (UInt32(i) * 8))) }
        out.append(exists ? 1 : 0)
        return out
    }

    public static let byteCount = 37

    /// Reads `bytes`; nil unless they are exactly what `bytes` writes (a deleted record's
    /// hash is all zero).
    public init?(bytes: [UInt8]) {
        guard bytes.count == Self.byteCount, bytes[36] <= 1 else { return nil }
        let lanes = StateSummary.Lanes(bytes: bytes[0..<32])
        let exists = bytes[36] == 1
        guard exists || lanes == StateSummary.Lanes() else { return nil }
        self.init(hash: lanes, conflicts: bytes[32..<36].reduce(0) { $0 << 8 | UInt32($1) }, exists: exists)
    }
}

extension Replica {
    /// The share of the record at `key` as it is now (nil when there is none): the summary's
    /// kept one when the record has not changed since the last fold, else computed.
    public func share(of key: RecordKey) -> RecordShare? {
        records[key].map { summary.share(key, $0) }
    }

    /// The shares of the records at `keys` as they are now, for a store writing their rows:
    /// a checkpoint's records were folded already and their shares are kept; those changed
    /// in this turn (single edits, snapshot pages) are hashed here and the next fold takes
    /// them, so no record is hashed twice for one change.
    public mutating func sharesForStoring(_ keys: some Sequence<RecordKey>) -> [RecordKey: RecordShare] {
        var out: [RecordKey: RecordShare] = [:]
        for key in keys {
            guard let record = records[key] else { continue }
            out[key] = summary.shareForStoring(key, record)
        }
        return out
    }

    /// Starts the status summary from shares kept by the store (see `RecordShare`), one per
    /// held record at most; records without one are folded by the next `refreshSummary`.
    /// Changes applied after this (the store's replay of ops past its checkpoint) mark their
    /// records changed as usual.
    public mutating func restoreSummary(kept: [RecordKey: RecordShare]) {
        summary = StateSummary(records: records, kept: kept)
    }

    /// The state digest (see `StateSummary`): equal on replicas showing the same state.
    public func digest() -> String {
        hexString(summary.totals(records).sum.bytes)
    }

    /// Existing (not deleted) records.
    public var existingRecordCount: Int { summary.totals(records).existing }

    /// Conflicted registers, as many as `conflicts()` lists.
    public var conflictCount: Int { summary.totals(records).conflicts }

    /// Folds the records changed since the last call (at most `limit` of them) into the
    /// summary, so the next digest and counts cost nothing for them. A node calls it once
    /// when it has loaded its replica, before it serves (every record is new to the summary
    /// then, and nothing needs their keys), and `foldChangedRecords` after every turn.
    public mutating func refreshSummary(limit: Int = .max) { summary.refresh(records, limit: limit) }

    /// Folds every record changed since the last call into the summary and returns their
    /// keys (every key when the whole replica was new to the summary), so a caller keeping
    /// something else per record (the node's search index) follows the same changes. A node
    /// calls it after every turn of its reactor, where it costs what that turn changed (and
    /// `refreshSummary` once after loading): no query has a backlog to fold.
    public mutating func foldChangedRecords() -> Set<RecordKey> {
        let keys = summary.allDirty ? Set(records.keys) : summary.dirty
        summary.refresh(records)
        return keys
    }
}
