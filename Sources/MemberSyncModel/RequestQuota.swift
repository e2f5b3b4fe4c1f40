/// How many requests of one kind a client may have answered: a burst, refilled at a steady
/// rate. Bounds the work (and, with the ROUTER's send high-water mark, the memory) one client
/// can demand, however many requests it sends without reading the answers.
public struct RequestQuota: Sendable, Equatable {
    public var burst: Int
    public var perSecond: Int

    public init(burst: Int, perSecond: Int) {
        self.burst = burst
        self.perSecond = perSecond
    }

    /// Honest clients keep at most one Pull and one SnapshotRequest outstanding per link and
    /// send the next only after the answer, so these are far above what they need.
    public static let pulls = RequestQuota(burst: 32, perSecond: 64)
    /// Pages are the largest answers (up to the 4 MiB page budget): a small burst, so one
    /// client's unread pages stay a few tens of MiB, and a rate that still bootstraps a
    /// million records in seconds.
    public static let snapshotPages = RequestQuota(burst: 8, perSecond: 16)
}
