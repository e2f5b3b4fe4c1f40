import Foundation
import MemberSyncControl
import Synchronization

/// A message shown once on the next page (after a redirect).
struct Flash: Sendable, Equatable {
    enum Kind: String, Sendable { case ok, error }
    let kind: Kind
    let message: String
}

/// One browser's session: its id travels in an HttpOnly, SameSite=Strict cookie; `csrf`
/// goes into every form and the page's meta tag, and must come back with each request that
/// changes something (a cross-site page cannot read it).
struct Session: Sendable {
    let id: String
    let csrf: String
    var lastUsed: UInt64
    var flashes: [Flash] = []
}

/// Login tokens and sessions, in memory (a restart logs everyone out, which is safe). The
/// login token lives in `WebLoginFile` (0600): using it opens a session and replaces it.
final class Sessions: Sendable {
    private struct State {
        var token: String
        var baseURL: String?
        var sessions: [String: Session] = [:]
    }

    static let idleMilliseconds: UInt64 = 12 * 3600 * 1000
    static let maxSessions = 64

    let dataDir: String
    private let state: Mutex<State>

    /// A fresh login token, not yet written: `publish` writes it once the page listens.
    init(dataDir: String) {
        self.dataDir = dataDir
        state = Mutex(State(token: WebLoginFile.newToken()))
    }

    /// Writes the token and the page's address to the login file; a previous run's token is
    /// dead from here on.
    func publish(baseURL: String) throws(WebLoginFile.Error) {
        let token = state.withLock { s -> String in
            s.baseURL = baseURL
            return s.token
        }
        try WebLoginFile.write(dataDir: dataDir, token: token, baseURL: baseURL)
    }

    /// Opens a session if `token` is the current login token, and replaces the token (a link
    /// works once). Nil for a wrong or used token.
    func login(token: String, now: UInt64) -> Session? {
        state.withLock { s -> Session? in
            guard Self.constantTimeEqual(token, s.token) else { return nil }
            guard let baseURL = s.baseURL else { return nil }
            let next = WebLoginFile.newToken()
            // If the new token cannot be written, the old one stops working all the same:
            // web-login then prints a link that fails, never one that works twice.
            try? WebLoginFile.write(dataDir: dataDir, token: next, baseURL: baseURL)
            s.token = next
            Self.expire(&s, now: now)
            if s.sessions.count >= Self.maxSessions, let oldest = s.sessions.values.min(by: { $0.lastUsed < $1.lastUsed }) {
                s.sessions[oldest.id] = nil
            }
            let session = Session(id: WebLoginFile.newToken(), csrf: WebLoginFile.newToken(), lastUsed: now)
            s.sessions[session.id] = session
            return session
        }
    }

    /// The live session with this id (its idle clock restarts), or nil.
    func session(_ id: String, now: UInt64) -> Session? {
        state.withLock { s -> Session? in
            Self.expire(&s, now: now)
            guard var session = s.sessions[id] else { return nil }
            session.lastUsed = now
            s.sessions[id] = session
            return session
        }
    }

    func logout(_ id: String) {
        state.withLock { s in s.sessions[id] = nil }
    }

    func addFlash(_ id: String, _ flash: Flash) {
        state.withLock { s in
            guard s.sessions[id] != nil, s.sessions[id]!.flashes.count < 5 else { return }
            s.sessions[id]!.flashes.append(flash)
        }
    }

    func takeFlashes(_ id: String) -> [Flash] {
        state.withLock { s in
            defer { s.sessions[id]?.flashes = [] }
            return s.sessions[id]?.flashes ?? []
        }
    }

    var count: Int { state.withLock { $0.sessions.count } }

    private static func expire(_ s: inout State, now: UInt64) {
        s.sessions = s.sessions.filter { now &- $0.value.lastUsed < idleMilliseconds }
    }

    /// Compares secrets without stopping at the first difference, so timing tells nothing.
    static func constantTimeEqual(_ a: String, _ b: String) -> Bool {
        let x = Array(a.utf8), y = Array(b.utf8)
        guard x.count == y.count else { return false }
        var diff: UInt8 = 0
        for i in x.indices { diff |= x[i] ^ y[i] }
        return diff == 0
    }
}
