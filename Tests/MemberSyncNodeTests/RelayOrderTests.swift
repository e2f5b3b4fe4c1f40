import XCTest
import MemberSyncModel
import MemberSyncWire
@testable import MemberSyncEngine
@testable import MemberSyncNode

/// What the reactor may send before its durable commit: a hub relays remote ops before it
/// commits them, but acknowledges only after; a writer publishes its own ops only after.
final class RelayOrderTests: XCTestCase {
    func federation() -> SimulatedNetwork {
        var net = SimulatedNetwork()
        net.addNode("brussels", role: .hub)
        for m in ["asker", "baerum"] { net.addNode(m, role: .member, hubs: ["brussels"]) }
        net.run(milliseconds: 500)
        return net
    }

    func key(_ s: String) -> RecordKey { try! RecordKey(parsing: s) }
    func name(_ s: String) -> [FieldChange] { [.assign(field: "name", value: .string(s))] }

    /// A local write on `node` that is not routed anywhere: its op and directives.
    func writeUnrouted(_ net: inout SimulatedNetwork, _ node: String, _ k: String) throws -> (Op, [Directive]) {
        var e = net.engines[node]!
        let (op, commit) = try e.localWrite(key(k), name("x"), now: net.now)
        net.engines[node] = e
        return (op, commit.directives)
    }

    func testHubRelaysPushedOpsBeforeItsCommitAndAcksOnlyAfter() throws {
        var net = federation()
        let (op1, _) = try writeUnrouted(&net, "asker", "contacts/a")
        let (op2, _) = try writeUnrouted(&net, "asker", "contacts/b")
        var hub = net.engines["brussels"]!
        let out = hub.onRequest(from: Array("asker".utf8), .push([op1, op2]), now: net.now)
        let plan = ExecutionPlan(out)
        XCTAssertEqual(plan.beforeCommit, [.relay(EncodedOp(op1)), .relay(EncodedOp(op2))])
        XCTAssertTrue(plan.persist)
        XCTAssertEqual(plan.ops, [EncodedOp(op1), EncodedOp(op2)], "stored with the bytes relayed")
        XCTAssertEqual(plan.keys, [key("contacts/a"), key("contacts/b")])
        XCTAssertEqual(plan.afterCommit, [.reply(client: Array("asker".utf8), .ack(hub.replica.version))])

        // The same push again: nothing new to relay or store, and the Ack still comes after.
        let again = ExecutionPlan(hub.onRequest(from: Array("asker".utf8), .push([op1, op2]), now: net.now))
        XCTAssertEqual(again.beforeCommit, [])
        XCTAssertFalse(again.persist)
        XCTAssertEqual(again.afterCommit.count, 1)
    }

    func testWriterPublishesItsOwnOpOnlyAfterItsCommit() throws {
        var net = federation()
        let (op, out) = try writeUnrouted(&net, "asker", "contacts/a")
        let plan = ExecutionPlan(out)
        XCTAssertEqual(plan.beforeCommit, [], "an own op must be durable before it leaves (its dot must never be reused)")
        XCTAssertEqual(plan.ops.map(\.op), [op])
        // With the bytes the op was signed with (encoded once, MSP frames as ever).
        XCTAssertTrue(plan.afterCommit.contains(.publishOp(EncodedOp(op))))
        XCTAssertTrue(plan.afterCommit.contains(.pushOps(.hub(0), [EncodedOp(op)])))
    }

    func testMemberCommitsALiveOpAndRelaysNothing() throws {
        var net = federation()
        let (op, _) = try writeUnrouted(&net, "asker", "contacts/a")
        var baerum = net.engines["baerum"]!
        let plan = ExecutionPlan(baerum.onSubscription(.hub(0), .op(op), now: net.now))
        XCTAssertEqual(plan.ops.map(\.op), [op])
        XCTAssertEqual(plan.beforeCommit, [])
        XCTAssertFalse(plan.afterCommit.contains {
            switch $0 {
            case .publish, .publishOp: return true
            default: return false
            }
        })
    }

    /// The hub relays an op, then crashes before its commit (it comes back with the state it
    /// had stored). Nothing is lost: the receiver holds the op, the writer never got an Ack and
    /// pushes again, and every node converges.
    func testHubCrashBetweenRelayAndCommitLosesNothing() throws {
        var net = federation()
        let (op, _) = try writeUnrouted(&net, "asker", "contacts/a")
        let stored = net.engines["brussels"]!
        var hub = stored
        let plan = ExecutionPlan(hub.onRequest(from: Array("asker".utf8), .push([op]), now: net.now))
        net.engines["brussels"] = hub
        net.route(from: "brussels", plan.beforeCommit)
        net.deliverAll()
        XCTAssertTrue(net.engines["baerum"]!.replica.holds(op.dot), "the relay went out before the commit")
        net.engines["brussels"] = stored  // crashed before committing: the Ack never went out
        XCTAssertEqual(net.engines["asker"]!.pendingCount, 1)
        net.run(milliseconds: 3000)
        XCTAssertTrue(net.engines["brussels"]!.replica.holds(op.dot), "the writer's retried Push brought it back")
        XCTAssertEqual(net.engines["asker"]!.pendingCount, 0)
        XCTAssertEqual(net.digests(["brussels", "asker", "baerum"]).count, 1)
    }
}
