import Foundation
import MemberSyncCrypto
import MemberSyncModel
import MemberSyncWire

/// Why the security checks refused an op. `reason` is a fixed label (used as a counter key):
/// `unknown-origin`, `revoked`, `bad-signature`, `equivocation` or `unauthorised`.
public struct AuthRejection: Error, Sendable, Equatable, CustomStringConvertible {
    public let reason: RefusalReason
    public let detail: String

    public var description: String { "\(reason.rawValue): \(detail)" }
}

/// Who may write what, and whose signature counts. Signing keys come from the roster
/// (`nodes/<node-id>`: `signing_key`, `organisation`, `role`, `revoked`) and, to bootstrap,
/// from the configuration: this node's own key, and the keys of the hubs it trusts
/// (`hub_signing_keys`). The hub operator (a node with role hub) writes everything; a member
/// writes its own organisation record, contacts of its organisation and projects it leads or
/// partners in. Pure and deterministic: the decision depends on the op and the replica only.
public struct WriteAuthority: Sendable {
    public let nodeID: String
    public let role: NodeRole
    public let organisation: String
    public let ownSigningKey: [UInt8]?
    /// Configured hub signing keys by node id: trusted without a roster entry.
    public let hubSigningKeys: [String: [UInt8]]
    /// The writers already read from the roster (see `WriterMemo`).
    private let memo = WriterMemo()

    public init(nodeID: String, role: NodeRole, organisation: String, ownSigningKey: [UInt8]?, hubSigningKeys: [String: [UInt8]]) {
        self.nodeID = nodeID
        self.role = role
        self.organisation = organisation
        self.ownSigningKey = ownSigningKey
        self.hubSigningKeys = hubSigningKeys
    }

    /// Writers by node for one state of the roster (`Replica.rightsFactsGeneration`, which
    /// takes a new random value whenever a roster entry changes, so two diverging copies of a
    /// replica never share one): every op verified and judged asks for its origin's, and
    /// reading it parses the roster entry (keys, revocation cuts, spans, epochs, forks).
    final class WriterMemo: @unchecked Sendable {
        private let lock = NSLock()
        private var generation: UInt64?
        private var writers: [String: Result<Writer, AuthRejection>] = [:]

        func writer(_ node: String, generation g: UInt64, read: () -> Result<Writer, AuthRejection>) -> Result<Writer, AuthRejection> {
            lock.lock()
            defer { lock.unlock() }
            if generation != g { generation = g; writers = [:] }
            if let known = writers[node] { return known }
            let w = read()
            writers[node] = w
            return w
        }
    }

    /// What is known about the origin of an op.
    public struct Writer: Sendable {
        var key: [UInt8]?
        public internal(set) var hubOperator: Bool
        public internal(set) var organisation: String?
        /// Set when the roster revokes the node: per replica, the last counter whose ops are
        /// still accepted (`accepted_through`, MSP 11.5); nil when not revoked.
        var acceptedThrough: VersionVector?
        /// Earlier revocations whose re-admission did not accept what the node wrote while
        /// revoked (`revoked_spans`, MSP 11.5); empty when none.
        var revokedSpans: [RevokedSpan] = []
        /// The node's registered replica ids (`epochs`, MSP 11.2), as text; nil when the roster
        /// registers none for it yet (then any epoch counts, within the model's cap).
        var epochs: Set<String>?
        /// Per replica of the node, the counter where it signed two histories (`forks`, MSP
        /// 5.9); its ops from there on count nowhere.
        var forks = VersionVector()
    }

    /// `forks` as a vector: each element is `REPLICA=COUNTER`; several for one replica give
    /// the lowest counter (the first fork).
    static func forks(_ r: Record) -> VersionVector {
        var v = VersionVector()
        for element in r.set("forks").members {
            guard let (replica, counter) = parseCounter(Substring(element)), counter > 0 else { continue }
            v[replica] = v[replica] == 0 ? counter : min(v[replica], counter)
        }
        return v
    }

    /// The `forks` element that settles a fork of `replica` at `counter`.
    static func forkElement(_ replica: ReplicaID, _ counter: UInt64) -> String { "\(replica)=\(counter)" }

