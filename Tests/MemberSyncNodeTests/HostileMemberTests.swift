@testable import MemberSyncConfig
@testable import MemberSyncEngine
import MemberSyncHarness
import XCTest
import MemberSyncCrypto
import MemberSyncModel
import MemberSyncWire
@testable import MemberSyncNode

/// Issue 13 at engine level: a member holding an admitted key sends validly signed hostile
/// ops and requests. No node may crash, freeze, bloat, or let it retire what it never saw.
final class HostileMemberTests: XCTestCase {
    let members = ["asker", "baerum"]
    let everyone = ["brussels", "asker", "baerum"]

    func secureFederation() throws -> SimulatedNetwork {
        var net = SimulatedNetwork()
        net.addNode("brussels", role: .hub, secure: true, organisation: "oslo-region-european-office")
        for m in members { net.addNode(m, role: .member, hubs: ["brussels"], secure: true) }
        for m in members {
            // The engine's own replica and the epochs the crafted ops below use are registered
            // (MSP 11.2); minted ones (above 1000) are not.
            let epochs = [net.engines[m]!.replica.id] + [7, 42].map { ReplicaID(node: m, epoch: $0) }
            try net.write("brussels", "nodes/\(m)", [
                .assign(field: "organisation", value: .string(m)), .assign(field: "role", value: .string("member")),
                .assign(field: "signing_key", value: .string(Hex.encode(net.keys[m]!.publicKey))),
            ] + epochs.map { .add(field: "epochs", element: $0.description) })
        }
        net.run(milliseconds: 500)
        return net
    }

    func key(_ s: String) -> RecordKey { try! RecordKey(parsing: s) }

    /// `op` re-signed with `signer` (as a member with its real key can do for anything it makes).
    func signed(_ op: Op, _ signer: SigningKeyPair) -> Op {
        var o = op
        o.signature = signer.sign(WireCodec.canonicalBytes(o))
        return o
    }

    /// An op by `origin` with a hand-picked counter, HLC and title context.
    func crafted(_ origin: ReplicaID, counter: UInt64, hlc: HLC, _ k: String, field: String = "name", _ value: String,
                 context: VersionVector = VersionVector(), signer: SigningKeyPair) -> Op {
        let dot = Dot(origin, counter)
        let r = Register(siblings: [Sibling(dot: dot, hlc: hlc, value: Value.string(value))], context: context)
        let exists = Register(siblings: [Sibling(dot: dot, hlc: hlc, value: Value.bool(true))], context: VersionVector())
        return signed(Op(origin: origin, counter: counter, hlc: hlc, key: key(k), fields: [field: .register(r), Record.existsField: .register(exists)]), signer)
    }

    func request(_ net: inout SimulatedNetwork, _ node: String, from: String, _ m: Message) -> [Directive] {
        var e = net.engines[node]!
        let out = e.onRequest(from: Array(from.utf8), m, now: net.now)
        net.engines[node] = e
        return out
    }

    func acks(_ out: [Directive]) -> [VersionVector] {
        out.compactMap { if case .reply(_, .ack(let v)) = $0 { return v } else { return nil } }
    }

    func name(_ net: SimulatedNetwork, _ node: String, _ k: String, field: String = "name") -> Value? {
        net.engines[node]!.replica.view(key(k))?.field(field)?.value
    }

    // MARK: crash and bloat

    func testCounterBombsFromAnAdmittedMemberAreRefusedByHubAndMembers() throws {
        var net = try secureFederation()
        try net.write("asker", "organisations/asker", [.assign(field: "name", value: .string("Asker"))])
        let asker = net.engines["asker"]!.replica.id, askerKey = net.keys["asker"]!
        let hlc = HLC(milliseconds: net.now, logical: 0)
        let bombs = [UInt64(1) << 63, 30_000_000, UInt64.max].map {
            crafted(asker, counter: $0, hlc: hlc, "organisations/asker", "Bomb", signer: askerKey)
        }
        let logBefore = net.engines["brussels"]!.replica.logCount
        let out = request(&net, "brussels", from: "asker", .push(bombs))
        XCTAssertEqual(acks(out).count, 1, "the push is still acknowledged")
        let hub = net.engines["brussels"]!
        XCTAssertEqual(hub.counters.opsRejected["gap-too-large"], 3)
        XCTAssertEqual(hub.replica.logCount, logBefore, "nothing stored, nothing allocated for the counters")
        for b in bombs { XCTAssertFalse(hub.replica.holds(b.dot)) }
        // Members accept Pushes on their ROUTER too (as fallback peers): same refusal.
        _ = request(&net, "baerum", from: "asker", .push(bombs))
        XCTAssertEqual(net.engines["baerum"]!.counters.opsRejected["gap-too-large"], 3)
        // A Heartbeat claiming such counters cannot trap either (VV sums saturate).
        var baerum = net.engines["baerum"]!
        _ = baerum.onSubscription(.hub(0), .heartbeat(Heartbeat(nodeID: "brussels", replica: hub.replica.id, role: "hub",
            version: VersionVector([asker: .max, hub.replica.id: .max]), pending: 0)), now: net.now)
        net.engines["baerum"] = baerum
        try net.write("baerum", "organisations/baerum", [.assign(field: "name", value: .string("Bærum"))])
        net.run(milliseconds: 1500)
        XCTAssertEqual(net.digests(everyone).count, 1, "the federation keeps converging")
        XCTAssertEqual(name(net, "asker", "organisations/baerum"), .string("Bærum"))
    }

