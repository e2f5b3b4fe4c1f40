import MemberSyncCrypto
import MemberSyncModel
import MemberSyncWire

/// Proof that an origin signed two histories (equivocation, MSP 5.9): two validly signed ops of
/// one replica that cannot both belong to one chain. Either two versions of `dot`, or an op
/// whose `prev` names a predecessor other than the version of `dot` held here.
public struct ForkEvidence: Sendable, Equatable {
    /// The dot that has two versions: the fork point.
    public let dot: Dot
    /// The op this node held when the contradiction arrived.
    public let held: Op
    /// The op that contradicts it (a second version of `dot`, or its neighbour).
    public let other: Op
}

/// What `SyncEngine.authenticatedRuns` found in a batch.
public struct AuthenticatedRuns: Sendable {
    /// The ops whose signatures need no check of their own: a later op of their run, whose
    /// signature verified, covers them through the chain.
    public var dots = Set<Dot>()
    /// The chain hashes computed on the way, by dot.
    public var hashes: [Dot: [UInt8]] = [:]
    /// The encodings hashed, by dot, for the dots the batch carries once: the store and the
    /// relay reuse them for the op applied from that batch.
    public var encodings: [Dot: [UInt8]] = [:]

    public init(dots: Set<Dot> = [], hashes: [Dot: [UInt8]] = [:], encodings: [Dot: [UInt8]] = [:]) {
        self.dots = dots
        self.hashes = hashes
        self.encodings = encodings
    }
}

extension SyncEngine {
    /// The hash that links an op into its origin's chain: SHA-256 of its encoding, signature
    /// included, so a verified signature of a later op covers the earlier ops whole.
    public static func chainHash(_ op: Op) -> [UInt8] { chainHash(encoded: WireCodec.encodeOp(op)) }

    /// The chain hash of an op from its encoding (a local op's, made as it was signed).
    public static func chainHash(encoded bytes: [UInt8]) -> [UInt8] { SHA256Digest.of(bytes) }

    /// The ops of a batch whose signatures need no check of their own, and the chain hashes
    /// computed on the way (see the static `authenticatedRuns`); the last op of a run is
    /// checked against its origin's key in the roster.
    func authenticatedRuns(_ ops: [Op]) -> AuthenticatedRuns {
        guard let authority else { return AuthenticatedRuns() }
        return Self.authenticatedRuns(ops) { Self.originProblem($0, authority, replica) == nil }
    }

    /// In a run of consecutive ops of one origin where each op's hash is the next one's
    /// `prev`, the last op's signature covers the whole run (MSP 5.9, 11.3): one Ed25519 check
    /// (`signedByOrigin`) and a hash per op instead of a check per op. When the last signature
    /// does not verify, the run without it is tried, so one bad op costs its own checks only.
    /// Returns the ops so authenticated, and the chain hashes and encodings made on the way.
    /// Public so the merge benchmark measures the page path with the code a node runs.
    public static func authenticatedRuns(_ ops: [Op], signedByOrigin: (Op) -> Bool) -> AuthenticatedRuns {
        guard ops.count > 1 else { return AuthenticatedRuns() }
        var dots = Set<Dot>(), hashes: [Dot: [UInt8]] = [:], encodings: [Dot: [UInt8]] = [:]
        // Dots the batch carries twice (a fork, or a forgery of a held op): an encoding kept by
        // dot could then be the other op's, so none is kept for them.
        var repeated = Set<Dot>()
        for sorted in Self.byOrigin(ops, where: \.isChained) {
            var run: [Op] = [sorted[0]]
            func close() {
                while run.count > 1 {
                    if signedByOrigin(run[run.count - 1]) {
                        for op in run { dots.insert(op.dot) }
                        return
                    }
                    run.removeLast()
                }
            }
            for op in sorted.dropFirst() {
                let before = run[run.count - 1]
                if op.counter == before.counter { repeated.insert(op.dot) }
                let bytes = WireCodec.encodeOp(before)
                let h = Self.chainHash(encoded: bytes)
                hashes[before.dot] = h
                encodings[before.dot] = bytes
                if op.counter == before.counter &+ 1 && op.prev == h { run.append(op) } else { close(); run = [op] }
            }
            close()
        }
        for d in repeated { encodings[d] = nil }
        return AuthenticatedRuns(dots: dots, hashes: hashes, encodings: encodings)
    }

    /// The ops of a batch that pass `include`, per origin in counter order, for the origins
    /// with two or more of them (the only ones that can form a run or a contradicting pair).
    static func byOrigin(_ ops: [Op], where include: (Op) -> Bool) -> [[Op]] {
        var grouped: [ReplicaID: [Op]] = [:]
        for op in ops where include(op) { grouped[op.origin, default: []].append(op) }
        return grouped.values.filter { $0.count > 1 }.map { $0.sorted { $0.counter < $1.counter } }
    }

