import MemberSyncCrypto
import MemberSyncModel
import MemberSyncWire

/// An outbound link: this node's DEALER + SUB to a hub or a fallback peer.
public enum LinkID: Hashable, Sendable, CustomStringConvertible {
    case hub(Int)
    case peer(Int)

    public var description: String {
        switch self {
        case .hub(let i): return "hub[\(i)]"
        case .peer(let i): return "peer[\(i)]"
        }
    }
}

/// What the I/O shell must do, in order: the engine's one output. Every input returns its
/// directives, and nothing of one input is held back for the next (as SWIM's `Instance`
/// returns its membership changes). `persist` always precedes the replies and publications
/// that depend on it, so nothing is acknowledged before it is durable. The one exception is
/// `relay`, which acknowledges nothing and may go out before the commit.
public enum Directive: Equatable, Sendable {
    /// Store these ops, the current states of these records, and the current version.
    /// Store `ops` (with the encodings the store keeps) and the states of `keys`.
    case persist(ops: [EncodedOp], keys: [RecordKey])
    /// Drop ops covered by the replica's log floor from the store.
    case persistCompaction
    case send(LinkID, Message)
    /// Push ops of this node's own to a link, with the bytes they were encoded to when they
    /// were signed: the frames of `send(l, .push(ops))`, without encoding the ops again.
    case pushOps(LinkID, [EncodedOp])
    case reply(client: [UInt8], Message)
    case publish(Message)
    /// Publish an op of this node's own with its bytes: the frames of `publish(.op(op))`.
    case publishOp(EncodedOp)
    /// Publish a remote op this node passes on to its subscribers (a hub relaying what a member
    /// pushed). The reactor sends it before committing the batch that applied it: a relayed op
    /// acknowledges nothing. Its origin committed it before it ever sent it, and keeps resending
    /// its Push until this node Acks, which happens only after this node's own commit; a
    /// receiver commits it before acknowledging anything itself. So if this node crashes
    /// before its commit, the op is still durable at its origin (and at any receiver) and comes
    /// back with the origin's next Push; no acknowledgement ever rested on this node's copy.
    /// This takes one fsync out of the write -> hub -> member path. The op comes with the
    /// encoding its commit stores, so relaying it encodes nothing again.
    case relay(EncodedOp)
    /// Remember what we know about a node that talked to us (hub roster view).
    case rememberNode(String)
    /// Store `SyncEngine.refusedEdits`, the list of this node's own edits that were refused.
    case persistRefused
    /// Something an operator should read in the log: a refused op (`opRejected`: schema,
    /// signature, authorisation; it never stops a stream), a fork, a loaded snapshot... The
    /// engine cannot log; the reactor logs these, rate-limited, and sends nothing for them.
    case event(EngineEvent)

    /// The event this directive reports, if it is one.
    public var event: EngineEvent? {
        if case .event(let e) = self { return e }
        return nil
    }
}

/// A write made on this node (an edit, a batch, a merged backup), applied in memory and not
/// yet stored. Nothing of it may reach anyone before `ops` and the states of `keys` are
/// durable; if storing them fails, `SyncEngine.rollBack` takes it back, so what the user was
/// told failed is never applied later.
public struct LocalCommit: Sendable {
    /// The ops to store, in order, with their encodings. A local op is encoded once, when it
    /// is signed: those bytes give its chain hash, are what the store keeps and what its
    /// Push and publication carry.
    public let encodedOps: [EncodedOp]
    public var ops: [Op] { encodedOps.map(\.op) }
    /// The records whose current state to store.
    public let keys: [RecordKey]
    /// True when the write raised log floors (a merged backup), so the store compacts too.
    public var compaction = false
    /// What to send once the commit is durable.
    public let after: [Directive]
    let undo: Undo

    enum Undo: Sendable {
        /// This replica's own ops since a point, and how many local writes they counted.
        case ownOps(LocalUndo, writes: UInt64)
        /// The whole state before (a merge touches every origin; it is an operator's rare act).
        case state(Replica, EngineCounters, refused: [RefusedEdit])
    }

    /// The same commit as directives in the order the reactor carries them out: the persist
    /// step, compaction, then the sends: how the engine carries out the roster writes it makes
    /// itself (epochs, forks) within an input; tests and the simulated network use it too. The
    /// daemon stores a commit from `ops` and `keys`, never by finding its persist step.
    public var directives: [Directive] {
        [.persist(ops: encodedOps, keys: keys)] + (compaction ? [.persistCompaction] : []) + after
    }
}

/// What merging a backup into a running replica changed.
public struct BackupMerge: Sendable, Equatable {
    public var replica: ReplicaID
    public var recordsInBackup: Int
    public var opsInBackup: Int
    public var opsAdded: Int
    public var opsRejected: Int
    /// Records that did not exist here (or were deleted) and exist after the merge.
    public var recordsCreated: Int
    /// Records whose state changed, created ones included.
    public var recordsChanged: [RecordKey]
    public var versionBefore: VersionVector
    public var versionAfter: VersionVector
}

/// What applying remote ops did (`SyncEngine.applyRemote`): the ops applied, in order, and
/// what to report ahead of their persist step: the refusals and other events, the records
/// that judging held ops again rebuilt, and whether the list of refused own edits changed.
struct RemoteApply {
    var ops: [Op] = []
    var report: [Directive] = []
    /// Encodings made on the way (of the ops whose chain links were hashed), so the store and
    /// the relay reuse them.
    var encodings: [Dot: [UInt8]] = [:]

    /// The applied ops with their encodings, each op encoded once at most.
    var encodedOps: [EncodedOp] { ops.map { EncodedOp($0, encoding: encodings[$0.dot]) } }
}

/// State of one outbound link.
public struct LinkState: Sendable {
    public let endpoint: String
    public var welcomed = false
    public var lastHeard: UInt64 = 0
    public var lastHelloSent: UInt64 = 0
    /// What the other side is known to hold (from Welcome, Heartbeat, Ack, OpBatch).
    public var remoteVersion = VersionVector()
    public var remoteNode: String?
    var pullSentAt: UInt64?
    /// How long the last Pull on this link took to be answered: a Pull is sent again only
    /// after twice that (at least `retryMilliseconds`), so a page that takes longer than the
    /// retry interval to serve and cross (a busy hub, 5,000 ops) is not asked for twice.
    var pullRoundTrip: UInt64 = 0
    var pushSentAt: UInt64?
    /// Version captured by the first page of a snapshot being fetched.
    var snapshotVersion: VersionVector?
    var snapshotRequestedAt: UInt64?
    /// The key the outstanding snapshot request continues after: a page is accepted only
    /// when it starts beyond it, so a late duplicate (the answer to a request sent again after
    /// a timeout) is dropped instead of starting a second chain of page requests.
    var snapshotAfter = ""
    /// No Pull before this time: the last one brought only ops we refused (MSP 5.6).
    var pullBackoffUntil: UInt64?
    /// No Push before this time: the other side refused ops of ours it does not hold, and
    /// resending them before something changes would only be refused again (MSP 7.3).
    var pushBackoffUntil: UInt64?
    /// The highest counter per origin of the ops last pushed on this link.
    var pushedVersion = VersionVector()
    /// The last tick at which this node held every op the other side was known to hold while
    /// the link was up (0: not yet): how long it has been behind, for `membersync status`.
    public var lastInSync: UInt64 = 0

    init(endpoint: String) { self.endpoint = endpoint }
}

/// What a node knows about another node that connected to it (the hub's roster view).
public struct ClientInfo: Sendable, Equatable {
    public var nodeID: String
    public var organisation: String
    public var role: String
    public var softwareVersion: String
    public var protocolVersion: UInt32
    public var version: VersionVector
    public var lastSeen: UInt64
    public var identity: [UInt8]
}

/// Counters the node exposes in status and metrics.
public struct EngineCounters: Sendable, Equatable {
    public var opsApplied: UInt64 = 0
    public var opsDuplicate: UInt64 = 0
    /// Rejected remote ops by reason (schema, malformed, ...).
    public var opsRejected: [String: UInt64] = [:]
    public var localWrites: UInt64 = 0
    public var snapshotsServed: UInt64 = 0
    public var snapshotsLoaded: UInt64 = 0
    /// Remote ops put to wait for their causal past (`causality`); not a rejection: they apply
    /// once the dots their contexts cover arrive.
    public var opsWaited: UInt64 = 0
    /// Waiting ops dropped to keep the wait buffer bounded (they are fetched again).
    public var opsWaitEvicted: UInt64 = 0
    /// Requests on the ROUTER left unanswered because their client went past its quota, by
    /// reason (`pull-quota`, `snapshot-quota`).
    public var requestsRefused: [String: UInt64] = [:]
    /// Second, different ops for a dot this node already holds, validly signed: evidence that
    /// their origin equivocated (signed two histories).
    public var equivocations: UInt64 = 0
    /// Remote ops whose signature needed no check of its own: a later op of their chain in the
    /// same batch had a valid one (MSP 5.9).
    public var opsAuthenticatedByChain: UInt64 = 0
    /// Records whose held ops were judged again because a rights write or a roster change
    /// may have changed their verdicts (MSP 11.7); each costs the record's whole history.
    public var recordsJudgedAgain: UInt64 = 0

