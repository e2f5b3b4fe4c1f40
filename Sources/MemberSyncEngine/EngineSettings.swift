import MemberSyncModel
import MemberSyncCrypto

/// What the engine knows of its node: who it is, whom it trusts, whom it syncs with, and its
/// timings and limits. Nothing of how the daemon runs it (data directory, listen addresses,
/// CURVE keys, logging): the daemon builds these from its `NodeConfig`
/// (`EngineSettings(_:signingKey:)` in MemberSyncNode).
public struct EngineSettings: Sendable {
    public var nodeID: String
    public var organisation: String
    public var role: NodeRole
    /// Remote ops are verified (signature, origin, write rules) and this node's own edits are
    /// held to the write rules. Off only on a trusted test network (`insecure = true`).
    public var secure: Bool
    /// Signs every local op (Ed25519 over its canonical bytes); nil: local ops go unsigned.
    public var signingKey: SigningKeyPair?
    /// Ed25519 public keys of the hubs this node trusts, by hub node id: the root of trust
    /// that lets a member accept the roster the hub operator writes.
    public var hubSigningKeys: [String: [UInt8]]
    /// Hubs in order of preference, and the fallback peers (endpoints, or node ids whose
    /// endpoint the daemon finds in the roster and sets with `repointPeer`).
    public var hubEndpoints: [String]
    public var peers: [String]
    public var heartbeatMilliseconds: Int
    /// Silence after which a hub or peer link counts as down.
    public var linkTimeoutMilliseconds: Int
    /// Nodes not heard from for this long no longer hold back op-log compaction (a hub).
    public var liveWindowMilliseconds: Int
    /// Ops per catch-up page (Pull/OpBatch) and per Push.
    public var pageSize: Int
    /// A remote op stamped further ahead of this node's clock than this is refused.
    public var maxClockSkewSeconds: Int
    /// Per-client quotas for the requests that cost real work: Pull and SnapshotRequest.
    public var pullQuota: RequestQuota
    public var snapshotQuota: RequestQuota

    public init(nodeID: String, organisation: String, role: NodeRole, secure: Bool, signingKey: SigningKeyPair?,
                hubSigningKeys: [String: [UInt8]], hubEndpoints: [String], peers: [String], heartbeatMilliseconds: Int,
                linkTimeoutMilliseconds: Int, liveWindowMilliseconds: Int, pageSize: Int, maxClockSkewSeconds: Int,
                pullQuota: RequestQuota, snapshotQuota: RequestQuota) {
        self.nodeID = nodeID
        self.organisation = organisation
        self.role = role
        self.secure = secure
        self.signingKey = signingKey
        self.hubSigningKeys = hubSigningKeys
        self.hubEndpoints = hubEndpoints
        self.peers = peers
        self.heartbeatMilliseconds = heartbeatMilliseconds
        self.linkTimeoutMilliseconds = linkTimeoutMilliseconds
        self.liveWindowMilliseconds = liveWindowMilliseconds
        self.pageSize = pageSize
        self.maxClockSkewSeconds = maxClockSkewSeconds
        self.pullQuota = pullQuota
        self.snapshotQuota = snapshotQuota
    }
}
