import Foundation
import MemberSyncControl
import MemberSyncDirectory
import MemberSyncModel
import Synchronization

#if canImport(Glibc)
import Glibc
#endif

/// A reading request whose answer takes many records: what a `QueryWorker` runs off the
/// reactor. It holds what it reads (records with their keys, copy-on-write references taken
/// from the replica when the request came), so the reactor may go on changing the replica.
protocol QueryJob: Sendable {
    /// The records the job reads: up to `Node.queryOnReactorLimit` it runs on the reactor.
    var recordCount: Int { get }
    /// The control reply: the result, or the error.
    func reply() -> [UInt8]
}

/// One `search` request with what matching it needs: the records to match and the schema.
struct SearchJob: QueryJob {
    let text: String
    let only: CollectionSchema?
    let schema: Schema
    let records: [(key: RecordKey, value: Record)]

    var recordCount: Int { records.count }

    /// The hits, as `Directory.search` finds them among `records`.
    func hits() throws(DirectoryError) -> [SearchHit] {
        try Directory.search(text, in: only, schema: schema, records: records)
    }

    func reply() -> [UInt8] {
        do { return ControlReply.encode(result: try hits()) } catch { return ControlReply.encode(error: ControlError(error.message)) }
    }
}

/// One `list` request: a collection's existing records, and the filters (parsed already).
struct ListJob: QueryJob {
    let filters: [RecordFilter]
    let records: [(key: RecordKey, value: Record)]

    var recordCount: Int { records.count }

    /// The records matching every filter, by key (`Directory.list`).
    func listed() -> [RecordJSON] { Directory.list(records, where: filters) }

    func reply() -> [UInt8] { ControlReply.encode(result: listed()) }
}

/// Runs large reading requests (`search`, `list`) on a thread of its own, so that a query over
/// many records (a common name, or a whole collection, at a million records: seconds of
/// matching, sorting and JSON) never holds up replication, commits or other control
/// requests on the reactor.
///
/// The reactor polls `wakeDescriptor`; when it is readable, `takeReplies` hands back each
/// finished reply with the control envelope it goes to. Jobs run one at a time, in order.
final class QueryWorker: Sendable {
    /// Jobs queued or running at most; one more is refused (the client may retry), so a burst
    /// of large queries cannot pile up snapshots of the replica in memory.
    static let maxWaiting = 4

    private let queue = DispatchQueue(label: "membersync.queries")
    private let state = Mutex<(waiting: Int, done: [(envelope: [[UInt8]], reply: [UInt8])])>((0, []))
    /// The read end of a non-blocking pipe: readable while replies wait.
    let wakeDescriptor: Int32
    private let signalDescriptor: Int32
    /// Turns a job into its reply: `QueryJob.reply`, or a test's stand-in that holds it.
    private let run: @Sendable (any QueryJob) -> [UInt8]

    init(run: @escaping @Sendable (any QueryJob) -> [UInt8] = { $0.reply() }) throws(ControlError) {
        self.run = run
        var fds: [Int32] = [-1, -1]
        guard pipe(&fds) == 0 else { throw ControlError("cannot create the query worker's pipe: \(String(cString: strerror(errno)))") }
        for fd in fds {
            _ = fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK)
            _ = fcntl(fd, F_SETFD, FD_CLOEXEC)
        }
        wakeDescriptor = fds[0]
        signalDescriptor = fds[1]
    }

    deinit {
        close(wakeDescriptor)
        close(signalDescriptor)
    }

    /// Jobs queued or running now.
    var waiting: Int { state.withLock { $0.waiting } }

    /// Queues `job`, whose reply goes to `envelope`; false (nothing queued) when `maxWaiting`
    /// jobs are already waiting.
    func submit(_ job: any QueryJob, envelope: [[UInt8]]) -> Bool {
        let accepted = state.withLock { s -> Bool in
            guard s.waiting < Self.maxWaiting else { return false }
            s.waiting += 1
            return true
        }
        guard accepted else { return false }
        queue.async { [self] in
            let reply = run(job)
            state.withLock { s in
                s.waiting -= 1
                s.done.append((envelope, reply))
            }
            var byte: UInt8 = 1
            // A full pipe already wakes the reactor; nothing is lost, replies are in `done`.
            _ = write(signalDescriptor, &byte, 1)
        }
        return true
    }

    /// The finished replies, oldest first, and the wake-up bytes drained.
    func takeReplies() -> [(envelope: [[UInt8]], reply: [UInt8])] {
        var sink = [UInt8](repeating: 0, count: 64)
        while read(wakeDescriptor, &sink, sink.count) > 0 {}
        return state.withLock { s in
            defer { s.done = [] }
            return s.done
        }
    }
}
