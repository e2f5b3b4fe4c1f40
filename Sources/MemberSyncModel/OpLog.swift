/// The ops of one origin held by a replica, indexed by counter. Counters at or below `floor`
/// were compacted away (or arrived inside a snapshot) and can no longer be served.
struct OriginLog: Sendable {
    var floor: UInt64 = 0
    /// `ops[i]` holds counter `floor + 1 + i`; nil marks a gap not yet filled.
    var ops: [Op?] = []
    /// Non-nil entries of `ops`, kept up to date so counting the log costs nothing.
    private(set) var heldCount = 0

    func op(_ counter: UInt64) -> Op? {
        guard counter > floor else { return nil }
        let i = Int(counter - floor - 1)
        return i < ops.count ? ops[i] : nil
    }

    mutating func insert(_ op: Op) {
        guard op.counter > floor else { return }
        let i = Int(op.counter - floor - 1)
        if i >= ops.count { ops.append(contentsOf: repeatElement(nil, count: i - ops.count + 1)) }
        if ops[i] == nil { heldCount += 1 }
        ops[i] = op
    }

    /// Drops every op at or below `counter`.
    mutating func compact(through counter: UInt64) {
        guard counter > floor else { return }
        let drop = Int(min(UInt64(ops.count), counter - floor))
        for op in ops[..<drop] where op != nil { heldCount -= 1 }
        ops.removeFirst(drop)
        floor = counter
    }

    /// Drops every op above `counter` (local writes taken back, see `Replica.rollBack`).
    mutating func drop(above counter: UInt64) {
        let keep = counter > floor ? Int(min(UInt64(ops.count), counter - floor)) : 0
        for op in ops[keep...] where op != nil { heldCount -= 1 }
        ops.removeSubrange(keep...)
    }
}
