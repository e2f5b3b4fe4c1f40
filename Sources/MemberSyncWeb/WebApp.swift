import Foundation
import MemberSyncConfig
import MemberSyncControl
import MemberSyncModel
import Mustache
import Synchronization

/// Who the page belongs to: the node it serves (from the node's configuration).
public struct WebIdentity: Sendable {
    public let nodeID: String
    public let organisation: String
    public let role: String

    public init(nodeID: String, organisation: String, role: String) {
        self.nodeID = nodeID
        self.organisation = organisation
        self.role = role
    }

    var isHub: Bool { role == "hub" }
}

/// The page templates, parsed once.
struct Renderer: Sendable {
    let library: MustacheLibrary

    init() throws {
        MustacheContentTypes.register(VisibleHTML(), named: VisibleHTML.name)
        var library = MustacheLibrary()
        for (name, text) in Templates.all {
            try library.register("{{% CONTENT_TYPE: \(VisibleHTML.name)}}" + text, named: name)
        }
        self.library = library
    }

    func render(_ template: String, _ context: [String: Any]) -> String {
        library.render(context, withTemplate: template) ?? "template \(template) is missing"
    }
}

/// A page before it is wrapped in the layout.
struct Page {
    var title: String
    var template: String
    var context: [String: Any]
    var status: Int = 200
    var nav: String?
}

/// The web page and JSON API of one node: every request is checked (host, session, CSRF)
/// and served by asking the node over its control socket, as the CLI does. Nothing here
/// touches the node's engine or store; bad input gets an error page, never a crash.
final class WebApp: Sendable {
    let identity: WebIdentity
    let link: NodeLink
    let sessions: Sessions
    let feed: LiveFeed
    let renderer: Renderer
    /// Host header values accepted (loopback binds only; nil accepts any): a DNS-rebinding
    /// page cannot reach a loopback listener under a name of its own. Set once the server
    /// knows its port.
    private let hosts: Mutex<Set<String>?>
    private let conflictCache = Mutex<(stamp: String, count: Int)?>(nil)
    var allowedHosts: Set<String>? { hosts.withLock { $0 } }
    func allowHosts(_ h: Set<String>?) { hosts.withLock { $0 = h } }
    let schema = Schema.memberSync

    var cookieName: String { "membersync-\(identity.nodeID)" }

    init(identity: WebIdentity, link: NodeLink, sessions: Sessions, feed: LiveFeed, allowedHosts: Set<String>?) throws {
        self.identity = identity
        self.link = link
        self.sessions = sessions
        self.feed = feed
        hosts = Mutex(allowedHosts)
        renderer = try Renderer()
    }

    /// Host names that reach a loopback listener on `port`.
    static func loopbackHosts(port: Int) -> Set<String> {
        var out: Set<String> = []
        for h in ["127.0.0.1", "localhost", "[::1]"] {
            out.insert("\(h):\(port)")
            if port == 80 { out.insert(h) }
        }
        return out
    }

    // MARK: entry

    /// True while serving an open page's live refresh of itself (`X-MemberSync-Live: 1`, see
    /// Assets.js): the page copies only its main part from the answer, so one-time messages
    /// stay for the page the browser loads next (a refresh racing the redirect after a save
    /// took the "Saved" message away).
    @TaskLocal static var servingLiveRefresh = false

    func handle(_ r: WebRequest) async -> WebResponse {
        var response = await Self.$servingLiveRefresh.withValue(r.header("x-membersync-live") == "1") { await route(r) }
        response.headers += SecurityHeaders.all
        if r.method == "HEAD" { response.body = [] }
        return response
    }

