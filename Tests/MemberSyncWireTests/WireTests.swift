import XCTest
import MemberSyncHarness
import MemberSyncModel
@testable import MemberSyncWire

final class WireTests: XCTestCase {
    static let t: @Sendable () -> UInt64 = { 1_700_000_000_000 }

    func sampleOps() throws -> [Op] {
        var r = Replica(id: ReplicaID(node: "asker", epoch: 0xbeef), wallClock: Self.t)
        let key = RecordKey(collection: "organisations", id: "asker")
        var ops = [try r.write(key, [.assign(field: "name", value: .string("Municipality of Asker")),
                                     .assign(field: "population", value: .int(95_000)),
                                     .add(field: "topics", element: "sustainability")])]
        ops.append(try r.write(key, [.remove(field: "topics", element: "sustainability"), .add(field: "memberships", element: "oslo-region-alliance")]))
        ops.append(try r.delete(key))
        var signed = ops[0]
        signed.signature = [1, 2, 3]
        ops.append(signed)
        return ops
    }

    func allMessages() throws -> [Message] {
        let ops = try sampleOps()
        let rid = ReplicaID(node: "brussels", epoch: 7)
        let vv = VersionVector([rid: 3, ReplicaID(node: "asker", epoch: 0xbeef): 12])
        var r = Replica(id: rid, wallClock: Self.t)
        for op in ops.prefix(2) { try r.apply(op) }
        return [
            .hello(Hello(nodeID: "asker", replica: rid, role: "member", organisation: "asker", softwareVersion: "0.1.0", version: vv)),
            .welcome(Welcome(nodeID: "brussels", replica: rid, role: "hub", softwareVersion: "0.1.0", protocolVersion: 1, version: vv)),
            .pull(version: vv, maxOps: 500),
            .opBatch(ops: ops, more: true, senderVersion: vv),
            .push(ops),
            .ack(vv),
            .snapshotRequest(after: "organisations/asker", maxRecords: 100),
            .snapshotPage(SnapshotPage(version: vv, records: r.records.map { ($0.key, $0.value) }, lastKey: "organisations/asker", done: true)),
            .heartbeat(Heartbeat(nodeID: "asker", replica: rid, role: "member", version: vv, pending: 4)),
            .error(code: .rejected, message: "not in roster"),
            .error(code: .rejected, message: "2 of the 2 pushed op(s) refused", refused: [
                Refusal(dot: ops[0].dot, reason: "unauthorised", detail: "not a lead", held: true),
                Refusal(dot: ops[1].dot, reason: "clock-skew", detail: "", held: false),
            ]),
            .op(ops[1]),
        ]
    }

    /// A refusal names a real dot and keeps its texts short: anything else is refused whole.
    func testARefusalWithoutADotOrWithAnOversizedDetailIsRefused() throws {
        let dot = try sampleOps()[0].dot
        var env = ProtoConvert.envelope(.error(code: .rejected, message: "x", refused: [Refusal(dot: dot, reason: "schema", detail: "d", held: false)]))
        XCTAssertNoThrow(try WireCodec.decodeEnvelope(try env.serializedBytes()))
        env.error.refused[0].detail = String(repeating: "d", count: Refusal.maxDetailBytes + 1)
        XCTAssertThrowsError(try WireCodec.decodeEnvelope(try env.serializedBytes())) { XCTAssertTrue("\($0)".contains("error.refused[0].detail"), "\($0)") }
        env.error.refused[0].detail = "d"
        env.error.refused[0].clearDot()
        XCTAssertThrowsError(try WireCodec.decodeEnvelope(try env.serializedBytes())) { XCTAssertTrue("\($0)".contains("error.refused[0].dot"), "\($0)") }
    }

    func testEveryMessageRoundTrips() throws {
        for m in try allMessages() {
            XCTAssertEqual(try WireCodec.decode(WireCodec.encode(m)), m, m.kind)
        }
        for op in try sampleOps() {
            XCTAssertEqual(try WireCodec.decodeOp(WireCodec.encodeOp(op)), op)
        }
    }