    /// Issue 13, items 4 and 5: one Push of 5,000 concurrent writers (minted epochs of one
    /// member) on one record froze the hub for 195 s. asker's Hello registered its one epoch
    /// in the roster (MSP 11.2), so every minted one is refused, fast, and the record stays
    /// small enough to travel. (Without registered epochs the model's cap of
    /// `maxEpochsPerNode` holds instead: HostileOpTests.)
    func testAPushOfThousandsOfConcurrentWritersIsBoundedAndFast() throws {
        var net = try secureFederation()
        try net.write("asker", "organisations/asker", [.assign(field: "name", value: .string("Asker"))])
        net.run(milliseconds: 300)
        let askerKey = net.keys["asker"]!
        let hlc = HLC(milliseconds: net.now, logical: 0)
        var ops: [Op] = []
        for epoch in 1...5000 {
            let r = ReplicaID(node: "asker", epoch: UInt32(1000 + epoch))
            ops.append(crafted(r, counter: 1, hlc: hlc, "organisations/asker", String(repeating: "x", count: 200) + "\(epoch)", signer: askerKey))
        }
        let started = Date()
        let out = request(&net, "brussels", from: "asker", .push(ops))
        XCTAssertLessThan(Date().timeIntervalSince(started), 30, "linear, not quadratic (5,000 signature checks in a debug build)")
        XCTAssertEqual(acks(out).count, 1)
        let hub = net.engines["brussels"]!
        XCTAssertEqual(hub.counters.opsRejected["unknown-origin"], 5000)
        XCTAssertFalse(hub.replica.version.sorted.contains { $0.replica.node == "asker" && $0.replica.epoch > 1000 })
        XCTAssertLessThanOrEqual(hub.replica.version.count, 3)
        XCTAssertEqual(hub.replica.record(key("organisations/asker"))?.register("name").siblings.count, 1, "asker's own name only")
        // The record still travels: a new member bootstraps from a snapshot page that holds it.
        let page = request(&net, "brussels", from: "newcomer", .snapshotRequest(after: "", maxRecords: 0))
        guard case .reply(_, let reply)? = page.first, case .snapshotPage(let p) = reply else { return XCTFail("\(page)") }
        XCTAssertTrue(p.records.contains { $0.key == key("organisations/asker") })
        XCTAssertNoThrow(try WireCodec.decode(WireCodec.encode(reply)))
    }

    // MARK: poison

    /// Issue 13, item 2: contexts claiming {every replica: 2^62} wiped `title` everywhere and
    /// every later write vanished. Now such ops are refused, near-future claims wait, and
    /// honest writes keep showing.
    func testOverClaimingContextsRetireNothing() throws {
        var net = try secureFederation()
        try net.write("brussels", "projects/catchmr", [.assign(field: "title", value: .string("CatchMR")), .add(field: "partners", element: "asker")])
        net.run(milliseconds: 300)
        let hubID = net.engines["brussels"]!.replica.id, baerumID = net.engines["baerum"]!.replica.id
        let asker = net.engines["asker"]!.replica.id, askerKey = net.keys["asker"]!
        let hlc = HLC(milliseconds: net.now, logical: 0)
        let claimsAll = VersionVector([hubID: 1 << 62, baerumID: 1 << 62, asker: 1])
        let wipe = crafted(asker, counter: 1, hlc: hlc, "projects/catchmr", field: "title", "wiped", context: claimsAll, signer: askerKey)
        let ahead = crafted(asker, counter: 1, hlc: hlc, "projects/catchmr", field: "title", "waits",
                            context: VersionVector([baerumID: 5]), signer: askerKey)
        let selfClaim = crafted(asker, counter: 1, hlc: hlc, "projects/catchmr", field: "title", "self",
                                context: VersionVector([asker: 1 << 40]), signer: askerKey)
        _ = request(&net, "brussels", from: "asker", .push([wipe, selfClaim]))
        _ = request(&net, "brussels", from: "asker", .push([ahead]))
        let hub = net.engines["brussels"]!
        XCTAssertEqual(hub.counters.opsRejected["gap-too-large"], 1)
        XCTAssertEqual(hub.counters.opsRejected["bad-context"], 1)
        XCTAssertEqual(hub.counters.opsWaited, 1, "a claim just ahead waits for its causal past")
        XCTAssertTrue(hub.waiting.contains(ahead.dot))
        XCTAssertFalse(hub.replica.holds(ahead.dot), "not held: its origin is not told it arrived")
        XCTAssertEqual(name(net, "brussels", "projects/catchmr", field: "title"), .string("CatchMR"))
        // The hub's later edit shows everywhere, as does a partner's.
        try net.write("brussels", "projects/catchmr", [.assign(field: "title", value: .string("CatchMR 2"))])
        net.run(milliseconds: 500)
        for n in everyone { XCTAssertEqual(name(net, n, "projects/catchmr", field: "title"), .string("CatchMR 2"), n) }
        XCTAssertEqual(net.digests(everyone).count, 1)
    }