    private func route(_ r: WebRequest) async -> WebResponse {
        if let allowedHosts, !allowedHosts.contains((r.header("host") ?? "").lowercased()) {
            return .text(421, "This page answers only at \(allowedHosts.sorted().first ?? "its own address") (the Host header named another).\n")
        }
        guard let path = r.segments else { return .text(400, "The address is not valid percent-encoded UTF-8.\n") }
        let method = r.method == "HEAD" ? "GET" : r.method
        guard method == "GET" || method == "POST" else {
            return WebResponse(status: 405, headers: [("Allow", "GET, HEAD, POST")], body: Array("Only GET and POST are used here.\n".utf8))
        }
        let now = UInt64(Date().timeIntervalSince1970 * 1000)
        if method == "GET" {
            if path == ["health"] { return await health() }
            if path == ["metrics"] { return await metrics() }
            if path == ["static", "app.css"] { return .text(200, Assets.css, contentType: "text/css; charset=utf-8") }
            if path == ["static", "app.js"] { return .text(200, Assets.js, contentType: "text/javascript; charset=utf-8") }
            if path == ["login"] { return await login(r, now: now) }
            if path == ["favicon.ico"] { return WebResponse(status: 204, headers: [("Cache-Control", "max-age=86400")]) }
        }
        let isAPI = path.first == "api" || path.first == "events"
        guard let sid = r.cookies[cookieName], let session = sessions.session(sid, now: now) else {
            if isAPI { return .json(401, ["ok": false, "error": "no session: open the link that `membersync web-login` prints"]) }
            return await page(Page(title: "Log in", template: "message", context: [
                "heading": "Log in first",
                "text": "This page shows and edits the directory held by node \(identity.nodeID). Only the node's own user can open it.",
                "has_hint": true,
                "hint": "On the node's machine, run: membersync web-login --data-dir DATA_DIR (as the user the node runs as), then open the link it prints. Each link works once.",
            ], status: 401), session: nil)
        }
        var form = Form([])
        if method == "POST" {
            if !isAPI {
                guard let text = String(validating: r.body, as: UTF8.self), let pairs = WebText.formPairs(text) else {
                    return .text(400, "The form was not valid URL-encoded UTF-8.\n")
                }
                form = Form(pairs)
            }
            if let refusal = crossSiteRefusal(r, session: session, form: form, isAPI: isAPI) { return refusal }
        }
        if isAPI { return await api(method, path, r, session: session) }
        let m = { (pattern: String) in Self.match(path, pattern) }
        if method == "GET" {
            if path.isEmpty { return await page(await home(), session: session) }
            if let a = m("c/*") { return await page(await collectionPage(a[0]), session: session) }
            if let a = m("r/*/*") { return await page(await recordPage(a[0], a[1], session: session), session: session) }
            if let a = m("r/*/*/history") { return await page(await historyPage(a[0], a[1]), session: session) }
            if let a = m("new/*") { return await page(await newPage(a[0], session: session), session: session) }
            if m("search") != nil { return await page(await searchPage(r.queryForm ?? Form([])), session: session) }
            if m("conflicts") != nil { return await page(await conflictsPage(session: session), session: session) }
            if m("federation") != nil { return await page(await federationPage(), session: session) }
        } else {
            if let a = m("r/*/*") { return await saveEdit(a[0], a[1], form, session: session) }
            if let a = m("r/*/*/delete") { return await deleteRecord(a[0], a[1], session: session) }
            if let a = m("new/*") { return await create(a[0], form, session: session) }
            if m("resolve") != nil { return await resolve(form, session: session) }
            if m("federation/admit") != nil { return await admit(form, session: session) }
            if m("federation/revoke") != nil { return await revoke(form, session: session) }
            if m("logout") != nil {
                sessions.logout(session.id)
                return .redirect("/", headers: [("Set-Cookie", "\(cookieName)=; Path=/; Max-Age=0; HttpOnly; SameSite=Strict")])
            }
        }
        return await notFound("There is no page at this address.", session: session)
    }

    /// Matches decoded path segments against `pattern` ("r/*/*": literals, and `*` for one
    /// segment); returns the segments `*` stood for.
    static func match(_ path: [String], _ pattern: String) -> [String]? {
        let parts = pattern.split(separator: "/").map(String.init)
        guard parts.count == path.count else { return nil }
        var captured: [String] = []
        for (p, s) in zip(parts, path) {
            if p == "*" { captured.append(s) } else if p != s { return nil }
        }
        return captured
    }

    // MARK: login and cross-site protection

    private func login(_ r: WebRequest, now: UInt64) async -> WebResponse {
        guard let token = r.queryForm?.first("token"), let session = sessions.login(token: token, now: now) else {
            return await page(Page(title: "Login link not valid", template: "message", context: [
                "heading": "This login link does not work",
                "text": "Each link logs in once, and a node's restart makes a new one.",
                "has_hint": true,
                "hint": "Run membersync web-login on the node's machine for a fresh link.",
            ], status: 403), session: nil)
        }
        return .redirect("/", headers: [("Set-Cookie", "\(cookieName)=\(session.id); Path=/; HttpOnly; SameSite=Strict")])
    }

    /// A state-changing request must carry the session's CSRF token (form field `csrf` or
    /// header `X-CSRF-Token`), and must not come from another origin (`Origin`,
    /// `Sec-Fetch-Site`). The SameSite=Strict cookie already keeps other sites out; these
    /// checks hold even in a browser that ignores it.
    func crossSiteRefusal(_ r: WebRequest, session: Session, form: Form, isAPI: Bool) -> WebResponse? {
        func refuse(_ why: String) -> WebResponse {
            isAPI ? .json(403, ["ok": false, "error": why]) : .text(403, why + "\n")
        }
        if r.header("sec-fetch-site") == "cross-site" { return refuse("refused: the request came from another site") }
        if let origin = r.header("origin") {
            guard let host = r.header("host"), origin.lowercased() == "http://" + host.lowercased() else {
                return refuse("refused: the request came from \(origin), not from this page")
            }
        }
        let token = isAPI ? r.header("x-csrf-token") : form.first("csrf")
        guard let token, Sessions.constantTimeEqual(token, session.csrf) else {
            return refuse("refused: the form is missing this session's CSRF token (reload the page and try again)")
        }
        return nil
    }

    // MARK: health and metrics (no session: monitoring has none; the same as metrics_listen)