    /// A text whose bytes are not UTF-8 is refused by the decoder (never repaired to U+FFFD),
    /// so a remote op carrying one is dropped as undecodable.
    func testInvalidUTF8InAValueDoesNotDecode() throws {
        var r = Replica(id: ReplicaID(node: "asker", epoch: 1), wallClock: Self.t)
        let op = try r.write(RecordKey(collection: "organisations", id: "asker"), [.assign(field: "name", value: .string("ZQ"))])
        let good = WireCodec.encodeEnvelope(.op(op))
        XCTAssertNoThrow(try WireCodec.decode([ProtocolVersion.signature, good]))
        guard let at = (0..<good.count - 1).first(where: { good[$0] == UInt8(ascii: "Z") && good[$0 + 1] == UInt8(ascii: "Q") }) else {
            return XCTFail("value bytes not found")
        }
        for bytes: [UInt8] in [[0xFF, 0xFE], [0xC3, 0x28], [0xED, 0xA0]] {
            var bad = good
            bad[at] = bytes[0]
            bad[at + 1] = bytes[1]
            XCTAssertThrowsError(try WireCodec.decode([ProtocolVersion.signature, bad]), "\(bytes)")
            XCTAssertThrowsError(try WireCodec.decodeOp(WireCodec.encodeOp(op).map { $0 == UInt8(ascii: "Z") ? bytes[0] : $0 }))
        }
    }

    func testFramingErrorsAreTyped() throws {
        let good = WireCodec.encode(.ack(VersionVector()))
        XCTAssertThrowsError(try WireCodec.decode([good[1]])) { XCTAssertEqual($0 as? WireError, .wrongFrameCount(1)) }
        XCTAssertThrowsError(try WireCodec.decode(good + [[]])) { XCTAssertEqual($0 as? WireError, .wrongFrameCount(3)) }
        XCTAssertThrowsError(try WireCodec.decode([Array("MSP/9".utf8), good[1]])) {
            XCTAssertEqual($0 as? WireError, .unsupportedVersion("9"))
        }
        XCTAssertThrowsError(try WireCodec.decode([Array("HTTP/1.1".utf8), good[1]])) { XCTAssertEqual($0 as? WireError, .badSignature) }
        let huge = [UInt8](repeating: 0, count: WireLimits.maxMessageBytes + 1)
        XCTAssertThrowsError(try WireCodec.decode([ProtocolVersion.signature, huge])) {
            XCTAssertEqual($0 as? WireError, .oversized(huge.count))
        }
        XCTAssertThrowsError(try WireCodec.decode([ProtocolVersion.signature, []])) { XCTAssertEqual($0 as? WireError, .emptyEnvelope) }
        XCTAssertThrowsError(try WireCodec.decode([ProtocolVersion.signature, [0xff, 0xff, 0xff]])) {
            guard case .malformed? = $0 as? WireError else { return XCTFail("\($0)") }
        }
    }

    func testTruncatedMessagesNeverDecodeIntoSomethingElseSilently() throws {
        for m in try allMessages() {
            let bytes = WireCodec.encodeEnvelope(m)
            for cut in stride(from: 1, to: bytes.count, by: max(1, bytes.count / 40)) {
                do {
                    let decoded = try WireCodec.decodeEnvelope(Array(bytes.prefix(cut)))
                    XCTAssertNotEqual(decoded, m, "a truncated \(m.kind) decoded as the original")
                } catch is WireError {
                    // expected
                }
            }
        }
    }

    func testSemanticChecksRejectBadFields() throws {
        var p = ProtoConvert.op(try sampleOps()[0])
        p.id = "Not A Slug"
        var env = Msp_V1_Envelope()
        env.op = p
        XCTAssertThrowsError(try WireCodec.decodeEnvelope(try env.serializedBytes())) {
            guard case .invalidField(let path, _)? = $0 as? WireError else { return XCTFail("\($0)") }
            XCTAssertEqual(path, "op.id")
        }
        p = ProtoConvert.op(try sampleOps()[0])
        p.counter = 0
        env.op = p
        XCTAssertThrowsError(try WireCodec.decodeEnvelope(try env.serializedBytes()))
        var vv = Msp_V1_VersionVector()
        var e = Msp_V1_VersionEntry()
        e.replica.node = "asker"
        e.counter = 1
        vv.entries = [e, e]
        var ack = Msp_V1_Ack()
        ack.version = vv
        env.ack = ack
        XCTAssertThrowsError(try WireCodec.decodeEnvelope(try env.serializedBytes()), "duplicate vector entries are refused")
    }

