import XCTest
import MemberSyncModel
@testable import MemberSyncWire

/// Clears (`Value.absent`) on the wire: a present `Value` with no kind (MSP.md 5.1).
final class ClearWireTests: XCTestCase {
    let t: @Sendable () -> UInt64 = { 1_700_000_000_000 }

    func clearingOp() throws -> (Op, Replica) {
        var r = Replica(id: ReplicaID(node: "asker", epoch: 3), wallClock: t)
        let key = RecordKey(collection: "organisations", id: "asker")
        _ = try r.write(key, [.assign(field: "name", value: .string("Asker")), .assign(field: "website", value: .string("x"))])
        return (try r.write(key, [.assign(field: "website", value: .absent)]), r)
    }

    func testAClearRoundTripsOnBothDecodingPathsAndInRecords() throws {
        let (op, replica) = try clearingOp()
        let bytes = WireCodec.encodeOp(op)
        XCTAssertEqual(bytes, try ProtoConvert.op(op).serializedBytes(), "direct and generated encodings agree")
        XCTAssertEqual(try WireCodec.decodeOp(bytes), op)
        XCTAssertEqual(DirectDecoding.attempt(bytes, DirectDecoding.op), op, "the fast path handles clears")
        XCTAssertEqual(try ProtoConvert.op(Msp_V1_Op(serializedBytes: bytes), path: "op"), op)
        let key = RecordKey(collection: "organisations", id: "asker")
        let record = try XCTUnwrap(replica.record(key))
        let (k, decoded) = try WireCodec.decodeRecord(WireCodec.encodeRecord(key, record))
        XCTAssertEqual(k, key)
        XCTAssertEqual(decoded, record)
        XCTAssertEqual(try WireCodec.decodeEnvelope(WireCodec.encodeEnvelope(.push([op]))), .push([op]))
        XCTAssertGreaterThanOrEqual(WireSize.op(op), bytes.count)
    }

    func testAValueOfAnUnknownKindOrAMissingValueIsNotAClear() throws {
        let (op, _) = try clearingOp()
        var p = ProtoConvert.op(op)
        let i = try XCTUnwrap(p.fields.firstIndex { $0.name == "website" })
        // A kind from a future version (field 9): refused, never read as a clear.
        var unknown = p.fields[i].register.siblings[0].value
        try unknown.merge(serializedBytes: [0x48, 0x01])
        p.fields[i].register.siblings[0].value = unknown
        XCTAssertThrowsError(try WireCodec.decodeOp(try p.serializedBytes()))
        // No value at all: malformed, as before.
        p.fields[i].register.siblings[0].clearValue()
        XCTAssertThrowsError(try WireCodec.decodeOp(try p.serializedBytes()))
        // A clear in a set element's presence register: refused.
        var set = ProtoConvert.op(op)
        var element = Msp_V1_SetElement()
        element.element = "climate"
        element.presence = ProtoConvert.register(Register(siblings: [Sibling(dot: op.dot, hlc: op.hlc, value: Value.absent)], context: VersionVector())) { ProtoConvert.value($0) }
        var state = Msp_V1_FieldState()
        state.name = "topics"
        var s = Msp_V1_SetState()
        s.elements = [element]
        state.set = s
        set.fields.append(state)
        XCTAssertThrowsError(try WireCodec.decodeOp(try set.serializedBytes()))
    }
}
