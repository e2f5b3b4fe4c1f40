import Foundation
import MemberSyncCrypto
import MemberSyncHarness
import MemberSyncModel
import MemberSyncWire
import XCTest
import ZeroMQ

/// Issue 13's adversarial run: a secure federation of real daemons (hub `brussels`, honest
/// members `asker` and `baerum`) runs a normal workload through the CLI while an admitted
/// member, `mallory`, whose real keys a crafted client uses, mixes every attack of the issue
/// at random for a bounded time. Afterwards honest nodes hold equal digests and every write
/// they acknowledged, stayed under an RSS bound, never crashed, and counted the hostile
/// traffic by reason.
///
/// Seeded: the seed is printed; `MEMBERSYNC_ADVERSARY_SEED=N` replays the same attack and
/// workload choices (timing still varies). `MEMBERSYNC_ADVERSARY_SECONDS` sets the duration.
final class AdversarialRunTests: FederationTestCase {
    let honest = ["brussels", "asker", "baerum"]
    let writers = ["asker", "baerum"]
    /// Every daemon must stay below this resident size for the whole run.
    let rssBound = 400 * 1024 * 1024

    /// Writes the CLI acknowledged (exit 0), per writer: record key → field → value.
    final class Acknowledged: @unchecked Sendable {
        private let lock = NSLock()
        private var writes: [String: [String: String]] = [:]
        private(set) var refused: [String] = []
        func record(_ key: String, _ fields: [String: String]) {
            lock.lock(); defer { lock.unlock() }
            writes[key, default: [:]].merge(fields) { $1 }
        }
        func refuse(_ what: String) { lock.lock(); refused.append(what); lock.unlock() }
        var all: [String: [String: String]] { lock.lock(); defer { lock.unlock() }; return writes }
        var refusals: [String] { lock.lock(); defer { lock.unlock() }; return refused }
    }

    enum Attack: String, CaseIterable {
        case counterBomb, claimEverything, claimOwnFuture, equivocate, mintEpochs, crowdOneRecord,
             oversizedSet, oversizedText, oversizedMessage, floodRequests, farFutureClock, garbage
    }

