import MemberSyncHarness
import XCTest
import MemberSyncCrypto
import MemberSyncModel
import MemberSyncWire
@testable import MemberSyncEngine
@testable import MemberSyncNode

/// Signed ops and write authorisation in the sync engine: every node verifies the origin's
/// Ed25519 signature and the write rules before applying a remote op.
final class SecurityTests: XCTestCase {
    let members = ["asker", "baerum"]
    let everyone = ["brussels", "asker", "baerum"]

    /// A secure federation: the hub's key is configured at every member; `admit` lists members
    /// the hub operator puts into the roster before anything else happens.
    func secureFederation(admit: [String]) throws -> SimulatedNetwork {
        var net = SimulatedNetwork()
        net.addNode("brussels", role: .hub, secure: true, organisation: "oslo-region-european-office")
        for m in members { net.addNode(m, role: .member, hubs: ["brussels"], secure: true) }
        for m in admit { try self.admit(&net, m) }
        net.run(milliseconds: 500)
        return net
    }

    /// Admits `m` with its engine's replica id and the epochs `craft` uses registered (MSP
    /// 11.2), so the crafted ops here are judged on their signatures and rules.
    func admit(_ net: inout SimulatedNetwork, _ m: String) throws {
        let epochs = [net.engines[m]!.replica.id] + (95...99).map { ReplicaID(node: m, epoch: $0) }
        try net.write("brussels", "nodes/\(m)", [
            .assign(field: "organisation", value: .string(m)), .assign(field: "role", value: .string("member")),
            .assign(field: "signing_key", value: .string(Hex.encode(net.keys[m]!.publicKey))),
        ] + epochs.map { .add(field: "epochs", element: $0.description) })
    }

    func key(_ s: String) -> RecordKey { try! RecordKey(parsing: s) }
    func name(_ s: String) -> [FieldChange] { [.assign(field: "name", value: .string(s))] }

    /// Ops made outside any engine, as a hostile node would: signed with `signer`'s key (or
    /// not at all) under `origin`'s replica id, bypassing the local write check.
    func craft(origin: String, epoch: UInt32 = 99, signer: SigningKeyPair?, _ k: String, _ changes: [FieldChange]) throws -> Op {
        var r = Replica(id: ReplicaID(node: origin, epoch: epoch), wallClock: { 1_700_000_000_000 })
        if let signer { r.signer = { signer.sign(WireCodec.canonicalBytes($0)) } }
        return try r.write(key(k), changes)
    }

    func pushToHub(_ net: inout SimulatedNetwork, from: String, _ ops: [Op]) -> [Directive] {
        var hub = net.engines["brussels"]!
        let out = hub.onRequest(from: Array(from.utf8), .push(ops), now: net.now)
        net.engines["brussels"] = hub
        return out
    }

    func testSignedOwnWritesReplicateAndEveryOpCarriesAValidSignature() throws {
        var net = try secureFederation(admit: members)
        try net.write("asker", "organisations/asker", name("Asker kommune"))
        try net.write("asker", "contacts/kari", [.assign(field: "name", value: .string("Kari")), .assign(field: "organisation", value: .string("asker"))])
        try net.write("brussels", "projects/catchmr", [.assign(field: "title", value: .string("CatchMR")), .add(field: "partners", element: "baerum")])
        try net.write("baerum", "projects/catchmr", [.assign(field: "status", value: .string("running"))])
        net.run(milliseconds: 500)
        XCTAssertEqual(net.digests(everyone).count, 1)
        XCTAssertEqual(net.engines["baerum"]!.replica.view(key("organisations/asker"))?.fields.first { $0.name == "name" }?.value, .string("Asker kommune"))
        let hub = net.engines["brussels"]!
        for m in members { XCTAssertTrue(hub.replica.holds(Dot(net.engines[m]!.replica.id, 1)) || m == "asker") }
        guard case .ops(let all) = hub.replica.ops(since: VersionVector()) else { return XCTFail("log") }
        for op in all {
            let signer = net.keys[op.origin.node]!
            XCTAssertTrue(SigningKeyPair.verify(signature: op.signature, message: WireCodec.canonicalBytes(op), publicKey: signer.publicKey), "\(op.dot)")
        }
        XCTAssertTrue(net.rejected.isEmpty, "\(net.rejected)")
    }