    /// Seeded mutation fuzzing: flips, truncations, splices and random bytes over valid
    /// messages. Every input must decode or throw a WireError; none may crash.
    /// MSP_FUZZ_ITERATIONS raises the count (the README shows a million-input run).
    func testMutationFuzzNeverCrashes() throws {
        let iterations = Int(ProcessInfo.processInfo.environment["MSP_FUZZ_ITERATIONS"] ?? "") ?? 30_000
        let corpus = try allMessages().map { WireCodec.encodeEnvelope($0) }
        var rng = SeededRandom(seed: 0x5eed)
        var decoded = 0, rejected = 0
        for i in 0..<iterations {
            var bytes = corpus[i % corpus.count]
            for _ in 0..<(1 + Int(rng.next() % 4)) {
                switch rng.next() % 6 {
                case 0 where !bytes.isEmpty: bytes[Int(rng.next() % UInt64(bytes.count))] ^= UInt8(truncatingIfNeeded: rng.next() | 1)
                case 1 where !bytes.isEmpty: bytes.removeLast(Int(rng.next() % UInt64(bytes.count)))
                case 2: bytes.insert(UInt8(truncatingIfNeeded: rng.next()), at: Int(rng.next() % UInt64(bytes.count + 1)))
                case 3:
                    let other = corpus[Int(rng.next() % UInt64(corpus.count))]
                    bytes += other.prefix(Int(rng.next() % UInt64(other.count + 1)))
                case 4: bytes = (0..<Int(rng.next() % 64)).map { _ in UInt8(truncatingIfNeeded: rng.next()) }
                default: if !bytes.isEmpty { bytes[Int(rng.next() % UInt64(bytes.count))] = 0xff }
                }
            }
            do {
                _ = try WireCodec.decode([ProtocolVersion.signature, bytes])
                decoded += 1
            } catch {
                rejected += 1
            }
        }
        XCTAssertEqual(decoded + rejected, iterations)
        XCTAssertGreaterThan(rejected, iterations / 10, "the mutations must actually break messages")
        print("fuzz: \(iterations) inputs, \(decoded) decoded, \(rejected) rejected with a WireError")
    }

    /// The hand-written decoder must take the bulk kinds in their canonical form, and must
    /// never accept anything the generated decoder refuses or read it differently: on seeded
    /// mutations of every message kind, whenever it answers, the generated path gives the
    /// same message.
    func testDirectDecodingAgreesWithGeneratedCode() throws {
        let messages = try allMessages()
        let bulk: Set<String> = ["op", "push", "op_batch", "snapshot_page"]
        for m in messages {
            let bytes = WireCodec.encodeEnvelope(m)
            let direct = DirectDecoding.attempt(bytes, DirectDecoding.envelope)
            XCTAssertEqual(direct != nil, bulk.contains(m.kind), "direct path taken for \(m.kind)")
            if let direct { XCTAssertEqual(direct, try WireCodec.decodeEnvelopeGenerated(bytes), m.kind) }
        }
        for op in try sampleOps() {
            XCTAssertEqual(DirectDecoding.attempt(WireCodec.encodeOp(op), DirectDecoding.op), op)
        }
        var rng = SeededRandom(seed: 0xd1ec7)
        let corpus = messages.map { WireCodec.encodeEnvelope($0) }
        var agreed = 0, directAnswers = 0
        for i in 0..<20_000 {
            var bytes = corpus[i % corpus.count]
            for _ in 0..<(1 + Int(rng.next() % 3)) {
                guard !bytes.isEmpty else { break }
                let at = Int(rng.next() % UInt64(bytes.count))
                switch rng.next() % 4 {
                case 0: bytes[at] ^= UInt8(truncatingIfNeeded: rng.next() | 1)
                case 1: bytes.removeLast(Int(rng.next() % UInt64(min(bytes.count, 8))))
                case 2: bytes.insert(UInt8(truncatingIfNeeded: rng.next()), at: at)
                default: bytes[at] = UInt8(truncatingIfNeeded: rng.next() % 3)
                }
            }
            guard let direct = DirectDecoding.attempt(bytes, DirectDecoding.envelope) else { continue }
            directAnswers += 1
            do {
                let generated = try WireCodec.decodeEnvelopeGenerated(bytes)
                XCTAssertEqual(direct, generated, "input \(i)")
                agreed += 1
            } catch {
                XCTFail("input \(i): the direct decoder accepted what the generated one refuses: \(error)")
            }
        }
        XCTAssertEqual(agreed, directAnswers)
        XCTAssertGreaterThan(directAnswers, 100, "some mutated inputs must still be valid bulk messages")
        print("direct decoding: \(directAnswers) of 20000 mutated inputs answered directly, all agreeing")
    }