    /// Causal delivery inside one Push: an op sent before the op it saw waits and applies in
    /// the same call, is relayed, and the Ack covers both.
    func testAnOpAheadOfItsCausalPastInOnePushAppliesRelaysAndIsAcknowledged() throws {
        var net = try secureFederation()
        let first = try net.write("brussels", "projects/catchmr", [.assign(field: "title", value: .string("CatchMR")),
                                                                   .add(field: "partners", element: "asker"), .add(field: "partners", element: "baerum")])
        // Two partners edit outside the federation (e.g. while offline, seen by each other).
        var a = Replica(id: ReplicaID(node: "asker", epoch: 7), wallClock: { 1_700_000_000_000 })
        a.signer = { [k = net.keys["asker"]!] in k.sign(WireCodec.canonicalBytes($0)) }
        var b = Replica(id: ReplicaID(node: "baerum", epoch: 7), wallClock: { 1_700_000_000_000 })
        b.signer = { [k = net.keys["baerum"]!] in k.sign(WireCodec.canonicalBytes($0)) }
        guard case .ops(let past) = net.engines["brussels"]!.replica.ops(since: VersionVector()) else { return XCTFail() }
        XCTAssertEqual(past.last, first)
        for o in past { try a.apply(o); try b.apply(o) }
        let fromA = try a.write(key("projects/catchmr"), [.assign(field: "title", value: .string("By asker"))])
        try b.apply(fromA)
        let fromB = try b.write(key("projects/catchmr"), [.assign(field: "title", value: .string("By baerum"))])
        let out = request(&net, "brussels", from: "baerum", .push([fromB, fromA]))
        let hub = net.engines["brussels"]!
        XCTAssertEqual(hub.counters.opsWaited, 1)
        XCTAssertTrue(hub.waiting.isEmpty, "released once its causal past applied")
        XCTAssertTrue(hub.counters.opsRejected.isEmpty, "\(hub.counters.opsRejected)")
        let relayed = out.compactMap { d -> Dot? in if case .relay(let o) = d { return o.op.dot } else { return nil } }
        XCTAssertEqual(relayed, [fromA.dot, fromB.dot], "relayed in causal order")
        XCTAssertTrue(acks(out).last!.covers(fromB.dot) && acks(out).last!.covers(fromA.dot))
        XCTAssertEqual(name(net, "brussels", "projects/catchmr", field: "title"), .string("By baerum"))
        XCTAssertTrue(hub.replica.conflicts().isEmpty)
        net.run(milliseconds: 500)
        XCTAssertEqual(net.digests(everyone).count, 1)
    }

