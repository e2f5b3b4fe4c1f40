/// The one table of limits every path enforces identically: local writes (CLI, set-many,
/// import), remote ops, snapshot pages and backups. They are chosen so that a record a node
/// accepts can always travel: its encoded size stays well under the 8 MiB message limit and
/// within the snapshot page budget, and no single part of it exceeds a decoder limit
/// (MSP.md section 10 documents the table; `LimitsTests` checks the arithmetic).
public enum Limits {
    // MARK: values

    /// Bytes of a text value (UTF-8).
    public static let maxTextBytes = 4096
    /// Bytes of one set element (UTF-8).
    public static let maxElementBytes = 256

    // MARK: state of one record

    /// Siblings of one register (a scalar field, `$exists`, or one set element's presence).
    /// Honest nodes leave at most one sibling per replica that wrote concurrently, so this is
    /// only reached by a writer minting replicas; past it a record would stop fitting a page and
    /// every join would get slower.
    public static let maxSiblings = 32
    /// Estimated encoded bytes of one register (siblings plus causal context): room for
    /// `maxSiblings` texts of `maxTextBytes` and a context of a few hundred replicas.
    public static let maxRegisterBytes = 160 * 1024
    /// Elements of one set field, removed ones included (a removed element keeps its state).
    public static let maxSetElements = 1024
    /// Estimated encoded bytes of one set field.
    public static let maxSetBytes = 512 * 1024
    /// Estimated encoded bytes of one record. Every collection's scalar fields times
    /// `maxRegisterBytes` plus its set fields times `maxSetBytes` stays below it, so the
    /// per-field limits imply it without summing a record on every op.
    public static let maxRecordBytes = 3 * 1024 * 1024

    // MARK: causality and time

    /// How far an op's counter (or a context entry) may be ahead of what the receiver holds of
    /// that replica. Further ahead is refused (`gap-too-large`): it is either hostile or will
    /// come again, in order, by Pull. Keeps what one origin can park ahead of a gap bounded.
    public static let maxCounterGap: UInt64 = 10_000
    /// Replica ids (epochs) one node id may have here. A node gets a new epoch only when its
    /// data directory is created again; a member minting epochs (signatures name the node,
    /// not the epoch) would otherwise grow every version vector past what can be sent.
    public static let maxEpochsPerNode = 16
    /// Default for `max_clock_skew_seconds`: an op stamped further ahead of the receiver's wall
    /// clock is refused (`clock-skew`) and applies once the clock has caught up.
    public static let defaultMaxClockSkewSeconds = 86_400
    /// Ops waiting for their causal past (count and estimated bytes), per node.
    public static let maxWaitingOps = 4096
    public static let maxWaitingBytes = 16 * 1024 * 1024

    /// The table as (name, value, meaning) rows, for status output and documentation.
    public static var table: [(name: String, value: String, meaning: String)] {
        [
            ("max_text_bytes", "\(maxTextBytes)", "bytes of a text value"),
            ("max_element_bytes", "\(maxElementBytes)", "bytes of a set element"),
            ("max_siblings", "\(maxSiblings)", "concurrent values of one field (or set element)"),
            ("max_register_bytes", "\(maxRegisterBytes)", "encoded bytes of one field's state"),
            ("max_set_elements", "\(maxSetElements)", "elements of one set field, removed ones included"),
            ("max_set_bytes", "\(maxSetBytes)", "encoded bytes of one set field"),
            ("max_record_bytes", "\(maxRecordBytes)", "encoded bytes of one record"),
            ("max_epochs_per_node", "\(maxEpochsPerNode)", "replica ids (data directory incarnations) of one node"),
            ("max_counter_gap", "\(maxCounterGap)", "how far an op may be ahead of what the receiver holds of its replica"),
            ("max_clock_skew_seconds", "\(defaultMaxClockSkewSeconds)", "default: how far an op's HLC may be ahead of the receiver's clock"),
        ]
    }
}

/// Limits a decoder enforces so a peer cannot make a node allocate without bound (MSP.md
/// section 10, "Wire limits"). The wire module enforces them; they stand here, beside the
/// record limits they must never be tighter than, so that a node's configuration can be
/// checked against them (`page_size` is at most `maxOpsPerMessage`) without the wire code.
public enum WireLimits {
    /// Largest envelope accepted (also set as ZMQ_MAXMSGSIZE on inter-node sockets).
    public static let maxMessageBytes = 8 * 1024 * 1024
    public static let maxOpsPerMessage = 20_000
    public static let maxRecordsPerPage = 20_000
    public static let maxFieldsPerOp = 64
    public static let maxSiblingsPerRegister = 4096
    public static let maxVersionEntries = 100_000
    public static let maxTextBytes = 64 * 1024
}