    public init() {}
}

/// A token bucket in thousandths of a request, refilled from the engine's `now`.
struct TokenBucket: Sendable {
    var milli: UInt64
    var at: UInt64

    init(_ q: RequestQuota, now: UInt64) {
        milli = UInt64(q.burst) * 1000
        at = now
    }

    mutating func take(_ q: RequestQuota, now: UInt64) -> Bool {
        let cap = UInt64(q.burst) * 1000
        let elapsed = now > at ? min(now - at, 3_600_000) : 0
        milli = min(cap, milli + elapsed * UInt64(q.perSecond))
        at = now
        guard milli >= 1000 else { return false }
        milli -= 1000
        return true
    }
}

/// Something an operator should read in the log. The engine is pure and cannot log, so it
/// returns these as `Directive.event`, among the directives of the input that caused them;
/// the reactor logs them with metadata.
public enum EngineEvent: Sendable, Equatable {
    /// A remote op was refused (schema, signature, authorisation, ...): not applied, or held
    /// without effect. A Push's refusals are named back to the pusher from these.
    case opRejected(origin: ReplicaID, counter: UInt64, key: RecordKey, reason: RefusalReason, detail: String)
    /// A snapshot fetched over a link was loaded completely.
    case snapshotLoaded(LinkID, node: String?, records: Int)
    /// The other side of a link answered with an error (e.g. it refused our Hello).
    case linkError(LinkID, node: String?, code: ErrorCode, message: String)
    /// The hub dropped causally stable ops from its log.
    case compacted(dropped: Int, held: Int)
    /// A validly signed op for a dot this node already holds with other contents: its origin
    /// signed two different histories (equivocation). Both stay on record in `evidence`.
    case equivocation(dot: Dot, heldKey: RecordKey, otherKey: RecordKey)
    /// A hub did not register a node's new replica id: it already has the most epochs allowed
    /// (or the roster write failed), so that replica's ops are refused everywhere.
    case epochRefused(node: String, replica: ReplicaID, registered: Int)
    /// One of this node's own edits was refused: by the node it was pushed to (which answered
    /// `Error{REJECTED}`), or by this node's judging of facts that arrived later (MSP 11.7).
    case ownOpRefused(dot: Dot, key: RecordKey, reason: String, detail: String, held: Bool)
}

/// The sync logic of a node as a pure state machine: inputs in, directives out, no sockets,
/// no disk, no clock of its own. The reactor feeds it; tests drive it directly.
public struct SyncEngine: Sendable {
    public let settings: EngineSettings
    public internal(set) var replica: Replica
    public private(set) var hubs: [LinkState]
    public private(set) var peers: [LinkState]
    public private(set) var clients: [String: ClientInfo] = [:]
    public internal(set) var counters = EngineCounters()
    /// The hub's acknowledged version, as last reported by the active hub.
    public private(set) var hubAcked = VersionVector()
    private var lastHeartbeat: UInt64 = 0
    /// Record keys in snapshot order (bytewise `collection/id`), kept between pages. The keys
    /// share their strings with the replica's dictionary, so this costs one array, not a
    /// second copy of every key.
    private var snapshotOrder: [RecordKey] = []
    private var lastCompaction: UInt64 = 0
    /// Signature and write-rule checks; nil when `settings.secure` is off (`insecure = true`).
    public let authority: WriteAuthority?
    /// Per record, what judging its rights writes found, so the next one is judged alone when
    /// it saw them all (`RightsJudgements`).
    var rightsJudgements = RightsJudgements()
    /// Records rebuilt when the engine started (held ops the rules refuse): stored at the
    /// first tick.
    private var repairedAtStart = Set<RecordKey>()
    /// This node's own counter up to which its local writes were checked for rights changes.
    private var ownCounterReconsidered: UInt64 = 0
    /// Records whose own rights writes may change verdicts (`mayChangeVerdicts`, asked as each
    /// was applied, as for a remote op): judged again at the next tick.
    private var ownRightsWritesToJudge = Set<RecordKey>()
    /// Remote ops waiting for the dots their contexts cover (causal delivery, MSP 5.8). Not
    /// persisted: a waiting op is not held, so it is not acknowledged and comes again.
    public private(set) var waiting = CausalBuffer()
    /// Per client (routing id): quotas for Pull and SnapshotRequest.
    private var quotas: [[UInt8]: (pull: TokenBucket, snapshot: TokenBucket)] = [:]
    static let maxQuotaClients = 4096
    /// Equivocation evidence, one per forked dot (bounded; the counter keeps counting).
    public internal(set) var evidence: [ForkEvidence] = []
    static let maxEvidence = 100
    /// Forks noted and not yet settled in the roster (a hub) or sent to the hub (a member).
    var forksToSettle: [ForkEvidence] = []
    var forkProofSentAt: UInt64 = 0
    /// This node's own edits that were refused, oldest first (see `RefusedEdits.swift`); the
    /// reactor stores the list on `.persistRefused`.
    public internal(set) var refusedEdits: [RefusedEdit] = []

    public static let softwareVersion = Release.version
    /// Records per snapshot page. Large pages make a bootstrap fast (fewer round trips and
    /// commits); a page is also cut by size (`WireSize.pageBudgetBytes`, half the 8 MiB message
    /// limit), so large records still fit, and `WireLimits.maxRecordsPerPage` bounds it.
    public static let snapshotPageRecords = min(10_000, WireLimits.maxRecordsPerPage)
    /// Resend unacknowledged pushes and unanswered pulls after this long.
    let retryMilliseconds: UInt64 = 1000
    /// The longest a Pull waits for its answer before it is sent again (see `pullRoundTrip`).
    static let maxPullRetryMilliseconds: UInt64 = 10_000
    let compactionIntervalMilliseconds: UInt64 = 10_000

    /// `settings.signingKey` signs every local op (Ed25519 over `WireCodec.canonicalBytes`):
    /// the engine's writes as it encodes them (`seal`), and through the replica's signer any
    /// write made on the replica itself.
    public init(settings: EngineSettings, replica: Replica) {
        self.settings = settings
        var replica = replica
        if let signingKey = settings.signingKey {
            replica.signer = { op in signingKey.sign(WireCodec.canonicalBytes(op)) }
        }
        replica.chainHasher = Self.chainHash
        replica.maxClockSkewMilliseconds = UInt64(max(1, settings.maxClockSkewSeconds)) * 1000
        self.replica = replica
        authority = settings.secure ? WriteAuthority(
            nodeID: settings.nodeID, role: settings.role, organisation: settings.organisation,
            ownSigningKey: settings.signingKey?.publicKey, hubSigningKeys: settings.hubSigningKeys) : nil
        hubs = settings.hubEndpoints.map { LinkState(endpoint: $0) }
        peers = settings.peers.map { LinkState(endpoint: $0) }
        if authority != nil { startJudging() }
    }

    /// With security on: index the records whose rights depend on their history, and judge
    /// every held op (the store keeps the ops, not which of them the rules refuse, and may
    /// have joined refused ones into records it rebuilt from the log).
    private mutating func startJudging() {
        replica.indexHistory(of: WriteAuthority.rightsFields)
        let nodes = Set(replica.origins.map(\.node))
        let change = judgeAgain(keys: [], nodes: nodes)
        for op in change.released { replica.release(op.dot) }
        repairedAtStart = replica.withhold(change.withheld.map(\.op.dot))
        repairedAtStart.formUnion(replica.joinAllowedOpsMissingFromRecords())
        ownCounterReconsidered = replica.version[replica.id]
    }

    var id: ReplicaID { replica.id }

    /// Folds the records changed since the last call into the replica's status summary
    /// (`StateSummary`) and returns their keys (see `Replica.foldChangedRecords`).
    public mutating func foldChangedRecords() -> Set<RecordKey> { replica.foldChangedRecords() }

