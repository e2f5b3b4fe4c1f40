import MemberSyncHarness
import XCTest
import MemberSyncCrypto
import MemberSyncModel
import MemberSyncWire
@testable import MemberSyncEngine
@testable import MemberSyncNode

/// A refused pushed op is answered (MSP 7.3, step 2): the receiver names its dot and reason in
/// `Error{REJECTED}`, and the origin records the refusal, shows it, and stops resending it.
final class RefusalReplyTests: XCTestCase {
    func key(_ s: String) -> RecordKey { try! RecordKey(parsing: s) }
    let asker = Array("asker".utf8)

    /// A secure hub and member asker; asker admitted only when `admitted`.
    func federation(admitted: Bool) throws -> SimulatedNetwork {
        var net = SimulatedNetwork()
        net.addNode("brussels", role: .hub, secure: true, organisation: "oslo-region-european-office")
        net.addNode("asker", role: .member, hubs: ["brussels"], secure: true)
        if admitted { try admit(&net) }
        net.run(milliseconds: 500)
        return net
    }

    func admit(_ net: inout SimulatedNetwork) throws {
        _ = try net.write("brussels", "nodes/asker", [
            .assign(field: "organisation", value: .string("asker")), .assign(field: "role", value: .string("member")),
            .assign(field: "signing_key", value: .string(Hex.encode(net.keys["asker"]!.publicKey))),
        ])
    }

    func refusals(_ out: [Directive]) -> [Refusal] {
        out.flatMap { d -> [Refusal] in
            if case .reply(_, .error(.rejected, _, let refused)) = d { return refused }
            return []
        }
    }

    /// asker, a partner, edits a project offline while the hub removes it from the project.
    /// The hub holds the edit without effect and names it, with the rule, before its Ack; asker
    /// lists it durably-to-be (`.persistRefused`) and never pushes it again.
    func testAnEditTheRulesRefuseIsNamedToItsOriginWhichRecordsItAndDoesNotResendIt() throws {
        var net = try federation(admitted: true)
        _ = try net.write("brussels", "projects/catchmr", [.assign(field: "title", value: .string("CatchMR")), .assign(field: "lead", value: .string("baerum")),
                                                           .add(field: "partners", element: "asker")])
        net.run(milliseconds: 300)
        net.down.insert("asker")
        let edit = try net.write("asker", "projects/catchmr", [.assign(field: "status", value: .string("closed"))])
        _ = try net.write("brussels", "projects/catchmr", [.remove(field: "partners", element: "asker")])
        net.queue.removeAll()

        var hub = net.engines["brussels"]!
        let out = hub.onRequest(from: asker, .push([edit]), now: net.now)
        let refused = refusals(out)
        XCTAssertEqual(refused.count, 1, "\(out)")
        XCTAssertEqual(refused.first?.dot, edit.dot)
        XCTAssertEqual(refused.first?.reason, "unauthorised")
        XCTAssertTrue(refused.first?.detail.contains("leads or partners in") ?? false, refused.first?.detail ?? "")
        XCTAssertEqual(refused.first?.held, true, "validly signed and refused by the rules: held without effect")
        let replies = out.compactMap { d -> Message? in if case .reply(_, let m) = d { return m } else { return nil } }
        XCTAssertEqual(replies.map(\.kind), ["error", "ack"], "the refusal comes before the Ack")
        guard case .ack(let acked)? = replies.last else { return XCTFail("no Ack") }
        XCTAssertTrue(acked.covers(edit.dot), "the Ack covers the held op")

        // The origin, back online, gets both answers (through the real codec).
        var member = net.engines["asker"]!
        let afterError = member.onLinkMessage(.hub(0), net.wire(replies[0]), now: net.now)
        XCTAssertEqual(afterError, [.event(.ownOpRefused(dot: edit.dot, key: key("projects/catchmr"), reason: "unauthorised",
                                                         detail: refused[0].detail, held: true)), .persistRefused])
        XCTAssertEqual(member.refusedEdits.map(\.dot), [edit.dot])
        XCTAssertEqual(member.refusedEdits.first?.key, key("projects/catchmr"))
        XCTAssertEqual(member.refusedEdits.first?.summary, "status=closed")
        XCTAssertEqual(member.refusedEdits.first?.reason, "unauthorised")
        XCTAssertEqual(member.onLinkMessage(.hub(0), net.wire(replies[0]), now: net.now), [], "the same refusal again changes nothing")
        _ = member.onLinkMessage(.hub(0), net.wire(replies[1]), now: net.now)
        XCTAssertEqual(member.refusedEdits.count, 1, "an Ack does not forget a held refusal")

        // The whole federation then settles, and asker pushes the edit no more.
        net.engines["brussels"] = hub
        net.engines["asker"] = member
        net.down.remove("asker")
        net.run(milliseconds: 2000)
        let pushes = net.pushesSent["asker"] ?? 0
        net.run(milliseconds: 5000)
        XCTAssertEqual(net.pushesSent["asker"] ?? 0, pushes, "no resend of the refused edit")
        XCTAssertEqual(net.engines["asker"]!.pendingCount, 0)
        XCTAssertEqual(net.engines["asker"]!.refusedEdits.map(\.dot), [edit.dot], "still listed at the origin")
        XCTAssertTrue(net.engines["asker"]!.replica.withheld.contains(edit.dot), "the origin's own judging agrees")
    }

