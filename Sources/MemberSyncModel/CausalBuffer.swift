/// Remote ops that arrived before some dot their contexts cover (`RefusalReason.causality`),
/// kept until the receiver holds their whole causal past. Bounded by count and estimated
/// bytes (`Limits.maxWaitingOps`, `Limits.maxWaitingBytes`): past that the oldest waiting op
/// is dropped. Dropping loses nothing: a waiting op is not held, so its sender is never told
/// it arrived and it comes again (by Push retry or Pull).
public struct CausalBuffer: Sendable {
    private var ops: [Dot: Op] = [:]
    /// Arrival order, for eviction; may hold dots already taken (skipped lazily).
    private var order: [Dot] = []
    private var head = 0
    public private(set) var bytes = 0
    public let maxOps: Int
    public let maxBytes: Int

    public init(maxOps: Int = Limits.maxWaitingOps, maxBytes: Int = Limits.maxWaitingBytes) {
        self.maxOps = maxOps
        self.maxBytes = maxBytes
    }

    public var count: Int { ops.count }
    public var isEmpty: Bool { ops.isEmpty }

    public func contains(_ dot: Dot) -> Bool { ops[dot] != nil }

    /// Keeps `op` until its causal past is held (a second copy of a waiting dot replaces
    /// nothing). Returns how many older ops were dropped to make room.
    @discardableResult
    public mutating func hold(_ op: Op) -> Int {
        guard ops[op.dot] == nil else { return 0 }
        let size = EncodedSize.op(op)
        var evicted = 0
        while !ops.isEmpty && (ops.count >= maxOps || bytes + size > maxBytes) {
            if evictOldest() { evicted += 1 } else { break }
        }
        guard size <= maxBytes else { return evicted }
        ops[op.dot] = op
        order.append(op.dot)
        bytes += size
        compactOrder()
        return evicted
    }

    private mutating func evictOldest() -> Bool {
        while head < order.count {
            let d = order[head]
            head += 1
            if let o = ops.removeValue(forKey: d) {
                bytes -= EncodedSize.op(o)
                compactOrder()
                return true
            }
        }
        return false
    }

    /// Drops taken dots from `order` once they outnumber the waiting ones (amortised O(1)).
    private mutating func compactOrder() {
        if order.count > 2 * ops.count + 64 {
            order = order[head...].filter { ops[$0] != nil }
            head = 0
        }
    }

    /// Removes and returns the waiting ops whose causal past `replica` now holds, in HLC order
    /// (a linear extension of causality, since every node's clock passes what it has seen);
    /// ops the replica already holds are dropped. The rest keep waiting.
    public mutating func takeReady(for replica: Replica) -> [Op] {
        var ready: [Op] = []
        for (dot, op) in ops where replica.holds(dot) || replica.unmetDependency(op) == nil {
            ops[dot] = nil
            bytes -= EncodedSize.op(op)
            if !replica.holds(dot) { ready.append(op) }
        }
        if ops.isEmpty {
            order = []
            head = 0
        } else {
            compactOrder()
        }
        return ready.sorted { ($0.hlc, $0.dot) < ($1.hlc, $1.dot) }
    }
}