    /// Folds every changed record into the status summary without listing them (a node
    /// does this once after loading, when the list would be every key).
    public mutating func refreshSummary() { replica.refreshSummary() }

    /// The status shares of the records at `keys`, for the store to write with their rows
    /// (see `Replica.sharesForStoring`).
    public mutating func sharesForStoring(_ keys: some Sequence<RecordKey>) -> [RecordKey: RecordShare] {
        replica.sharesForStoring(keys)
    }

    // MARK: link selection

    public func link(_ l: LinkID) -> LinkState {
        switch l {
        case .hub(let i): return hubs[i]
        case .peer(let i): return peers[i]
        }
    }

    mutating func update(_ l: LinkID, _ body: (inout LinkState) -> Void) {
        switch l {
        case .hub(let i): body(&hubs[i])
        case .peer(let i): body(&peers[i])
        }
    }

    /// A peer link now reaches another endpoint (a peer named by id whose roster entry
    /// arrived, changed or was revoked): what was known of the old one no longer holds.
    public mutating func repointPeer(_ i: Int, endpoint: String) {
        guard peers[i].endpoint != endpoint else { return }
        peers[i] = LinkState(endpoint: endpoint)
    }

    public func isUp(_ s: LinkState, now: UInt64) -> Bool {
        s.welcomed && now &- s.lastHeard <= UInt64(settings.linkTimeoutMilliseconds) && !leadsToRevokedNode(s)
    }

    /// With security on, a link whose other end the roster revokes is never used: nothing is
    /// pushed to it, pulled from it or taken from it (MSP 11.5).
    func leadsToRevokedNode(_ s: LinkState) -> Bool {
        guard authority != nil, let node = s.remoteNode, node != settings.nodeID,
              let entry = WriteAuthority.rosterEntry(node, in: replica) else { return false }
        return WriteAuthority.isRevoked(entry)
    }

    /// The preferred hub that is answering, if any.
    public func activeHub(now: UInt64) -> Int? {
        hubs.indices.first { isUp(hubs[$0], now: now) }
    }

    /// The links this node syncs with now: the active hub, or else every answering peer.
    public func syncLinks(now: UInt64) -> [LinkID] {
        if let h = activeHub(now: now) { return [.hub(h)] }
        return peers.indices.filter { isUp(peers[$0], now: now) }.map { .peer($0) }
    }

    /// Links that should be greeted: all hubs always, peers only while no hub answers.
    public func linksToGreet(now: UInt64) -> [LinkID] {
        var out: [LinkID] = hubs.indices.map { .hub($0) }
        if activeHub(now: now) == nil { out += peers.indices.map { .peer($0) } }
        return out
    }

    /// Own ops the hub has not yet acknowledged. A hub holds its own ops durably as the hub,
    /// so it has none pending (otherwise monitoring would see them pending forever).
    public var pendingCount: UInt64 {
        if settings.role == .hub { return 0 }
        let mine = replica.version[id]
        let acked = hubAcked[id]
        return mine > acked ? mine - acked : 0
    }

    func hello() -> Message {
        .hello(Hello(nodeID: settings.nodeID, replica: id, role: settings.role.rawValue, organisation: settings.organisation,
                     softwareVersion: Self.softwareVersion, version: replica.version))
    }

    func heartbeat() -> Message {
        .heartbeat(Heartbeat(nodeID: settings.nodeID, replica: id, role: settings.role.rawValue, version: replica.version, pending: pendingCount))
    }

    // MARK: local writes

    /// Roster edits carry the facts that make revocation deterministic (MSP 11.5). An edit of
    /// `nodes/<id>` that revokes the node also records which of its ops stay accepted: those of
    /// its replicas this node holds now (`accepted_through`), so every node refuses exactly its
    /// later ones. An edit that re-admits a revoked node adds the revocation to `revoked_spans`
    /// with `now` (Unix milliseconds), so what the node wrote while revoked stays refused after
    /// the re-admission; `acceptingRevokedEdits` (the operator's explicit choice) leaves the span
    /// out, and those edits count again. Callers pass every roster edit through this.
    public func withRevocationFacts(_ key: RecordKey, _ changes: [FieldChange], now: UInt64, acceptingRevokedEdits: Bool = false) -> [FieldChange] {
        guard key.collection == "nodes", !changes.contains(where: { $0.field == "accepted_through" || $0.field == "revoked_spans" }) else { return changes }
        if changes.contains(.assign(field: "revoked", value: .bool(true))) {
            return changes + [.assign(field: "accepted_through", value: .string(WriteAuthority.formatCounters(replica.version, node: key.id)))]
        }
        guard !acceptingRevokedEdits, changes.contains(.assign(field: "revoked", value: .bool(false))),
              let entry = replica.record(key), WriteAuthority.isRevoked(entry) else { return changes }
        var spans: [String] = []
        for s in entry.register("revoked_spans").siblings { if case .string(let t) = s.value { spans += t.split(separator: " ").map(String.init) } }
        // Not after the re-admission's own stamp, which the re-admitted node observes before
        // its next edit: the wall clock, or the clock's last stamp if that is ahead.
        let readmittedAt = max(now, replica.clock.latest.milliseconds)
        spans.append(WriteAuthority.formatSpan(readmittedAt: readmittedAt, acceptedThrough: WriteAuthority.acceptedThrough(entry), node: key.id))
        return changes + [.assign(field: "revoked_spans", value: .string(Array(Set(spans)).sorted().joined(separator: " ")))]
    }

    /// Applies a user's edit in memory. The returned commit says what to store before the
    /// caller answers "ok" (and how to take the edit back if that fails), then what to send:
    /// publish it, and push it to whoever this node syncs with.
    public mutating func localWrite(_ key: RecordKey, _ changes: [FieldChange], allowEmpty: Bool = false, now: UInt64) throws(ModelError) -> (Op, LocalCommit) {
        let op = try replica.prepareWrite(key, changes, allowEmpty: allowEmpty)
        return try commitLocal(op, now: now)
    }

    public mutating func localDelete(_ key: RecordKey, now: UInt64) throws(ModelError) -> (Op, LocalCommit) {
        let op = try replica.prepareDelete(key)
        return try commitLocal(op, now: now)
    }

    /// A local edit that breaks the write rules is refused here, before it is applied: the
    /// other nodes would reject it anyway.
    private mutating func commitLocal(_ prepared: Op, now: UInt64) throws(ModelError) -> (Op, LocalCommit) {
        try authorise(prepared)
        var undo = replica.undoPoint()
        let encoded = seal(prepared, undo: &undo)
        let op = encoded.op
        if op.key.collection == "nodes" { clearPullBackoff() }
        counters.localWrites += 1
        var after: [Directive] = [.publishOp(encoded)]
        for l in syncLinks(now: now) {
            update(l) {
                $0.pushSentAt = now
                $0.pushedVersion.add(op.dot)
            }
            after.append(.pushOps(l, [encoded]))
        }
        return (op, LocalCommit(encodedOps: [encoded], keys: [op.key], after: after, undo: .ownOps(undo, writes: 1)))
    }

    /// Links, signs and applies a prepared own op, encoding it once (`WireCodec.sealed`):
    /// the bytes give its chain hash here, and serve the store and the envelopes later.
    /// Without a signing key the op is signed by the replica's own signer, if one was put
    /// there (tests do), and encoded after.
    private mutating func seal(_ prepared: Op, undo: inout LocalUndo) -> EncodedOp {
        let key = settings.signingKey, signer = replica.signer
        var encoded: EncodedOp?
        replica.commitLocal(prepared, undo: &undo) { linked in
            let e: EncodedOp
            if let key {
                e = WireCodec.sealed(linked) { key.sign($0) }
            } else {
                var op = linked
                if let signer { op.signature = signer(op) }
                e = EncodedOp(op)
            }
            encoded = e
            return (e.op, Self.chainHash(encoded: e.bytes))
        }
        // Asked now, not at the tick: by then a later edit of the record has seen this one,
        // which would make every edit of a record edited twice in a batch look like a change.
        if authority != nil && WriteAuthority.mayChangeVerdicts(encoded!.op, in: replica) { ownRightsWritesToJudge.insert(prepared.key) }
        return encoded!
    }

    /// Refuses a prepared local op that breaks the write rules (no-op when security is off).
    private mutating func authorise(_ prepared: Op) throws(ModelError) {
        try Self.authorise(prepared, authority, replica, judgements: &rightsJudgements)
    }