    /// Every field an op writes carries the same context: decoded, they share one array (the
    /// decoder's context memo), and fields with other contexts in between still decode to
    /// their own.
    func testEqualContextsDecodeIntoOneSharedArrayAndOthersIntoTheirOwn() throws {
        let a = ReplicaID(node: "asker", epoch: 1), b = ReplicaID(node: "baerum", epoch: 2)
        func register(_ value: String, _ dot: Dot, _ context: VersionVector) -> FieldState {
            .register(Register(siblings: [Sibling(dot: dot, hlc: HLC(raw: 1), value: .string(value))], context: context))
        }
        let shared = VersionVector([a: 4, b: 9]), other = VersionVector([a: 2, b: 9])
        let record = Record(fields: [
            "name": register("Asker", Dot(a, 4), shared),
            "email": register("post@asker.kommune.no", Dot(a, 4), shared),
            "phone": register("+47 66 90 00 00", Dot(a, 2), other),
            "website": register("asker.kommune.no", Dot(a, 4), shared),
        ])
        let key = RecordKey(collection: "organisations", id: "asker")
        let decoded = try XCTUnwrap(DirectDecoding.attempt(WireCodec.encodeRecord(key, record), DirectDecoding.memoisedRecordState))
        XCTAssertEqual(decoded.record, record)
        func buffer(_ field: String) -> UnsafeRawPointer? {
            guard case .register(let r)? = decoded.record.fields[field] else { return nil }
            return r.context.sorted.withUnsafeBufferPointer { UnsafeRawPointer($0.baseAddress) }
        }
        XCTAssertNotNil(buffer("name"))
        XCTAssertEqual(buffer("name"), buffer("email"))
        XCTAssertEqual(buffer("name"), buffer("website"))
        XCTAssertNotEqual(buffer("name"), buffer("phone"))
    }

    func testVersionNegotiation() {
        // Protocol 2 (ops carry their origin's hash chain) is the only one spoken now.
        XCTAssertEqual(ProtocolVersion.negotiate(theirMin: 1, theirMax: 3), 2)
        XCTAssertEqual(ProtocolVersion.negotiate(theirMin: 2, theirMax: 2), 2)
        XCTAssertNil(ProtocolVersion.negotiate(theirMin: 1, theirMax: 1), "a protocol-1 node cannot verify chained ops")
        XCTAssertNil(ProtocolVersion.negotiate(theirMin: 3, theirMax: 4))
    }
}