    func testLocalWritesThatBreakTheRulesAreRefusedWithAClearMessage() throws {
        var net = try secureFederation(admit: members)
        var asker = net.engines["asker"]!
        let refusals: [(String, [FieldChange], String)] = [
            ("organisations/baerum", name("Not mine"), "only its own organisation record"),
            ("contacts/ola", [.assign(field: "name", value: .string("Ola")), .assign(field: "organisation", value: .string("baerum"))], "contacts whose organisation is asker"),
            ("contacts/ola", name("Ola"), "contacts whose organisation is asker"),
            ("projects/other", [.assign(field: "title", value: .string("Other"))], "projects asker leads or partners in"),
            ("networks/eurocities", name("Eurocities"), "only the hub operator writes networks"),
            ("nodes/asker", [.assign(field: "role", value: .string("hub"))], "only the hub operator writes nodes"),
        ]
        for (k, changes, expected) in refusals {
            XCTAssertThrowsError(try asker.localWrite(key(k), changes, now: net.now), k) { error in
                guard case ModelError.unauthorised(let why)? = error as? ModelError else { return XCTFail("\(error)") }
                XCTAssertTrue(why.contains(expected), "'\(why)' should say \(expected)")
                XCTAssertTrue("\(error)".hasPrefix("not allowed: "))
            }
        }
        XCTAssertEqual(asker.replica.version[asker.replica.id], 0, "nothing was applied or numbered")
        // Leading a project it creates is allowed; so is the hub operator writing anything.
        XCTAssertNoThrow(try asker.localWrite(key("projects/own"), [.assign(field: "lead", value: .string("asker"))], now: net.now))
        net.engines["asker"] = asker
        XCTAssertNoThrow(try net.write("brussels", "organisations/baerum", name("Bærum kommune")))
    }

    func refusal(_ body: () throws -> Void, _ expected: String, file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertThrowsError(try body(), file: file, line: line) { error in
            guard case ModelError.unauthorised(let why)? = error as? ModelError else { return XCTFail("\(error)", file: file, line: line) }
            XCTAssertTrue(why.contains(expected), "'\(why)' should say \(expected)", file: file, line: line)
        }
    }

    func value(_ net: SimulatedNetwork, _ node: String, _ k: String, _ field: String) -> Value? {
        net.engines[node]!.replica.view(key(k))?.field(field)?.value
    }

    func members(_ net: SimulatedNetwork, _ node: String, _ k: String, _ field: String) -> [String] {
        net.engines[node]!.replica.view(key(k))?.field(field)?.members ?? []
    }

