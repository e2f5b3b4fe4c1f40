import MemberSyncHarness
import XCTest
import MemberSyncCrypto
import MemberSyncModel
@testable import MemberSyncEngine
@testable import MemberSyncNode

/// The check pass of an import (`SyncEngine.checkWriteBatch`) and the judging of a record's
/// first rights write, which an import of new records makes by the thousand: both must reach
/// exactly what writing the batch (and judging every record whole) reaches, and a check must
/// leave nothing behind.
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

    func testACheckOfDistinctRecordsFindsWhatTheWriteFindsAndLeavesNothingBehind() throws {
        let net = try federation()
        var asker = net.engines["asker"]!
        _ = try asker.localWrite(key("contacts/old"), [.assign(field: "name", value: .string("Old")), .assign(field: "organisation", value: .string("asker"))],
                             now: net.now)
        let good = (0..<5).map { contact("c\($0)", "asker") } + [(key("contacts/old"), [FieldChange.assign(field: "name", value: .string("Renamed"))])]
        // Line 7 writes another organisation's contact.
        let bad = good + [contact("theirs", "baerum")] + [contact("c9", "asker")]
        let (version, digest, logCount, generation) = (asker.replica.version, asker.replica.digest(), asker.replica.logCount, asker.replica.rightsFactsGeneration)

        let checked = asker.checkWriteBatch(bad, allowEmpty: true)
        XCTAssertEqual(checked.failure?.index, 6)
        guard case .unauthorised(let why)? = checked.failure?.error else { return XCTFail("\(String(describing: checked.failure))") }
        XCTAssertTrue(why.contains("asker may write only contacts whose organisation is asker"), why)
        XCTAssertEqual(asker.checkWriteBatch(good, allowEmpty: true).ops, good.count)
        XCTAssertNil(asker.checkWriteBatch(good, allowEmpty: true).failure)
        XCTAssertEqual(asker.replica.version, version, "nothing of the checks was kept")
        XCTAssertEqual(asker.replica.digest(), digest)
        XCTAssertEqual(asker.replica.logCount, logCount)
        XCTAssertNil(asker.replica.record(key("contacts/c0")))
        XCTAssertEqual(asker.replica.rightsFactsGeneration, generation, "not applied and taken back: the rights facts never moved")

        // The write of the same batches finds the same.
        let written = asker.localWriteBatch(bad, allowEmpty: true, now: net.now)
        XCTAssertEqual(written.failure?.index, 6)
        XCTAssertEqual(written.failure?.error.description, checked.failure?.error.description)
        let (ops, commit, failure) = asker.localWriteBatch(good, allowEmpty: true, now: net.now)
        XCTAssertNil(failure)
        XCTAssertNotNil(commit)
        XCTAssertEqual(ops.map(\.counter), (1...good.count).map { version[asker.replica.id] + UInt64($0) })
    }

    /// Edits on one record depend on each other: the second is allowed only because the
    /// first made the contact asker's. A check judging each alone would refuse it; the check
    /// applies them in turn then, as the write does.
    func testACheckOfEditsOnOneRecordJudgesEachAfterTheOnesBefore() throws {
        let net = try federation()
        var asker = net.engines["asker"]!
        let batch = [contact("new", "asker"), (key("contacts/new"), [FieldChange.assign(field: "role", value: .string("Officer"))])]
        let checked = asker.checkWriteBatch(batch)
        XCTAssertNil(checked.failure, "\(String(describing: checked.failure))")
        XCTAssertEqual(checked.ops, 2)
        XCTAssertNil(asker.replica.record(key("contacts/new")), "taken back")
        XCTAssertEqual(asker.replica.version[asker.replica.id], 0)
        XCTAssertNil(asker.localWriteBatch(batch, now: net.now).failure)
    }

    func testAPreparedOpAheadTakesTheCounterItWouldHaveAfterThatManyWrites() throws {
        var r = Replica(id: ReplicaID(node: "asker", epoch: 1), wallClock: { 1_700_000_000_000 })
        _ = try r.write(key("contacts/a"), [.assign(field: "name", value: .string("A"))])
        let op = try r.prepareWrite(key("contacts/b"), [.assign(field: "name", value: .string("B"))], ahead: 3)
        XCTAssertEqual(op.counter, 5)
        XCTAssertEqual(r.version[r.id], 1, "preparing applies nothing")
        XCTAssertThrowsError(try r.prepareWrite(key("contacts/b"), [.assign(field: "name", value: .string("B"))], ahead: .max))
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
