import Foundation
import MemberSyncConfig
import MemberSyncCrypto
import MemberSyncEngine
import MemberSyncHarness
import MemberSyncModel
import MemberSyncNode
import MemberSyncWire

/// Scale: a hub and N-1 members as real `SyncEngine` state machines in one process, joined by
/// an in-memory message bus that plays the sockets (DEALER->ROUTER sends, ROUTER replies,
/// PUB fan-out to every subscriber). Every message is encoded once when sent and decoded at
/// every delivery, as on the wire; persistence is skipped (no disk). Time is virtual (1 ms per
/// round; timers tick every 25 ms of it). After the links are up, `totalOps` single-field
/// edits are spread evenly over the members (one edit per member per round); measured until
/// every node holds every op: wall-clock time, messages sent and deliveries per op.
/// Secure (the headline) signs every op and verifies it at every receiver against the roster
/// the hub wrote, with the write rules; the bus has no sockets, so CURVE is not in it.
/// Each member edits only records it may write: its own organisation and seven contacts of
/// it (claimed before the clock starts), in both runs.
struct ScaleBench {
    let nodeCounts: [Int]
    let totalOps: Int

    enum Delivery {
        case toRouter(from: Int, Message)
        case toDealer(Int, Message)
        case toSubscriber(Int, Message)
    }

    struct Outcome {
        let nodes: Int
        let seconds: Double
        let sent: Int
        let delivered: Int
        let bytes: Int
        let virtualMilliseconds: UInt64
    }

    static func simulate(nodes n: Int, totalOps: Int, security: Security) throws -> Outcome {
        let clock = SimulatedClock(milliseconds: 1_764_000_000_000)
        let hubEndpoint = "tcp://hub.invalid:7400"
        var engines: [SyncEngine] = []
        var index: [String: Int] = [:]
        let keys = try (0..<n).map { i in try SigningKeyPair(seed: [UInt8](repeating: UInt8(i & 0xff), count: 32)) }
        let names = (0..<n).map { $0 == 0 ? "brussels" : "member-\($0)" }
        for (i, name) in names.enumerated() {
            index[name] = i
            var config = NodeConfig(nodeID: name, organisation: name, role: i == 0 ? .hub : .member, dataDir: "/nonexistent",
                                    listen: "tcp://\(name).invalid:7400", hubEndpoints: i == 0 ? [] : [hubEndpoint])
            config.insecure = security == .insecure
            if i > 0 { config.hubSigningKeys["brussels"] = Hex.encode(keys[0].publicKey) }
            engines.append(SyncEngine(config: config, replica: Replica(id: ReplicaID(node: name, epoch: 1), wallClock: { clock.milliseconds }),
                                      signingKey: security == .secure ? keys[i] : nil))
        }
        var queue: [Delivery] = []
        var head = 0
        var counting = false
        var sent = 0, delivered = 0, bytes = 0

        func wire(_ m: Message) throws -> Message {
            let frames = WireCodec.encode(m)
            if counting { bytes += frames[1].count }
            return try WireCodec.decode(frames)
        }
        func emit(_ from: Int, _ directives: [Directive]) {
            for d in directives {
                switch d {
                case .send(_, let m):
                    queue.append(.toRouter(from: from, m)); if counting { sent += 1 }
                case .pushOps(_, let ops):
                    queue.append(.toRouter(from: from, .push(ops.map(\.op)))); if counting { sent += 1 }
                case .reply(let client, let m):
                    if let to = index[String(decoding: client, as: UTF8.self)] { queue.append(.toDealer(to, m)) }
                    if counting { sent += 1 }
                case .publish(let m):
                    if counting { sent += 1 }
                    if from == 0 { for to in 1..<n { queue.append(.toSubscriber(to, m)) } }
                case .publishOp(let op), .relay(let op):
                    if counting { sent += 1 }
                    if from == 0 { for to in 1..<n { queue.append(.toSubscriber(to, .op(op.op))) } }
                case .persist, .persistCompaction, .rememberNode, .event, .persistRefused:
                    break
                }
            }
        }
        func drain() throws {
            while head < queue.count {
                let d = queue[head]
                head += 1
                let t = clock.milliseconds
                switch d {
                case .toRouter(let from, let m):
                    let client = Array(engines[from].settings.nodeID.utf8)
                    emit(0, engines[0].onRequest(from: client, try wire(m), now: t))
                case .toDealer(let to, let m):
                    emit(to, engines[to].onLinkMessage(.hub(0), try wire(m), now: t))
                case .toSubscriber(let to, let m):
                    emit(to, engines[to].onSubscription(.hub(0), try wire(m), now: t))
                }
                if counting { delivered += 1 }
            }
            queue.removeAll(keepingCapacity: true)
            head = 0
        }
        func tick() throws {
            let t = clock.milliseconds
            for i in 0..<n { emit(i, engines[i].onTick(now: t)) }
            try drain()
        }
        // Links up.
        for _ in 0..<40 {
            try tick()
            clock.advance(by: 25)
            if (1..<n).allSatisfy({ engines[$0].activeHub(now: clock.milliseconds) != nil }) { break }
        }
        guard (1..<n).allSatisfy({ engines[$0].activeHub(now: clock.milliseconds) != nil }) else { throw BenchFailure("scale: links not up with \(n) nodes") }

        let members = n - 1
        let perMember = max(1, totalOps / members)
        // The hub operator's directory and roster (secure: what `admit` writes), then each
        // member's claims on its contacts; all delivered before the clock starts.
        func records(_ m: Int) -> [RecordKey] {
            [RecordKey(collection: "organisations", id: names[m])] + (1...7).map { RecordKey(collection: "contacts", id: "\(names[m])-contact-\($0)") }
        }
        for m in 1..<n {
            emit(0, try engines[0].localWrite(RecordKey(collection: "organisations", id: names[m]), [.assign(field: "name", value: .string(names[m]))], now: clock.milliseconds).1.directives)
            if security == .secure {
                emit(0, try engines[0].localWrite(RecordKey(collection: "nodes", id: names[m]), [
                    .assign(field: "organisation", value: .string(names[m])), .assign(field: "role", value: .string("member")),
                    .assign(field: "signing_key", value: .string(Hex.encode(keys[m].publicKey))),
                ], now: clock.milliseconds).1.directives)
            }
        }
        try drain()
        for m in 1..<n {
            for key in records(m).dropFirst() {
                emit(m, try engines[m].localWrite(key, [.assign(field: "organisation", value: .string(names[m]))], now: clock.milliseconds).1.directives)
            }
        }
        try drain()
        var settle = 0
        while !(engines.allSatisfy { $0.replica.version == engines[0].replica.version }) {
            clock.advance(by: 25)
            try tick()
            settle += 1
            if settle > 10_000 { throw BenchFailure("scale: \(n) nodes did not converge on the roster and claims") }
        }
        let before = engines[0].replica.version.total
        var rng = SplitMix64(seed: 67)
        var members2: [String: Set<String>] = [:]
        counting = true
        let start = now()
        let virtualStart = clock.milliseconds
        for round in 0..<perMember {
            for m in 1..<n {
                let key = records(m)[rng.below(8)]
                // The claim is not repeated (as in `Workload.ownedStream`): every edit is allowed.
                var field = Workload.pickField(key.collection, &rng)
                while field == "organisation" { field = Workload.pickField(key.collection, &rng) }
                let change = Workload.change(key, field, owner: names[m], &rng, members: &members2)
                let fc: FieldChange
                switch change {
                case .assign(let v): fc = .assign(field: field, value: v)
                case .element(let e, let present): fc = present ? .add(field: field, element: e) : .remove(field: field, element: e)
                }
                let (_, commit) = try engines[m].localWrite(key, [fc], now: clock.milliseconds)
                emit(m, commit.directives)
            }
            try drain()
            clock.advance(by: 1)
            if round % 25 == 24 { try tick() }
        }
        let total = perMember * members
        var rounds = 0
        func converged() -> Bool {
            let v = engines[0].replica.version
            return v.total == before + UInt64(total) && engines.allSatisfy { $0.replica.version == v }
        }
        while !converged() {
            clock.advance(by: 25)
            try tick()
            rounds += 1
            if rounds > 100_000 { throw BenchFailure("scale: \(n) nodes did not converge") }
        }
        for e in engines where !e.counters.opsRejected.isEmpty || !e.waiting.isEmpty {
            throw BenchFailure("scale: \(e.settings.nodeID) refused ops \(e.counters.opsRejected) or holds \(e.waiting.count) back")
        }
        return Outcome(nodes: n, seconds: now() - start, sent: sent, delivered: delivered, bytes: bytes,
                       virtualMilliseconds: clock.milliseconds - virtualStart)
    }

