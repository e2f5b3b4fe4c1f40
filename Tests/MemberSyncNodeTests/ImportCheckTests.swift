import MemberSyncHarness
import XCTest
import MemberSyncCrypto
import MemberSyncModel
@testable import MemberSyncEngine
@testable import MemberSyncNode

/// The judging of a record's first rights write, which an import of new records makes by the
/// thousand, must reach exactly what judging the record whole reaches.
final class ImportCheckTests: XCTestCase {
    func key(_ s: String) -> RecordKey { try! RecordKey(parsing: s) }

    func contact(_ id: String, _ organisation: String, name: String = "N") -> (key: RecordKey, changes: [FieldChange]) {
        (key("contacts/\(id)"), [.assign(field: "name", value: .string(name)), .assign(field: "organisation", value: .string(organisation))])
    }

    /// A hub and asker, admitted, as a secure federation runs them.
    func federation() throws -> SimulatedNetwork {
        var net = SimulatedNetwork()
        net.addNode("brussels", role: .hub, secure: true, organisation: "oslo-region-european-office")
        net.addNode("asker", role: .member, hubs: ["brussels"], secure: true)
        try net.write("brussels", "nodes/asker", [
            .assign(field: "organisation", value: .string("asker")), .assign(field: "role", value: .string("member")),
            .assign(field: "signing_key", value: .string(Hex.encode(net.keys["asker"]!.publicKey))),
        ])
        net.run(milliseconds: 500)
        return net
    }

    /// A member's first write on a record no op is held on is judged alone; the verdict (and
    /// its sentence) is the whole judging's, allowed or refused, for contacts and projects.
    func testTheFirstRightsWriteOnARecordGetsTheVerdictOfTheWholeJudging() throws {
        let net = try federation()
        var asker = net.engines["asker"]!
        let authority = try XCTUnwrap(asker.authority)
        let cases: [(String, [FieldChange], Bool)] = [
            ("contacts/mine", [.assign(field: "organisation", value: .string("asker"))], true),
            ("contacts/theirs", [.assign(field: "organisation", value: .string("baerum"))], false),
            ("contacts/two", [.assign(field: "organisation", value: .string("asker")), .assign(field: "name", value: .string("X"))], true),
            ("projects/led", [.assign(field: "lead", value: .string("asker")), .assign(field: "title", value: .string("T"))], true),
            ("projects/other", [.assign(field: "lead", value: .string("baerum"))], false),
            ("projects/partner", [.add(field: "partners", element: "asker")], false),
        ]
        for (k, changes, allowed) in cases {
            var scratch = asker.replica
            let op = try scratch.prepareWrite(key(k), changes)
            XCTAssertTrue(scratch.heldDots(on: op.key).isEmpty)
            let whole = authority.verdicts(on: op.key, in: scratch, extra: op, rightsWritesOnly: true)[op.dot]
            var judgements = RightsJudgements()
            let alone = authority.rightsVerdict(op, try authority.writer("asker", in: scratch), in: scratch, judgements: &judgements)
            XCTAssertEqual(alone?.detail, whole?.detail, k)
            XCTAssertEqual(alone == nil, allowed, "\(k): \(String(describing: alone))")
            XCTAssertNil(judgements.entries[op.key], "no entry is kept for a record's first write")
        }
        // And through the engine, the same sentence for the refused contact.
        XCTAssertThrowsError(try asker.localWrite(key("contacts/theirs"), [.assign(field: "organisation", value: .string("baerum"))], now: net.now)) { e in
            XCTAssertTrue("\(e)".contains("asker may write only contacts whose organisation is asker"), "\(e)")
        }
        // A second rights write on a record created so is judged whole, and allowed.
        _ = try asker.localWrite(key("contacts/mine"), [.assign(field: "organisation", value: .string("asker"))], now: net.now)
        _ = try asker.localWrite(key("contacts/mine"), [.assign(field: "organisation", value: .string("asker")), .assign(field: "name", value: .string("M"))], now: net.now)
    }
}
