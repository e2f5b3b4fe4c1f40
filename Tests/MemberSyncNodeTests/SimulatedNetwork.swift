import Foundation
@testable import MemberSyncConfig
@testable import MemberSyncEngine
import MemberSyncHarness
import MemberSyncCrypto
import MemberSyncModel
import MemberSyncWire
@testable import MemberSyncNode

/// Drives several SyncEngines over an in-memory network: no sockets, simulated time, and
/// faults on demand (nodes down, published messages dropped). Messages go through the real
/// wire codec so what the engines see is exactly what would cross a socket.
struct SimulatedNetwork {
    var engines: [String: SyncEngine] = [:]
    var down: Set<String> = []
    /// Simulated time in Unix milliseconds; every replica's wall clock reads it, so HLC stamps
    /// move on with the simulation as they do with real time.
    var now: UInt64 {
        get { wallClock.milliseconds }
        nonmutating set { wallClock.milliseconds = newValue }
    }
    let wallClock = SimulatedClock(milliseconds: 1_700_000_000_000)
    /// Fraction of PUB messages lost (slow joiners, high-water marks).
    var publishLoss = 0.0
    var rng = SeededRandom(seed: 1)
    var queue: [(to: String, deliver: Delivery)] = []
    var messagesSent = 0
    /// Pushes each node sent (a refused op must not be pushed again and again).
    var pushesSent: [String: Int] = [:]
    var persisted = 0
    /// Every node's signing key (secure nodes sign and verify; insecure ones only sign).
    var keys: [String: SigningKeyPair] = [:]
    /// Rejections reported by each node, as directives.
    var rejected: [String: [Directive]] = [:]
    /// Everything each node reported (`Directive.event`), rejections included, in order.
    var events: [String: [EngineEvent]] = [:]

    enum Delivery {
        case request(from: String, Message)
        case linkMessage(from: String, Message)
        case subscription(from: String, Message)
    }

    static func endpoint(_ name: String) -> String { "ipc:///sim/\(name)" }
    static func name(of endpoint: String) -> String { String(endpoint.dropFirst("ipc:///sim/".count)) }

    /// Adds a node. `secure: false` (the default, as in the sync tests) applies remote ops
    /// without checking signatures or write rules; secure members trust their hubs' keys.
    mutating func addNode(_ name: String, role: NodeRole, hubs: [String] = [], peers: [String] = [], pageSize: Int = 1000,
                          secure: Bool = false, organisation: String? = nil) {
        var config = NodeConfig(nodeID: name, organisation: organisation ?? name, role: role, dataDir: "/sim/\(name)", listen: Self.endpoint(name),
                                hubEndpoints: hubs.map(Self.endpoint), peers: peers.map(Self.endpoint),
                                heartbeatMilliseconds: 100, linkTimeoutMilliseconds: 300, liveWindowMilliseconds: 60_000, pageSize: pageSize)
        config.insecure = !secure
        for h in hubs { if let k = keys[h] { config.hubSigningKeys[h] = Hex.encode(k.publicKey) } }
        let key = keys[name] ?? (try! SigningKeyPair.generate())
        keys[name] = key
        let clock = wallClock
        let replica = Replica(id: ReplicaID(node: name, epoch: 1), wallClock: { clock.milliseconds })
        engines[name] = SyncEngine(config: config, replica: replica, signingKey: key)
    }

    func linkID(of node: String, to target: String) -> LinkID? {
        guard let e = engines[node] else { return nil }
        if let i = e.hubs.firstIndex(where: { Self.name(of: $0.endpoint) == target }) { return .hub(i) }
        if let i = e.peers.firstIndex(where: { Self.name(of: $0.endpoint) == target }) { return .peer(i) }
        return nil
    }

    func target(of node: String, _ link: LinkID) -> String {
        let e = engines[node]!
        switch link {
        case .hub(let i): return Self.name(of: e.hubs[i].endpoint)
        case .peer(let i): return Self.name(of: e.peers[i].endpoint)
        }
    }

    /// Round-trips a message through the real codec.
    func wire(_ m: Message) -> Message {
        try! WireCodec.decode(WireCodec.encode(m))
    }

    /// Decodes frames as the receiving socket's node would (an own op's Push or publication,
    /// encoded from the bytes the op was signed with).
    func wire(_ frames: [[UInt8]]) -> Message {
        try! WireCodec.decode(frames)
    }