    /// `authorise` through any judgements (the engine's, or a check's, which must leave the
    /// engine's alone). Static on purpose: a non-mutating method of the engine called with
    /// `&rightsJudgements` makes Swift copy the engine for the call, and every kept judgement
    /// (one per record written) was then copied on each edit, which made a writer's cost per
    /// op grow with the records it had written.
    private static func authorise(_ prepared: Op, _ authority: WriteAuthority?, _ replica: Replica,
                                  judgements: inout RightsJudgements) throws(ModelError) {
        guard let authority else { return }
        do { try authority.checkLocal(prepared, in: replica, judgements: &judgements) } catch { throw ModelError.unauthorised(error.detail) }
    }

    /// Applies several edits as one batch (set-many, import): each is checked like a single
    /// local edit (schema and write rules), then all are stored in one step (one transaction,
    /// one fsync). Small batches are also published live; every batch reaches the links by
    /// the usual paged, ack-clocked Push. All or nothing: if an edit fails, the edits before it
    /// are taken back, no commit is returned, and the error says which edit failed.
    /// `allowEmpty` lets an edit only assert that the record exists (import needs that).
    /// `publish: false` leaves even a small batch to the Push: an import's thousands of ops
    /// published live as well would reach the hub twice, each time encrypted and read.
    public mutating func localWriteBatch(_ edits: [(key: RecordKey, changes: [FieldChange])], allowEmpty: Bool = false, publish: Bool = true,
                                         now: UInt64) -> (ops: [Op], commit: LocalCommit?, failure: (index: Int, error: ModelError)?) {
        var encoded: [EncodedOp] = []
        encoded.reserveCapacity(edits.count)
        var undo = replica.undoPoint()
        for (i, edit) in edits.enumerated() {
            do throws(ModelError) {
                let prepared = try replica.prepareWrite(edit.key, edit.changes, allowEmpty: allowEmpty)
                try authorise(prepared)
                encoded.append(seal(prepared, undo: &undo))
            } catch {
                replica.rollBack(undo)
                return ([], nil, (i, error))
            }
        }
        guard !encoded.isEmpty else { return ([], nil, nil) }
        let ops = encoded.map(\.op)
        counters.localWrites += UInt64(ops.count)
        if ops.contains(where: { $0.key.collection == "nodes" }) { clearPullBackoff() }
        var after: [Directive] = []
        if publish && ops.count <= settings.pageSize { after += encoded.map { .publishOp($0) } }
        for l in syncLinks(now: now) { after += pushIfLacking(l, now: now) }
        var seen = Set<RecordKey>()
        let keys = ops.compactMap { seen.insert($0.key).inserted ? $0.key : nil }
        return (ops, LocalCommit(encodedOps: encoded, keys: keys, after: after, undo: .ownOps(undo, writes: UInt64(ops.count))), nil)
    }

    /// Checks several edits as `localWriteBatch` would make them (schema, record limits and
    /// write rules) without keeping any of them: `import --check` and the check pass before an
    /// import. Nothing is signed, encoded, stored or sent. Returns how many ops the batch
    /// would write, or which edit fails.
    ///
    /// When every edit is on its own record and none is on a roster entry (an import: its
    /// keys are distinct), no edit can change the verdict on another: an op is judged on its
    /// own record's state and history and on its writer's roster entry, which these edits do
    /// not touch. Each edit is then only prepared (numbered as the batch written would number
    /// it) and judged, not applied and taken back: applying and undoing cost as much as the
    /// judging. Otherwise each edit is applied in memory so later ones see it, and the whole
    /// batch is taken back at the end. Either way the engine's kept judgements are left as
    /// they were.
    public mutating func checkWriteBatch(_ edits: [(key: RecordKey, changes: [FieldChange])], allowEmpty: Bool = false)
        -> (ops: Int, failure: (index: Int, error: ModelError)?) {
        var keys = Set<RecordKey>(minimumCapacity: edits.count)
        guard edits.allSatisfy({ $0.key.collection != "nodes" && keys.insert($0.key).inserted }) else {
            return checkWriteBatchApplying(edits, allowEmpty: allowEmpty)
        }
        var judgements = RightsJudgements()
        for (i, edit) in edits.enumerated() {
            do throws(ModelError) {
                let prepared = try replica.prepareWrite(edit.key, edit.changes, allowEmpty: allowEmpty, ahead: UInt64(i))
                try Self.authorise(prepared, authority, replica, judgements: &judgements)
            } catch {
                return (0, (i, error))
            }
        }
        return (edits.count, nil)
    }

    /// `checkWriteBatch` for edits that may depend on each other: each is applied in memory,
    /// so later ones see it, and all are taken back.
    mutating func checkWriteBatchApplying(_ edits: [(key: RecordKey, changes: [FieldChange])], allowEmpty: Bool = false)
        -> (ops: Int, failure: (index: Int, error: ModelError)?) {
        var judgements = RightsJudgements()
        var undo = replica.undoPoint()
        defer { replica.rollBack(undo) }
        for (i, edit) in edits.enumerated() {
            do throws(ModelError) {
                let prepared = try replica.prepareWrite(edit.key, edit.changes, allowEmpty: allowEmpty)
                try Self.authorise(prepared, authority, replica, judgements: &judgements)
                replica.commitLocal(prepared, undo: &undo) { linked in (linked, []) }
            } catch {
                return (0, (i, error))
            }
        }
        return (edits.count, nil)
    }

    /// Takes back a local commit that could not be stored: nobody has heard of it (its
    /// messages go out only after the store commit), so it leaves no trace.
    public mutating func rollBack(_ commit: LocalCommit) {
        switch commit.undo {
        case .ownOps(let undo, let writes):
            replica.rollBack(undo)
            counters.localWrites -= min(counters.localWrites, writes)
        case .state(let before, let beforeCounters, let refused):
            replica = before
            counters = beforeCounters
            refusedEdits = refused
        }
    }

    /// Joins a backup (a replica loaded from another database file) into this replica: first
    /// every op its log holds, applied like remote ops (validated, deduplicated, logged so they
    /// can be served), then its records and version, joined like a snapshot. Joins are
    /// idempotent, so merging a backup that is older, newer or the same is safe. Nothing
    /// changes when a record of the backup fails the schema.
    public mutating func merge(backup: Replica) throws(ModelError) -> (BackupMerge, LocalCommit) {
        let snapshot = backup.snapshot()
        try replica.validate(snapshot)
        let before = replica
        let countersBefore = counters
        let refusedBefore = refusedEdits
        let rejectedBefore = counters.opsRejected.values.reduce(0, +)
        let backupOps = backup.heldOps()
        let remote = applyRemote(backupOps)
        let applied = remote.ops
        try replica.load(snapshot)
        var created = 0, changed: [RecordKey] = []
        for key in snapshot.records.keys.sorted() where before.records[key] != replica.records[key] {
            changed.append(key)
            if !(before.records[key]?.exists ?? false) && (replica.records[key]?.exists ?? false) { created += 1 }
        }
        var keys = Set(changed)
        keys.formUnion(applied.map(\.key))
        // The backup's records may show ops the rules refuse here (a backup from before a
        // revocation, say): take those effects out again.
        if authority != nil && !replica.withheld.isEmpty {
            let refusedKeys = Set(replica.withheld.compactMap { replica.op($0)?.key })
            for key in keys where refusedKeys.contains(key) { replica.rebuild(key) }
        }
        // The rejections were counted; a merge reports them in its answer, and its events go
        // to the log. Own edits the merge made refused (or allowed again) are stored after the
        // commit.
        let refusedChanged = remote.report.contains(.persistRefused)
        let after = remote.report.filter { $0.event != nil } + (refusedChanged ? [.persistRefused] : [])
        let commit = LocalCommit(encodedOps: applied.map(EncodedOp.init), keys: keys.sorted(), compaction: replica.logFloor != before.logFloor,
                                 after: after, undo: .state(before, countersBefore, refused: refusedBefore))
        let report = BackupMerge(replica: backup.id, recordsInBackup: snapshot.records.count, opsInBackup: backupOps.count,
                                 opsAdded: applied.count, opsRejected: Int(counters.opsRejected.values.reduce(0, +) - rejectedBefore),
                                 recordsCreated: created, recordsChanged: changed, versionBefore: before.version, versionAfter: replica.version)
        return (report, commit)
    }

    /// Runs compaction now (the operator's `hub compact`) and says how many ops it dropped,
    /// or why it could not.
    public mutating func compactNow(now: UInt64) -> (dropped: Int, stable: VersionVector?, directives: [Directive]) {
        let before = replica.logCount
        let stable = stableVersion(now: now)
        let directives = compact(now: now)
        lastCompaction = now
        return (before - replica.logCount, stable, directives)
    }

