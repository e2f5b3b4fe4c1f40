import MemberSyncCrypto
import MemberSyncModel
import MemberSyncWire

/// Why the security checks refused an op. `reason` is a fixed label (used as a counter key):
/// `unknown-origin`, `revoked`, `bad-signature` or `unauthorised`.
public struct AuthRejection: Error, Sendable, Equatable, CustomStringConvertible {
    public let reason: String
    public let detail: String

    public var description: String { "\(reason): \(detail)" }
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

    public init(nodeID: String, role: NodeRole, organisation: String, ownSigningKey: [UInt8]?, hubSigningKeys: [String: [UInt8]]) {
        self.nodeID = nodeID
        self.role = role
        self.organisation = organisation
        self.ownSigningKey = ownSigningKey
        self.hubSigningKeys = hubSigningKeys
    }

    /// What is known about the origin of an op.
    struct Writer {
        var key: [UInt8]?
        var hubOperator: Bool
        var organisation: String?
    }

    static func rosterEntry(_ node: String, in replica: Replica) -> Record? {
        guard let r = replica.record(RecordKey(collection: "nodes", id: node)), r.exists else { return nil }
        return r
    }

    static func text(_ r: Record, _ field: String) -> String? {
        if case .string(let s)? = r.register(field).winner?.value { return s }
        return nil
    }

    /// Revoked as soon as any concurrent value says so (fail closed).
    static func isRevoked(_ r: Record) -> Bool {
        r.register("revoked").siblings.contains { $0.value == .bool(true) }
    }

    func writer(_ node: String, in replica: Replica) throws(AuthRejection) -> Writer {
        let entry = Self.rosterEntry(node, in: replica)
        if let entry, Self.isRevoked(entry) {
            throw AuthRejection(reason: "revoked", detail: "node \(node) is revoked in the roster")
        }
        let rosterHub = entry.map { Self.text($0, "role") == "hub" } ?? false
        let rosterOrg = entry.flatMap { Self.text($0, "organisation") }
        if node == nodeID {
            return Writer(key: ownSigningKey, hubOperator: role == .hub || rosterHub, organisation: rosterOrg ?? organisation)
        }
        if let key = hubSigningKeys[node] {
            return Writer(key: key, hubOperator: true, organisation: rosterOrg)
        }
        guard let entry else {
            throw AuthRejection(reason: "unknown-origin", detail: "node \(node) is not in the roster (yet)")
        }
        guard let text = Self.text(entry, "signing_key"), let key = Hex.decode(text), key.count == SigningKeyPair.publicKeyBytes else {
            throw AuthRejection(reason: "unknown-origin", detail: "nodes/\(node) has no valid signing_key")
        }
        return Writer(key: key, hubOperator: rosterHub, organisation: rosterOrg)
    }

    /// Checks an op that arrived from another node: origin known and not revoked, signature
    /// valid over the op's canonical bytes, and the write allowed for its origin.
    public func checkRemote(_ op: Op, in replica: Replica) throws(AuthRejection) {
        let w = try writer(op.origin.node, in: replica)
        guard let key = w.key else {
            throw AuthRejection(reason: "unknown-origin", detail: "no signing key known for \(op.origin.node)")
        }
        guard SigningKeyPair.verify(signature: op.signature, message: WireCodec.canonicalBytes(op), publicKey: key) else {
            throw AuthRejection(reason: "bad-signature", detail: "op \(op.dot) is not signed by \(op.origin.node)'s key")
        }
        try checkRules(op, w, in: replica)
    }

    /// Checks this node's own edit before it is applied (signature added afterwards).
    public func checkLocal(_ op: Op, in replica: Replica) throws(AuthRejection) {
        try checkRules(op, try writer(op.origin.node, in: replica), in: replica)
    }

    /// The write rules, judged on the record as this replica holds it plus the op's own values
    /// of the ownership fields (`contacts.organisation`, `projects.lead` / `projects.partners`).
    func checkRules(_ op: Op, _ w: Writer, in replica: Replica) throws(AuthRejection) {
        if w.hubOperator { return }
        func refuse(_ why: String) -> AuthRejection { AuthRejection(reason: "unauthorised", detail: why) }
        guard let org = w.organisation else { throw refuse("node \(op.origin.node) has no organisation") }
        let current = replica.record(op.key) ?? Record()
        switch op.key.collection {
        case "organisations":
            guard op.key.id == org else {
                throw refuse("\(op.origin.node) may write only its own organisation record organisations/\(org), not \(op.key)")
            }
        case "contacts":
            var values = current.register("organisation").siblings.map(\.value)
            if case .register(let r)? = op.fields["organisation"] { values += r.siblings.map(\.value) }
            guard !values.isEmpty, values.allSatisfy({ $0 == .string(org) }) else {
                throw refuse("\(op.origin.node) may write only contacts whose organisation is \(org) (set organisation=\(org)); \(op.key) is not one")
            }
        case "projects":
            var involved = current.register("lead").siblings.contains { $0.value == .string(org) } || current.set("partners").contains(org)
            if case .register(let r)? = op.fields["lead"], r.siblings.contains(where: { $0.value == .string(org) }) { involved = true }
            if case .set(let s)? = op.fields["partners"], s.contains(org) { involved = true }
            guard involved else {
                throw refuse("\(op.origin.node) may write only projects \(org) leads or partners in (lead=\(org) or partners+=\(org)); \(op.key) is not one")
            }
        default:
            throw refuse("only the hub operator writes \(op.key.collection); \(op.origin.node) is a member of \(org)")
        }
    }
}