/// Why an op or a write was refused: the fixed labels of MSP 9.1 (counter keys, log fields
/// and `Refusal.reason` on the wire), plus `causality` and `counter-exhausted`, which never
/// leave the node. The model raises the limit and causality ones; write authorisation the
/// origin, signature, revocation, fork and rule ones; the engine the rest.
public enum RefusalReason: String, Sendable, Equatable, CaseIterable {
    /// MSP 5.6 rules 1-3: counter, no fields, id, empty delta, foreign dot or time, a broken link.
    case malformed
    /// MSP 5.6 rule 4: collection, field, type, text rules.
    case schema
    /// No signing key is known for the origin, or its replica id is not a registered epoch.
    case unknownOrigin = "unknown-origin"
    /// The signature does not verify over the op's canonical bytes.
    case badSignature = "bad-signature"
    /// The write rules do not allow the op (MSP 11.4).
    case unauthorised
    /// The origin is revoked, or the op was made while it was (MSP 11.5).
    case revoked
    /// The roster settles a fork of the op's replica at or below its counter (MSP 5.9).
    case equivocation
    /// Anything else the receiver could not apply.
    case other
    /// The op's counter, or a context entry, is further ahead than `Limits.maxCounterGap`.
    case gapTooLarge = "gap-too-large"
    /// A context claims dots of the op's own origin beyond the op itself: events its origin
    /// never made (at the time it made this one).
    case badContext = "bad-context"
    /// The op's contexts cover dots the receiver does not hold yet: applied once it does.
    case causality
    /// The op's HLC is further ahead of the receiver's wall clock than the configured skew.
    case clockSkew = "clock-skew"
    /// Joining the op would leave a register with more than `Limits.maxSiblings` siblings.
    case tooManySiblings = "too-many-siblings"
    /// Joining the op would leave a set with more than `Limits.maxSetElements` elements.
    case tooManyElements = "too-many-elements"
    /// Joining the op would leave a field larger than its byte limit.
    case tooLarge = "too-large"
    /// The op's node already has `Limits.maxEpochsPerNode` replica ids here.
    case tooManyEpochs = "too-many-epochs"
    /// The replica's own counter cannot be raised any further.
    case counterExhausted = "counter-exhausted"
}

/// Cheap upper-bound estimates of encoded sizes (protobuf, MSP/1): enough to cut pages below
/// the message limit and to bound records, without encoding anything. The model owns them so
/// it can enforce `Limits` on every join; the wire layer pages with the same numbers.
public enum EncodedSize {
    @inline(__always) static func replica(_ r: ReplicaID) -> Int { r.node.utf8.count + 10 }

    public static func version(_ v: VersionVector) -> Int {
        var n = 4
        for e in v.sorted { n += replica(e.replica) + 14 }
        return n
    }

    @inline(__always) static func value(_ v: Value) -> Int {
        switch v {
        case .string(let s): return s.utf8.count + 6
        case .int, .bool: return 13
        case .absent: return 2  // an empty Value message: a clear
        }
    }

    public static func register(_ r: Register<Value>) -> Int {
        var n = version(r.context) + 4
        for s in r.siblings { n += replica(s.dot.replica) + 34 + value(s.value) }
        return n
    }

    public static func presence(_ r: Register<Bool>) -> Int {
        var n = version(r.context) + 4
        for s in r.siblings { n += replica(s.dot.replica) + 38 }
        return n
    }

    /// One element of a set: its key and its presence register.
    @inline(__always) static func element(_ e: String, _ r: Register<Bool>) -> Int {
        e.utf8.count + 8 + presence(r)
    }

    public static func set(_ s: ORSet) -> Int { 4 + s.elementBytes }

    public static func field(_ name: String, _ state: FieldState) -> Int {
        let body: Int
        switch state {
        case .register(let r): body = register(r)
        case .set(let s): body = set(s)
        }
        return name.utf8.count + 8 + body
    }

    /// An op's fields (a dictionary) or a record's (a `FieldTable`).
    public static func fields(_ fields: some Sequence<(key: String, value: FieldState)>) -> Int {
        var n = 0
        for (name, state) in fields { n += field(name, state) }
        return n
    }

    public static func op(_ o: Op) -> Int {
        replica(o.origin) + o.key.collection.utf8.count + o.key.id.utf8.count + o.signature.count + 48 + fields(o.fields)
    }

    public static func record(_ key: RecordKey, _ r: Record) -> Int {
        key.collection.utf8.count + key.id.utf8.count + 16 + fields(r.fields)
    }
}