    // MARK: applying remote ops

    /// Applies remote ops; invalid ones are dropped, counted and reported, never stopping the
    /// rest. A refused op is not marked held, so it is fetched again later. Ops refused only
    /// because their origin or grant was not known yet are retried at once when the same batch
    /// brought roster changes (ops arrive in replica-id order, so a member's ops can precede
    /// the hub's roster entry that admits it).
    ///
    /// Causal delivery: an op whose contexts cover dots this node does not hold yet waits in
    /// `waiting` (its signature already checked) and is applied, within this call, as soon as
    /// the ops it depends on are; its write rules are judged only then, against its causal
    /// past. The returned ops include those released from the buffer, in the order applied;
    /// the report holds the rejections and events, and what judging held ops again changed.
    mutating func applyRemote(_ ops: [Op]) -> RemoteApply {
        var applied: [Op] = []
        var report: [Directive] = []
        var encodings: [Dot: [UInt8]] = [:]
        var queue = ops
        var rosterRetries = 0
        var rightsChanged = Set<RecordKey>(), rosterNodes = Set<String>()
        while !queue.isEmpty {
            var refused: [(Op, RefusalReason, String)] = []
            var rosterChanged = false
            let appliedBefore = applied.count
            // Runs of chained ops are authenticated by their last signature (MSP 5.9).
            let runs = authenticatedRuns(queue)
            // The encoding of an op of this queue, kept as it is applied or held (a dot is
            // applied once, so the encoding kept is that op's own).
            func keepEncoding(_ op: Op) { if let bytes = runs.encodings[op.dot] { encodings[op.dot] = bytes } }
            for op in queue {
                if replica.holds(op.dot) {
                    counters.opsDuplicate += 1
                    report += checkDuplicate(op)
                    continue
                }
                do {
                    // Cheap state checks (counter gap, context claims, clock skew) first, so a
                    // bomb costs no signature check.
                    try replica.admissible(op)
                    // `apply` validates the op itself; the write rules need a valid op first.
                    // A rights write may change the verdict on others (MSP 11.7), unless it saw
                    // every op held on its record (see `mayChangeVerdicts`).
                    var changesVerdicts = false, checked = false
                    if let authority {
                        try replica.validate(op)
                        if replica.unmetDependency(op) != nil {
                            // Only a validly signed op may wait; its write rules are judged when
                            // its causal past is here (they may depend on it).
                            if let e = Self.originProblem(op, authority, replica) {
                                refused.append((op, e.reason, e.detail))
                            } else {
                                wait(op)
                            }
                            continue
                        }
                        let byChain = runs.dots.contains(op.dot)
                        let writer = try authority.verify(op, in: replica, authenticated: byChain)
                        if byChain { counters.opsAuthenticatedByChain += 1 }
                        // Its links to the neighbours held here (MSP 5.9): a contradiction
                        // is a fork, settled for every node alike; the op still applies.
                        switch replica.chainFit(op, known: runs.hashes) {
                        case .fits: break
                        case .breaksChain:
                            refused.append((op, .malformed, "op \(op.dot) carries no prev, but its origin's op before it is chained (MSP 5.9)"))
                            continue
                        case .forked(let counter, let held):
                            report += noteFork(ForkEvidence(dot: Dot(op.origin, counter), held: held, other: op))
                        }
                        changesVerdicts = WriteAuthority.mayChangeVerdicts(op, in: replica)
                        // A member's one does so even when it is refused and only held.
                        if changesVerdicts && !writer.hubOperator { rightsChanged.insert(op.key) }
                        if let e = authority.verdict(op, writer, in: replica, judgements: &rightsJudgements) {
                            // Validly signed and refused by rules every node applies alike:
                            // held without its effect, so it is never fetched again.
                            try replica.hold(op)
                            applied.append(op)
                            keepEncoding(op)
                            refused.append((op, e.reason, e.detail))
                            continue
                        }
                        checked = true
                    }
                    if try replica.apply(op, checked: checked) == .applied {
                        applied.append(op)
                        keepEncoding(op)
                        counters.opsApplied += 1
                        if op.key.collection == "nodes" { rosterChanged = true; rosterNodes.insert(op.key.id) }
                        if changesVerdicts { rightsChanged.insert(op.key) }
                    }
                } catch let e as AuthRejection {
                    refused.append((op, e.reason, e.detail))
                } catch let e as ModelError {
                    switch e {
                    case .refused(.causality, _): wait(op)
                    case .refused(let reason, _): refused.append((op, reason, e.description))
                    case .schema: refused.append((op, .schema, e.description))
                    case .malformedOp: refused.append((op, .malformed, e.description))
                    default: refused.append((op, .other, e.description))
                    }
                } catch {
                    refused.append((op, .other, "\(error)"))
                }
            }
            let retry = refused.filter { $0.1 == .unknownOrigin || ($0.1 == .unauthorised && !replica.holds($0.0.dot)) }.map(\.0)
            let retryRoster = rosterChanged && !retry.isEmpty && rosterRetries < 2
            for (op, reason, detail) in refused where !retryRoster || !retry.contains(op) {
                counters.opsRejected[reason.rawValue, default: 0] += 1
                report.append(.event(.opRejected(origin: op.origin, counter: op.counter, key: op.key, reason: reason, detail: detail)))
            }
            queue = retryRoster ? retry : []
            if retryRoster { rosterRetries += 1 }
            // What just applied may be the causal past some waiting ops need.
            if applied.count > appliedBefore && !waiting.isEmpty { queue += waiting.takeReady(for: replica) }
        }
        if applied.contains(where: { $0.key.collection == "nodes" }) { clearPullBackoff() }
        // A rights write or a roster change that did not see some held op may change its
        // verdict: judge those again.
        if authority != nil && !(rightsChanged.isEmpty && rosterNodes.isEmpty) {
            report += reconsider(keys: rightsChanged, nodes: rosterNodes)
        }
        return RemoteApply(ops: applied, report: report, encodings: encodings)
    }

    /// A hub records the replica id a roster node says Hello with in its entry's `epochs`
    /// (MSP 11.2), so every node accepts that node's ops from registered epochs only. The first
    /// registration also records the node's epochs this hub already holds ops of (they were
    /// accepted before epochs were registered). Past `Limits.maxEpochsPerNode` nothing more is
    /// registered: the node still syncs, but its new epoch's ops are refused everywhere.
    mutating func registerEpoch(of h: Hello, now: UInt64) -> [Directive] {
        guard settings.role == .hub, authority != nil, h.replica.node == h.nodeID,
              let entry = WriteAuthority.rosterEntry(h.nodeID, in: replica), !WriteAuthority.isRevoked(entry) else { return [] }
        let registered = WriteAuthority.registeredEpochs(entry) ?? []
        guard !registered.contains(h.replica.description) else { return [] }
        var adding = [h.replica.description]
        if registered.isEmpty {
            adding += replica.version.sorted.filter { $0.replica.node == h.nodeID && $0.replica != h.replica }.map(\.replica.description)
        }
        guard registered.count + adding.count <= Limits.maxEpochsPerNode else {
            return [.event(.epochRefused(node: h.nodeID, replica: h.replica, registered: registered.count))]
        }
        let key = RecordKey(collection: "nodes", id: h.nodeID)
        do {
            let (_, commit) = try localWrite(key, adding.sorted().map { .add(field: "epochs", element: $0) }, now: now)
            return commit.directives
        } catch {
            return [.event(.epochRefused(node: h.nodeID, replica: h.replica, registered: registered.count))]
        }
    }

    /// Why the op's origin or signature is not acceptable, or nil when they are (its write
    /// rules may still refuse it: those are judged against the causal past, once it is held).
    static func originProblem(_ op: Op, _ authority: WriteAuthority, _ replica: Replica) -> AuthRejection? {
        do {
            _ = try authority.verify(op, in: replica)
            return nil
        } catch {
            return error
        }
    }

    private mutating func wait(_ op: Op) {
        counters.opsWaited += 1
        counters.opsWaitEvicted += UInt64(waiting.hold(op))
    }

    /// A roster change may change verdicts: pull and push again at once (MSP 5.6, 7.3).
    mutating func clearPullBackoff() {
        for i in hubs.indices { hubs[i].pullBackoffUntil = nil; hubs[i].pushBackoffUntil = nil }
        for i in peers.indices { peers[i].pullBackoffUntil = nil; peers[i].pushBackoffUntil = nil }
    }