    /// A live op whose causal past this node lacks waits; when a snapshot then brings that
    /// past (the hub had compacted it), the op applies without being fetched again.
    func testAWaitingOpAppliesOnceASnapshotBringsItsCausalPast() throws {
        var net = SimulatedNetwork()
        net.addNode("brussels", role: .hub)
        net.addNode("asker", role: .member, hubs: ["brussels"])
        net.down.insert("asker")
        for i in 1...3 { try net.write("brussels", "networks/eurocities", [.assign(field: "name", value: .string("Eurocities \(i)"))]) }
        let hub = net.engines["brussels"]!
        // Another member's edit that saw all three, arriving live before anything else.
        var oslo = Replica(id: ReplicaID(node: "oslo", epoch: 1), wallClock: { 1_700_000_000_000 })
        guard case .ops(let past) = hub.replica.ops(since: VersionVector()) else { return XCTFail() }
        for o in past { try oslo.apply(o) }
        let edit = try oslo.write(key("networks/eurocities"), [.assign(field: "name", value: .string("Eurocities network"))])
        var asker = net.engines["asker"]!
        _ = asker.onLinkMessage(.hub(0), .error(code: .snapshotRequired, message: "compacted"), now: net.now)
        _ = asker.onSubscription(.hub(0), .op(edit), now: net.now)
        XCTAssertTrue(asker.waiting.contains(edit.dot))
        let page = SnapshotPage(version: hub.replica.version, records: hub.replica.records.map { ($0.key, $0.value) },
                                lastKey: "networks/eurocities", done: true)
        let out = asker.onLinkMessage(.hub(0), .snapshotPage(page), now: net.now)
        XCTAssertTrue(asker.waiting.isEmpty)
        XCTAssertTrue(asker.replica.holds(edit.dot))
        XCTAssertEqual(asker.replica.view(key("networks/eurocities"))?.field("name")?.value, .string("Eurocities network"))
        XCTAssertTrue(out.contains { if case .persist(let ops, _) = $0 { return ops.contains { $0.op == edit } } else { return false } }, "and is persisted")
    }

    /// Issue 13, item 8: an op stamped 2^64-1 made every node stamp its next edits 0 (1970).
    func testAFarFutureStampIsRefusedAndLocalEditsKeepRealTime() throws {
        var net = try secureFederation()
        let asker = net.engines["asker"]!.replica.id
        let bomb = crafted(asker, counter: 1, hlc: .max, "organisations/asker", "Future", signer: net.keys["asker"]!)
        let tomorrow = crafted(asker, counter: 1, hlc: HLC(milliseconds: net.now + 2 * 86_400_000, logical: 0),
                               "organisations/asker", "Future", signer: net.keys["asker"]!)
        _ = request(&net, "brussels", from: "asker", .push([bomb]))
        _ = request(&net, "brussels", from: "asker", .push([tomorrow]))
        XCTAssertEqual(net.engines["brussels"]!.counters.opsRejected["clock-skew"], 2)
        let edit = try net.write("brussels", "organisations/brussels", [.assign(field: "name", value: .string("Brussels"))])
        XCTAssertGreaterThan(edit.hlc.milliseconds, 1_600_000_000_000, "not 1970")
        XCTAssertLessThan(edit.hlc.milliseconds, net.now + 86_400_000)
    }

    func testTheClockSkewIsConfigurable() throws {
        let base = "node_id = \"a\"\nlisten = \"tcp://127.0.0.1:7400\"\ninsecure = true\n"
        func load(_ extra: String) throws -> NodeConfig {
            try NodeConfig.from(try TOMLSubset.parse(base + extra), file: "t.toml", baseDir: "/tmp")
        }
        XCTAssertEqual(try load("").maxClockSkewSeconds, 86_400)
        let config = try load("max_clock_skew_seconds = 60\n")
        XCTAssertEqual(config.maxClockSkewSeconds, 60)
        XCTAssertThrowsError(try load("max_clock_skew_seconds = 0\n"))
        let engine = SyncEngine(config: config, replica: Replica(id: ReplicaID(node: "a", epoch: 1), wallClock: { 1_000_000 }))
        XCTAssertEqual(engine.replica.maxClockSkewMilliseconds, 60_000)
        var e = engine
        let o = crafted(ReplicaID(node: "b", epoch: 1), counter: 1, hlc: HLC(milliseconds: 1_000_000 + 61_000, logical: 0),
                        "organisations/b", "B", signer: try SigningKeyPair.generate())
        _ = e.onRequest(from: Array("b".utf8), .push([o]), now: 1_000_000)
        XCTAssertEqual(e.counters.opsRejected["clock-skew"], 1, "61 s ahead, 60 s allowed")
    }

    // MARK: amplification