    /// The lead and the hub operator change `lead` and `partners`; a partner edits the rest
    /// and may only remove itself; a member creates a project only with itself as lead. The
    /// same rules refuse a crafted remote op that bypasses the local check.
    func testOnlyTheLeadOrTheHubChangesLeadAndPartnersAndAPartnerMayOnlyLeave() throws {
        var net = try secureFederation(admit: members)
        try net.write("brussels", "projects/catchmr", [.assign(field: "title", value: .string("CatchMR")),
                                                       .assign(field: "lead", value: .string("baerum")), .add(field: "partners", element: "asker")])
        net.run(milliseconds: 300)
        refusal({ try net.write("asker", "projects/catchmr", [.assign(field: "lead", value: .string("asker")), .assign(field: "status", value: .string("closed"))]) },
                "only the lead (baerum) or the hub operator changes the lead")
        refusal({ try net.write("asker", "projects/catchmr", [.add(field: "partners", element: "hamar")]) }, "a partner may only remove itself")
        refusal({ try net.write("asker", "projects/catchmr", [.remove(field: "partners", element: "baerum")]) }, "a partner may only remove itself")
        refusal({ var e = net.engines["asker"]!; _ = try e.localDelete(key("projects/catchmr"), now: net.now) }, "deletes projects/catchmr")
        refusal({ try net.write("asker", "projects/new", [.assign(field: "title", value: .string("New"))]) }, "creates a project only with itself as lead")
        refusal({ try net.write("asker", "projects/new", [.assign(field: "lead", value: .string("baerum"))]) }, "creates a project only with itself as lead")
        try net.write("asker", "projects/catchmr", [.assign(field: "status", value: .string("running"))])
        try net.write("asker", "projects/new", [.assign(field: "lead", value: .string("asker")), .add(field: "partners", element: "baerum")])
        // The lead adds a partner and hands the lead over; then it is a member like any other.
        try net.write("baerum", "projects/catchmr", [.add(field: "partners", element: "hamar")])
        try net.write("baerum", "projects/catchmr", [.assign(field: "lead", value: .string("asker"))])
        net.run(milliseconds: 300)
        refusal({ try net.write("baerum", "projects/catchmr", [.assign(field: "title", value: .string("Mine"))]) }, "leads or partners in")
        try net.write("asker", "projects/catchmr", [.remove(field: "partners", element: "asker"), .add(field: "partners", element: "baerum")])
        // A partner leaves; afterwards it may not write the project.
        try net.write("baerum", "projects/new", [.remove(field: "partners", element: "baerum")])
        net.run(milliseconds: 300)
        refusal({ try net.write("baerum", "projects/new", [.assign(field: "status", value: .string("idea"))]) }, "leads or partners in")
        XCTAssertEqual(net.digests(everyone).count, 1)
        XCTAssertEqual(value(net, "brussels", "projects/catchmr", "lead"), .string("asker"))
        XCTAssertEqual(value(net, "brussels", "projects/catchmr", "status"), .string("running"))
        XCTAssertEqual(members(net, "brussels", "projects/catchmr", "partners"), ["baerum", "hamar"])
        XCTAssertEqual(members(net, "brussels", "projects/new", "partners"), [])
        XCTAssertTrue(net.rejected.isEmpty, "\(net.rejected)")
        // A hostile asker bypasses its own check: every node refuses the op.
        let takeover = try craft(origin: "asker", signer: net.keys["asker"]!, "projects/new-one", [.assign(field: "lead", value: .string("baerum"))])
        let grab = try craft(origin: "baerum", epoch: 98, signer: net.keys["baerum"]!, "projects/catchmr",
                             [.assign(field: "lead", value: .string("baerum"))])
        _ = pushToHub(&net, from: "asker", [takeover, grab])
        XCTAssertEqual(net.engines["brussels"]!.counters.opsRejected["unauthorised"], 2)
        XCTAssertEqual(value(net, "brussels", "projects/catchmr", "lead"), .string("asker"))
    }

    /// A member writes contacts of its own organisation; only the hub operator moves one.
    func testOnlyTheHubOperatorMovesAContactToAnotherOrganisation() throws {
        var net = try secureFederation(admit: members)
        try net.write("asker", "contacts/kari", [.assign(field: "name", value: .string("Kari")), .assign(field: "organisation", value: .string("asker"))])
        net.run(milliseconds: 300)
        refusal({ try net.write("asker", "contacts/kari", [.assign(field: "organisation", value: .string("baerum"))]) },
                "only the hub operator moves contacts between organisations")
        refusal({ try net.write("baerum", "contacts/kari", [.assign(field: "organisation", value: .string("baerum"))]) },
                "contacts whose organisation is baerum")
        let crafted = try craft(origin: "asker", signer: net.keys["asker"]!, "contacts/kari", [.assign(field: "organisation", value: .string("baerum"))])
        _ = pushToHub(&net, from: "asker", [crafted])
        XCTAssertEqual(net.engines["brussels"]!.counters.opsRejected["unauthorised"], 1)
        try net.write("brussels", "contacts/kari", [.assign(field: "organisation", value: .string("baerum"))])
        net.run(milliseconds: 300)
        try net.write("baerum", "contacts/kari", [.assign(field: "role", value: .string("Adviser"))])
        refusal({ try net.write("asker", "contacts/kari", [.assign(field: "role", value: .string("Gone"))]) }, "contacts whose organisation is asker")
        net.run(milliseconds: 300)
        XCTAssertEqual(net.digests(everyone).count, 1)
        XCTAssertEqual(value(net, "asker", "contacts/kari", "role"), .string("Adviser"))
    }