    /// The replica ids a roster entry registers (nil: none). Read from the record's set
    /// directly: it is asked for every op verified.
    static func registeredEpochs(_ entry: Record) -> Set<String>? {
        let members = entry.set("epochs").members
        return members.isEmpty ? nil : members
    }

    /// One revocation that ended in a re-admission without accepting the node's edits made
    /// meanwhile: its ops beyond `acceptedThrough` stamped before `readmittedAt` (Unix
    /// milliseconds) stay refused.
    struct RevokedSpan: Equatable {
        var readmittedAt: UInt64
        var acceptedThrough: VersionVector
    }

    public static func rosterEntry(_ node: String, in replica: Replica) -> Record? {
        guard let r = replica.record(RecordKey(collection: "nodes", id: node)), r.exists else { return nil }
        return r
    }

    public static func text(_ r: Record, _ field: String) -> String? {
        if case .string(let s)? = r.register(field).winner?.value { return s }
        return nil
    }

    /// Revoked as soon as any concurrent value says so (fail closed).
    public static func isRevoked(_ r: Record) -> Bool {
        r.register("revoked").siblings.contains { $0.value == .bool(true) }
    }

    /// The replicas' counters a revocation accepts: `accepted_through` holds
    /// `REPLICA=COUNTER` entries separated by spaces; with several concurrent values, each
    /// replica gets the lowest (fail closed), and a replica no value names gets none.
    static func acceptedThrough(_ r: Record) -> VersionVector {
        var out: VersionVector?
        for s in r.register("accepted_through").siblings {
            guard case .string(let text) = s.value else { continue }
            let v = parseCounters(text)
            out = out.map { $0.meet(v) } ?? v
        }
        return out ?? VersionVector()
    }

    /// The spans of every concurrent value of `revoked_spans` (fail closed: all of them).
    /// The text is spans separated by spaces, each `MILLISECONDS:REPLICA=COUNTER,...`.
    static func revokedSpans(_ r: Record) -> [RevokedSpan] {
        var out: [RevokedSpan] = []
        for s in r.register("revoked_spans").siblings {
            guard case .string(let text) = s.value else { continue }
            for span in text.split(separator: " ") {
                guard let colon = span.firstIndex(of: ":"), let at = UInt64(span[..<colon]) else { continue }
                let counters = parseCounters(span[span.index(after: colon)...].replacingOccurrences(of: ",", with: " "))
                out.append(RevokedSpan(readmittedAt: at, acceptedThrough: counters))
            }
        }
        return out
    }

    /// One span as `revoked_spans` text: the re-admission time and the revocation's cut.
    static func formatSpan(readmittedAt: UInt64, acceptedThrough: VersionVector, node: String) -> String {
        "\(readmittedAt):" + formatCounters(acceptedThrough, node: node).replacingOccurrences(of: " ", with: ",")
    }

    /// `asker@3f2a=17 asker@1=4` as a vector; malformed entries are left out.
    static func parseCounters(_ text: String) -> VersionVector {
        var v = VersionVector()
        for entry in text.split(separator: " ") {
            guard let (replica, counter) = parseCounter(entry) else { continue }
            v[replica] = max(v[replica], counter)
        }
        return v
    }

    /// One `REPLICA=COUNTER` entry (of `accepted_through`, `revoked_spans` or `forks`).
    static func parseCounter(_ entry: Substring) -> (ReplicaID, UInt64)? {
        guard let eq = entry.lastIndex(of: "="), let replica = ReplicaID(parsing: String(entry[..<eq])),
              let counter = UInt64(entry[entry.index(after: eq)...]) else { return nil }
        return (replica, counter)
    }

    /// The inverse of `parseCounters`: the entries of `v`'s replicas of `node`.
    static func formatCounters(_ v: VersionVector, node: String) -> String {
        v.sorted.filter { $0.replica.node == node }.map { "\($0.replica)=\($0.counter)" }.joined(separator: " ")
    }

    public func writer(_ node: String, in replica: Replica) throws(AuthRejection) -> Writer {
        try memo.writer(node, generation: replica.rightsFactsGeneration) {
            do throws(AuthRejection) { return .success(try readWriter(node, in: replica)) } catch { return .failure(error) }
        }.get()
    }