    /// Records a fork the first time it is seen: counted, kept (bounded), reported; a hub
    /// settles it in the roster and a member sends the proof on (both at the next tick,
    /// `settleForks`).
    mutating func noteFork(_ e: ForkEvidence) -> [Directive] {
        guard !evidence.contains(where: { $0.dot == e.dot }) else { return [] }
        counters.equivocations += 1
        if evidence.count < Self.maxEvidence { evidence.append(e) }
        if forksToSettle.count < Self.maxEvidence { forksToSettle.append(e) }
        return [.event(.equivocation(dot: e.dot, heldKey: e.held.key, otherKey: e.other.key))]
    }

    /// A duplicate dot with other contents, validly signed by its origin, is a fork at that
    /// dot (a forgery is refused by the signature check whenever it is not a duplicate).
    /// Comparing costs only the op's bytes, and only while the held op is still in the log.
    mutating func checkDuplicate(_ op: Op) -> [Directive] {
        guard let held = replica.op(op.dot) else { return [] }
        // Equal signatures: the same op, or a forgery (a signature fits one content only),
        // which the check below would refuse. Either way no fork, and no field-by-field
        // comparison of every op of a page pulled twice.
        if authority != nil && !op.signature.isEmpty && op.signature == held.signature { return [] }
        guard held != op else { return [] }
        if let authority, Self.originProblem(op, authority, replica) != nil { return [] }
        return noteFork(ForkEvidence(dot: op.dot, held: held, other: op))
    }

    /// Forks a pushed batch proves by itself, whatever this node holds: two versions of a dot,
    /// or consecutive ops whose link does not match. This is how a member's evidence reaches a
    /// hub that no longer holds the contradicted op (compaction). Only pairs touching a dot
    /// held here are checked, so an ordinary push of new ops costs nothing.
    mutating func checkPushedPairs(_ ops: [Op]) -> [Directive] {
        guard let authority, ops.count > 1 else { return [] }
        var out: [Directive] = []
        let pairs = Self.byOrigin(ops) { op in
            replica.holds(op.dot) || replica.holds(Dot(op.origin, op.counter &+ 1)) || replica.holds(Dot(op.origin, op.counter &- 1))
        }
        for sorted in pairs {
            for (a, b) in zip(sorted, sorted.dropFirst()) {
                let forkAt: UInt64?
                if a.counter == b.counter { forkAt = a != b ? a.counter : nil }
                else if b.counter == a.counter + 1 && b.isChained { forkAt = Self.chainHash(a) != b.prev ? a.counter : nil }
                else { forkAt = nil }
                guard let forkAt, Self.originProblem(a, authority, replica) == nil, Self.originProblem(b, authority, replica) == nil else { continue }
                out += noteFork(ForkEvidence(dot: Dot(a.origin, forkAt), held: a, other: b))
            }
        }
        return out
    }

    /// The forks the roster settles, as `REPLICA=COUNTER` (status shows them).
    public var settledForks: [String] {
        replica.keys(in: "nodes").flatMap { key in
            replica.record(key).map { WriteAuthority.forks($0).sorted.map { WriteAuthority.forkElement($0.replica, $0.counter) } } ?? []
        }.sorted()
    }

    /// Whether the roster already voids the forked replica's ops from the fork on.
    func isSettled(_ e: ForkEvidence) -> Bool {
        guard let entry = WriteAuthority.rosterEntry(e.dot.replica.node, in: replica) else { return false }
        let at = WriteAuthority.forks(entry)[e.dot.replica]
        return at > 0 && at <= e.dot.counter
    }

    /// Settles the forks noted since the last tick the same way on every node: a hub adds
    /// `REPLICA=COUNTER` to the origin's roster entry (`forks`), which every node applies like a
    /// revocation (the replica's ops from the fork on count nowhere, whichever version of the
    /// dot each node holds); a member pushes the proof to the nodes it syncs with, until the
    /// roster shows the fork settled.
    mutating func settleForks(now: UInt64) -> [Directive] {
        guard authority != nil, !forksToSettle.isEmpty else { return [] }
        forksToSettle = forksToSettle.filter { !isSettled($0) && WriteAuthority.rosterEntry($0.dot.replica.node, in: replica) != nil }
        guard !forksToSettle.isEmpty else { return [] }
        if settings.role == .hub {
            var out: [Directive] = []
            for e in forksToSettle where e.dot.replica.node != settings.nodeID && !isSettled(e) {
                let key = RecordKey(collection: "nodes", id: e.dot.replica.node)
                let element = WriteAuthority.forkElement(e.dot.replica, e.dot.counter)
                guard let (_, commit) = try? localWrite(key, [.add(field: "forks", element: element)], now: now) else { continue }
                out += commit.directives
            }
            forksToSettle = []
            return out
        }
        guard now &- forkProofSentAt >= 10 * retryMilliseconds else { return [] }
        let links = syncLinks(now: now)
        guard !links.isEmpty else { return [] }
        forkProofSentAt = now
        let proof = forksToSettle.flatMap { [$0.held, $0.other] }
        return links.map { .send($0, .push(proof)) }
    }
}