    func testForgedAlteredReplayedUnauthorisedAndMalformedOpsAreDroppedCountedAndReported() throws {
        var net = try secureFederation(admit: members)
        let askerKey = net.keys["asker"]!, baerumKey = net.keys["baerum"]!
        let honest = try craft(origin: "asker", signer: askerKey, "organisations/asker", name("Asker"))
        let forged = try craft(origin: "baerum", signer: askerKey, "organisations/baerum", name("Forged by asker"))
        var altered = try craft(origin: "baerum", epoch: 98, signer: baerumKey, "organisations/baerum", name("Bærum"))
        altered = Op(origin: altered.origin, counter: altered.counter, hlc: altered.hlc, key: key("organisations/asker"),
                     fields: altered.fields, signature: altered.signature)
        let unsigned = try craft(origin: "asker", epoch: 97, signer: nil, "organisations/asker", name("Unsigned"))
        let unauthorised = try craft(origin: "asker", epoch: 96, signer: askerKey, "organisations/baerum", name("Mine now"))
        let stranger = try craft(origin: "mallory", signer: SigningKeyPair.generate(), "organisations/mallory", name("Mallory"))
        let template = try craft(origin: "asker", epoch: 95, signer: nil, "organisations/asker", name("x"))
        var badSchema = Op(origin: template.origin, counter: 1, hlc: template.hlc, key: template.key, fields: [
            "population": .register(Register(siblings: [Sibling(dot: template.dot, hlc: template.hlc, value: .string("many"))], context: VersionVector())),
        ])
        badSchema.signature = askerKey.sign(WireCodec.canonicalBytes(badSchema))
        let out = pushToHub(&net, from: "asker", [honest, forged, altered, unsigned, unauthorised, stranger, badSchema, honest])
        let hub = net.engines["brussels"]!
        XCTAssertTrue(hub.replica.holds(honest.dot))
        for bad in [forged, altered, unsigned, stranger, badSchema] {
            XCTAssertFalse(hub.replica.holds(bad.dot), "\(bad.dot) must not be applied")
        }
        // Validly signed and refused by the rules: held without effect, so that every node
        // holds it alike and nobody fetches it again.
        XCTAssertTrue(hub.replica.holds(unauthorised.dot) && hub.replica.withheld.contains(unauthorised.dot))
        XCTAssertEqual(hub.counters.opsRejected, ["bad-signature": 3, "unauthorised": 1, "unknown-origin": 1, "schema": 1])
        XCTAssertEqual(hub.counters.opsDuplicate, 1, "the replayed op is a harmless duplicate")
        let reported = out.compactMap { d -> String? in if case .event(.opRejected(_, _, _, let reason, _)) = d { return reason.rawValue } else { return nil } }
        XCTAssertEqual(reported.count, 6)
        // The push is still acknowledged and the honest op relayed: the stream goes on.
        XCTAssertTrue(out.contains { if case .reply(_, .ack) = $0 { return true } else { return false } })
        XCTAssertEqual(out.filter { if case .relay = $0 { return true } else { return false } }.count, 2, "the honest op and the held refused one")
        XCTAssertEqual(hub.replica.view(key("organisations/asker"))?.fields.first { $0.name == "name" }?.value, .string("Asker"))
        XCTAssertNil(hub.replica.view(key("organisations/baerum")))
        // A member verifies too: a forged op relayed by a hostile peer on its SUB is dropped.
        var baerum = net.engines["baerum"]!
        _ = baerum.onSubscription(.hub(0), .op(forged), now: net.now)
        XCTAssertFalse(baerum.replica.holds(forged.dot))
        XCTAssertEqual(baerum.counters.opsRejected["bad-signature"], 1)
    }