extension WireTests {
    /// The direct encoder must write exactly the bytes of the generated code.
    func testDirectEncodingMatchesGeneratedCode() throws {
        var a = Replica(id: ReplicaID(node: "asker", epoch: 0xbeef), wallClock: Self.t)
        var b = Replica(id: ReplicaID(node: "oslo", epoch: 3), wallClock: Self.t)
        let key = RecordKey(collection: "projects", id: "catchmr")
        var ops = try sampleOps()
        ops.append(try a.write(key, [.assign(field: "title", value: .string("")), .assign(field: "status", value: .string("running")),
                                     .add(field: "partners", element: "oslo"), .add(field: "partners", element: "asker")]))
        ops.append(try b.write(key, [.assign(field: "status", value: .string("closed")), .remove(field: "partners", element: "oslo")]))
        for op in ops { _ = try? a.apply(op); _ = try? b.apply(op) }
        ops.append(try a.write(RecordKey(collection: "organisations", id: "asker"), [.assign(field: "population", value: .int(-5)),
                                                                                   .assign(field: "population", value: .int(Int64.min))]))
        ops.append(Op(origin: ReplicaID(node: "x", epoch: 0), counter: 300, hlc: HLC(raw: 0), key: key,
                      fields: ["name": .register(Register(siblings: [Sibling(dot: Dot(ReplicaID(node: "x", epoch: 0), 300), hlc: HLC(raw: 0), value: .bool(false))],
                                                           context: VersionVector([ReplicaID(node: "y", epoch: 9): 1 << 40, ReplicaID(node: "a", epoch: 1): 2])))]))
        // Lengths of 128 bytes and more take two length bytes (and a page of records three).
        ops.append(try a.write(key, [.assign(field: "title", value: .string(String(repeating: "x", count: 300)))]))
        ops.append(try a.write(key, [.assign(field: "title", value: .string(String(repeating: "y", count: 4_000)))]))
        for op in ops {
            XCTAssertEqual(DirectEncoding.op(op), try ProtoConvert.op(op).serializedBytes(), "\(op.dot)")
        }
        for (k, r) in a.records {
            XCTAssertEqual(DirectEncoding.record(k, r), try ProtoConvert.recordState(k, r).serializedBytes(), "\(k)")
        }
        var messages = try allMessages()
        messages += [.op(ops[ops.count - 1]), .push(ops), .opBatch(ops: ops, more: false, senderVersion: VersionVector()),
                     .opBatch(ops: [], more: true, senderVersion: a.version), .push([]),
                     .push(Array(repeating: ops[ops.count - 1], count: 5)),  // over 16 KiB: three length bytes
                     .snapshotPage(SnapshotPage(version: VersionVector(), records: [], lastKey: "", done: false)),
                     .snapshotPage(SnapshotPage(version: a.version, records: a.records.map { ($0.key, $0.value) }, lastKey: "projects/catchmr", done: false))]
        for m in messages {
            let generated: [UInt8] = try ProtoConvert.envelope(m).serializedBytes()
            XCTAssertEqual(WireCodec.encodeEnvelope(m), generated, m.kind)
            XCTAssertEqual(try WireCodec.decodeEnvelope(WireCodec.encodeEnvelope(m)), m, m.kind)
        }
    }
}

final class WireSizeTests: XCTestCase {
    /// The estimate must never be below the real encoding, or pages could exceed the limit.
    func testEstimatesAreUpperBoundsAndPagesStayUnderTheLimit() throws {
        var r = Replica(id: ReplicaID(node: "asker", epoch: 3), wallClock: { 1_700_000_000_000 })
        var ops: [Op] = []
        let big = String(repeating: "x", count: 4000)
        for i in 0..<3000 {
            let key = RecordKey(collection: "organisations", id: "org-\(i % 50)")
            ops.append(try r.write(key, [.assign(field: "description", value: .string(big)), .add(field: "topics", element: "t\(i % 7)"),
                                         .assign(field: "population", value: .int(Int64(i)))]))
        }
        for op in ops.prefix(200) {
            XCTAssertGreaterThanOrEqual(WireSize.op(op), WireCodec.encodeOp(op).count)
        }
        for (key, record) in r.records {
            XCTAssertGreaterThanOrEqual(WireSize.record(key, record), WireCodec.encodeRecord(key, record).count)
        }
        let page = WireSize.prefix(ops)
        XCTAssertLessThan(page.count, ops.count, "3000 ops of 4 KB do not fit one page")
        let encoded = WireCodec.encodeEnvelope(.opBatch(ops: page, more: true, senderVersion: r.version))
        XCTAssertLessThanOrEqual(encoded.count, WireLimits.maxMessageBytes)
        XCTAssertNoThrow(try WireCodec.decode([ProtocolVersion.signature, encoded]))
        XCTAssertEqual(WireSize.prefix([ops[0]], budget: 1).count, 1, "one large op still moves")
    }
}