    /// The report of applying remote ops (rejections, events, records judged again), then the
    /// persist step for what was applied.
    func persist(_ applied: RemoteApply) -> [Directive] {
        persist(applied, applied.encodedOps)
    }

    /// `persist(applied)` with the applied ops' encodings already made.
    private func persist(_ applied: RemoteApply, _ encoded: [EncodedOp]) -> [Directive] {
        guard !encoded.isEmpty else { return applied.report }
        var seen = Set<RecordKey>()
        let keys = applied.ops.compactMap { seen.insert($0.key).inserted ? $0.key : nil }
        return applied.report + [.persist(ops: encoded, keys: keys)]
    }

    /// The persist step for remote ops newly applied here, then a relay of each, in the order
    /// they were applied, both with the same encodings.
    func persistAndRelay(_ applied: RemoteApply) -> [Directive] {
        let encoded = applied.encodedOps
        return persist(applied, encoded) + encoded.map { .relay($0) }
    }

    // MARK: requests from other nodes (our ROUTER)

    /// Handles a request that arrived on this node's ROUTER from `client` (its routing id).
    public mutating func onRequest(from client: [UInt8], _ message: Message, now: UInt64) -> [Directive] {
        // A node the roster revokes gets nothing from us, not even an error (MSP 11.5); the
        // reactor drops its messages before they get here too.
        if authority != nil, let entry = WriteAuthority.rosterEntry(String(decoding: client, as: UTF8.self), in: replica),
           WriteAuthority.isRevoked(entry) {
            return []
        }
        switch message {
        case .hello(let h):
            if authority != nil, client != Array(h.nodeID.utf8) {
                return [.reply(client: client, .error(code: .rejected, message: "node_id \(h.nodeID) differs from the routing id"))]
            }
            guard let chosen = ProtocolVersion.negotiate(theirMin: h.minProtocol, theirMax: h.maxProtocol) else {
                return [.reply(client: client, .error(code: .unsupportedVersion,
                    message: "this node speaks MSP \(ProtocolVersion.minimumSupported)...\(ProtocolVersion.current), you offered \(h.minProtocol)...\(h.maxProtocol)"))]
            }
            clients[h.nodeID] = ClientInfo(nodeID: h.nodeID, organisation: h.organisation, role: h.role, softwareVersion: h.softwareVersion,
                                           protocolVersion: chosen, version: h.version, lastSeen: now, identity: client)
            return registerEpoch(of: h, now: now) + [.rememberNode(h.nodeID), .reply(client: client, .welcome(Welcome(
                nodeID: settings.nodeID, replica: id, role: settings.role.rawValue, softwareVersion: Self.softwareVersion,
                protocolVersion: chosen, version: replica.version)))]
        case .heartbeat(let hb):
            if var c = clients[hb.nodeID] {
                // Only the connection that said Hello as this node speaks for it: a heartbeat in
                // another node's name would make the hub record that node as holding what it
                // lacks, and compact ops it still needs.
                guard c.identity == client else {
                    return [.reply(client: client, .error(code: .rejected, message: "heartbeat names node \(hb.nodeID), which said hello on another connection"))]
                }
                c.version = hb.version
                c.lastSeen = now
                clients[hb.nodeID] = c
            } else {
                // Not greeted yet (e.g. we restarted): ask it to say hello again.
                return [.reply(client: client, .error(code: .notReady, message: "say hello first"))]
            }
            return []
        case .pull(let version, let maxOps):
            guard takeQuota(client, snapshot: false, now: now) else { return [] }
            let limit = Int(maxOps == 0 ? UInt32(settings.pageSize) : min(maxOps, UInt32(WireLimits.maxOpsPerMessage)))
            touch(client: client, version: version, now: now)
            switch replica.ops(since: version, limit: limit + 1) {
            case .needsSnapshot:
                return [.reply(client: client, .error(code: .snapshotRequired, message: "ops below the log floor were compacted; fetch a snapshot"))]
            case .ops(let ops):
                let page = WireSize.prefix(Array(ops.prefix(limit)))
                let more = ops.count > page.count
                return [.reply(client: client, .opBatch(ops: page, more: more, senderVersion: replica.version))]
            }
        case .push(let ops):
            let forks = checkPushedPairs(ops)
            let applied = applyRemote(ops)
            let refused = refusals(among: Set(ops.map(\.dot)), in: applied.report)
            // Relay: every op newly applied from a push goes out on our PUB (before the commit,
            // see `Directive.relay`); the Ack waits for the commit.
            var out = forks + persistAndRelay(applied)
            // Every refused op is named to the pusher, so its origin stops resending it and can
            // tell its user why (MSP 7.3); the Ack follows, also covering those held.
            if !refused.isEmpty {
                out.append(.reply(client: client, .error(code: .rejected, message: "\(refused.count) of the \(ops.count) pushed op(s) refused",
                                                         refused: refused)))
            }
            out.append(.reply(client: client, .ack(replica.version)))
            return out
        case .snapshotRequest(let after, let maxRecords):
            guard takeQuota(client, snapshot: true, now: now) else { return [] }
            let limit = Int(maxRecords == 0 ? UInt32(Self.snapshotPageRecords) : min(maxRecords, UInt32(WireLimits.maxRecordsPerPage)))
            // Records are never removed (a delete is a state), so an unchanged count means an
            // unchanged key set and the sorted order can be reused: a snapshot of N records
            // costs one sort, not one per page.
            if snapshotOrder.count != replica.records.count {
                snapshotOrder = replica.records.keys.sorted(by: Self.snapshotPrecedes)
            }
            let lo = Self.snapshotStart(snapshotOrder, after: after)
            // Cut by count and by size; at least one record so a page always makes progress.
            var page: [(key: RecordKey, record: Record)] = []
            page.reserveCapacity(min(limit, snapshotOrder.count - lo))
            var bytes = 0
            for key in snapshotOrder[lo..<min(snapshotOrder.count, lo + limit)] {
                let record = replica.records[key]!
                bytes += WireSize.record(key, record)
                if bytes > WireSize.pageBudgetBytes && !page.isEmpty { break }
                page.append((key, record))
            }
            counters.snapshotsServed += after.isEmpty ? 1 : 0
            return [.reply(client: client, .snapshotPage(SnapshotPage(
                version: replica.version, records: page,
                lastKey: page.last?.key.description ?? after, done: lo + page.count >= snapshotOrder.count)))]
        case .op(let op):
            let applied = applyRemote([op])
            return persistAndRelay(applied)
        case .welcome, .opBatch, .ack, .snapshotPage, .error:
            return [.reply(client: client, .error(code: .badRequest, message: "\(message.kind) is not a request"))]
        }
    }

    /// True when `client` may have one more Pull (or SnapshotRequest) answered now. Past its
    /// quota the request is dropped unanswered and counted: an honest client, which waits for
    /// each answer, never gets there, and retries after its retry interval if it does.
    private mutating func takeQuota(_ client: [UInt8], snapshot: Bool, now: UInt64) -> Bool {
        if quotas[client] == nil {
            if quotas.count >= Self.maxQuotaClients {
                // Forget clients whose buckets have refilled: they hold no debt worth keeping.
                quotas = quotas.filter { now &- $0.value.pull.at < 60_000 }
                if quotas.count >= Self.maxQuotaClients { quotas.removeAll(keepingCapacity: true) }
            }
            quotas[client] = (TokenBucket(settings.pullQuota, now: now), TokenBucket(settings.snapshotQuota, now: now))
        }
        let ok = snapshot ? quotas[client]!.snapshot.take(settings.snapshotQuota, now: now)
                          : quotas[client]!.pull.take(settings.pullQuota, now: now)
        if !ok { counters.requestsRefused[snapshot ? "snapshot-quota" : "pull-quota", default: 0] += 1 }
        return ok
    }

    /// The request for the snapshot page after `after` ("" for the first), at our page size.
    static func snapshotRequest(after: String) -> Message {
        .snapshotRequest(after: after, maxRecords: UInt32(snapshotPageRecords))
    }

    /// Snapshot order: bytewise on `collection/id`. Within a collection that is the order of
    /// the ids; across collections the `/` after the name decides when one name is a prefix of
    /// another, exactly as comparing the whole `collection/id` strings would.
    static func snapshotPrecedes(_ a: RecordKey, _ b: RecordKey) -> Bool {
        if a.collection == b.collection { return a.id.utf8.lexicographicallyPrecedes(b.id.utf8) }
        return (a.collection + "/").utf8.lexicographicallyPrecedes((b.collection + "/").utf8)
    }