    private func health() async -> WebResponse {
        do throws(ControlClientError) {
            let m = try await link.call(Control.Metrics())
            return .text(m.reasons.isEmpty ? 200 : 503, m.health + (m.reasons.isEmpty ? "" : ": " + m.reasons.joined(separator: "; ")) + "\n")
        } catch {
            return .text(503, "unreachable: \(error.message)\n")
        }
    }

    private func metrics() async -> WebResponse {
        do throws(ControlClientError) {
            let m = try await link.call(Control.Metrics())
            return .text(200, m.text, contentType: m.contentType)
        } catch {
            return .text(503, "# the node is not answering: \(error.message)\n")
        }
    }

    // MARK: layout

    /// Wraps a page in the layout with what every page shows: navigation, the live sync
    /// status, the count of open conflicts and one-time messages.
    func page(_ p: Page, session: Session?) async -> WebResponse {
        var context = p.context
        context["csrf"] = session?.csrf ?? ""
        for (k, v) in ["node_id": identity.nodeID, "organisation": identity.organisation, "role": identity.role] where context[k] == nil {
            context[k] = v
        }
        let body = renderer.render(p.template, context)
        var layout: [String: Any] = [
            "title": p.title, "node_id": identity.nodeID, "organisation": identity.organisation, "role": identity.role,
            "csrf": session?.csrf ?? "", "body": body, "software_version": Release.version,
            "logged_in": session != nil, "live": session != nil, "query": context["query"] ?? "",
            "conflicts_current": p.nav == "conflicts", "federation_current": p.nav == "federation",
        ]
        if let session {
            layout["nav"] = Labels.collectionOrder.map { c -> [String: Any] in
                ["href": "/c/\(c)", "label": Labels.collection(c), "current": p.nav == c]
            }
            layout["status"] = await syncState().context
            let (stamp, conflicts) = await versionAndConflicts()
            layout["conflict_count"] = conflicts.map(String.init) ?? "?"
            layout["version_stamp"] = stamp ?? ""
            layout["flashes"] = (Self.servingLiveRefresh ? [] : sessions.takeFlashes(session.id)).map { f -> [String: Any] in
                ["kind": f.kind.rawValue, "message": f.message, "is_error": f.kind == .error]
            }
        }
        return .html(p.status, renderer.render("layout", layout))
    }

    /// The node's version stamp (as the live `change` event carries it, so an open page skips
    /// a change it already shows) and the number of open conflicts for the navigation bar.
    /// Counting walks every record on the node's reactor, so it is asked again only when the
    /// version moved (asking `version` costs next to nothing).
    func versionAndConflicts() async -> (stamp: String?, conflicts: Int?) {
        guard let v = try? await link.call(Control.VersionQuery()) else { return (nil, nil) }
        let stamp = LiveFeed.stamp(v)
        if let cached = conflictCache.withLock({ $0 }), cached.stamp == stamp { return (stamp, cached.count) }
        guard let conflicts = try? await link.call(Control.Conflicts()) else { return (stamp, nil) }
        let count = conflicts.count
        conflictCache.withLock { $0 = (stamp, count) }
        return (stamp, count)
    }

    func syncState() async -> SyncState {
        do throws(ControlClientError) {
            let p = try await link.call(Control.Progress())
            return SyncState(mode: p.mode, pending: Int(clamping: p.pending), role: identity.role)
        } catch {
            return SyncState(mode: "unreachable", pending: 0, role: identity.role)
        }
    }

    func notFound(_ text: String, session: Session?) async -> WebResponse {
        await page(Page(title: "Not found", template: "message", context: ["heading": "Not found", "text": text, "has_hint": false], status: 404), session: session)
    }

    /// The page for a request the node could not serve: refused (with its reason) or not
    /// answering.
    func failure(_ error: ControlClientError, title: String) -> Page {
        switch error {
        case .unreachable(let m):
            return Page(title: title, template: "message", context: ["heading": "The node is not answering", "text": m, "has_hint": false], status: 503)
        case .refused(let m):
            let missing = m.hasPrefix("no such record")
            return Page(title: title, template: "message", context: ["heading": missing ? "Not found" : "Refused", "text": m, "has_hint": false],
                        status: missing ? 404 : 400)
        }
    }

    /// `/r/COLLECTION/ID`, percent-encoded.
    static func recordURL(_ key: String) -> String {
        let parts = key.split(separator: "/", maxSplits: 1).map { WebText.percentEncode(String($0)) }
        return "/r/" + parts.joined(separator: "/")
    }

    func collectionSchema(_ name: String) -> CollectionSchema? { schema.collections[name] }

    /// Where a form may send the browser back to: a path on this server only.
    static func safeReturn(_ path: String?, fallback: String) -> String {
        guard let path, path.hasPrefix("/"), !path.hasPrefix("//"), !path.contains("\\"),
              !path.unicodeScalars.contains(where: { $0.value < 0x21 || $0.value == 0x7F }) else { return fallback }
        return path
    }
}
