import MemberSyncEngine
import MemberSyncModel
import MemberSyncWire

/// How the reactor carries out one batch of directives around its single durable commit.
/// Kept apart from the sockets so the ordering rule can be tested on its own. Two kinds of
/// message state nothing about what this node holds, so they go out before the commit:
/// relays (see `Directive.relay`) and snapshot page requests (they carry only the last key
/// received; asking for the next page while this one is committed lets the server build it
/// meanwhile, and a crash restarts the snapshot anyway). Every other message goes after the
/// commit, in the order the engine gave them: Acks, Pulls (they carry our version, which the
/// hub uses to compact its log) and our own ops.
struct ExecutionPlan: Equatable {
    /// Sent before the commit.
    var beforeCommit: [Directive] = []
    /// True when some directive asked for a commit (even of nothing: the version moved).
    var persist = false
    /// The ops to store, in order, with their encodings.
    var ops: [EncodedOp] = []
    /// The records whose current state to store, each once, in first-seen order.
    var keys: [RecordKey] = []
    var compaction = false
    /// Sent after the commit (and compaction) succeeded.
    var afterCommit: [Directive] = []
    /// What to log (`Directive.event`), whatever becomes of the commit.
    var events: [EngineEvent] = []

    init(_ directives: [Directive]) {
        var seen = Set<RecordKey>()
        for d in directives {
            switch d {
            case .persist(let o, let k):
                persist = true
                ops += o
                for key in k where seen.insert(key).inserted { keys.append(key) }
            case .persistCompaction:
                compaction = true
            case .relay, .send(_, .snapshotRequest):
                beforeCommit.append(d)
            case .send, .pushOps, .reply, .publish, .publishOp, .rememberNode, .persistRefused:
                afterCommit.append(d)
            case .event(let e):
                events.append(e)
            }
        }
    }
}