    /// `writer`, read from the roster entry and the configuration.
    private func readWriter(_ node: String, in replica: Replica) throws(AuthRejection) -> Writer {
        let entry = Self.rosterEntry(node, in: replica)
        let cut = entry.flatMap { Self.isRevoked($0) ? Self.acceptedThrough($0) : nil }
        let spans = entry.map(Self.revokedSpans) ?? []
        let rosterHub = entry.map { Self.text($0, "role") == "hub" } ?? false
        let rosterOrg = entry.flatMap { Self.text($0, "organisation") }
        let forks = entry.map(Self.forks) ?? VersionVector()
        if node == nodeID {
            return Writer(key: ownSigningKey, hubOperator: role == .hub || rosterHub, organisation: rosterOrg ?? organisation, acceptedThrough: cut, revokedSpans: spans, forks: forks)
        }
        if let key = hubSigningKeys[node] {
            return Writer(key: key, hubOperator: true, organisation: rosterOrg, acceptedThrough: cut, revokedSpans: spans, forks: forks)
        }
        guard let entry else {
            throw AuthRejection(reason: .unknownOrigin, detail: "node \(node) is not in the roster (yet)")
        }
        guard let text = Self.text(entry, "signing_key"), let key = Hex.decode(text), key.count == SigningKeyPair.publicKeyBytes else {
            throw AuthRejection(reason: .unknownOrigin, detail: "nodes/\(node) has no valid signing_key")
        }
        return Writer(key: key, hubOperator: rosterHub, organisation: rosterOrg, acceptedThrough: cut, revokedSpans: spans,
                      epochs: rosterHub ? nil : Self.registeredEpochs(entry), forks: forks)
    }

    /// A revoked node's ops count only up to the counters its revocation accepted: those the
    /// revoking hub held when it revoked. The answer depends on the op and the roster alone,
    /// so every node refuses the same ops, whenever each learns of the revocation.
    func checkRevocation(_ op: Op, _ w: Writer) throws(AuthRejection) {
        for span in w.revokedSpans where op.counter > span.acceptedThrough[op.origin] && op.hlc.milliseconds < span.readmittedAt {
            throw AuthRejection(reason: .revoked, detail: "\(op.dot) was made while node \(op.origin.node) was revoked, and its re-admission did not accept such edits (hub admit --accept-revoked-edits does)")
        }
        guard let cut = w.acceptedThrough, op.counter > cut[op.origin] else { return }
        let through = cut[op.origin] == 0 ? "none of its ops" : "its ops up to \(op.origin):\(cut[op.origin])"
        throw AuthRejection(reason: .revoked, detail: "node \(op.origin.node) is revoked in the roster, which accepts \(through); \(op.dot) is later")
    }

    /// A replica that signed two histories counts up to the op before the fork and no further,
    /// on every node alike, whichever version of the forked dot each holds (MSP 5.9): both
    /// versions and everything after them are held without effect.
    func checkFork(_ op: Op, _ w: Writer) throws(AuthRejection) {
        let at = w.forks[op.origin]
        guard at > 0, op.counter >= at else { return }
        throw AuthRejection(reason: .equivocation, detail: "replica \(op.origin) signed two different ops for \(Dot(op.origin, at)); the roster (nodes/\(op.origin.node) forks) voids its ops from there on, \(op.dot) among them")
    }

    /// An op of a member counts only from a replica id its roster entry registers, once it
    /// registers any: a node cannot mint epochs (MSP 11.2). Like an unknown node, an unknown
    /// epoch may be registered later, so the op is refused as `unknown-origin` (not held).
    func checkEpoch(_ op: Op, _ w: Writer) throws(AuthRejection) {
        guard let epochs = w.epochs, !epochs.contains(op.origin.description) else { return }
        throw AuthRejection(reason: .unknownOrigin, detail: "replica \(op.origin) is not one of the epochs nodes/\(op.origin.node) registers")
    }

    /// Checks an op that arrived from another node: origin known, signature valid over the op's
    /// canonical bytes, not after its origin's revocation, and the write allowed for its origin
    /// on `view` (MSP 11.4; `view(for:in:among:allowed:)` gives the deterministic one).
    public func checkRemote(_ op: Op, in replica: Replica, view: RightsView) throws(AuthRejection) {
        let w = try verify(op, in: replica)
        try checkRevocation(op, w)
        try checkFork(op, w)
        try checkRules(op, w, view: view)
    }