    /// Issue 13, item 7: 200 unread SnapshotRequests grew the hub to 1.1 GB. Past a client's
    /// quota requests go unanswered and are counted; others are still served.
    func testRequestQuotasBoundTheWorkOneClientCanDemand() throws {
        var net = try secureFederation()
        for i in 0..<20 { try net.write("brussels", "networks/n\(i)", [.assign(field: "name", value: .string("N\(i)"))]) }
        var answered = 0
        for _ in 0..<200 {
            answered += request(&net, "brussels", from: "asker", .snapshotRequest(after: "", maxRecords: 0)).count
        }
        XCTAssertEqual(answered, RequestQuota.snapshotPages.burst)
        XCTAssertEqual(net.engines["brussels"]!.counters.requestsRefused["snapshot-quota"], UInt64(200 - RequestQuota.snapshotPages.burst))
        var pulls = 0
        for _ in 0..<500 { pulls += request(&net, "brussels", from: "asker", .pull(version: VersionVector(), maxOps: 0)).count }
        XCTAssertEqual(pulls, RequestQuota.pulls.burst)
        XCTAssertEqual(net.engines["brussels"]!.counters.requestsRefused["pull-quota"], UInt64(500 - RequestQuota.pulls.burst))
        // Another client is unaffected; the quota refills with time.
        XCTAssertEqual(request(&net, "brussels", from: "baerum", .snapshotRequest(after: "", maxRecords: 0)).count, 1)
        net.now += 500
        var later = 0
        for _ in 0..<200 { later += request(&net, "brussels", from: "asker", .snapshotRequest(after: "", maxRecords: 0)).count }
        XCTAssertEqual(later, RequestQuota.snapshotPages.perSecond / 2)
        // Honest catch-up is not slowed: a member's ordinary pulls stay far below the quota.
        try net.write("brussels", "networks/late", [.assign(field: "name", value: .string("Late"))])
        net.run(milliseconds: 1000)
        XCTAssertEqual(net.digests(everyone).count, 1)
    }

    // MARK: equivocation

    /// Issue 13, item 3: one dot signed twice with different contents. The second copy is
    /// evidence, counted, reported and kept; the first stays applied.
    func testASecondDifferentOpForAHeldDotIsRecordedAsEquivocation() throws {
        var net = try secureFederation()
        let asker = ReplicaID(node: "asker", epoch: 42), askerKey = net.keys["asker"]!
        let hlc = HLC(milliseconds: net.now, logical: 0)
        let one = crafted(asker, counter: 1, hlc: hlc, "organisations/asker", "One", signer: askerKey)
        let two = crafted(asker, counter: 1, hlc: hlc, "organisations/asker", "Two", signer: askerKey)
        var forged = two
        forged.signature = Array(repeating: 1, count: 64)
        _ = request(&net, "brussels", from: "asker", .push([one]))
        _ = request(&net, "brussels", from: "asker", .push([one, forged]))
        XCTAssertEqual(net.engines["brussels"]!.counters.equivocations, 0, "an identical copy or a forgery is no evidence")
        let out = request(&net, "brussels", from: "asker", .push([two]))
        let hub = net.engines["brussels"]!
        XCTAssertEqual(hub.counters.equivocations, 1)
        XCTAssertEqual(hub.evidence.count, 1)
        XCTAssertEqual(hub.evidence.first?.held, one)
        XCTAssertEqual(hub.evidence.first?.other, two)
        XCTAssertTrue(out.compactMap(\.event).contains(.equivocation(dot: one.dot, heldKey: one.key, otherKey: two.key)))
        XCTAssertEqual(name(net, "brussels", "organisations/asker"), .string("One"), "applied until the fork is settled")
        // At its next tick the hub settles the fork in the roster (MSP 5.9): the dot counts
        // nowhere, whichever version a node holds.
        net.run(milliseconds: 500)
        for n in everyone {
            XCTAssertEqual(net.engines[n]!.replica.record(key("nodes/asker"))?.set("forks").members, ["asker@2a=1"], n)
            XCTAssertNil(name(net, n, "organisations/asker"), n)
        }
        XCTAssertEqual(net.digests(everyone).count, 1)
    }

    /// A fork at `origin`'s first op: two validly signed versions of it, and the origin's
    /// next op, linked to the second version.
    func forkAtFirstOp(_ origin: ReplicaID, _ signer: SigningKeyPair, hlc: HLC, _ first: String, _ second: String) -> (Op, Op, next: Op) {
        let a = linked(crafted(origin, counter: 1, hlc: hlc, "organisations/\(origin.node)", first, signer: signer), to: OpChain.genesis, signer)
        let b = linked(crafted(origin, counter: 1, hlc: hlc, "organisations/\(origin.node)", second, signer: signer), to: OpChain.genesis, signer)
        let next = linked(crafted(origin, counter: 2, hlc: hlc, "organisations/\(origin.node)", field: "website", "https://\(origin.node).kommune.no",
                                  signer: signer), to: SyncEngine.chainHash(b), signer)
        return (a, b, next)
    }

