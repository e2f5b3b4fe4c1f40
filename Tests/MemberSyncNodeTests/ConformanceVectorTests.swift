import Foundation
@testable import MemberSyncEngine
import XCTest
@testable import MemberSyncConfig
import MemberSyncControl
import MemberSyncCrypto
@testable import MemberSyncDirectory
import MemberSyncModel
@testable import MemberSyncWire
@testable import MemberSyncNode

/// The conformance vectors in `Protocols/vectors/` are what this implementation produces:
/// canonical bytes, signatures and envelopes of sample ops, every message type, a catch-up
/// exchange between a real hub engine and a member engine, and inputs that must be refused
/// with the error a receiver gives. This test builds them again and compares them with the
/// committed files, so the files can never drift from the code. After a deliberate wire
/// change, regenerate them with
/// `MEMBERSYNC_WRITE_VECTORS=1 swift test --filter ConformanceVectorTests`.
final class ConformanceVectorTests: XCTestCase {
    static let clock: @Sendable () -> UInt64 = { 1_764_547_200_000 }  // 2025-12-01T00:00:00Z
    /// The vectors' signing key: seed bytes 0x00, 0x01, ..., 0x1f.
    static let key = try! SigningKeyPair(seed: Array(0..<32))
    static let asker = ReplicaID(node: "asker", epoch: 0x2a)
    static let brussels = ReplicaID(node: "brussels", epoch: 0x7)

    var vectorsDirectory: URL {
        URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("Protocols/vectors")
    }

    func hex(_ b: [UInt8]) -> String { Hex.encode(b) }

    func signedReplica(_ id: ReplicaID) -> Replica {
        var r = Replica(id: id, wallClock: Self.clock)
        r.signer = { Self.key.sign(WireCodec.canonicalBytes($0)) }
        r.chainHasher = SyncEngine.chainHash
        return r
    }

    /// The op in the proto3 JSON mapping of `msp.proto`, for people reading the vectors.
    func json(_ op: Op) throws -> Any {
        try JSONSerialization.jsonObject(with: Data(try ProtoConvert.op(op).jsonString().utf8))
    }

    func frames(_ m: Message) -> [String] { WireCodec.encode(m).map(hex) }

    // MARK: the vectors

    func opCases() throws -> [[String: Any]] {
        var asker = signedReplica(Self.asker)
        let org = RecordKey(collection: "organisations", id: "asker")
        var cases: [(String, String, Op)] = []
        cases.append(("scalar", "a new record with two scalar fields (every write also writes $exists = true)",
                      try asker.write(org, [.assign(field: "name", value: .string("Asker kommune")), .assign(field: "population", value: .int(98_000))])))
        cases.append(("set-add", "a set element added", try asker.write(org, [.add(field: "topics", element: "climate")])))
        cases.append(("set-remove", "the same element removed: its context covers the add's dot",
                      try asker.write(org, [.remove(field: "topics", element: "climate")])))
        // Two writers edit the same field concurrently; asker's next write covers both siblings.
        var brussels = signedReplica(Self.brussels)
        try brussels.apply(cases[0].2)
        let concurrent = try brussels.write(org, [.assign(field: "name", value: .string("Asker"))])
        try asker.apply(concurrent)
        cases.append(("multi-sibling", "a write after two concurrent ones: its context covers both siblings' dots",
                      try asker.write(org, [.assign(field: "name", value: .string("Asker kommune (Viken)"))])))
        cases.append(("delete", "a delete writes $exists = false", try asker.delete(org)))
        return try cases.map { name, about, op in
            [
                "name": name, "about": about, "op": try json(op),
                "canonical_hex": hex(WireCodec.canonicalBytes(op)),
                // The op's link (MSP 5.9): prev_hex is the chain_hash_hex of the origin's op before.
                "prev_hex": hex(op.prev),
                "chain_hash_hex": hex(SyncEngine.chainHash(op)),
                "signature_hex": hex(op.signature),
                "signature_valid": SigningKeyPair.verify(signature: op.signature, message: WireCodec.canonicalBytes(op), publicKey: Self.key.publicKey),
                "op_message_frames_hex": frames(.op(op)),
                "push_message_frames_hex": frames(.push([op])),
            ]
        }
    }