    /// An op the hub does not hold (its origin is not admitted yet) is named with
    /// `held = false`: the origin lists it and stops pushing, instead of pushing every second,
    /// until the roster changes; once admitted, the op is accepted and leaves the list.
    func testAnOpTheHubDoesNotHoldStopsThePushesUntilTheRosterChanges() throws {
        var net = try federation(admitted: false)
        let op = try net.write("asker", "organisations/asker", [.assign(field: "name", value: .string("Asker kommune"))])
        net.run(milliseconds: 300)
        XCTAssertFalse(net.engines["brussels"]!.replica.holds(op.dot))
        let refused = try XCTUnwrap(net.engines["asker"]!.refusedEdits.first)
        XCTAssertEqual(refused.dot, op.dot)
        XCTAssertEqual(refused.reason, "unknown-origin")
        XCTAssertFalse(refused.held)
        let pushes = net.pushesSent["asker"] ?? 0
        net.run(milliseconds: 10_000)
        XCTAssertEqual(net.pushesSent["asker"] ?? 0, pushes, "no push while nothing changed (it was one a second before)")
        XCTAssertEqual(net.engines["brussels"]!.counters.opsRejected["unknown-origin"], 1, "refused once, not once per retry")

        try admit(&net)
        net.run(milliseconds: 2000)
        XCTAssertTrue(net.engines["brussels"]!.replica.holds(op.dot), "pushed again once the roster changed")
        XCTAssertEqual(net.engines["asker"]!.refusedEdits, [], "accepted after all: no longer listed")
        XCTAssertEqual(net.engines["asker"]!.pendingCount, 0)
    }

    /// The origin's list comes back after a restart (the store's meta row) and refuses a
    /// damaged row instead of half-reading it.
    func testTheRefusedEditsTextRoundTripsAndRefusesDamage() throws {
        let list = [RefusedEdit(dot: Dot(ReplicaID(node: "asker", epoch: 0x2a), 7), key: key("projects/catchmr"), summary: "status=closed",
                                reason: "unauthorised", detail: "not a partner", held: true, at: 1_764_547_200_000),
                    RefusedEdit(dot: Dot(ReplicaID(node: "asker", epoch: 0x2a), 9), key: nil, summary: "", reason: "clock-skew",
                                detail: "", held: false, at: 5)]
        XCTAssertEqual(try RefusedEditsText.decode(RefusedEditsText.encode(list)), list)
        XCTAssertThrowsError(try RefusedEditsText.decode("{}"))
        XCTAssertThrowsError(try RefusedEditsText.decode(#"[{"origin": "asker@2a", "counter": 0, "reason": "x", "held": true}]"#)) {
            XCTAssertTrue("\($0)".contains("entry 0"), "\($0)")
        }
    }

    /// An op whose siblings are stamped with another time than its hlc is malformed (MSP 5.6,
    /// rule 2), and so is an empty register delta; an honest op passes.
    func testSiblingTimesMustBeTheOpsHlc() throws {
        var a = Replica(id: ReplicaID(node: "asker", epoch: 1), wallClock: { 1_764_547_200_000 })
        let honest = try a.write(key("organisations/asker"), [.assign(field: "name", value: .string("Asker")), .add(field: "topics", element: "climate")])
        let b = Replica(id: ReplicaID(node: "brussels", epoch: 1), wallClock: { 1_764_547_200_000 })
        XCTAssertNoThrow(try b.validate(honest))
        let zero = Op(origin: honest.origin, counter: honest.counter, hlc: HLC(raw: 0), key: honest.key, fields: honest.fields)
        XCTAssertThrowsError(try b.validate(zero)) { XCTAssertTrue("\($0)".contains("not the op's hlc 0"), "\($0)") }
        var fields = honest.fields
        fields["name"] = .register(Register(siblings: [], context: VersionVector()))
        XCTAssertThrowsError(try b.validate(Op(origin: honest.origin, counter: honest.counter, hlc: honest.hlc, key: honest.key, fields: fields))) {
            XCTAssertTrue("\($0)".contains("carries no value"), "\($0)")
        }
    }
}