    func testOpsOfANotYetAdmittedNodeAreFetchedAgainOnceTheRosterAdmitsIt() throws {
        var net = try secureFederation(admit: [])
        // asker edits before the hub operator admitted it: the hub refuses but does not hold it.
        try net.write("asker", "organisations/asker", name("Asker"))
        net.run(milliseconds: 500)
        XCTAssertGreaterThan(net.engines["brussels"]!.counters.opsRejected["unknown-origin"] ?? 0, 0)
        XCTAssertEqual(net.engines["asker"]!.pendingCount, 1)
        try admit(&net, "asker")
        try admit(&net, "baerum")
        net.run(milliseconds: 2500)
        XCTAssertEqual(net.digests(everyone).count, 1)
        XCTAssertNotNil(net.engines["baerum"]!.replica.view(key("organisations/asker")))
        XCTAssertEqual(net.engines["asker"]!.pendingCount, 0)
    }

    func testRosterAndMemberOpsInOneBatchApplyEvenWhenTheMemberOpComesFirst() throws {
        var net = try secureFederation(admit: members)
        try net.write("asker", "organisations/asker", name("Asker"))
        net.run(milliseconds: 300)
        // A newcomer catching up by Pull gets asker's op (replica-id order) before brussels' roster.
        net.addNode("hamar", role: .member, hubs: ["brussels"], secure: true)
        net.run(milliseconds: 1000)
        XCTAssertEqual(net.digests(everyone + ["hamar"]).count, 1)
        XCTAssertEqual(net.engines["hamar"]!.counters.opsRejected, [:])
    }

    func testARevokedNodesLaterOpsAreRejectedEverywhere() throws {
        var net = try secureFederation(admit: members)
        try net.write("asker", "organisations/asker", name("Asker"))
        net.run(milliseconds: 300)
        try net.write("brussels", "nodes/asker", [.assign(field: "revoked", value: .bool(true))])
        net.run(milliseconds: 300)
        // A copy of asker's key keeps signing, e.g. on a stolen laptop.
        let late = try craft(origin: "asker", signer: net.keys["asker"]!, "organisations/asker", name("Stolen"))
        // Relayed by another node: asker itself is not even answered any more.
        XCTAssertTrue(pushToHub(&net, from: "asker", [late]).isEmpty)
        _ = pushToHub(&net, from: "baerum", [late])
        var baerum = net.engines["baerum"]!
        _ = baerum.onSubscription(.hub(0), .op(late), now: net.now)
        net.engines["baerum"] = baerum
        for n in ["brussels", "baerum"] {
            XCTAssertTrue(net.engines[n]!.replica.withheld.contains(late.dot), n)
            XCTAssertEqual(net.engines[n]!.counters.opsRejected["revoked"], 1, n)
            XCTAssertEqual(net.engines[n]!.replica.view(key("organisations/asker"))?.fields.first { $0.name == "name" }?.value, .string("Asker"), "earlier ops stay")
        }
    }

    /// A member's signed op carrying a terminal escape sequence reaches nobody's screen: every
    /// node refuses it as a schema violation, and the local write is refused with the reason.
    func testValuesWithControlCharactersAreRefusedLocallyAndRemotely() throws {
        var net = try secureFederation(admit: members)
        XCTAssertThrowsError(try net.write("asker", "organisations/asker", name("\u{1B}]0;pwned\u{7}Asker"))) { error in
            XCTAssertTrue("\(error)".contains("control character U+001B (ESC)"), "\(error)")
        }
        let template = try craft(origin: "asker", signer: nil, "organisations/asker", name("x"))
        var hostile = Op(origin: template.origin, counter: 1, hlc: template.hlc, key: template.key, fields: [
            "name": .register(Register(siblings: [Sibling(dot: template.dot, hlc: template.hlc, value: .string("\u{1B}[2J\u{1B}[31mAsker"))], context: VersionVector())),
        ])
        hostile.signature = net.keys["asker"]!.sign(WireCodec.canonicalBytes(hostile))
        let out = pushToHub(&net, from: "asker", [hostile])
        XCTAssertFalse(net.engines["brussels"]!.replica.holds(hostile.dot))
        XCTAssertEqual(net.engines["brussels"]!.counters.opsRejected, ["schema": 1])
        XCTAssertTrue(out.contains { if case .event(.opRejected(_, _, _, .schema, let detail)) = $0 { return detail.contains("control character") } else { return false } })
        XCTAssertNil(net.engines["brussels"]!.replica.view(key("organisations/asker")))
    }