    mutating func route(from node: String, _ directives: [Directive]) {
        for d in directives {
            switch d {
            case .persist, .persistCompaction, .persistRefused:
                persisted += 1
            case .rememberNode:
                break
            case .event(let e):
                events[node, default: []].append(e)
                if case .opRejected = e { rejected[node, default: []].append(d) }
            case .send(let link, let m):
                send(from: node, link, wire(m))
            case .pushOps(let link, let ops):
                send(from: node, link, wire(WireCodec.encode(pushing: ops)))
            case .reply(let client, let m):
                messagesSent += 1
                queue.append((String(decoding: client, as: UTF8.self), .linkMessage(from: node, wire(m))))
            case .publish(let m):
                publish(from: node, wire(m))
            case .publishOp(let op), .relay(let op):
                publish(from: node, wire(WireCodec.encode(publishing: op)))
            }
        }
    }

    mutating func send(from node: String, _ link: LinkID, _ m: Message) {
        messagesSent += 1
        if case .push = m { pushesSent[node, default: 0] += 1 }
        queue.append((target(of: node, link), .request(from: node, m)))
    }

    mutating func publish(from node: String, _ m: Message) {
        for (name, _) in engines where name != node && linkID(of: name, to: node) != nil {
            messagesSent += 1
            if Double(rng.next() % 10_000) / 10_000 < publishLoss { continue }
            queue.append((name, .subscription(from: node, m)))
        }
    }

    mutating func deliverAll() {
        var budget = 1_000_000
        while !queue.isEmpty && budget > 0 {
            budget -= 1
            let (to, delivery) = queue.removeFirst()
            guard !down.contains(to), var e = engines[to] else { continue }
            let out: [Directive]
            switch delivery {
            case .request(let from, let m):
                if down.contains(from) { continue }
                out = e.onRequest(from: Array(from.utf8), m, now: now)
            case .linkMessage(let from, let m):
                guard let l = linkID(of: to, to: from) else { continue }
                out = e.onLinkMessage(l, m, now: now)
            case .subscription(let from, let m):
                guard let l = linkID(of: to, to: from) else { continue }
                if case .op(let op) = m {
                    // As the reactor drains a subscription: the live ops queued for this node
                    // from the same sender, up to its next other message, go as one batch.
                    out = e.onLiveOps(l, [op] + takeQueuedLiveOps(to: to, from: from), now: now)
                } else {
                    out = e.onSubscription(l, m, now: now)
                }
            }
            engines[to] = e
            route(from: to, out)
        }
    }

    /// Removes and returns the live ops queued for `to` from `from`, in order, up to the first
    /// other message on that subscription (at most 511, the rest of a reactor's drain).
    mutating func takeQueuedLiveOps(to: String, from: String) -> [Op] {
        var ops: [Op] = [], taken: [Int] = []
        for (i, entry) in queue.enumerated() where entry.to == to && ops.count < 511 {
            guard case .subscription(let sender, let m) = entry.deliver, sender == from else { continue }
            guard case .op(let op) = m else { break }
            ops.append(op)
            taken.append(i)
        }
        for i in taken.reversed() { queue.remove(at: i) }
        return ops
    }

    /// Advances simulated time in 50 ms steps, ticking every live node and delivering.
    mutating func run(milliseconds: UInt64) {
        let end = now + milliseconds
        while now < end {
            now += 50
            for name in engines.keys.sorted() where !down.contains(name) {
                var e = engines[name]!
                let out = e.onTick(now: now)
                engines[name] = e
                route(from: name, out)
            }
            deliverAll()
        }
    }

    @discardableResult
    mutating func write(_ node: String, _ key: String, _ changes: [FieldChange], acceptingRevokedEdits: Bool = false) throws -> Op {
        var e = engines[node]!
        let k = try RecordKey(parsing: key)
        // As the control socket does for every `set`: a revocation records what it accepts, a
        // re-admission what it keeps refusing.
        let facts = e.withRevocationFacts(k, changes, now: now, acceptingRevokedEdits: acceptingRevokedEdits)
        let (op, out) = try e.localWrite(k, facts, now: now)
        engines[node] = e
        if !down.contains(node) { route(from: node, out.directives) }
        deliverAll()
        return op
    }

    func digests(_ names: [String]) -> Set<String> {
        Set(names.map { engines[$0]!.replica.digest() })
    }
}