    /// A received op is stored and relayed with the encoding its chain check made (encoded
    /// once), but never with the other version's when one batch carries two ops of one dot:
    /// every op stored or relayed carries its own bytes. (Debug builds also check each reused
    /// encoding as it is taken.)
    func testAForkedPairInOneBatchIsStoredAndRelayedEachWithItsOwnBytes() throws {
        var net = try secureFederation()
        let asker = ReplicaID(node: "asker", epoch: 42), askerKey = net.keys["asker"]!
        let (one, two, next) = forkAtFirstOp(asker, askerKey, hlc: HLC(milliseconds: net.now, logical: 0), "One", "Two")
        let out = request(&net, "brussels", from: "asker", .push([one, two, next]))
        var carried: [EncodedOp] = []
        for d in out {
            if case .persist(let ops, _) = d { carried += ops }
            if case .relay(let op) = d { carried.append(op) }
        }
        XCTAssertGreaterThanOrEqual(carried.count, 4, "the ops applied are stored and relayed")
        for e in carried { XCTAssertEqual(e.bytes, WireCodec.encodeOp(e.op), "\(e.op.dot) carries another op's bytes") }
    }

    /// A link that names `prev`, signed again (a member can sign anything with its key).
    func linked(_ op: Op, to prev: [UInt8], _ signer: SigningKeyPair) -> Op {
        var o = op
        o.prev = prev
        return signed(o, signer)
    }

    /// Issue 13, item 3, the way the issue found it: one dot signed twice, one version sent to
    /// the hub and the other to a member. The member sees the contradiction when the hub relays
    /// its version, sends the proof to the hub, and the hub settles the fork for everyone: the
    /// nodes end with equal digests and nothing of the forked dot, not with two states.
    func testAForkSentToTheHubAndToAMemberIsSettledAlikeEverywhere() throws {
        var net = try secureFederation()
        let asker = ReplicaID(node: "asker", epoch: 42), askerKey = net.keys["asker"]!
        let hlc = HLC(milliseconds: net.now, logical: 0)
        let one = linked(crafted(asker, counter: 1, hlc: hlc, "organisations/asker", "One", signer: askerKey), to: OpChain.genesis, askerKey)
        let two = linked(crafted(asker, counter: 1, hlc: hlc, "organisations/asker", "Two", signer: askerKey), to: OpChain.genesis, askerKey)
        _ = request(&net, "baerum", from: "asker", .push([two]))
        XCTAssertEqual(name(net, "baerum", "organisations/asker"), .string("Two"))
        net.route(from: "brussels", request(&net, "brussels", from: "asker", .push([one])))
        net.deliverAll()
        XCTAssertEqual(net.engines["baerum"]!.counters.equivocations, 1, "the relayed version contradicts the one baerum holds")
        XCTAssertEqual(net.engines["brussels"]!.counters.equivocations, 0, "the hub has seen one version only")
        net.run(milliseconds: 2000)
        XCTAssertEqual(net.engines["brussels"]!.counters.equivocations, 1, "baerum's proof reached the hub")
        XCTAssertEqual(net.engines["brussels"]!.evidence.first?.dot, one.dot)
        for n in everyone {
            let e = net.engines[n]!
            XCTAssertEqual(e.replica.record(key("nodes/asker"))?.set("forks").members, ["asker@2a=1"], n)
            XCTAssertNil(name(net, n, "organisations/asker"), "\(n): neither version counts")
            XCTAssertTrue(e.replica.holds(one.dot), n)
        }
        XCTAssertGreaterThanOrEqual(net.engines["baerum"]!.counters.opsRejected["equivocation"] ?? 0, 1)
        XCTAssertEqual(net.digests(everyone).count, 1)
    }

