import XCTest
import MemberSyncModel
@testable import MemberSyncWire

/// "A record a node accepts can always travel" (issue 13, item 6): the largest record the
/// model's limits allow encodes within the record limit, fits one snapshot page under the
/// message limit, stays within every decoder limit, and is estimated from above.
final class LimitsWireTests: XCTestCase {
    /// Replica ids as long as a slug may be, so every estimate is at its worst.
    func writer(_ i: Int) -> ReplicaID {
        ReplicaID(node: String(repeating: "w", count: 60) + String(format: "%04d", i), epoch: .max)
    }

    /// A register with `maxSiblings` concurrent siblings of `value`, and a context naming
    /// `extra` more replicas, as large as `maxRegisterBytes` permits.
    func fullRegister(_ value: Value) -> Register<Value> {
        var siblings: [Sibling<Value>] = []
        var context: [ReplicaID: UInt64] = [:]
        for i in 0..<Limits.maxSiblings {
            siblings.append(Sibling(dot: Dot(writer(i), .max), hlc: .max, value: value))
        }
        let base = Register(siblings: siblings, context: VersionVector())
        // Each further context entry costs the same estimate; add as many as the limit allows.
        let perEntry = EncodedSize.version(VersionVector([writer(0): .max])) - EncodedSize.version(VersionVector())
        let room = (Limits.maxRegisterBytes - EncodedSize.register(base)) / perEntry
        for i in 0..<room { context[writer(Limits.maxSiblings + i)] = .max }
        let r = Register(siblings: siblings, context: VersionVector(context))
        XCTAssertLessThanOrEqual(EncodedSize.register(r), Limits.maxRegisterBytes)
        XCTAssertGreaterThan(EncodedSize.register(r) + perEntry, Limits.maxRegisterBytes, "as full as allowed")
        return r
    }

    func fullSet(element: (Int) -> String) -> ORSet {
        var s = ORSet()
        for i in 0..<Limits.maxSetElements {
            let presence = Register(siblings: [Sibling(dot: Dot(writer(i % 8), .max), hlc: .max, value: true)], context: VersionVector())
            let candidate = s.joined(with: ORSet(elements: [element(i): presence]))
            if EncodedSize.set(candidate) > Limits.maxSetBytes { break }
            s = candidate
        }
        return s
    }

    func testTheLargestAcceptedRecordTravelsInOneSnapshotPage() throws {
        let text = Value.string(String(repeating: "é", count: Limits.maxTextBytes / 2))
        var fields: [String: FieldState] = [Record.existsField: .register(fullRegister(.bool(true)))]
        for f in ["name", "county", "description", "website"] { fields[f] = .register(fullRegister(text)) }
        fields["kind"] = .register(fullRegister(.string("municipality")))
        fields["population"] = .register(fullRegister(.int(.min)))
        fields["joined"] = .register(fullRegister(.string("2024-02-29")))
        fields["topics"] = .set(fullSet { String(repeating: "t", count: Limits.maxElementBytes - 5) + String(format: "%05d", $0) })
        fields["networks"] = .set(fullSet { String(repeating: "n", count: 59) + String(format: "%05d", $0) })
        fields["memberships"] = .set(fullSet { String(repeating: "m", count: 59) + String(format: "%05d", $0) })
        let record = Record(fields: fields)
        let key = RecordKey(collection: "organisations", id: String(repeating: "k", count: 64))
        XCTAssertNoThrow(try record.checkLimits(), "within every per-field limit")
        if case .set(let topics) = fields["topics"] { XCTAssertEqual(topics.elements.count, Limits.maxSetElements, "a full set of the longest elements fits its byte limit") }

        let encoded = WireCodec.encodeRecord(key, record)
        XCTAssertLessThanOrEqual(encoded.count, EncodedSize.record(key, record), "the estimate is an upper bound")
        XCTAssertLessThanOrEqual(EncodedSize.record(key, record), Limits.maxRecordBytes)
        let page = Message.snapshotPage(SnapshotPage(version: VersionVector([writer(0): .max]), records: [(key, record)],
                                                     lastKey: key.description, done: true))
        let frames = WireCodec.encode(page)
        XCTAssertLessThan(frames.map(\.count).reduce(0, +), WireLimits.maxMessageBytes)
        XCTAssertEqual(try WireCodec.decode(frames), page, "and decodes within the decoder's limits")
    }

    /// The decoder's limits are never tighter than the model's, so nothing the model
    /// accepts is refused on the wire.
    func testDecoderLimitsAreNoTighterThanModelLimits() {
        XCTAssertGreaterThanOrEqual(WireLimits.maxSiblingsPerRegister, Limits.maxSiblings)
        XCTAssertGreaterThanOrEqual(WireLimits.maxSiblingsPerRegister, Limits.maxSetElements, "set elements per delta")
        XCTAssertGreaterThanOrEqual(WireLimits.maxTextBytes, Limits.maxTextBytes)
        XCTAssertGreaterThanOrEqual(WireLimits.maxFieldsPerOp, Schema.memberSync.collections.values.map { $0.fields.count + 1 }.max()!)
        XCTAssertLessThan(Limits.maxRecordBytes, WireSize.pageBudgetBytes)
        XCTAssertGreaterThanOrEqual(WireLimits.maxVersionEntries * 24, Limits.maxRegisterBytes, "a full context decodes")
    }
}
