import XCTest
import MemberSyncModel
import MemberSyncWire
@testable import MemberSyncEngine
@testable import MemberSyncNode

/// A snapshot is fetched as one chain of page requests, however its pages are delayed,
/// duplicated or asked for again.
final class SnapshotPagingTests: XCTestCase {
    func testDuplicatePagesAndRepeatedRequestsKeepOneChainAndLoseNothing() throws {
        var net = SimulatedNetwork()
        net.addNode("brussels", role: .hub)
        net.addNode("hamar", role: .member, hubs: ["brussels"])
        var hub = net.engines["brussels"]!
        for i in 0..<7 {
            _ = try hub.localWrite(try RecordKey(parsing: "contacts/c\(i)"), [.assign(field: "name", value: .string("C \(i)"))], now: net.now)
        }
        var member = net.engines["hamar"]!
        let client = Array("hamar".utf8)
        func page(after: String) -> Message {
            guard case .reply(_, let m)? = hub.onRequest(from: client, .snapshotRequest(after: after, maxRecords: 3), now: net.now).first else {
                XCTFail("no page"); return .error(code: .badRequest, message: "")
            }
            return m
        }
        func requests(_ out: [Directive]) -> [String] {
            out.compactMap { if case .send(_, .snapshotRequest(let after, _)) = $0 { return after } else { return nil } }
        }

        XCTAssertEqual(requests(member.onLinkMessage(.hub(0), .error(code: .snapshotRequired, message: "compacted"), now: net.now)), [""])
        XCTAssertEqual(requests(member.onLinkMessage(.hub(0), .error(code: .snapshotRequired, message: "compacted"), now: net.now)), [],
                       "a second SNAPSHOT_REQUIRED while fetching does not start a second chain")

        let first = page(after: "")
        XCTAssertEqual(requests(member.onLinkMessage(.hub(0), first, now: net.now)), ["contacts/c2"])
        XCTAssertEqual(member.onLinkMessage(.hub(0), first, now: net.now), [], "a late duplicate of a page is dropped")

        // The next page does not come: after the timeout the same request goes out again.
        let later = net.now + 6_000
        XCTAssertEqual(requests(member.onTick(now: later)), ["contacts/c2"])
        let second = page(after: "contacts/c2")
        XCTAssertEqual(requests(member.onLinkMessage(.hub(0), second, now: later)), ["contacts/c5"])
        XCTAssertEqual(member.onLinkMessage(.hub(0), second, now: later), [], "the answer to the repeated request is dropped too")

        // An answerer that lost state (its version no longer covers the first page's) makes
        // the snapshot start over rather than continue with records that may miss ops.
        var stale = second
        if case .snapshotPage(var p) = stale {
            p.version = VersionVector()
            p.records = [(RecordKey(collection: "contacts", id: "c9"), Record())]
            stale = .snapshotPage(p)
        }
        XCTAssertEqual(requests(member.onLinkMessage(.hub(0), stale, now: later)), [""])
        let restart = page(after: "")
        XCTAssertEqual(requests(member.onLinkMessage(.hub(0), restart, now: later)), ["contacts/c2"])
        XCTAssertEqual(requests(member.onLinkMessage(.hub(0), page(after: "contacts/c2"), now: later)), ["contacts/c5"])

        let last = page(after: "contacts/c5")
        _ = member.onLinkMessage(.hub(0), last, now: later)
        XCTAssertEqual(member.counters.snapshotsLoaded, 1)
        XCTAssertEqual(member.replica.digest(), hub.replica.digest())
        XCTAssertEqual(member.replica.version, hub.replica.version)
    }
}