    /// Issue 13: ops are hash-chained, so a fork shows even when the two versions of a dot
    /// never meet: the next op links to a version the hub does not hold. The forked replica's
    /// ops from the fork on count nowhere, including ones sent after the settlement.
    func testAnOpLinkedToAnotherVersionOfItsPredecessorIsAFork() throws {
        var net = try secureFederation()
        let asker = ReplicaID(node: "asker", epoch: 7), askerKey = net.keys["asker"]!
        let hlc = HLC(milliseconds: net.now, logical: 0)
        let (first, _, second) = forkAtFirstOp(asker, askerKey, hlc: hlc, "First", "Hidden")
        net.route(from: "brussels", request(&net, "brussels", from: "asker", .push([first])))
        net.run(milliseconds: 500)
        XCTAssertEqual(name(net, "baerum", "organisations/asker"), .string("First"))
        net.route(from: "brussels", request(&net, "brussels", from: "asker", .push([second])))
        XCTAssertEqual(net.engines["brussels"]!.evidence.first?.dot, first.dot, "the fork is at the predecessor")
        net.run(milliseconds: 500)
        let third = linked(crafted(asker, counter: 3, hlc: hlc, "organisations/asker", "Third", signer: askerKey),
                           to: SyncEngine.chainHash(second), askerKey)
        net.route(from: "brussels", request(&net, "brussels", from: "asker", .push([third])))
        net.run(milliseconds: 500)
        for n in everyone {
            XCTAssertEqual(net.engines[n]!.replica.record(key("nodes/asker"))?.set("forks").members, ["asker@7=1"], n)
            XCTAssertNil(net.engines[n]!.replica.view(key("organisations/asker")), "\(n): nothing of the forked replica counts")
        }
        XCTAssertEqual(net.engines["brussels"]!.counters.opsRejected["equivocation"], 3, "first and second withheld, third refused")
        XCTAssertEqual(net.digests(everyone).count, 1)
        // A refused op is held only when it could apply somewhere: one too large for any record
        // is refused by its limit and not stored.
        let dot = Dot(asker, 4)
        var elements: [String: Register<Bool>] = [:]
        for e in 0..<(Limits.maxSetElements + 1) { elements["t\(e)"] = Register(siblings: [Sibling(dot: dot, hlc: hlc, value: true)], context: VersionVector()) }
        let exists = Register(siblings: [Sibling(dot: dot, hlc: hlc, value: Value.bool(true))], context: VersionVector())
        let huge = linked(Op(origin: asker, counter: 4, hlc: hlc, key: key("organisations/asker"),
                             fields: ["topics": .set(ORSet(elements: elements)), Record.existsField: .register(exists)]), to: SyncEngine.chainHash(third), askerKey)
        _ = request(&net, "brussels", from: "asker", .push([huge]))
        XCTAssertEqual(net.engines["brussels"]!.counters.opsRejected["too-many-elements"], 1)
        XCTAssertFalse(net.engines["brussels"]!.replica.holds(huge.dot))
    }

    /// Issue 18 with the chain: in a batch, a run of consecutive linked ops of one origin is
    /// authenticated by its last signature (the links hash each op whole, signature included),
    /// and an altered op breaks the run, so it is checked alone and refused.
    func testARunOfLinkedOpsIsAuthenticatedByItsLastSignatureAndAnAlteredOneIsNot() throws {
        var net = try secureFederation()
        let asker = ReplicaID(node: "asker", epoch: 7)
        let (ops, altered) = linkedContactRun(net)
        _ = request(&net, "brussels", from: "asker", .push(altered))
        var hub = net.engines["brussels"]!
        XCTAssertEqual(hub.counters.opsRejected["bad-signature"], 1, "the altered op, checked alone")
        XCTAssertFalse(hub.replica.holds(altered[9].dot))
        XCTAssertEqual(hub.counters.opsAuthenticatedByChain, 9 + 10, "ops 1-9 by op 9's signature, 11-20 by op 20's")
        XCTAssertEqual(hub.replica.keys(in: "contacts").filter { $0.id.hasPrefix("asker-") }.count, 19)
        // The genuine op arrives later: it links both ways, and the run is complete.
        _ = request(&net, "brussels", from: "asker", .push([ops[9]]))
        hub = net.engines["brussels"]!
        XCTAssertEqual(hub.replica.version[asker], 20)
        XCTAssertEqual(hub.evidence.count, 0, "no fork: the altered op was never held")
        XCTAssertEqual(name(net, "brussels", "contacts/asker-10"), .string("C10"))
    }

    /// Live ops a member reads together from its subscription are applied as one batch
    /// (`SyncEngine.onLiveOps`, as the reactor drains the socket): a relayed run is
    /// authenticated by its last signature as a pushed one is, an altered op in it is checked
    /// alone and refused, and the gap it leaves makes the member pull.
    func testLiveOpsReadTogetherAreAuthenticatedAsOneRun() throws {
        let net = try secureFederation()
        let asker = ReplicaID(node: "asker", epoch: 7)
        let (ops, altered) = linkedContactRun(net)
        var member = net.engines["baerum"]!
        let before = member.counters.opsAuthenticatedByChain
        let out = member.onLiveOps(.hub(0), altered, now: net.now)
        XCTAssertEqual(member.counters.opsRejected["bad-signature"], 1, "the altered op, checked alone")
        XCTAssertEqual(member.counters.opsAuthenticatedByChain - before, 9 + 10, "ops 1-9 by op 9's signature, 11-20 by op 20's")
        XCTAssertFalse(member.replica.holds(altered[9].dot))
        XCTAssertEqual(member.replica.version[asker], 9)
        XCTAssertTrue(out.contains { if case .send(.hub(0), .pull) = $0 { return true } else { return false } }, "the gap at op 10 is pulled")
        _ = member.onLiveOps(.hub(0), [ops[9]], now: net.now)
        XCTAssertEqual(member.replica.version[asker], 20)
        XCTAssertEqual(member.replica.record(key("contacts/asker-10"))?.register("name").winner?.value, .string("C10"))
    }

