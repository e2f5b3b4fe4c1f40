import MemberSyncModel

/// Cheap upper-bound estimates of encoded sizes, so pages of ops or records can be cut
/// well below `WireLimits.maxMessageBytes` without encoding everything twice. The numbers are
/// the model's (`EncodedSize`), which enforces `Limits` with the same estimates.
public enum WireSize {
    /// Budget for one page: half the message limit leaves room for estimation error.
    public static let pageBudgetBytes = WireLimits.maxMessageBytes / 2

    public static func op(_ o: Op) -> Int { EncodedSize.op(o) }

    public static func record(_ key: RecordKey, _ r: Record) -> Int { EncodedSize.record(key, r) }

    /// The longest prefix of `ops` within `budget` bytes (always at least one op, so a
    /// single large op still moves).
    public static func prefix(_ ops: [Op], budget: Int = pageBudgetBytes) -> [Op] {
        var total = 0
        var n = 0
        for o in ops {
            total += op(o)
            if total > budget && n > 0 { break }
            n += 1
        }
        return Array(ops.prefix(n))
    }
}