    /// The index of the first key in `order` that comes after `after` (a `collection/id`).
    static func snapshotStart(_ order: [RecordKey], after: String) -> Int {
        var lo = 0, hi = order.count
        while lo < hi {
            let mid = (lo + hi) / 2
            if after.utf8.lexicographicallyPrecedes(order[mid].description.utf8) { hi = mid } else { lo = mid + 1 }
        }
        return lo
    }

    private mutating func touch(client: [UInt8], version: VersionVector, now: UInt64) {
        if let entry = clients.first(where: { $0.value.identity == client }) {
            clients[entry.key]?.lastSeen = now
            clients[entry.key]?.version.merge(version)
        }
    }

    // MARK: replies on our links (DEALER)

    /// Handles a message from one of this node's outbound links.
    public mutating func onLinkMessage(_ l: LinkID, _ message: Message, now: UInt64) -> [Directive] {
        update(l) { $0.lastHeard = now }
        switch message {
        case .welcome(let w):
            guard (ProtocolVersion.minimumSupported...ProtocolVersion.current).contains(w.protocolVersion) else {
                return [.event(.linkError(l, node: w.nodeID, code: .unsupportedVersion,
                                          message: "welcome chose MSP \(w.protocolVersion), this node speaks \(ProtocolVersion.minimumSupported)...\(ProtocolVersion.current)"))]
            }
            update(l) {
                $0.welcomed = true
                $0.remoteVersion = w.version
                $0.remoteNode = w.nodeID
                $0.pullSentAt = nil
                $0.pushSentAt = nil
                $0.pushBackoffUntil = nil
            }
            if case .hub = l { hubAcked = w.version }
            let forgot = forgetRefusals(accepted: w.version)
            return (forgot ? [.persistRefused] : []) + syncWith(l, now: now)
        case .opBatch(let ops, let more, let senderVersion):
            let remote = applyRemote(ops)
            let applied = remote.ops
            let refused = ops.filter { !replica.holds($0.dot) }
            update(l) {
                if let sent = $0.pullSentAt { $0.pullRoundTrip = min(now &- min(now, sent), Self.maxPullRetryMilliseconds / 2) }
                $0.pullSentAt = nil
                $0.remoteVersion.merge(senderVersion)
            }
            var out = persist(remote)
            if more && !refused.isEmpty {
                // Page past the refused ops: ask as if we held them, so one refused op cannot
                // pin every later page; they are fetched again by a later ordinary Pull.
                var skip = replica.version
                for op in refused { skip.add(op.dot) }
                update(l) { $0.pullSentAt = now }
                out.append(.send(l, .pull(version: skip, maxOps: UInt32(settings.pageSize))))
            } else if !refused.isEmpty && applied.isEmpty {
                // Only refused ops came back: do not ask again until the roster changes or a
                // while has passed (MSP 5.6: rate-limit pulls that return only refused ops).
                let until = now + 10 * retryMilliseconds
                update(l) { $0.pullBackoffUntil = until }
            } else if !applied.isEmpty && (more || replica.version.missing(from: senderVersion) > 0) {
                // Pull on at once only while batches bring something new. A batch of nothing new
                // is most likely the answer to a retried Pull whose first answer was already
                // applied; pulling again at once would keep a duplicate Pull in flight for as
                // long as applying a page takes longer than the retry interval, halving
                // catch-up. The next heartbeat resumes pulling.
                out += pull(l, now: now)
            }
            return out
        case .ack(let v):
            update(l) {
                $0.remoteVersion.merge(v)
                // Push on at once only when the receiver took everything we pushed; if it
                // refused some ops (e.g. not admitted yet), resend after the retry interval
                // instead of looping push -> ack -> push.
                if v.dominates($0.pushedVersion) { $0.pushSentAt = nil }
            }
            if case .hub = l { hubAcked.merge(v) }
            let forgot = forgetRefusals(accepted: v)
            return (forgot ? [.persistRefused] : []) + pushIfLacking(l, now: now)
        case .error(let code, let text, let refused):
            if code == .rejected && !refused.isEmpty {
                // Refused ops of a Push: not a refused link (each is noted as it is recorded).
                return onRefusals(l, refused, now: now)
            }
            // SNAPSHOT_REQUIRED and NOT_READY are routine: answered, not reported.
            switch code {
            case .snapshotRequired:
                if authority != nil, case .peer = l { return [] }
                // Already fetching one: a second chain would fetch every page twice.
                if link(l).snapshotRequestedAt != nil { return [] }
                update(l) {
                    $0.pullSentAt = nil
                    $0.snapshotVersion = nil
                    $0.snapshotRequestedAt = now
                    $0.snapshotAfter = ""
                }
                return [.send(l, Self.snapshotRequest(after: ""))]
            case .notReady:
                update(l) { $0.welcomed = false }
                return greet(l, now: now)
            default:
                return [.event(.linkError(l, node: link(l).remoteNode, code: code, message: String(text.prefix(200))))]
            }
        case .snapshotPage(let page):
            return onSnapshotPage(l, page, now: now)
        case .heartbeat(let hb):
            return onRemoteHeartbeat(l, hb, now: now)
        case .op(let op):
            return onLiveOps(l, [op], now: now)
        case .hello, .pull, .push, .snapshotRequest:
            return []
        }
    }

    private mutating func onSnapshotPage(_ l: LinkID, _ page: SnapshotPage, now: UInt64) -> [Directive] {
        var state = link(l)
        // Snapshot pages carry record states, which no origin signed: accept them only as the
        // answer to our own request, and with security on only from a hub (the operator's
        // node), never from a fallback peer.
        guard state.snapshotRequestedAt != nil else { return [] }
        if authority != nil, case .peer = l { return [] }
        // Same bytewise order the hub pages in (`snapshotStart`).
        if let first = page.records.first, !state.snapshotAfter.utf8.lexicographicallyPrecedes(first.key.description.utf8) { return [] }
        // A snapshot continues across interruptions only while the answerer still holds all
        // that the first page's version covers; one that lost state (say, restored from an
        // older backup) could hand out records missing ops that version claims: start over.
        if let v = state.snapshotVersion, !page.version.dominates(v) {
            state.snapshotVersion = nil
            state.snapshotAfter = ""
            state.snapshotRequestedAt = now
            update(l) { $0 = state }
            return [.send(l, Self.snapshotRequest(after: ""))]
        }
        // The first page's version is the one the whole snapshot dominates.
        let version = state.snapshotVersion ?? page.version
        state.snapshotVersion = version
        state.snapshotRequestedAt = now
        var records: [RecordKey: Record] = [:]
        for (k, r) in page.records { records[k] = r }
        var out: [Directive] = []
        do {
            try replica.load(Snapshot(version: VersionVector(), records: records))
        } catch {
            counters.opsRejected["snapshot", default: 0] += 1
            update(l) { $0.snapshotVersion = nil; $0.snapshotRequestedAt = nil }
            return []
        }
        out.append(.persist(ops: [], keys: Array(records.keys)))
        if page.done {
            try? replica.load(Snapshot(version: version, records: [:]))
            // The snapshot may be the causal past some waiting ops lacked.
            if !waiting.isEmpty { out += persist(applyRemote(waiting.takeReady(for: replica))) }
            counters.snapshotsLoaded += 1
            out.append(.event(.snapshotLoaded(l, node: link(l).remoteNode, records: replica.records.count)))
            state.snapshotVersion = nil
            state.snapshotRequestedAt = nil
            update(l) { $0 = state }
            out.append(.persist(ops: [], keys: []))
            out.append(.persistCompaction)
            out += pull(l, now: now)
        } else {
            state.snapshotAfter = page.lastKey
            update(l) { $0 = state }
            out.append(.send(l, Self.snapshotRequest(after: page.lastKey)))
        }
        return out
    }

    // MARK: subscriptions (SUB)

    /// Handles a message published by a hub or peer we subscribe to.
    public mutating func onSubscription(_ l: LinkID, _ message: Message, now: UInt64) -> [Directive] {
        switch message {
        case .op(let op):
            return onLiveOps(l, [op], now: now)
        case .heartbeat(let hb):
            return onRemoteHeartbeat(l, hb, now: now)
        default:
            return []
        }
    }