    /// The origin is known and the signature is valid over the op's canonical bytes. With
    /// `authenticated`, the signature of a later op of the origin's chain already covers this
    /// one (MSP 5.9): only the origin is checked.
    func verify(_ op: Op, in replica: Replica, authenticated: Bool = false) throws(AuthRejection) -> Writer {
        let w = try writer(op.origin.node, in: replica)
        try checkEpoch(op, w)
        guard let key = w.key else {
            throw AuthRejection(reason: .unknownOrigin, detail: "no signing key known for \(op.origin.node)")
        }
        guard authenticated || SigningKeyPair.verify(signature: op.signature, message: WireCodec.canonicalBytes(op), publicKey: key) else {
            throw AuthRejection(reason: .badSignature, detail: "op \(op.dot) is not signed by \(op.origin.node)'s key")
        }
        return w
    }

    /// The verdict on a verified op that no node holds yet: a member's rights write is judged
    /// with every rights write on its record (`verdicts`), any other op against `view(for:)`.
    func verdict(_ op: Op, _ w: Writer, in replica: Replica) -> AuthRejection? {
        if Self.isRightsWrite(op) && !w.hubOperator { return verdicts(on: op.key, in: replica, extra: op, rightsWritesOnly: true)[op.dot] }
        do { try judge(op, in: replica, view: view(for: op, in: replica)); return nil } catch { return error }
    }

    /// `verdict`, with a rights write judged through `judgements` (the same verdict; see
    /// `RightsJudgements`), which keep what the next rights write on the record needs.
    func verdict(_ op: Op, _ w: Writer, in replica: Replica, judgements: inout RightsJudgements) -> AuthRejection? {
        if Self.isRightsWrite(op) { return rightsVerdict(op, w, in: replica, judgements: &judgements) }
        let rights = replica.holds(op.dot) ? self.view(for: op, in: replica)
            : judgements.currentView(on: op.key, in: replica, op: op) { self.view(for: op, in: replica) }
        do { try judge(op, in: replica, view: rights); return nil } catch { return error }
    }

    /// Checks this node's own edit before it is applied (signature added afterwards), by the
    /// same rules and facts as every other node will.
    public func checkLocal(_ op: Op, in replica: Replica) throws(AuthRejection) {
        if let why = verdict(op, try writer(op.origin.node, in: replica), in: replica) { throw why }
    }

    /// `checkLocal` through the engine's `judgements`.
    func checkLocal(_ op: Op, in replica: Replica, judgements: inout RightsJudgements) throws(AuthRejection) {
        if let why = verdict(op, try writer(op.origin.node, in: replica), in: replica, judgements: &judgements) { throw why }
    }

    /// The rules without the signature: for ops already verified (held ones judged again).
    func judge(_ op: Op, in replica: Replica, view: RightsView) throws(AuthRejection) {
        let w = try writer(op.origin.node, in: replica)
        try checkEpoch(op, w)
        try checkRevocation(op, w)
        try checkFork(op, w)
        try checkRules(op, w, view: view)
    }

    /// The write rules (MSP 11.4) for an op whose origin is `w`, judged on `view`: the rights
    /// facts of the record the op is judged against (see `RightsView`).
    func checkRules(_ op: Op, _ w: Writer, view: RightsView) throws(AuthRejection) {
        if w.hubOperator { return }
        func refuse(_ why: String) -> AuthRejection { AuthRejection(reason: .unauthorised, detail: why) }
        let who = op.origin.node
        guard let org = w.organisation else { throw refuse("node \(who) has no organisation") }
        let change = OpChange(op)
        switch op.key.collection {
        case "organisations":
            guard op.key.id == org else {
                throw refuse("\(who) may write only its own organisation record organisations/\(org), not \(op.key)")
            }
        case "contacts":
            // Every value the contact has had for the writer, and every value the op sets, is
            // the writer's organisation: a member creates its own contacts and edits them, and
            // only the hub operator moves a contact to another organisation.
            let values = view.organisations.union(change.texts("organisation") ?? [])
            guard !values.isEmpty, values == [org] else {
                if !view.organisations.isEmpty, view.organisations == [org] {
                    throw refuse("\(who) may not move \(op.key) to another organisation: only the hub operator moves contacts between organisations")
                }
                throw refuse("\(who) may write only contacts whose organisation is \(org) (set organisation=\(org)); \(op.key) is not one")
            }
        case "projects":
            try checkProject(op, change, org: org, view: view, refuse)
        default:
            throw refuse("only the hub operator writes \(op.key.collection); \(who) is a member of \(org)")
        }
    }

