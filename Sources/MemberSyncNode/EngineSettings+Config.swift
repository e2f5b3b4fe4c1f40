import MemberSyncConfig
import MemberSyncCrypto
import MemberSyncEngine
import MemberSyncModel

extension EngineSettings {
    /// The engine's settings from the daemon's configuration (`signingKey`: the node's key,
    /// read from its data directory).
    public init(_ config: NodeConfig, signingKey: SigningKeyPair? = nil) {
        self.init(nodeID: config.nodeID, organisation: config.organisation, role: config.role, secure: !config.insecure,
                  signingKey: signingKey, hubSigningKeys: config.hubSigningKeys.compactMapValues { Hex.decode($0) },
                  hubEndpoints: config.hubEndpoints, peers: config.peers, heartbeatMilliseconds: config.heartbeatMilliseconds,
                  linkTimeoutMilliseconds: config.linkTimeoutMilliseconds, liveWindowMilliseconds: config.liveWindowMilliseconds,
                  pageSize: config.pageSize, maxClockSkewSeconds: config.maxClockSkewSeconds, pullQuota: config.pullQuota,
                  snapshotQuota: config.snapshotQuota)
    }
}

extension SyncEngine {
    /// An engine for a node configured by `config` (the daemon's start, tests, benchmarks).
    public init(config: NodeConfig, replica: Replica, signingKey: SigningKeyPair? = nil) {
        self.init(settings: EngineSettings(config, signingKey: signingKey), replica: replica)
    }
}