    func messageCases() throws -> [[String: Any]] {
        var asker = signedReplica(Self.asker)
        let op = try asker.write(RecordKey(collection: "contacts", id: "kari"), [.assign(field: "name", value: .string("Kari Nordmann")),
                                                                             .assign(field: "organisation", value: .string("asker"))])
        let vv = VersionVector([Self.asker: 1, Self.brussels: 3])
        let messages: [Message] = [
            .hello(Hello(nodeID: "asker", replica: Self.asker, role: "member", organisation: "asker", softwareVersion: "0.1.0", version: vv)),
            .welcome(Welcome(nodeID: "brussels", replica: Self.brussels, role: "hub", softwareVersion: "0.1.0", protocolVersion: ProtocolVersion.current, version: vv)),
            .pull(version: vv, maxOps: 5000),
            .opBatch(ops: [op], more: false, senderVersion: vv),
            .push([op]),
            .ack(vv),
            .snapshotRequest(after: "", maxRecords: 10_000),
            .snapshotPage(SnapshotPage(version: vv, records: asker.records.map { ($0.key, $0.value) }, lastKey: "contacts/kari", done: true)),
            .heartbeat(Heartbeat(nodeID: "asker", replica: Self.asker, role: "member", version: vv, pending: 1)),
            .error(code: .rejected, message: "asker may write only its own organisation record"),
            // A Push receiver naming an op it refused (MSP 7.3, step 2): held without effect.
            .error(code: .rejected, message: "1 of the 1 pushed op(s) refused", refused: [
                Refusal(dot: op.dot, reason: "unauthorised", detail: "asker may write only contacts whose organisation is asker (set organisation=asker); contacts/kari is not one",
                        held: true),
            ]),
            .op(op),
        ]
        return messages.map { ["type": $0.kind, "frames_hex": frames($0)] }
    }

    /// A member with one offline edit meets its hub, which holds one edit of its own: Hello,
    /// Welcome, Pull, OpBatch, Push, Ack, exactly as the two engines exchange them.
    func catchUpExchange() throws -> [[String: Any]] {
        func config(_ id: String, _ role: NodeRole, hubs: [String]) -> NodeConfig {
            var c = NodeConfig(nodeID: id, organisation: id == "brussels" ? "oslo-region-european-office" : id, role: role,
                               dataDir: "/nonexistent", listen: "tcp://127.0.0.1:7400", hubEndpoints: hubs)
            c.insecure = true  // the exchange, not the write rules
            return c
        }
        var hub = SyncEngine(config: config("brussels", .hub, hubs: []), replica: signedReplica(Self.brussels))
        var member = SyncEngine(config: config("asker", .member, hubs: ["tcp://127.0.0.1:7500"]), replica: signedReplica(Self.asker))
        _ = try hub.localWrite(RecordKey(collection: "offices", id: "brussels"), [.assign(field: "name", value: .string("Oslo Region European Office"))], now: 1)
        _ = try member.localWrite(RecordKey(collection: "organisations", id: "asker"), [.assign(field: "name", value: .string("Asker kommune"))], now: 1)
        var steps: [[String: Any]] = []
        var toHub: [Message] = member.onTick(now: 10_000).compactMap { if case .send(.hub(0), let m) = $0 { return m } else { return nil } }
        var now: UInt64 = 10_000
        while !toHub.isEmpty && steps.count < 20 {
            var toMember: [Message] = []
            for m in toHub {
                steps.append(["from": "asker", "to": "brussels", "type": m.kind, "frames_hex": frames(m)])
                for d in hub.onRequest(from: Array("asker".utf8), m, now: now) {
                    if case .reply(_, let r) = d { toMember.append(r) }
                }
            }
            toHub = []
            now += 1
            for m in toMember {
                steps.append(["from": "brussels", "to": "asker", "type": m.kind, "frames_hex": frames(m)])
                for d in member.onLinkMessage(.hub(0), m, now: now) {
                    if case .send(.hub(0), let r) = d, r.kind != "heartbeat" { toHub.append(r) }
                }
            }
        }
        XCTAssertEqual(hub.replica.digest(), member.replica.digest(), "the exchange converges")
        return steps
    }

