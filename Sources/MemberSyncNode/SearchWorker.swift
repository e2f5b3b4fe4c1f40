import Foundation
import MemberSyncControl
import MemberSyncDirectory
import MemberSyncModel
import Synchronization

#if canImport(Glibc)
import Glibc
#endif

/// One `search` request with what matching it needs: the records to match (with their keys),
/// taken from the replica when the request came, and the schema. A value of its own, so it
/// can be matched on another thread while the reactor goes on changing the replica.
struct SearchJob: Sendable {
    let text: String
    let only: CollectionSchema?
    let schema: Schema
    let records: [(key: RecordKey, value: Record)]

    /// The hits, as `Directory.search` finds them among `records`.
    func hits() throws(DirectoryError) -> [SearchHit] {
        try Directory.search(text, in: only, schema: schema, records: records)
    }

    /// The control reply: the hits, or the error.
    func reply() -> [UInt8] {
        do { return ControlReply.encode(result: try hits()) } catch { return ControlReply.encode(error: ControlError(error.message)) }
    }
}

/// Matches large searches on a thread of its own, so that a query with many candidates
/// (the scan, or a common name at a million records: seconds of exact matching and JSON)
/// never holds up replication, commits or other control requests on the reactor.
///
/// The reactor polls `wakeDescriptor`; when it is readable, `takeReplies` hands back each
/// finished reply with the control envelope it goes to. Jobs run one at a time, in order.
final class SearchWorker: Sendable {
    /// Searches queued or running at most; one more is refused (the client may retry), so a
    /// burst of large queries cannot pile up snapshots of the replica in memory.
    static let maxWaiting = 4

    private let queue = DispatchQueue(label: "membersync.search")
    private let state = Mutex<(waiting: Int, done: [(envelope: [[UInt8]], reply: [UInt8])])>((0, []))
    /// The read end of a non-blocking pipe: readable while replies wait.
    let wakeDescriptor: Int32
    private let signalDescriptor: Int32
    /// Turns a job into its reply: `SearchJob.reply`, or a test's stand-in that holds it.
    private let match: @Sendable (SearchJob) -> [UInt8]

    init(match: @escaping @Sendable (SearchJob) -> [UInt8] = { $0.reply() }) throws(ControlError) {
        self.match = match
        var fds: [Int32] = [-1, -1]
        guard pipe(&fds) == 0 else { throw ControlError("cannot create the search worker's pipe: \(String(cString: strerror(errno)))") }
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

    /// Searches queued or running now.
    var waiting: Int { state.withLock { $0.waiting } }

    /// Queues `job`, whose reply goes to `envelope`; false (nothing queued) when `maxWaiting`
    /// searches are already waiting.
    func submit(_ job: SearchJob, envelope: [[UInt8]]) -> Bool {
        let accepted = state.withLock { s -> Bool in
            guard s.waiting < Self.maxWaiting else { return false }
            s.waiting += 1
            return true
        }
        guard accepted else { return false }
        queue.async { [self] in
            let reply = match(job)
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

    /// Waits for every queued search to finish (tests, and a node closing).
    func wait() {
        queue.sync {}
    }
}