    /// Projects: the lead changes `lead` and `partners` and may delete; a partner edits the
    /// other fields and may remove only itself from `partners`; a member creates a project
    /// only with itself as lead.
    private func checkProject(_ op: Op, _ change: OpChange, org: String, view: RightsView,
                              _ refuse: (String) -> AuthRejection) throws(AuthRejection) {
        let who = op.origin.node
        if view.isNew {
            guard let leads = change.texts("lead"), leads == [org] else {
                throw refuse("\(who) may write only projects \(org) leads or partners in, and creates a project only with itself as lead (lead=\(org)); \(op.key) is not one")
            }
            return
        }
        if view.leads.contains(org) { return }
        guard view.partners.contains(org) else {
            throw refuse("\(who) may write only projects \(org) leads or partners in; \(op.key) is not one (lead: \(Self.list(view.leads)))")
        }
        if change.texts("lead") != nil {
            throw refuse("only the lead (\(Self.list(view.leads))) or the hub operator changes the lead of \(op.key); \(org) is a partner")
        }
        if let partners = change.elements("partners"), partners != [org: false] {
            throw refuse("only the lead (\(Self.list(view.leads))) or the hub operator changes the partners of \(op.key); a partner may only remove itself (partners-=\(org))")
        }
        if change.deletes {
            throw refuse("only the lead (\(Self.list(view.leads))) or the hub operator deletes \(op.key)")
        }
    }

    static func list(_ s: Set<String>) -> String { s.isEmpty ? "none" : s.sorted().joined(separator: ", ") }
}

/// The rights facts of one record that an op is judged against (MSP 11.4): who leads and
/// partners in a project, which organisation a contact belongs to, and whether the record has
/// none of these yet.
public struct RightsView: Sendable, Equatable {
    /// projects: every organisation a sibling of `lead` names.
    public var leads: Set<String> = []
    /// projects: the organisations in `partners`.
    public var partners: Set<String> = []
    /// contacts: every value a sibling of `organisation` has.
    public var organisations: Set<String> = []
    /// No lead, partner or organisation: the op creates the record (or claims one nobody has).
    public var isNew = true

    public init() {}

    /// The facts as a record state holds them.
    public init(_ record: Record?) {
        guard let record else { return }
        for s in record.register("lead").siblings { if case .string(let v) = s.value { leads.insert(v) } }
        partners = record.set("partners").members
        for s in record.register("organisation").siblings { if case .string(let v) = s.value { organisations.insert(v) } }
        isNew = leads.isEmpty && partners.isEmpty && organisations.isEmpty
    }
}

/// What an op changes, read from its field deltas (each carries only the op's own dot).
struct OpChange {
    let op: Op

    init(_ op: Op) { self.op = op }

    /// The text values a register field is set to, or nil when the op does not write it.
    func texts(_ field: String) -> Set<String>? {
        guard case .register(let r)? = op.fields[field] else { return nil }
        var out = Set<String>()
        for s in r.siblings { if case .string(let v) = s.value { out.insert(v) } }
        return out
    }

    /// Set elements the op adds (true) or removes (false), or nil when it does not write the set.
    func elements(_ field: String) -> [String: Bool]? {
        guard case .set(let s)? = op.fields[field] else { return nil }
        return s.elements.mapValues { r in r.siblings.contains { $0.value } }
    }

    /// The op deletes the record (`$exists = false`).
    var deletes: Bool { op.fields[Record.existsField].map { if case .register(let r) = $0 { return r.siblings.contains { $0.value == .bool(false) } } else { return false } } ?? false }
}
