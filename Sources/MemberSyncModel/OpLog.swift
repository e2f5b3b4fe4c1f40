/// The ops of one origin held by a replica, indexed by counter. Counters at or below `floor`
/// were compacted away (or arrived inside a snapshot) and can no longer be served.
///
/// The contiguous run after the floor is a dense array; ops held ahead of a gap sit in a
/// dictionary until the gap fills. So memory follows the number of ops held, never a counter
/// value: one op numbered 2^63 used to make the dense array allocate up to that index.
struct OriginLog: Sendable {
    private(set) var floor: UInt64 = 0
    /// `ops[i]` holds counter `floor + 1 + i`, without holes.
    private(set) var ops: [Op] = []
    /// Ops held beyond `floor + ops.count + 1`, by counter.
    private(set) var ahead: [UInt64: Op] = [:]

    init(floor: UInt64 = 0) { self.floor = floor }

    var heldCount: Int { ops.count + ahead.count }

    /// The highest counter held (or the floor when none is).
    var highest: UInt64 {
        let dense = floor &+ UInt64(ops.count)
        return ahead.isEmpty ? dense : max(dense, ahead.keys.max()!)
    }

    func op(_ counter: UInt64) -> Op? {
        guard counter > floor else { return nil }
        let i = counter - floor - 1
        if i < UInt64(ops.count) { return ops[Int(i)] }
        return ahead.isEmpty ? nil : ahead[counter]
    }

    mutating func insert(_ op: Op) {
        guard op.counter > floor else { return }
        let i = op.counter - floor - 1
        if i < UInt64(ops.count) {
            ops[Int(i)] = op
        } else if i == UInt64(ops.count) {
            ops.append(op)
            absorbAhead()
        } else {
            ahead[op.counter] = op
        }
    }

    /// Moves ops that now continue the dense run out of `ahead`.
    private mutating func absorbAhead() {
        while !ahead.isEmpty {
            let (next, overflow) = floor.addingReportingOverflow(UInt64(ops.count) + 1)
            guard !overflow, let o = ahead.removeValue(forKey: next) else { return }
            ops.append(o)
        }
    }

    /// Drops every op at or below `counter`.
    mutating func compact(through counter: UInt64) {
        guard counter > floor else { return }
        let drop = Int(min(UInt64(ops.count), counter - floor))
        ops.removeFirst(drop)
        floor = counter
        if !ahead.isEmpty {
            ahead = ahead.filter { $0.key > counter }
            if ops.isEmpty { absorbAhead() }
        }
    }

    /// Drops every op above `counter` (local writes taken back, see `Replica.rollBack`).
    mutating func drop(above counter: UInt64) {
        let keep = counter > floor ? Int(min(UInt64(ops.count), counter - floor)) : 0
        ops.removeSubrange(keep...)
        if !ahead.isEmpty { ahead = ahead.filter { $0.key <= counter } }
    }

    /// Calls `body` with each held op above `counter`, in counter order, until it returns false.
    func forEach(after counter: UInt64, _ body: (Op) -> Bool) {
        let start = counter > floor ? counter - floor : 0
        if start < UInt64(ops.count) {
            for o in ops[Int(start)...] where !body(o) { return }
        }
        guard !ahead.isEmpty else { return }
        for c in ahead.keys.sorted() where c > counter {
            if !body(ahead[c]!) { return }
        }
    }

    /// Every held op, in counter order.
    var all: [Op] { ahead.isEmpty ? ops : ops + ahead.keys.sorted().map { ahead[$0]! } }
}