    /// With the hub down, members sync with their fallback peers, but never with one the
    /// roster revokes: nothing reaches it and nothing it sends is taken.
    func testFallbackPeersStopSyncingWithARevokedPeer() throws {
        var net = SimulatedNetwork()
        net.addNode("brussels", role: .hub, secure: true, organisation: "oslo-region-european-office")
        net.addNode("asker", role: .member, hubs: ["brussels"], peers: ["baerum"], secure: true)
        net.addNode("baerum", role: .member, hubs: ["brussels"], peers: ["asker"], secure: true)
        for m in members { try admit(&net, m) }
        net.run(milliseconds: 500)
        try net.write("brussels", "nodes/baerum", [.assign(field: "revoked", value: .bool(true))])
        net.run(milliseconds: 500)
        net.down.insert("brussels")
        // Publications never reach it: every node's ZAP handler refuses its SUB (HostileTests).
        net.publishLoss = 1.0
        net.run(milliseconds: 1000)
        try net.write("asker", "organisations/asker", name("Asker"))
        net.run(milliseconds: 1000)
        XCTAssertNil(net.engines["baerum"]!.replica.view(key("organisations/asker")), "neither pushed to it nor served to its pulls")
        XCTAssertTrue(net.engines["asker"]!.syncLinks(now: net.now).isEmpty, "asker syncs with nobody")
        refusal({ try net.write("baerum", "organisations/baerum", name("Still here")) }, "baerum is revoked")
    }

    /// Hostile bytes all the way into a secure engine: signed ops are mutated at random on the
    /// wire; whatever still decodes is pushed to the hub. Only ops whose canonical bytes are
    /// exactly those an admitted origin signed may ever be applied.
    func testMutatedSignedOpsNeverApplyUnlessUnchanged() throws {
        var net = try secureFederation(admit: members)
        let askerKey = net.keys["asker"]!
        var originals: [Op] = []
        for i in 0..<20 {
            originals.append(try craft(origin: "asker", epoch: UInt32(100 + i), signer: askerKey, "organisations/asker",
                                       [.assign(field: "name", value: .string("Asker \(i)")), .add(field: "topics", element: "t\(i)")]))
        }
        let signed = Set(originals.map { WireCodec.canonicalBytes($0) })
        var rng = SeededRandom(seed: 0x5ec)
        var decoded = 0
        for i in 0..<20_000 {
            var bytes = WireCodec.encodeEnvelope(.push([originals[i % originals.count]]))
            for _ in 0..<(1 + Int(rng.next() % 3)) {
                let at = Int(rng.next() % UInt64(bytes.count))
                switch rng.next() % 3 {
                case 0: bytes[at] ^= UInt8(truncatingIfNeeded: rng.next() | 1)
                case 1: bytes.remove(at: at)
                default: bytes.insert(UInt8(truncatingIfNeeded: rng.next()), at: at)
                }
            }
            guard case .push(let ops)? = try? WireCodec.decode([ProtocolVersion.signature, bytes]) else { continue }
            decoded += 1
            _ = pushToHub(&net, from: "asker", ops)
        }
        guard case .ops(let held) = net.engines["brussels"]!.replica.ops(since: VersionVector()) else { return XCTFail() }
        for op in held where op.origin.node == "asker" {
            XCTAssertTrue(signed.contains(WireCodec.canonicalBytes(op)), "a changed op was applied: \(op.dot)")
        }
        XCTAssertGreaterThan(decoded, 1000, "enough mutants decoded to reach the checks")
        XCTAssertGreaterThan(net.engines["brussels"]!.counters.opsRejected.values.reduce(0, +), 0)
    }
}
