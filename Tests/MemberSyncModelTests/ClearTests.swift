import XCTest

@testable import MemberSyncModel

/// Clearing a field: a sibling whose value is `Value.absent`.
final class ClearTests: XCTestCase {
    let t: @Sendable () -> UInt64 = { 1_000 }
    let key = RecordKey(collection: "organisations", id: "asker")

    func testAClearRemovesTheValueEverywhereAndReadsLikeANeverWrittenField() throws {
        var a = Replica(id: ReplicaID(node: "asker", epoch: 1), wallClock: t)
        var b = Replica(id: ReplicaID(node: "brussels", epoch: 1), wallClock: t)
        let write = try a.write(key, [.assign(field: "name", value: .string("Asker")), .assign(field: "population", value: .int(94_000)),
                                      .assign(field: "website", value: .string("https://asker.kommune.no"))])
        try b.apply(write)
        let clear = try a.write(key, [.assign(field: "population", value: .absent), .assign(field: "website", value: .absent)])
        XCTAssertEqual(try b.apply(clear), .applied)
        // The same state written without those fields: the visible state is the same.
        var c = Replica(id: ReplicaID(node: "hamar", epoch: 1), wallClock: t)
        _ = try c.write(key, [.assign(field: "name", value: .string("Asker"))])
        for r in [a, b] {
            let view = try XCTUnwrap(r.view(key))
            XCTAssertEqual(view.fields.map(\.name), ["name"], "cleared fields are not shown")
            XCTAssertNil(view.field("population"))
            XCTAssertTrue(r.conflicts().isEmpty)
            XCTAssertEqual(r.digest(), c.digest(), "a cleared field digests like one never written")
        }
        // A later write gives it a value again.
        try b.apply(try a.write(key, [.assign(field: "population", value: .int(95_000))]))
        XCTAssertEqual(b.view(key)?.field("population")?.value, .int(95_000))
    }

    func testAClearConcurrentWithAWriteIsAConflictNotALoss() throws {
        var a = Replica(id: ReplicaID(node: "asker", epoch: 1), wallClock: t)
        var b = Replica(id: ReplicaID(node: "brussels", epoch: 1), wallClock: t)
        let base = try a.write(key, [.assign(field: "website", value: .string("old"))])
        try b.apply(base)
        let clear = try a.write(key, [.assign(field: "website", value: .absent)])
        let edit = try b.write(key, [.assign(field: "website", value: .string("new"))])
        try a.apply(edit)
        try b.apply(clear)
        for r in [a, b] {
            XCTAssertEqual(r.conflicts().map(\.field), ["website"])
            XCTAssertEqual(Set(r.conflicts().first?.siblings.map(\.value) ?? []), [.absent, .string("new")])
            let field = r.view(key)?.field("website")
            XCTAssertNotNil(field?.conflict, "the conflict is shown even if the clear wins the read")
        }
        XCTAssertEqual(a.digest(), b.digest())
    }

    func testRequiredAndSetFieldsCannotBeClearedLocallyOrRemotely() throws {
        var a = Replica(id: ReplicaID(node: "asker", epoch: 1), wallClock: t)
        XCTAssertTrue(Schema.memberSync.isRequired("organisations", "name"))
        XCTAssertTrue(Schema.memberSync.isRequired("contacts", "organisation"))
        XCTAssertFalse(Schema.memberSync.isRequired("organisations", "website"))
        XCTAssertThrowsError(try a.write(key, [.assign(field: "name", value: .absent)])) {
            XCTAssertTrue("\($0)".contains("required"), "\($0)")
        }
        XCTAssertThrowsError(try a.write(key, [.assign(field: "topics", value: .absent)])) {
            XCTAssertTrue("\($0)".contains("is a set"), "\($0)")
        }
        // A remote op clearing a required field, or carrying a clear in $exists, is refused whole.
        var b = Replica(id: ReplicaID(node: "brussels", epoch: 1), wallClock: t)
        let origin = ReplicaID(node: "hostile", epoch: 1)
        func op(_ fields: [String: Value]) -> Op {
            let dot = Dot(origin, 1)
            var states: [String: FieldState] = [:]
            for (name, value) in fields {
                states[name] = .register(Register(siblings: [Sibling(dot: dot, hlc: HLC(raw: 1), value: value)], context: VersionVector()))
            }
            return Op(origin: origin, counter: 1, hlc: HLC(raw: 1), key: key, fields: states)
        }
        XCTAssertThrowsError(try b.apply(op(["name": .absent, Record.existsField: .bool(true)])))
        XCTAssertThrowsError(try b.apply(op([Record.existsField: .absent])))
        XCTAssertThrowsError(try b.apply(op(["topics": .absent, Record.existsField: .bool(true)])))
        XCTAssertThrowsError(try b.apply(op(["population": .string("x"), Record.existsField: .bool(true)])), "typed checks still apply")
        XCTAssertEqual(try b.apply(op(["population": .absent, Record.existsField: .bool(true)])), .applied)
        XCTAssertNil(b.view(key)?.field("population"))
    }
}
