import Foundation
import Logging
@testable import MemberSyncConfig
import MemberSyncModel
import MemberSyncControl
import MemberSyncDirectory
import MemberSyncHarness
import MemberSyncServices
import Synchronization
import XCTest
@testable import MemberSyncNode

/// The node's control server and the one client over a real control socket (a temp data
/// directory, an insecure node on a free loopback port, its reactor on a thread of its own).
final class ControlServerTests: XCTestCase {
    var dir: String!

    override func setUpWithError() throws {
        dir = NSTemporaryDirectory() + "controlserver-\(UUID().uuidString.prefix(8))"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
    }

    override func tearDown() { try? FileManager.default.removeItem(atPath: dir) }

    func config() -> NodeConfig {
        var c = NodeConfig(nodeID: "brussels", organisation: "oslo-region-european-office", role: .hub, dataDir: dir,
                           listen: "tcp://127.0.0.1:\(LoopbackPorts.freePair())")
        c.insecure = true
        return c
    }

    func node() throws -> Node { try Node(config: config(), logger: Logger(label: "test")) }

    func testMalformedFramesGetTheDocumentedErrorReply() throws {
        let n = try node()
        for (frame, message) in [("{", "request is not a JSON object"), (#"{"command":"fly"}"#, "unknown command 'fly'"),
                                 (#"{"key":"contacts/a"}"#, "missing 'command'"), (#"{"command":"get"}"#, "missing 'key' (COLLECTION/ID)"),
                                 (#"{"command":"get","key":"planets/mars"}"#, nil)] {
            let reply = JSONValue(parsing: n.serveControl(Array(frame.utf8)))
            XCTAssertEqual(reply?["ok"], .bool(false), frame)
            if let message { XCTAssertEqual(reply?["error"], .string(message), frame) } else { XCTAssertNotNil(reply?["error"]?.string, frame) }
            XCTAssertEqual(reply?.object?.count, 2, "only ok and error: \(frame)")
        }
        // The node still serves after them.
        let ok = JSONValue(parsing: n.serveControl(Control.Ping().requestBytes))
        XCTAssertEqual(ok, ["ok": true, "result": ["node_id": "brussels"]])
    }

    func testTheClientGetsTypedResultsAndErrorsOverTheSocket() throws {
        let c = config()
        let running = try InProcessNode { try Node(config: c, logger: Logger(label: "test")) }
        defer { running.stop() }
        let client = ControlClient(dataDir: dir, timeoutMilliseconds: 5000)
        XCTAssertEqual(try client.call(Control.Ping()).nodeID, "brussels")
        let w = try client.call(Control.SetFields(key: "contacts/kari", changes: ["name=Kari", "topics+=climate"]))
        XCTAssertEqual(w.key, "contacts/kari")
        let record = try client.call(Control.Get(key: "contacts/kari"))
        XCTAssertEqual(record.fields["name"], .value(.string("Kari")))
        XCTAssertEqual(record.fields["topics"], .members(["climate"]))
        XCTAssertEqual(try client.call(Control.List(collection: "contacts", where: ["topics=climate"])).map(\.key), ["contacts/kari"])
        XCTAssertEqual(try client.call(Control.Search(text: "kari")).first?.key, "contacts/kari")
        XCTAssertEqual(try client.call(Control.History(key: "contacts/kari")).ops.count, 1)
        XCTAssertEqual(try client.call(Control.StatusQuery()).mode, "hub")
        XCTAssertThrowsError(try client.call(Control.Get(key: "contacts/nobody"))) { error in
            XCTAssertEqual(error as? ControlClientError, .refused("no such record: contacts/nobody"))
        }
        XCTAssertEqual(try client.call(Control.VersionQuery()).records, 1, "version counts the record written")
    }

    /// A search or list of more records than the reactor reads itself goes to the node's query
    /// worker; meanwhile the reactor answers pings, writes and small searches, a burst of large
    /// queries is bounded, and a held query answers what the replica held when it came.
    /// Secure node (CURVE, signed ops); the worker is held by a gate so the order is certain.
    func testLargeSearchesAndListsRunOffTheReactorWhileTheNodeServesOthers() throws {
        var secure = config()
        secure.insecure = false
        let c = secure
        _ = try NodeKeys.ensureKeys(dataDir: dir)
        let gate = DispatchSemaphore(value: 0)
        let ran = Mutex<[Int]>([])
        let worker = try QueryWorker { job in
            gate.wait()
            ran.withLock { $0.append(job.recordCount) }
            return job.reply()
        }
        let running = try InProcessNode {
            let n = try Node(config: c, logger: Logger(label: "test"))
            n.queryWorker = worker
            return n
        }
        defer { running.stop() }
        let client = ControlClient(dataDir: dir, timeoutMilliseconds: 30_000)
        let many = Node.queryOnReactorLimit + 500
        let keys = (0..<many).map { "contacts/hansen-\($0)" }
        _ = try client.call(Control.SetMany(edits: keys.map { .init(key: $0, changes: ["name=Kari Hansen"]) }))

        // Large queries from clients of their own, each on a thread, held at the gate.
        let dataDir: String = dir
        let answers = Mutex<(searches: [[SearchHit]], lists: [[RecordJSON]], errors: [String])>(([], [], []))
        let done = DispatchGroup()
        func inBackground(_ body: @escaping @Sendable (ControlClient) throws -> Void) {
            done.enter()
            Thread {
                do { try body(ControlClient(dataDir: dataDir, timeoutMilliseconds: 30_000)) } catch {
                    answers.withLock { $0.errors.append("\(error)") }
                }
                done.leave()
            }.start()
        }
        func searchInBackground() {
            inBackground { other in
                let hits = try other.call(Control.Search(text: "hansen"))
                answers.withLock { $0.searches.append(hits) }
            }
        }
        searchInBackground()
        XCTAssertTrue(waitUntil(timeout: 10) { worker.waiting == 1 }, "the large search waits at the worker")

        // The reactor goes on: a ping, a write, a small search (run on the reactor).
        XCTAssertEqual(try client.call(Control.Ping()).nodeID, "brussels")
        _ = try client.call(Control.SetFields(key: "contacts/later-hansen", changes: ["name=Ola Hansen"]))
        XCTAssertEqual(try client.call(Control.Search(text: "Ola Hansen")).map(\.key), ["contacts/later-hansen"])

        // A large list waits too, and at most `maxWaiting` wait; one more is refused clearly.
        inBackground { other in
            let listed = try other.call(Control.List(collection: "contacts", where: ["name=Kari Hansen"]))
            answers.withLock { $0.lists.append(listed) }
        }
        for _ in 2..<QueryWorker.maxWaiting { searchInBackground() }
        XCTAssertTrue(waitUntil(timeout: 10) { worker.waiting == QueryWorker.maxWaiting })
        XCTAssertThrowsError(try client.call(Control.Search(text: "hansen"))) { error in
            XCTAssertEqual(error as? ControlClientError,
                           .refused("the node is already answering \(QueryWorker.maxWaiting) large searches or lists; try again in a moment"))
        }
        XCTAssertEqual(try client.call(Control.Ping()).nodeID, "brussels", "the refusal left the socket serving")

        for _ in 0..<QueryWorker.maxWaiting { gate.signal() }
        XCTAssertEqual(done.wait(timeout: .now() + 30), .success)
        let results = answers.withLock { $0 }
        XCTAssertEqual(results.errors, [])
        XCTAssertEqual(results.searches.count, QueryWorker.maxWaiting - 1)
        // The first search was taken before the later write: it answers the replica as it was.
        let first = try XCTUnwrap(results.searches.first { $0.count == many })
        XCTAssertEqual(Set(first.map(\.key)), Set(keys))
        XCTAssertEqual(results.searches.filter { $0.count == many + 1 }.count, QueryWorker.maxWaiting - 2, "later searches see the later write")
        XCTAssertEqual(results.lists.first?.map(\.key), keys.sorted(), "the list: every match of its filter (not Ola), by key")
        XCTAssertEqual(ran.withLock { $0 }.sorted(), [many] + Array(repeating: many + 1, count: QueryWorker.maxWaiting - 1))
    }
}