    /// Inputs a receiver must refuse, with the error it gives.
    func refusedCases() throws -> [[String: Any]] {
        var cases: [[String: Any]] = []
        let good = WireCodec.encode(.ack(VersionVector([Self.asker: 1])))
        func frameCase(_ name: String, _ frames: [[UInt8]]) {
            do {
                _ = try WireCodec.decode(frames)
                XCTFail("\(name) decoded")
            } catch {
                cases.append(["name": name, "layer": "framing", "frames_hex": frames.map(hex), "error": error.description])
            }
        }
        frameCase("one frame", [good[1]])
        frameCase("three frames", good + [[]])
        frameCase("not an MSP signature", [Array("HTTP/1.1".utf8), good[1]])
        frameCase("unknown protocol frame version", [Array("MSP/9".utf8), good[1]])
        frameCase("empty envelope", [ProtocolVersion.signature, []])
        frameCase("truncated envelope", [ProtocolVersion.signature, Array(good[1].dropLast())])

        // Ops that decode but that no receiver may apply.
        var asker = signedReplica(Self.asker)
        let key = RecordKey(collection: "contacts", id: "kari")
        let valid = try asker.write(key, [.assign(field: "name", value: .string("Kari"))])
        let receiver = Replica(id: Self.brussels, wallClock: Self.clock)
        func opCase(_ name: String, _ op: Op) {
            do {
                try receiver.validate(op)
                XCTFail("\(name) validated")
            } catch {
                cases.append(["name": name, "layer": "op", "op_body_hex": hex(WireCodec.encodeOp(op)), "error": "\(error)"])
            }
        }
        func variant(counter: UInt64? = nil, key: RecordKey? = nil, fields: [String: FieldState]? = nil) -> Op {
            Op(origin: valid.origin, counter: counter ?? valid.counter, hlc: valid.hlc, key: key ?? valid.key,
               fields: fields ?? valid.fields, signature: valid.signature)
        }
        opCase("counter 0", variant(counter: 0))
        var extra = valid.fields
        extra["nickname"] = valid.fields["name"]
        opCase("a field the schema does not have", variant(fields: extra))
        opCase("a collection the schema does not have", variant(key: RecordKey(collection: "people", id: "kari")))
        opCase("no field at all", variant(fields: [:]))
        var empty = valid.fields
        empty["name"] = .register(Register(siblings: [], context: VersionVector([Self.asker: 1])))
        opCase("an empty register delta", variant(fields: empty))
        // Every sibling an op carries has the op's hlc (5.6, rule 2): here `name`'s is 0. (One
        // field only, so the error does not depend on which field a receiver checks first.)
        var stamped = valid.fields
        if case .register(let r)? = valid.fields["name"], let s = r.siblings.first {
            stamped["name"] = .register(Register(siblings: [Sibling(dot: s.dot, hlc: HLC(raw: 0), value: s.value)], context: r.context))
        }
        opCase("a sibling stamped with another time than the op's hlc", variant(fields: stamped))
        return cases
    }

    // MARK: the test

    func testTheCommittedVectorsAreWhatThisImplementationProduces() throws {
        let files: [String: Any] = [
            "keys.json": ["about": "The signing key of every vector: seed 000102...1f (Ed25519, RFC 8032).",
                          "seed_hex": hex(Array(0..<32)), "public_key_hex": hex(Self.key.publicKey)],
            "ops.json": ["about": "Sample ops: the op (proto3 JSON of msp.proto), its canonical bytes (the signed bytes: the op encoded with an empty signature), its signature, and the frames of an Op and a Push message carrying it.",
                         "cases": try opCases()],
            "messages.json": ["about": "One of every MSP message type, as the two ZeroMQ frames [signature, envelope].", "cases": try messageCases()],
            "catchup.json": ["about": "A member with one offline edit meets its hub: the messages the reference engines exchange, in order.",
                             "steps": try catchUpExchange()],
            "refused.json": ["about": "Inputs a receiver must refuse, each with the error the reference receiver gives (framing: the message is dropped; op: the op is refused and not applied).",
                             "cases": try refusedCases()],
        ]
        let write = ProcessInfo.processInfo.environment["MEMBERSYNC_WRITE_VECTORS"] == "1"
        if write { try FileManager.default.createDirectory(at: vectorsDirectory, withIntermediateDirectories: true) }
        for (name, content) in files.sorted(by: { $0.key < $1.key }) {
            let data = try JSONSerialization.data(withJSONObject: content, options: [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]) + Data("\n".utf8)
            let url = vectorsDirectory.appendingPathComponent(name)
            if write { try data.write(to: url) }
            let committed = try? Data(contentsOf: url)
            XCTAssertEqual(committed, data, "Protocols/vectors/\(name) differs from what the code produces; after a deliberate change run MEMBERSYNC_WRITE_VECTORS=1 swift test --filter ConformanceVectorTests")
        }
    }

    /// The vectors say what they claim: every signature verifies over the canonical bytes, and
    /// the frames decode back to the op.
    func testTheVectorsAreSelfConsistent() throws {
        for c in try opCases() {
            XCTAssertEqual(c["signature_valid"] as? Bool, true, "\(c["name"]!)")
            let frames = try XCTUnwrap(c["op_message_frames_hex"] as? [String]).map { try XCTUnwrap(Hex.decode($0)) }
            guard case .op(let op) = try WireCodec.decode(frames) else { return XCTFail("not an op message") }
            XCTAssertEqual(Hex.encode(WireCodec.canonicalBytes(op)), c["canonical_hex"] as? String)
        }
        // The sample ops are asker's first five, in order: each links to the one before, and
        // the first to no predecessor (MSP 5.9).
        let cases = try opCases()
        XCTAssertEqual(cases.first?["prev_hex"] as? String, Hex.encode(OpChain.genesis))
        for (before, op) in zip(cases, cases.dropFirst()) {
            XCTAssertEqual(op["prev_hex"] as? String, before["chain_hash_hex"] as? String, "\(op["name"]!)")
        }
    }
}
