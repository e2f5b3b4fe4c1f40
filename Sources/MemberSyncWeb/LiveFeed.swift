import Foundation
import MemberSyncControl

/// How the page describes the node's sync state, from `progress` (or `status`): the same
/// words on a fresh page and in the live `status` event.
struct SyncState: Equatable, Sendable {
    var mode: String
    var pending: Int
    var role: String

    var css: String {
        switch mode {
        case "hub", "via-hub": return "online"
        case "fallback-peers": return "degraded"
        case "unreachable": return "unreachable"
        default: return "offline"
        }
    }

    var label: String {
        switch mode {
        case "hub": return "Hub: online"
        case "via-hub": return "Online: in sync through the hub"
        case "fallback-peers": return "The hub is unreachable: syncing directly with other offices"
        case "offline": return "Offline: no hub or other office reachable. Edits are kept here and sent when the hub answers."
        case "unreachable": return "The node is not answering: nothing can be read or saved until it runs again."
        default: return mode
        }
    }

    var pendingText: String {
        if role == "hub" || mode == "unreachable" { return "" }
        switch pending {
        case 0: return "All own edits have reached the hub."
        case 1: return "1 own edit waits for the hub."
        default: return "\(pending) own edits wait for the hub."
        }
    }

    var json: JSONObject { ["mode": mode, "pending": pending, "css": css, "label": label, "pending_text": pendingText] }

    var context: [String: Any] { ["mode": mode, "pending": pending, "css": css, "label": label, "pending_text": pendingText] }
}

/// Server-sent events for every open page: one poller asks the node for its cheap `version`
/// a few times a second and for `progress` (mode, pending) about once a second, and
/// broadcasts an event when either changed. It polls only while a page listens.
actor LiveFeed {
    static let maxSubscribers = 64
    static let keepAliveMilliseconds: UInt64 = 15_000

    private var subscribers: [Int: AsyncStream<String>.Continuation] = [:]
    private var nextID = 0
    private var lastVersion: String?
    private var lastState: SyncState?
    private var stopped = false

    /// A stream of SSE-formatted events, opened with the current status; nil when too many
    /// pages listen already (the page then works without live updates) or when stopping.
    func subscribe() -> AsyncStream<String>? {
        guard !stopped, subscribers.count < Self.maxSubscribers else { return nil }
        let id = nextID
        nextID += 1
        let (stream, continuation) = AsyncStream<String>.makeStream(bufferingPolicy: .bufferingNewest(16))
        continuation.onTermination = { [weak self] _ in
            Task { await self?.unsubscribe(id) }
        }
        continuation.yield("retry: 2000\n\n")
        if let s = lastState { continuation.yield(Self.event("status", s.json)) }
        subscribers[id] = continuation
        return stream
    }

    private func unsubscribe(_ id: Int) { subscribers[id] = nil }

    var listeners: Int { subscribers.count }

    func broadcast(_ text: String) {
        for c in subscribers.values { c.yield(text) }
    }

    /// Ends every stream (the server is stopping), so no request waits on one.
    func stop() {
        stopped = true
        for c in subscribers.values { c.finish() }
        subscribers = [:]
    }

    var isStopped: Bool { stopped }

    /// Notes a version; true when it differs from the last one (the first is not a change).
    func noteVersion(_ v: String) -> Bool {
        defer { lastVersion = v }
        return lastVersion != nil && lastVersion != v
    }

    func noteState(_ s: SyncState) -> Bool {
        defer { lastState = s }
        return lastState != s
    }

    /// A short text that changes whenever the node's version (or record count) does.
    static func stamp(_ version: Control.VersionQuery.Result) -> String {
        let text = String(decoding: WebJSON.encode([version.version, version.records] as [Any]), as: UTF8.self)
        var h: UInt64 = 0xcbf2_9ce4_8422_2325  // FNV-1a: a stamp, not a secret
        for b in text.utf8 { h = (h ^ UInt64(b)) &* 0x100_0000_01b3 }
        return String(h, radix: 16)
    }

    static func event(_ name: String, _ data: JSONObject) -> String {
        "event: \(name)\ndata: \(String(decoding: WebJSON.encode(data), as: UTF8.self))\n\n"
    }

    /// The poll loop; returns when the feed is stopped or the task cancelled.
    nonisolated func run(link: NodeLink, role: String, intervalMilliseconds: UInt64 = 250) async {
        var tick: UInt64 = 0
        var sinceKeepAlive: UInt64 = 0
        while !(await isStopped) && !Task.isCancelled {
            if await listeners > 0 {
                var changed = false
                do {
                    let v = try await link.call(Control.VersionQuery(), live: true)
                    let stamp = Self.stamp(v)
                    changed = await noteVersion(stamp)
                    if changed { await broadcast(Self.event("change", ["version": stamp])) }
                    if changed || tick % 4 == 0 {
                        let p = try await link.call(Control.Progress(), live: true)
                        let s = SyncState(mode: p.mode, pending: Int(clamping: p.pending), role: role)
                        if await noteState(s) { await broadcast(Self.event("status", s.json)) }
                    }
                } catch {
                    let s = SyncState(mode: "unreachable", pending: 0, role: role)
                    if await noteState(s) { await broadcast(Self.event("status", s.json)) }
                }
                sinceKeepAlive += intervalMilliseconds
                if sinceKeepAlive >= Self.keepAliveMilliseconds {
                    sinceKeepAlive = 0
                    await broadcast(": keep-alive\n\n")
                }
            }
            tick += 1
            try? await Task.sleep(nanoseconds: intervalMilliseconds * 1_000_000)
        }
    }
}