    /// Applies live ops that arrived together on one subscription (the reactor reads what a
    /// socket holds in one turn) as one batch: a run of one origin's chained ops then costs one
    /// signature check (MSP 5.9), as a catch-up page does, instead of one per op. The ops are
    /// in the order published. Any of them that the version does not cover afterwards (held
    /// past a counter gap, waiting for its causal past, or refused before it was held, such as
    /// a forgery) makes this node pull the link, which fetches what it lacks.
    public mutating func onLiveOps(_ l: LinkID, _ ops: [Op], now: UInt64) -> [Directive] {
        guard !ops.isEmpty else { return [] }
        if link(l).welcomed { update(l) { $0.lastHeard = now } }
        let applied = applyRemote(ops)
        let gap = ops.contains { $0.counter > replica.version[$0.origin] }
        // A hub relays ops it learns from any source to everyone.
        var out = settings.role == .hub ? persistAndRelay(applied) : persist(applied)
        if gap && syncLinks(now: now).contains(l) { out += pull(l, now: now) }
        return out
    }

    private mutating func onRemoteHeartbeat(_ l: LinkID, _ hb: Heartbeat, now: UInt64) -> [Directive] {
        let wasWelcomed = link(l).welcomed
        update(l) {
            if wasWelcomed { $0.lastHeard = now }
            $0.remoteVersion.merge(hb.version)
        }
        guard wasWelcomed else { return greet(l, now: now) }
        // A hub's heartbeat, like its Welcome, reports only what it holds durably (its reactor
        // sends nothing but relays before a successful commit), so it acknowledges our ops too.
        // Without this an op the hub got by another way (a relay from a peer, another member's
        // Push) would stay pending here forever: there is nothing left to push, so no Ack comes.
        var out: [Directive] = []
        if case .hub = l {
            hubAcked.merge(hb.version)
            if forgetRefusals(accepted: hb.version) { out.append(.persistRefused) }
        }
        guard syncLinks(now: now).contains(l) else { return out }
        if replica.version.missing(from: hb.version) > 0 { out += pull(l, now: now) }
        out += pushIfLacking(l, now: now)
        return out
    }

    // MARK: anti-entropy

    /// Pull what we lack and push what they lack.
    mutating func syncWith(_ l: LinkID, now: UInt64) -> [Directive] {
        var out: [Directive] = []
        if replica.version.missing(from: link(l).remoteVersion) > 0 { out += pull(l, now: now) }
        out += pushIfLacking(l, now: now)
        return out
    }

    mutating func pull(_ l: LinkID, now: UInt64) -> [Directive] {
        let s = link(l)
        if let sent = s.pullSentAt, now &- sent < max(retryMilliseconds, 2 * s.pullRoundTrip) { return [] }
        if s.snapshotRequestedAt != nil { return [] }
        if let until = s.pullBackoffUntil, now < until { return [] }
        update(l) { $0.pullSentAt = now }
        return [.send(l, .pull(version: replica.version, maxOps: UInt32(settings.pageSize)))]
    }

    mutating func pushIfLacking(_ l: LinkID, now: UInt64) -> [Directive] {
        let s = link(l)
        guard syncLinks(now: now).contains(l) else { return [] }
        if let sent = s.pushSentAt, now &- sent < retryMilliseconds { return [] }
        if let until = s.pushBackoffUntil, now < until { return [] }
        guard case .ops(let ops) = replica.ops(since: s.remoteVersion, limit: settings.pageSize), !ops.isEmpty else { return [] }
        let page = WireSize.prefix(ops)
        var pushed = VersionVector()
        for op in page { pushed.add(op.dot) }
        update(l) {
            $0.pushSentAt = now
            $0.pushedVersion = pushed
        }
        return [.send(l, .push(page))]
    }

    mutating func greet(_ l: LinkID, now: UInt64) -> [Directive] {
        if now &- link(l).lastHelloSent < UInt64(settings.heartbeatMilliseconds) { return [] }
        update(l) { $0.lastHelloSent = now }
        return [.send(l, hello())]
    }

    // MARK: time

    /// This node's own rights writes and roster changes may change the verdict on held ops
    /// they did not see (withheld ones: the local edit's context covers only what the record
    /// shows). Each tick judges again the records `seal` noted, and the roster entries among
    /// the own ops made since the last tick; the judging waits for the tick so that a batch
    /// of writes costs one judging per record.
    mutating func reconsiderOwnWrites() -> [Directive] {
        let mine = replica.version[replica.id]
        guard mine > ownCounterReconsidered else { return [] }
        // As for a remote op: a rights write that saw every op held on its record (an edit
        // that keeps a contact's organisation, as most do) changes no verdict (see `seal`).
        let keys = ownRightsWritesToJudge
        ownRightsWritesToJudge = []
        var nodes = Set<String>(), skipped = Set<RecordKey>()
        var c = ownCounterReconsidered + 1
        while c <= mine {
            if let op = replica.op(Dot(replica.id, c)) {
                if WriteAuthority.isRightsWrite(op) && !keys.contains(op.key) { skipped.insert(op.key) }
                if op.key.collection == "nodes" { nodes.insert(op.key.id) }
            }
            c += 1
        }
        ownCounterReconsidered = mine
        assert(judgeAgain(keys: skipped, nodes: []).isEmpty, "an own rights write skipped as changing nothing changed a verdict")
        return keys.isEmpty && nodes.isEmpty ? [] : reconsider(keys: keys, nodes: nodes)
    }

    /// Periodic work: expire silent links, greet, heartbeat, retry, compact.
    public mutating func onTick(now: UInt64) -> [Directive] {
        var out: [Directive] = []
        if authority != nil {
            out += settleForks(now: now)
            out += reconsiderOwnWrites()
            if !repairedAtStart.isEmpty {
                out.append(.persist(ops: [], keys: repairedAtStart.sorted()))
                repairedAtStart = []
            }
        }
        for l in hubs.indices.map({ LinkID.hub($0) }) + peers.indices.map({ LinkID.peer($0) }) {
            let s = link(l)
            if s.welcomed && !isUp(s, now: now) { update(l) { $0.welcomed = false } }
            if isUp(s, now: now) && replica.version.missing(from: s.remoteVersion) == 0 { update(l) { $0.lastInSync = now } }
            // A page that does not come (a lost message, a busy or restarted hub): ask for it
            // again, from where the snapshot stands; what was loaded stays loaded.
            if let at = s.snapshotRequestedAt, now &- at > 5 * retryMilliseconds {
                update(l) { $0.snapshotRequestedAt = now }
                out.append(.send(l, Self.snapshotRequest(after: s.snapshotAfter)))
            }
        }
        for l in linksToGreet(now: now) where !link(l).welcomed { out += greet(l, now: now) }
        if now &- lastHeartbeat >= UInt64(settings.heartbeatMilliseconds) {
            lastHeartbeat = now
            let hb = heartbeat()
            out.append(.publish(hb))
            for l in syncLinks(now: now) {
                out.append(.send(l, hb))
                out += syncWith(l, now: now)
            }
        } else {
            for l in syncLinks(now: now) {
                if let sent = link(l).pushSentAt, now &- sent >= retryMilliseconds { out += pushIfLacking(l, now: now) }
            }
        }
        if settings.role == .hub && now &- lastCompaction >= compactionIntervalMilliseconds {
            lastCompaction = now
            out += compact(now: now)
        }
        return out
    }

    /// The version every live node has acknowledged, or nil when no node is live.
    public func stableVersion(now: UInt64) -> VersionVector? {
        let live = clients.values.filter { now &- $0.lastSeen <= UInt64(settings.liveWindowMilliseconds) }
        // A node's version counts only once this hub holds that node's own ops up to it. An
        // op of its own it has not pushed yet may be concurrent with ops everyone else holds
        // (made offline, before it caught up), and when it is a rights write those ops are
        // judged again (MSP 11.7), which needs them in the log: a hub that had dropped one
        // would keep its effect while every member withholds it.
        for c in live where authority != nil {
            for (origin, counter) in c.version.entries where origin.node == c.nodeID && replica.version[origin] < counter { return nil }
        }
        guard var stable = live.first?.version else { return nil }
        for c in live.dropFirst() { stable = stable.meet(c.version) }
        return stable.meet(replica.version)
    }

    /// Compacts the op log below what every live node holds (hub only).
    public mutating func compact(now: UInt64) -> [Directive] {
        guard let stable = stableVersion(now: now) else { return [] }
        let before = replica.logFloor
        let held = replica.logCount
        replica.compact(below: stable)
        guard replica.logFloor != before else { return [] }
        return [.persistCompaction, .event(.compacted(dropped: held - replica.logCount, held: replica.logCount))]
    }
}