    /// Twenty linked contact ops of asker (its own contacts, each naming its organisation), and
    /// the same run with op 10 altered to another record under op 10's signature and link.
    func linkedContactRun(_ net: SimulatedNetwork) -> (ops: [Op], altered: [Op]) {
        let asker = ReplicaID(node: "asker", epoch: 7), askerKey = net.keys["asker"]!
        let hlc = HLC(milliseconds: net.now, logical: 0)
        var ops: [Op] = []
        var prev = OpChain.genesis
        for c in 1...20 {
            let op = linked(crafted(asker, counter: UInt64(c), hlc: hlc, "contacts/asker-\(c)", "C\(c)", signer: askerKey), to: prev, askerKey)
            let withOrganisation = op.fields.merging(["organisation": .register(Register(siblings: [Sibling(dot: op.dot, hlc: hlc, value: Value.string("asker"))], context: VersionVector()))]) { a, _ in a }
            let full = linked(Op(origin: asker, counter: op.counter, hlc: hlc, key: op.key, fields: withOrganisation), to: prev, askerKey)
            ops.append(full)
            prev = SyncEngine.chainHash(full)
        }
        var altered = ops
        let victim = ops[9]
        altered[9] = Op(origin: asker, counter: victim.counter, hlc: hlc, key: key("contacts/asker-altered"),
                        fields: victim.fields, signature: victim.signature, prev: victim.prev)
        return (ops, altered)
    }

    /// A chain, once begun, continues: an unchained op after a chained one is refused as
    /// malformed and not held, so it cannot occupy the dot.
    func testAnUnlinkedOpAfterALinkedOneIsRefused() throws {
        var net = try secureFederation()
        let asker = ReplicaID(node: "asker", epoch: 7), askerKey = net.keys["asker"]!
        let hlc = HLC(milliseconds: net.now, logical: 0)
        let first = linked(crafted(asker, counter: 1, hlc: hlc, "organisations/asker", "First", signer: askerKey), to: OpChain.genesis, askerKey)
        let loose = crafted(asker, counter: 2, hlc: hlc, "organisations/asker", "Loose", signer: askerKey)
        let wrongStart = linked(crafted(asker, counter: 1, hlc: hlc, "organisations/asker", "X", signer: askerKey), to: SyncEngine.chainHash(first), askerKey)
        _ = request(&net, "brussels", from: "asker", .push([first, loose]))
        let hub = net.engines["brussels"]!
        XCTAssertEqual(hub.counters.opsRejected["malformed"], 1)
        XCTAssertFalse(hub.replica.holds(loose.dot))
        XCTAssertEqual(name(net, "brussels", "organisations/asker"), .string("First"))
        XCTAssertThrowsError(try Replica(id: ReplicaID(node: "x", epoch: 1), wallClock: { 0 }).validate(wrongStart), "a first op links to nothing")
    }

    // MARK: limits at local writes

    /// Issue 13, item 6: a set of 5,000 elements made locally was accepted, then dropped by
    /// every receiver, so that member's later edits stopped replicating. The local write is
    /// refused with the reason instead, by the same limit receivers apply.
    func testLocalWritesObeyTheSameLimitsAsRemoteOps() throws {
        var net = try secureFederation()
        var asker = net.engines["asker"]!
        let many = (0..<(Limits.maxSetElements + 1)).map { FieldChange.add(field: "topics", element: "topic-\($0)") }
        XCTAssertThrowsError(try asker.localWrite(key("organisations/asker"), many, now: net.now)) { error in
            guard case .refused(.tooManyElements, let why)? = error as? ModelError else { return XCTFail("\(error)") }
            XCTAssertTrue(why.contains("topics"), why)
        }
        let batch = asker.localWriteBatch([(key("organisations/asker"), Array(many.prefix(10))), (key("organisations/asker"), many)], now: net.now)
        XCTAssertEqual(batch.ops.count, 0, "a batch is all or nothing")
        XCTAssertNil(batch.commit)
        XCTAssertEqual(batch.failure?.index, 1)
        let accepted = asker.localWriteBatch([(key("organisations/asker"), Array(many.prefix(10)))], now: net.now)
        XCTAssertEqual(accepted.ops.count, 1)
        net.engines["asker"] = asker
        net.route(from: "asker", try XCTUnwrap(accepted.commit).directives)
        net.deliverAll()
        net.run(milliseconds: 500)
        XCTAssertEqual(net.digests(everyone).count, 1, "what was accepted travels")
        XCTAssertEqual(net.engines["brussels"]!.replica.record(key("organisations/asker"))?.set("topics").elements.count, 10)
    }
}
