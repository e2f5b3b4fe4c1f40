import MemberSyncModel
import MemberSyncWire

/// One of this node's own edits that another node refused, or that this node's own judging
/// withholds (MSP 11.7): what the user is told in `membersync refused`, the status count and
/// the web page. Kept durably (the store's `refused` meta row) so a restart does not forget it.
public struct RefusedEdit: Equatable, Sendable {
    public var dot: Dot
    /// The record the edit wrote; nil when the op is no longer in the log (compacted).
    public var key: RecordKey?
    /// What the edit did, in the CLI's edit syntax (`status=closed topics+=ours`, `delete`).
    public var summary: String
    public var reason: String
    public var detail: String
    /// Held without effect where it was refused (it may take effect later, 11.7); false: the
    /// refusing node does not hold it at all.
    public var held: Bool
    /// Wall-clock milliseconds when this node learnt of the refusal.
    public var at: UInt64

    public init(dot: Dot, key: RecordKey?, summary: String, reason: String, detail: String, held: Bool, at: UInt64) {
        self.dot = dot
        self.key = key
        self.summary = summary
        self.reason = reason
        self.detail = detail
        self.held = held
        self.at = at
    }

    /// The edit an op makes, written as the CLI's edit arguments (values in their text form).
    public static func summary(of op: Op) -> String {
        var parts: [String] = []
        for name in op.fields.keys.sorted() {
            switch op.fields[name]! {
            case .register(let r):
                let values = r.siblings.map(\.value)
                if name == Record.existsField {
                    if values.contains(.bool(false)) { parts.append("delete") }
                    continue
                }
                for v in values { parts.append(v.isAbsent ? "\(name)=" : "\(name)=\(v.description)") }
            case .set(let s):
                for element in s.elements.keys.sorted() {
                    let present = s.elements[element]!.siblings.contains { $0.value }
                    parts.append("\(name)\(present ? "+=" : "-=")\(element)")
                }
            }
        }
        return parts.isEmpty ? "(exists)" : parts.joined(separator: " ")
    }
}

extension SyncEngine {
    /// Most refused edits remembered; the oldest go first (the log keeps every refusal).
    static let maxRefusedEdits = 1000
    /// How long a link pushes nothing after its other end refused ops it does not hold
    /// (unless the roster changes or the link is welcomed again, MSP 7.3).
    static let refusedPushBackoffMilliseconds: UInt64 = 60_000

    /// Puts back the refused edits the store kept (at start).
    public mutating func restoreRefusedEdits(_ list: [RefusedEdit]) {
        refusedEdits = Array(list.suffix(Self.maxRefusedEdits))
    }

    /// Records that this node's own op `dot` was refused, and reports it in `out`; false when
    /// the dot is another origin's or the entry is already there with the same verdict.
    mutating func noteOwnRefusal(_ dot: Dot, reason: String, detail: String, held: Bool, now: UInt64, into out: inout [Directive]) -> Bool {
        guard dot.replica == id else { return false }
        if let i = refusedEdits.firstIndex(where: { $0.dot == dot }) {
            if refusedEdits[i].reason == reason && refusedEdits[i].held == held { return false }
            refusedEdits.remove(at: i)
        }
        let op = replica.op(dot)
        refusedEdits.append(RefusedEdit(dot: dot, key: op?.key, summary: op.map(RefusedEdit.summary) ?? "", reason: reason,
                                        detail: String(detail.prefix(Refusal.maxDetailBytes)), held: held, at: now))
        if refusedEdits.count > Self.maxRefusedEdits { refusedEdits.removeFirst(refusedEdits.count - Self.maxRefusedEdits) }
        if let op { out.append(.event(.ownOpRefused(dot: dot, key: op.key, reason: reason, detail: detail, held: held))) }
        return true
    }

    /// Forgets refusals that no longer hold: own ops a receiver refused without holding them
    /// and now acknowledges (`accepted`, e.g. once their origin was admitted), and own ops this
    /// node's judging released (`released`). True when the list changed.
    mutating func forgetRefusals(accepted: VersionVector? = nil, released: Set<Dot> = []) -> Bool {
        let before = refusedEdits.count
        refusedEdits.removeAll { e in
            released.contains(e.dot) || (!e.held && (accepted?.covers(e.dot) ?? false))
        }
        return refusedEdits.count != before
    }

    /// The answer a Push receiver gives about the pushed ops it refused (MSP 7.3): one
    /// Refusal per refused dot of the Push, from the rejections its applying reported.
    func refusals(among pushed: Set<Dot>, in report: [Directive]) -> [Refusal] {
        var out: [Refusal] = []
        var seen = Set<Dot>()
        for case .event(.opRejected(let origin, let counter, _, let reason, let detail)) in report.reversed() {
            let dot = Dot(origin, counter)
            guard pushed.contains(dot), seen.insert(dot).inserted else { continue }
            out.append(Refusal(dot: dot, reason: reason.rawValue,
                               detail: String(detail.utf8.prefix(Refusal.maxDetailBytes)) ?? String(detail.prefix(Refusal.maxDetailBytes / 4)),
                               held: replica.holds(dot)))
        }
        return out.reversed()
    }

    /// An `Error{REJECTED}` naming ops of ours (or ops we pushed) that the other end of `l`
    /// refused: remember our own durably, and stop pushing to `l` for a while when it does not
    /// hold some of them (resending would only be refused again).
    mutating func onRefusals(_ l: LinkID, _ refused: [Refusal], now: UInt64) -> [Directive] {
        var changed = false, out: [Directive] = []
        for r in refused { changed = noteOwnRefusal(r.dot, reason: r.reason, detail: r.detail, held: r.held, now: now, into: &out) || changed }
        if refused.contains(where: { !$0.held }) {
            update(l) { $0.pushBackoffUntil = now + Self.refusedPushBackoffMilliseconds }
        }
        return out + (changed ? [.persistRefused] : [])
    }
}