final class CanonicalBytesTests: XCTestCase {
    /// A signature covers `WireCodec.canonicalBytes(op)`; a receiver recomputes them from the
    /// decoded op, so decoding and re-encoding must give back exactly the signed bytes.
    func testCanonicalBytesSurviveTheWireAndIgnoreTheSignature() throws {
        var r = Replica(id: ReplicaID(node: "asker", epoch: 0xbeef), wallClock: WireTests.t)
        let key = RecordKey(collection: "projects", id: "catchmr")
        var ops = [try r.write(key, [.assign(field: "title", value: .string("CatchMR")), .add(field: "partners", element: "asker"),
                                     .add(field: "partners", element: "baerum"), .add(field: "topics", element: "mobility")])]
        var other = Replica(id: ReplicaID(node: "oslo", epoch: 3), wallClock: WireTests.t)
        try other.apply(ops[0])
        ops.append(try other.write(key, [.assign(field: "title", value: .string("CatchMR 2")), .remove(field: "partners", element: "baerum")]))
        try r.apply(ops[1])
        ops.append(try r.write(key, [.assign(field: "title", value: .string("Final")), .assign(field: "start", value: .string("2024-01-01"))]))
        ops.append(try r.delete(key))
        for op in ops {
            let canonical = WireCodec.canonicalBytes(op)
            var signed = op
            signed.signature = Array(repeating: 7, count: 64)
            XCTAssertEqual(WireCodec.canonicalBytes(signed), canonical, "the signature is not part of what it signs")
            let back = try WireCodec.decodeOp(WireCodec.encodeOp(signed))
            XCTAssertEqual(WireCodec.canonicalBytes(back), canonical, "\(op.dot)")
            let relayed = try WireCodec.decode(WireCodec.encode(.push([signed])))
            guard case .push(let got) = relayed else { return XCTFail() }
            XCTAssertEqual(WireCodec.canonicalBytes(got[0]), canonical)
            XCTAssertEqual(got[0].signature, signed.signature)
            // Encoding twice gives the same bytes (no map-order or other nondeterminism).
            XCTAssertEqual(WireCodec.canonicalBytes(op), canonical)
        }
    }

    /// A local op is encoded once (`WireCodec.sealed`): its signature is inserted into its
    /// canonical bytes, and those bytes, and the envelopes built around them, are exactly what
    /// encoding the signed op would give, with and without `prev`, for bodies long enough to
    /// take multi-byte lengths.
    func testASealedOpIsByteForByteTheSignedOpEncoded() throws {
        var r = Replica(id: ReplicaID(node: "asker", epoch: 0xbeef), wallClock: WireTests.t)
        let long = String(repeating: "Asker kommune, ", count: 40)
        var prepared = [try r.prepareWrite(RecordKey(collection: "organisations", id: "asker"), [.assign(field: "name", value: .string(long))])]
        r.commitLocal(prepared[0])
        prepared.append(try r.prepareWrite(RecordKey(collection: "contacts", id: "kari"), [.assign(field: "name", value: .string("Kari"))]))
        var linked = prepared[1]
        linked.prev = Array(repeating: 9, count: OpChain.hashBytes)
        prepared.append(linked)
        var signedWith: [[UInt8]] = []
        var sealed: [EncodedOp] = []
        for op in prepared {
            let e = WireCodec.sealed(op) { canonical in
                signedWith.append(canonical)
                return (0..<64).map { UInt8(truncatingIfNeeded: canonical.count &+ $0) }  // a stand-in for Ed25519
            }
            XCTAssertEqual(e.op.signature.count, 64)
            XCTAssertEqual(signedWith.last, WireCodec.canonicalBytes(e.op), "the signature covers the canonical bytes")
            XCTAssertEqual(e.bytes, WireCodec.encodeOp(e.op), "\(op.dot): the bytes of the signed op")
            XCTAssertEqual(try WireCodec.decodeOp(e.bytes), e.op)
            XCTAssertEqual(e, EncodedOp(e.op))
            XCTAssertEqual(WireCodec.encode(publishing: e), WireCodec.encode(.op(e.op)))
            sealed.append(e)
        }
        XCTAssertEqual(sealed[2].op.prev, linked.prev)
        XCTAssertEqual(WireCodec.encode(pushing: sealed), WireCodec.encode(.push(sealed.map(\.op))))
        XCTAssertEqual(WireCodec.encode(pushing: [sealed[1]]), WireCodec.encode(.push([sealed[1].op])))
        XCTAssertEqual(WireCodec.encodeEnvelope(pushing: []), WireCodec.encodeEnvelope(.push([])))
    }
}