    func run(_ report: Report) throws {
        var details: [[String: Any]] = []
        for n in nodeCounts {
            var outcomes: [Security: Outcome] = [:]
            for security in Security.headlineFirst {
                progress("scale (\(security)): \(n) nodes, \(totalOps) ops")
                outcomes[security] = try Self.simulate(nodes: n, totalOps: totalOps, security: security)
            }
            let ops = Double(max(1, totalOps / (n - 1)) * (n - 1))
            for security in Security.headlineFirst {
                let o = outcomes[security]!
                details.append(["nodes": n, "security": security.rawValue, "ops": Int(ops), "seconds": o.seconds, "messages_sent": o.sent,
                                "deliveries": o.delivered, "bytes_delivered": o.bytes, "messages_sent_per_op": Double(o.sent) / ops,
                                "deliveries_per_op": Double(o.delivered) / ops, "bytes_per_op": Double(o.bytes) / ops,
                                "virtual_ms_to_converge": o.virtualMilliseconds, "ops_per_second": ops / o.seconds])
            }
            func traffic(_ o: Outcome) -> String {
                String(format: "%.1f msgs sent/op, %.1f deliveries/op, %.0f B/op", Double(o.sent) / ops, Double(o.delivered) / ops, Double(o.bytes) / ops)
            }
            let secure = outcomes[.secure]!, insecure = outcomes[.insecure]!
            report.addPair(ResultRow(benchmark: "Scale", metric: "\(n) nodes: time to converge, \(Int(ops)) ops", value: secure.seconds, unit: "s",
                                     note: traffic(secure)),
                           insecure: insecure.seconds, insecureNote: traffic(insecure))
        }
        report.details["scale"] = details
    }
}