    func testAHostileMemberMixingEveryAttackIntoANormalWorkloadHarmsNoHonestNode() throws {
        let env = ProcessInfo.processInfo.environment
        let seed = env["MEMBERSYNC_ADVERSARY_SEED"].flatMap { UInt64($0) } ?? UInt64.random(in: 1...UInt64(UInt32.max))
        let seconds = env["MEMBERSYNC_ADVERSARY_SECONDS"].flatMap { Double($0) } ?? 20
        print("adversarial run: seed \(seed), \(Int(seconds)) s (replay with MEMBERSYNC_ADVERSARY_SEED=\(seed))")
        var rng = SeededRandom(seed: seed)

        try fed.initNode("brussels", hub: true, organisation: "oslo-region-european-office")
        for m in writers + ["mallory"] { try fed.initNode(m, hubs: ["brussels"]) }
        try fed.start("brussels")
        for m in writers + ["mallory"] { fed.admit(m) }
        for m in writers { try fed.start(m) }
        XCTAssertEqual(fed.on("brussels", "set", "projects/catchmr", "title=CatchMR", "partners+=asker").status, 0)
        XCTAssertNotNil(fed.converge(honest, timeout: 30), "the federation converges before the attack")
        let replicas = honest.compactMap { ReplicaID(parsing: fed.status($0)["replica"] as? String ?? "") }
        XCTAssertEqual(replicas.count, honest.count)

        let (sign, curve) = try fed.keys(of: "mallory")
        let context = try ZMQContext()
        // It reads nothing after its Welcome: every answer it provokes queues at the daemons.
        let toHub = try fed.rawDealer(context, identity: "mallory", key: curve, to: "brussels", receiveHighWaterMark: 1)
        let toPeer = try fed.rawDealer(context, identity: "mallory", key: curve, to: "asker", receiveHighWaterMark: 1)
        defer { toHub.close(); toPeer.close() }
        for s in [toHub, toPeer] {
            _ = try s.send(WireCodec.encode(Crafted.hello("mallory")))
            XCTAssertNotNil(try s.receive(), "an admitted key is welcomed by hub and member")
        }

        // The honest workload, one thread per writer, for the same time as the attack.
        let deadline = Date().addingTimeInterval(seconds)
        let acknowledged = Acknowledged()
        let group = DispatchGroup()
        for (index, node) in writers.enumerated() {
            let writerSeed = seed &+ UInt64(index + 1) &* 0x1000_0001
            let fed = self.fed!
            group.enter()
            Thread {
                defer { group.leave() }
                var wrng = SeededRandom(seed: writerSeed)
                var i = 0
                while Date() < deadline {
                    i += 1
                    let roll = Int.random(in: 0..<10, using: &wrng)
                    if roll < 7 {
                        let key = "contacts/\(node)-\(i)", name = "N\(i)-\(wrng.next() % 1000)"
                        let r = fed.on(node, "set", key, "name=\(name)", "organisation=\(node)")
                        if r.status == 0 { acknowledged.record(key, ["name": name]) } else { acknowledged.refuse("\(node) set \(key): \(r.stderr)") }
                    } else if roll < 9 {
                        let population = "\(Int.random(in: 1000...999_999, using: &wrng))"
                        let r = fed.on(node, "set", "organisations/\(node)", "population=\(population)")
                        if r.status == 0 { acknowledged.record("organisations/\(node)", ["population": population]) }
                        else { acknowledged.refuse("\(node) set population: \(r.stderr)") }
                    } else {
                        var lines = "", batch: [(String, String)] = []
                        for j in 0..<5 {
                            let key = "contacts/\(node)-\(i)-import-\(j)", name = "I\(i)-\(j)"
                            lines += "{\"key\":\"\(key)\",\"fields\":{\"name\":\"\(name)\",\"organisation\":\"\(node)\"}}\n"
                            batch.append((key, name))
                        }
                        let file = fed.root + "/\(node)-\(i).jsonl"
                        try? lines.write(toFile: file, atomically: true, encoding: .utf8)
                        let r = fed.on(node, "import", file)
                        if r.status == 0 { for (k, n) in batch { acknowledged.record(k, ["name": n]) } }
                        else { acknowledged.refuse("\(node) import: \(r.stderr)") }
                    }
                }
            }.start()
        }

        // The hostile client, on this thread, until the deadline.
        let me = ReplicaID(node: "mallory", epoch: 1)
        var counter: UInt64 = 0  // mallory@1's last dot handed out to an op meant to be held
        var nextEpoch: UInt32 = 1000  // minted one-op epochs; the crowd uses epochs 1...48
        var crowdCounters: [UInt32: UInt64] = [:]
        var round = 0
        var sent: [Attack: Int] = [:]
        var peakRSS: [String: Int] = [:]
        var crashed: Set<String> = []
        func now() -> HLC { HLC(milliseconds: UInt64(Date().timeIntervalSince1970 * 1000), logical: 0) }
        func push(_ s: ZMQSocket, _ ops: [Op]) throws { _ = try s.send(WireCodec.encode(.push(ops)), dontWait: true) }
        func contact(_ id: String, _ origin: ReplicaID, _ c: UInt64, _ name: String, context: VersionVector = VersionVector(), hlc: HLC? = nil) throws -> Op {
            let stamp = hlc ?? now()
            let dot = Dot(origin, c)
            return try Crafted.op(origin, counter: c, hlc: stamp, "contacts/\(id)", fields: [
                "name": .register(Register(siblings: [Sibling(dot: dot, hlc: stamp, value: Value.string(name))], context: context)),
                "organisation": .register(Register(siblings: [Sibling(dot: dot, hlc: stamp, value: Value.string("mallory"))], context: VersionVector())),
            ], signer: sign)
        }
        // Mallory's own replica speaks first, as a real node's does: its Hello registered
        // mallory@1 in the roster, so the attacks it signs (oversized values, forks) are
        // counted under their own reasons, and ops of every other epoch as unknown-origin.
        counter += 1
        try push(toHub, [try contact("mallory-first", me, counter, "First")])
        XCTAssertTrue(waitUntil(timeout: 10) {
            ((self.fed.status("brussels")["version"] as? [String: Any])?[me.description] as? Int ?? 0) >= 1
        }, "the hub holds mallory's first op before the attack begins")
        var lastSample = Date.distantPast
        var forksSent = 0
        while Date() < deadline {
            round += 1
            let attack = Attack.allCases.randomElement(using: &rng)!
            sent[attack, default: 0] += 1
            switch attack {
            case .counterBomb:
                let bomb: UInt64 = Bool.random(using: &rng) ? 1 << 63 : 30_000_000
                try push(toHub, [try contact("mallory-bomb", me, bomb, "Bomb")])
            case .claimEverything:
                // Contexts claiming every replica's future, to retire the hub's title.
                var claims = VersionVector([me: counter + 1])
                for r in replicas { claims[r] = 1 << 62 }
                try push(toHub, [try Crafted.op(me, counter: counter + 1, hlc: now(), "projects/catchmr", "title", "Wiped", context: claims, signer: sign)])
            case .claimOwnFuture:
                try push(toHub, [try contact("mallory-ahead", me, counter + 1, "Ahead", context: VersionVector([me: counter + 1_000]))])
            case .equivocate:
                // One dot, two contents, one to the hub and the other to the peer at the same
                // time: each relays its version, the nodes see the contradiction and the hub
                // settles the fork in the roster for everyone (MSP 5.9).
                counter += 1
                let id = "mallory-fork-\(round)"
                try push(toHub, [try contact(id, me, counter, "Fork A")])
                try push(toPeer, [try contact(id, me, counter, "Fork B")])
                forksSent += 1
            case .mintEpochs:
                var ops: [Op] = []
                for _ in 0..<8 {
                    ops.append(try contact("mallory-epoch-\(nextEpoch)", ReplicaID(node: "mallory", epoch: nextEpoch), 1, "Epoch \(nextEpoch)"))
                    nextEpoch += 1
                }
                try push(toHub, ops)
            case .crowdOneRecord:
                // Many concurrent values of one field: one writer per epoch, none has seen the
                // others (a replica's own later write supersedes its earlier one, so only many
                // replica ids make siblings; their number is bounded per node).
                var ops: [Op] = []
                let hlc = now()
                for e in 1...UInt32(Limits.maxSiblings + 16) {
                    let c: UInt64
                    if e == 1 { counter += 1; c = counter } else { c = (crowdCounters[e] ?? 0) + 1; crowdCounters[e] = c }
                    ops.append(try contact("mallory-crowd-\(round)", ReplicaID(node: "mallory", epoch: e), c, "Crowd \(e)", hlc: hlc))
                }
                try push(toHub, ops)
            case .oversizedSet:
                var elements: [String: Register<Bool>] = [:]
                let dot = Dot(me, counter + 1), hlc = now()
                for e in 0..<(Limits.maxSetElements + 100) {
                    let text = String(e) + String(repeating: "t", count: Limits.maxElementBytes - 8)
                    elements[text] = Register(siblings: [Sibling(dot: dot, hlc: hlc, value: true)], context: VersionVector())
                }
                try push(toHub, [try Crafted.op(me, counter: counter + 1, hlc: hlc, "organisations/mallory", fields: ["topics": .set(ORSet(elements: elements))], signer: sign)])
            case .oversizedText:
                try push(toHub, [try contact("mallory-long", me, counter + 1, String(repeating: "x", count: Limits.maxTextBytes + 1))])
            case .oversizedMessage:
                // Above the 8 MiB message limit: libzmq drops that connection, so a fresh one.
                let huge = try fed.rawDealer(context, identity: "mallory-huge-\(round)", key: curve)
                _ = try huge.send([Array("MSP/1".utf8), [UInt8](repeating: 0x0a, count: 9 * 1024 * 1024)], dontWait: true)
                usleep(100_000)
                huge.close()
            case .floodRequests:
                let snapshot = WireCodec.encode(.snapshotRequest(after: "", maxRecords: 0))
                let pull = WireCodec.encode(.pull(version: VersionVector(), maxOps: 0))
                for s in [toHub, toPeer] {
                    for _ in 0..<60 { _ = try s.send(snapshot, dontWait: true); _ = try s.send(pull, dontWait: true) }
                }
            case .farFutureClock:
                try push(toHub, [try contact("mallory-future", me, counter + 1, "Future", hlc: .max)])
                try push(toPeer, [try contact("mallory-future", me, counter + 1, "Future", hlc: .max)])
            case .garbage:
                for s in [toHub, toPeer] {
                    _ = try s.send([Array("garbage".utf8)], dontWait: true)
                    _ = try s.send([Array("MSP/1".utf8), [0xff, 0xff, 0xff, 0x01]], dontWait: true)
                    _ = try s.send([Array("MSP/9".utf8), [], [], []], dontWait: true)
                }
            }
            if Date().timeIntervalSince(lastSample) > 0.5 {
                lastSample = Date()
                for n in honest {
                    if fed.processes[n]?.isRunning != true { crashed.insert(n) }
                    peakRSS[n] = max(peakRSS[n] ?? 0, fed.residentBytes(n))
                }
            }
            usleep(UInt32.random(in: 5_000...40_000, using: &rng))
        }
        XCTAssertEqual(group.wait(timeout: .now() + 40), .success, "the honest writers finished")
        print("adversarial run: \(round) attacks \(sent.map { "\($0.key.rawValue)=\($0.value)" }.sorted()), "
              + "\(acknowledged.all.count) records written and acknowledged, \(acknowledged.refusals.count) writes refused")

        // No daemon crashed, none grew past the bound.
        for n in honest {
            XCTAssertFalse(crashed.contains(n), "\(n) stopped during the run; log:\n\(fed.log(n).suffix(2000))")
            XCTAssertTrue(fed.isRunning(n), "\(n) is still running")
            peakRSS[n] = max(peakRSS[n] ?? 0, fed.residentBytes(n))
            XCTAssertGreaterThan(peakRSS[n] ?? 0, 0, "RSS of \(n) was read")
            XCTAssertLessThan(peakRSS[n] ?? 0, rssBound, "\(n) peaked at \((peakRSS[n] ?? 0) >> 20) MiB")
        }
        print("adversarial run: peak RSS \(peakRSS.map { "\($0.key)=\($0.value >> 20) MiB" }.sorted())")
        // Honest CLI writes were all accepted (none is within what the run makes hostile).
        XCTAssertEqual(acknowledged.refusals, [], "honest writes refused")
        XCTAssertGreaterThan(acknowledged.all.count, 10, "the honest workload ran")

        // Honest nodes converge and hold every acknowledged write.
        let digest = fed.converge(honest, timeout: 30)
        if digest == nil, let dir = ProcessInfo.processInfo.environment["MEMBERSYNC_DEBUG_DUMP"] {
            for n in honest { try? fed.on(n, "export").stdout.write(toFile: "\(dir)/\(n).jsonl", atomically: true, encoding: .utf8) }
        }
        XCTAssertNotNil(digest, "honest nodes converge: \(honest.map { "\($0)=\(fed.digest($0) ?? "?")" })")
        for n in honest {
            let contacts = fed.on(n, "list", "contacts", "--json").json as? [[String: Any]] ?? []
            var held: [String: [String: Any]] = [:]
            for c in contacts { if let k = c["key"] as? String { held[k] = c["fields"] as? [String: Any] ?? [:] } }
            var missing: [String] = []
            for (key, fields) in acknowledged.all {
                let have: [String: Any]
                if key.hasPrefix("contacts/") {
                    have = held[key] ?? [:]
                } else {
                    have = (fed.on(n, "get", key, "--json").json as? [String: Any])?["fields"] as? [String: Any] ?? [:]
                }
                for (f, v) in fields where "\(have[f] ?? "")" != v { missing.append("\(key).\(f)=\(v) (has \(have[f] ?? "nothing"))") }
            }
            XCTAssertEqual(missing, [], "\(n) lacks acknowledged writes")
            let title = (fed.on(n, "get", "projects/catchmr", "--json").json as? [String: Any])?["fields"] as? [String: Any]
            XCTAssertEqual(title?["title"] as? String, "CatchMR", "\(n): nothing retired the title")
        }

        // The hostile traffic is counted by reason where it was sent.
        let hub = fed.status("brussels"), peer = fed.status("asker")
        let rejected = hub["ops_rejected"] as? [String: Int] ?? [:]
        let peerRejected = peer["ops_rejected"] as? [String: Int] ?? [:]
        print("adversarial run: hub ops_rejected \(rejected), requests_refused \(hub["requests_refused"] ?? ""), "
              + "messages_dropped \(hub["messages_dropped"] ?? ""), equivocations hub \(hub["equivocations"] ?? "") asker \(peer["equivocations"] ?? "")")
        func expect(_ attack: Attack, _ counts: [String: Int], _ reason: String) {
            guard (sent[attack] ?? 0) > 0 else { return }
            XCTAssertGreaterThan(counts[reason] ?? 0, 0, "\(attack.rawValue) sent \(sent[attack]!) times, counted as \(reason): \(counts)")
        }
        expect(.counterBomb, rejected, "gap-too-large")
        expect(.claimEverything, rejected, "gap-too-large")
        expect(.claimOwnFuture, rejected, "bad-context")
        expect(.farFutureClock, rejected, "clock-skew")
        expect(.farFutureClock, peerRejected, "clock-skew")
        // mallory's Hello registered mallory@1 (MSP 11.2): every other epoch is unknown.
        expect(.crowdOneRecord, rejected, "unknown-origin")
        expect(.oversizedSet, rejected, "too-many-elements")
        expect(.oversizedText, rejected, "schema")
        expect(.mintEpochs, rejected, "unknown-origin")
        expect(.floodRequests, hub["requests_refused"] as? [String: Int] ?? [:], "snapshot-quota")
        expect(.floodRequests, hub["requests_refused"] as? [String: Int] ?? [:], "pull-quota")
        expect(.floodRequests, peer["requests_refused"] as? [String: Int] ?? [:], "snapshot-quota")
        if forksSent > 0 {
            XCTAssertGreaterThan(hub["equivocations"] as? Int ?? 0, 0, "the hub records the second op for a dot as equivocation")
            XCTAssertGreaterThan(peer["equivocations"] as? Int ?? 0, 0, "so does the peer")
            // Settled alike on every honest node: the roster names the fork, and the converged
            // digests above show no node kept a version of its own.
            for n in honest {
                let forks = ((fed.on(n, "get", "nodes/mallory", "--json").json as? [String: Any])?["fields"] as? [String: Any])?["forks"] as? [String]
                XCTAssertGreaterThanOrEqual(forks?.count ?? 0, 1, "\(n): a fork voids mallory@1 from there on: \(forks ?? [])")
            }
        }
        if (sent[.garbage] ?? 0) > 0 {
            let dropped = hub["messages_dropped"] as? [String: Int] ?? [:]
            XCTAssertGreaterThan(dropped.filter { !["impersonation", "revoked", "no_routing_id"].contains($0.key) }.values.reduce(0, +), 0, "\(dropped)")
        }
        XCTAssertEqual(Set(sent.keys).count, Attack.allCases.count, "a run this long sends every attack: \(sent)")
        XCTAssertGreaterThan(forksSent, 0, "both halves of an equivocation were sent")
    }
}
