import Foundation
import Logging
import MemberSyncControl
@testable import MemberSyncConfig
import MemberSyncDirectory
import MemberSyncEngine
import MemberSyncHarness
import MemberSyncModel
import MemberSyncNode
import MemberSyncServices
import MemberSyncStore
import XCTest
@testable import MemberSyncWeb

#if canImport(Glibc)
import Glibc
#endif

/// A real node in this process, run by the daemon's reactor service on a thread of its own
/// (`InProcessNode`); the test talks to it through the control socket, like the web page.
final class RunningNode: Sendable {
    let dir: String
    let config: NodeConfig
    private let node: InProcessNode

    /// `dir`: the data directory of a node stopped with `stop(keepingData: true)`.
    init(id: String = "asker", organisation: String? = nil, role: NodeRole = .member, secure: Bool = true, dir existing: String? = nil,
         hubSigningKeys: [String: String] = [:]) throws {
        dir = existing ?? NSTemporaryDirectory() + "webtest-\(UUID().uuidString.prefix(8))"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        _ = try NodeKeys.ensureSigningKey(dataDir: dir)
        _ = try NodeKeys.ensureCurveKey(dataDir: dir)
        var c = NodeConfig(nodeID: id, organisation: organisation ?? id, role: role, dataDir: dir,
                           listen: "tcp://127.0.0.1:\(LoopbackPorts.freePair())")
        c.insecure = !secure
        c.hubSigningKeys = hubSigningKeys
        config = c
        node = try InProcessNode { [c] in try Node(config: c, logger: Logger(label: "test")) }
    }

    var client: ControlClient { ControlClient(dataDir: dir, timeoutMilliseconds: 5000) }

    /// One command through the one control client, with its typed result.
    @discardableResult
    func call<C: ControlCommand>(_ command: C) throws -> C.Result { try client.call(command) }

    /// Stops the node; once it returns the data directory is free again.
    func stop(keepingData: Bool = false) {
        node.stop()
        if !keepingData { try? FileManager.default.removeItem(atPath: dir) }
    }

    var identity: WebIdentity { WebIdentity(nodeID: config.nodeID, organisation: config.organisation, role: config.role.rawValue) }
}

/// The web app's rules, request by request, against a real node (no HTTP server: the app's
/// `handle` is what the server calls).
final class WebAppTests: XCTestCase {
    var node: RunningNode!
    var app: WebApp!
    var sessions: Sessions!
    let host = "127.0.0.1:7480"

    override func setUpWithError() throws {
        node = try RunningNode()
        sessions = Sessions(dataDir: node.dir)
        try sessions.publish(baseURL: "http://\(host)")
        app = try WebApp(identity: node.identity, link: try NodeLink(dataDir: node.dir), sessions: sessions, feed: LiveFeed(),
                         allowedHosts: WebApp.loopbackHosts(port: 7480))
    }

    override func tearDown() { node?.stop() }

    /// Serves the page of another node from here on.
    func restart(_ n: RunningNode) throws {
        node = n
        sessions = Sessions(dataDir: node.dir)
        try sessions.publish(baseURL: "http://\(host)")
        app = try WebApp(identity: node.identity, link: try NodeLink(dataDir: node.dir), sessions: sessions, feed: LiveFeed(),
                         allowedHosts: WebApp.loopbackHosts(port: 7480))
    }

    func get(_ path: String, cookie: String? = nil, host: String? = nil) async -> WebResponse {
        let parts = path.split(separator: "?", maxSplits: 1).map(String.init)
        var headers = ["host": host ?? self.host]
        if let cookie { headers["cookie"] = cookie }
        return await app.handle(WebRequest(method: "GET", path: parts[0], query: parts.count > 1 ? parts[1] : "", headers: headers))
    }

    func post(_ path: String, _ form: [(String, String)], cookie: String?, origin: String? = nil, extra: [String: String] = [:]) async -> WebResponse {
        let body = form.map { WebText.percentEncode($0.0) + "=" + WebText.percentEncode($0.1) }.joined(separator: "&")
        var headers = ["host": host, "content-type": "application/x-www-form-urlencoded"].merging(extra) { _, new in new }
        if let cookie { headers["cookie"] = cookie }
        if let origin { headers["origin"] = origin }
        return await app.handle(WebRequest(method: "POST", path: path, headers: headers, body: Array(body.utf8)))
    }

    func text(_ r: WebResponse) -> String { String(decoding: r.body, as: UTF8.self) }

    /// Logs in with the token from the login file; returns the cookie and the CSRF token.
    func login() async throws -> (cookie: String, csrf: String) {
        let (token, _) = try WebLoginFile.read(dataDir: node.dir)
        let r = await get("/login?token=\(token)")
        XCTAssertEqual(r.status, 303)
        let setCookie = try XCTUnwrap(r.header("set-cookie"))
        let cookie = String(setCookie.split(separator: ";")[0])
        let home = text(await get("/", cookie: cookie))
        let csrf = try XCTUnwrap(home.range(of: "name=\"csrf-token\" content=\"").map { String(home[$0.upperBound...].prefix(64)) })
        return (cookie, csrf)
    }

    /// A field as the node holds it; nil when the record or the field does not exist.
    func field(_ key: String, _ name: String) throws -> FieldJSON? {
        do {
            return try node.call(Control.Get(key: key)).fields[name]
        } catch ControlClientError.refused(let m) where m.hasPrefix("no such record") {
            return nil
        }
    }

    func testEveryPageNeedsASessionFromTheOneTimeLink() async throws {
        let page = await get("/c/organisations")
        XCTAssertEqual(page.status, 401)
        XCTAssertTrue(text(page).contains("membersync web-login"), "the page says how to log in")
        let api = await get("/api/status")
        XCTAssertEqual(api.status, 401)
        XCTAssertTrue(text(api).contains("\"ok\":false"))
        let r1 = await get("/events")
        XCTAssertEqual(r1.status, 401)

        let file = WebLoginFile.path(dataDir: node.dir)
        let mode = (try FileManager.default.attributesOfItem(atPath: file)[.posixPermissions] as? Int) ?? 0
        XCTAssertEqual(mode & 0o777, 0o600, "only the node's user reads the token")
        let (token, base) = try WebLoginFile.read(dataDir: node.dir)
        XCTAssertEqual(base, "http://\(host)")
        let r2 = await get("/login?token=\(String(repeating: "0", count: 64))")
        XCTAssertEqual(r2.status, 403, "a wrong token")
        let first = await get("/login?token=\(token)")
        XCTAssertEqual(first.status, 303)
        let setCookie = try XCTUnwrap(first.header("set-cookie"))
        XCTAssertTrue(setCookie.hasPrefix("membersync-asker="), setCookie)
        XCTAssertTrue(setCookie.contains("HttpOnly") && setCookie.contains("SameSite=Strict"), setCookie)
        let r3 = await get("/login?token=\(token)")
        XCTAssertEqual(r3.status, 403, "the link works once")
        XCTAssertNotEqual(try WebLoginFile.read(dataDir: node.dir).token, token, "and the file holds a new one")
        let cookie = String(setCookie.split(separator: ";")[0])
        let home = await get("/", cookie: cookie)
        XCTAssertEqual(home.status, 200)
        XCTAssertTrue(text(home).contains("Collections"))
        let r4 = await get("/", cookie: "membersync-asker=forged")
        XCTAssertEqual(r4.status, 401)
        // Logging out ends the session.
        let csrf = try XCTUnwrap(text(home).range(of: "name=\"csrf-token\" content=\"").map { String(text(home)[$0.upperBound...].prefix(64)) })
        let r5 = await post("/logout", [("csrf", csrf)], cookie: cookie)
        XCTAssertEqual(r5.status, 303)
        let r6 = await get("/", cookie: cookie)
        XCTAssertEqual(r6.status, 401)
    }

    func testSecurityHeadersAndHostCheck() async throws {
        let r = await get("/static/app.js")
        XCTAssertEqual(r.status, 200)
        XCTAssertTrue(r.header("content-security-policy")?.contains("script-src 'self'") ?? false)
        XCTAssertEqual(r.header("x-frame-options"), "DENY")
        XCTAssertEqual(r.header("x-content-type-options"), "nosniff")
        let r7 = await get("/", host: "evil.example:7480")
        XCTAssertEqual(r7.status, 421, "a rebinding name is refused")
        let r8 = await get("/static/app.css", host: "localhost:7480")
        XCTAssertEqual(r8.status, 200)
    }

    func testStateChangesNeedTheCSRFTokenAndThisOrigin() async throws {
        let (cookie, csrf) = try await login()
        let edit: [(String, String)] = [("f:name", "Asker kommune"), ("o:name", "")]
        let r9 = await post("/r/organisations/asker", edit, cookie: cookie)
        XCTAssertEqual(r9.status, 403, "no token")
        let r10 = await post("/r/organisations/asker", edit + [("csrf", String(repeating: "a", count: 64))], cookie: cookie)
        XCTAssertEqual(r10.status, 403)
        let r11 = await post("/r/organisations/asker", edit + [("csrf", csrf)], cookie: cookie, origin: "http://evil.example")
        XCTAssertEqual(r11.status, 403)
        let r12 = await post("/r/organisations/asker", edit + [("csrf", csrf)], cookie: cookie, extra: ["sec-fetch-site": "cross-site"])
        XCTAssertEqual(r12.status, 403)
        XCTAssertNil(try field("organisations/asker", "name"), "nothing was written")
        let ok = await post("/r/organisations/asker", edit + [("csrf", csrf)], cookie: cookie, origin: "http://\(host)")
        XCTAssertEqual(ok.status, 303)
        XCTAssertEqual(ok.header("location"), "/r/organisations/asker")
        XCTAssertEqual(try field("organisations/asker", "name"), .value(.string("Asker kommune")))
        let api = await app.handle(WebRequest(method: "POST", path: "/api/records/organisations/asker",
                                              headers: ["host": host, "cookie": cookie, "x-csrf-token": csrf],
                                              body: Array(#"{"changes": ["topics+=climate"]}"#.utf8)))
        XCTAssertEqual(api.status, 200, text(api))
        XCTAssertEqual(try field("organisations/asker", "topics"), .members(["climate"]))
    }

    func testAnEditWritesOnlyWhatChangedAndRefusalsKeepTheForm() async throws {
        try node.call(Control.SetFields(key: "organisations/asker", changes: ["name=Asker", "county=Viken", "topics+=climate"]))
        let (cookie, csrf) = try await login()
        let saved = await post("/r/organisations/asker", [("csrf", csrf), ("f:name", "Asker"), ("o:name", "Asker"), ("f:county", "Akershus"),
                                                          ("o:county", "Viken"), ("add:topics", "mobility"), ("rm:topics", "climate")], cookie: cookie)
        XCTAssertEqual(saved.status, 303)
        let history = try node.call(Control.History(key: "organisations/asker"))
        let last = try XCTUnwrap(history.ops.last?.fields)
        XCTAssertEqual(Set(last.keys), ["county", "topics"], "the unchanged name was not written again")
        XCTAssertEqual(try field("organisations/asker", "topics"), .members(["mobility"]))
        let page = text(await get("/r/organisations/asker", cookie: cookie))
        XCTAssertTrue(page.contains("Saved 3 changes"), "the flash after the redirect")

        // The node's schema check, shown with what was typed.
        let refused = await post("/r/organisations/asker", [("csrf", csrf), ("f:population", "many"), ("o:population", "")], cookie: cookie)
        XCTAssertEqual(refused.status, 422)
        XCTAssertTrue(text(refused).contains("&#39;many&#39; is not an integer"), text(refused))
        XCTAssertTrue(text(refused).contains("value=\"many\""), "the typed value stays in the form")
        // A name the page never offers.
        let odd = await post("/r/organisations/asker", [("csrf", csrf), ("f:planet", "mars")], cookie: cookie)
        XCTAssertEqual(odd.status, 422)
        XCTAssertTrue(text(odd).contains("no field &#39;planet&#39;"))
    }

    /// An open page refreshes itself when the node's version moves (its own save does that):
    /// the refresh copies only the page's main part, so it must leave the "Saved" message for
    /// the page the browser loads after the save's redirect.
    func testALiveRefreshLeavesTheSavedMessageForTheNextPage() async throws {
        let (cookie, csrf) = try await login()
        let saved = await post("/r/organisations/asker", [("csrf", csrf), ("f:name", "Asker"), ("o:name", "")], cookie: cookie)
        XCTAssertEqual(saved.status, 303)
        let refresh = await app.handle(WebRequest(method: "GET", path: "/r/organisations/asker",
                                                  headers: ["host": host, "cookie": cookie, "x-membersync-live": "1"]))
        XCTAssertEqual(refresh.status, 200)
        XCTAssertFalse(text(refresh).contains("Saved 1 change"), "the refresh does not take the message")
        let next = text(await get("/r/organisations/asker", cookie: cookie))
        XCTAssertTrue(next.contains("Saved 1 change"), "the next page shows it")
    }

    func testForbiddenFieldsAreReadOnlyWithTheReasonAndRefusedAnyway() async throws {
        // Bærum's record, written by the hub operator (whose signature this node trusts) and
        // merged in from a snapshot of the hub, as catch-up would bring it.
        node.stop()
        let hub = try RunningNode(id: "brussels", organisation: "oslo-region-european-office", role: .hub)
        try hub.call(Control.SetFields(key: "organisations/baerum", changes: ["name=Bærum", "kind=municipality"]))
        let snapshot = hub.dir + "/hub.sqlite"
        try hub.call(Control.Snapshot(path: snapshot))
        let hubKey = try String(contentsOfFile: hub.dir + "/signing.pub", encoding: .utf8).trimmingCharacters(in: .whitespacesAndNewlines)
        try restart(try RunningNode(secure: true, hubSigningKeys: ["brussels": hubKey]))
        try node.call(Control.Restore(path: snapshot))
        hub.stop()
        let (cookie, csrf) = try await login()
        let page = text(await get("/r/organisations/baerum", cookie: cookie))
        XCTAssertTrue(page.contains("id=\"edit-reason\""), page)
        XCTAssertTrue(page.contains("may write only its own organisation record organisations/asker"))
        XCTAssertTrue(page.contains("id=\"f-name\" name=\"f:name\" type=\"text\" value=\"Bærum\" disabled"), "the input is disabled")
        XCTAssertTrue(page.contains("<button type=\"submit\" id=\"save\" disabled>"))
        let forced = await post("/r/organisations/baerum", [("csrf", csrf), ("f:name", "Taken"), ("o:name", "")], cookie: cookie)
        XCTAssertEqual(forced.status, 422)
        XCTAssertTrue(text(forced).contains("not allowed: asker may write only its own organisation record"), text(forced))
        XCTAssertEqual(try field("organisations/baerum", "name"), .value(.string("Bærum")), "nothing was written")
        // A member may create contacts of its own organisation: the form names it already.
        let new = text(await get("/new/contacts", cookie: cookie))
        XCTAssertTrue(new.contains("name=\"f:organisation\" type=\"text\" value=\"asker\""), new)
        XCTAssertFalse(new.contains("id=\"create\" disabled"))
        let created = await post("/new/contacts", [("csrf", csrf), ("id", "kari"), ("f:name", "Kari"), ("f:organisation", "asker"),
                                                   ("add:topics", "climate")], cookie: cookie)
        XCTAssertEqual(created.status, 303, text(created))
        XCTAssertEqual(try field("contacts/kari", "organisation"), .value(.string("asker")))
        let again = await post("/new/contacts", [("csrf", csrf), ("id", "kari"), ("f:name", "Kari 2")], cookie: cookie)
        XCTAssertTrue(text(again).contains("exists already"))
        let badID = await post("/new/contacts", [("csrf", csrf), ("id", "Kari Nordmann"), ("f:name", "K")], cookie: cookie)
        XCTAssertTrue(text(badID).contains("is not an id"))
        // Offices are the hub operator's: no form to create one.
        let r13 = await get("/c/offices", cookie: cookie)
        XCTAssertTrue(text(r13).contains("only the hub operator writes offices"))
    }

    func testHostileValuesAreShownAsText() async throws {
        let hostile = "<script>alert(1)</script>\" onmouseover=\"x"
        try node.call(Control.SetFields(key: "organisations/asker", changes: ["name=\(hostile)", "description=\(hostile)"]))
        let (cookie, csrf) = try await login()
        for path in ["/r/organisations/asker", "/c/organisations", "/search?q=script", "/r/organisations/asker/history"] {
            let page = text(await get(path, cookie: cookie))
            XCTAssertFalse(page.contains("<script>alert"), path)
            XCTAssertFalse(page.contains("\" onmouseover=\"x"), path)
            XCTAssertTrue(page.contains("&lt;script&gt;alert(1)&lt;/script&gt;&quot; onmouseover=&quot;x"), path)
        }
        // The node refuses control characters in values; the page shows why (made visible).
        let refused = await post("/r/organisations/asker", [("csrf", csrf), ("f:name", "Asker\u{1B}[2J"), ("o:name", hostile)], cookie: cookie)
        XCTAssertEqual(refused.status, 422)
        XCTAssertTrue(text(refused).contains("control character"), text(refused))
        XCTAssertTrue(text(refused).contains("value=\"Asker\u{241B}[2J\""), "the typed value comes back visible, not raw")
        XCTAssertFalse(text(refused).contains("\u{1B}"))
    }

    func testBadAddressesGetClearAnswers() async throws {
        let (cookie, _) = try await login()
        let r14 = await get("/c/planets", cookie: cookie)
        XCTAssertEqual(r14.status, 404)
        let r15 = await get("/r/organisations/Not%20An%20Id", cookie: cookie)
        XCTAssertEqual(r15.status, 404)
        let r16 = await get("/r/organisations/nobody", cookie: cookie)
        XCTAssertEqual(r16.status, 404)
        let r17 = await get("/r/%FF/x", cookie: cookie)
        XCTAssertEqual(r17.status, 400)
        let r18 = await get("/nowhere", cookie: cookie)
        XCTAssertEqual(r18.status, 404)
        let r19 = await app.handle(WebRequest(method: "DELETE", path: "/", headers: ["host": host]))
        XCTAssertEqual(r19.status, 405)
        let api = await get("/api/records/planets/mars", cookie: cookie)
        XCTAssertEqual(api.status, 400)
        XCTAssertTrue(text(api).contains("unknown collection"), text(api))
        let r20 = await get("/api/nowhere", cookie: cookie)
        XCTAssertEqual(r20.status, 404)
        let (cookie2, csrf2) = try await login()
        let badJSON = await app.handle(WebRequest(method: "POST", path: "/api/resolve",
                                                  headers: ["host": host, "cookie": cookie2, "x-csrf-token": csrf2], body: Array("[1,".utf8)))
        XCTAssertEqual(badJSON.status, 400)
        XCTAssertTrue(text(badJSON).contains("must be a JSON object"), text(badJSON))
        let otherSession = await app.handle(WebRequest(method: "POST", path: "/api/resolve",
                                                       headers: ["host": host, "cookie": cookie, "x-csrf-token": csrf2], body: []))
        XCTAssertEqual(otherSession.status, 403, "another session's CSRF token does not count")
    }

    func testConflictsAndResolveThroughThePage() async throws {
        // A conflict needs two writers: a second replica's op, applied as a remote op would be
        // (security is off on this node so the test can inject it).
        node.stop()
        try restart(try RunningNode(secure: false))
        try node.call(Control.SetFields(key: "projects/green-ports", changes: ["title=Green Ports", "status=idea"]))
        let backup = node.dir + "/other.sqlite"
        // The other office's state: a snapshot of this node taken before the next edit, edited
        // by "baerum" in a replica of its own and merged back with restore.
        try node.call(Control.Snapshot(path: backup))
        try node.call(Control.SetFields(key: "projects/green-ports", changes: ["status=running"]))
        try writeAsOtherOffice(backup: backup, key: "projects/green-ports", change: "status=closed")
        _ = try node.call(Control.Restore(path: backup))
        let conflicts = try node.call(Control.Conflicts())
        XCTAssertEqual(conflicts.count, 1, "the two statuses conflict")

        let (cookie, csrf) = try await login()
        let page = text(await get("/conflicts", cookie: cookie))
        XCTAssertTrue(page.contains("data-key=\"projects/green-ports\" data-field=\"status\""), page)
        XCTAssertTrue(page.contains("Keep “running”") && page.contains("Keep “closed”"))
        XCTAssertTrue(page.contains("id=\"conflict-count\">1<"), "the navigation counts it")
        XCTAssertTrue(page.contains("<strong>baerum</strong>") && page.contains("<strong>asker</strong>"), "who wrote each value")
        let resolved = await post("/resolve", [("csrf", csrf), ("key", "projects/green-ports"), ("field", "status"), ("value", "closed"),
                                               ("return", "//evil.example/")], cookie: cookie)
        XCTAssertEqual(resolved.status, 303)
        XCTAssertEqual(resolved.header("location"), "/conflicts", "never back to another site")
        XCTAssertEqual(try node.call(Control.Conflicts()).count, 0)
        XCTAssertEqual(try field("projects/green-ports", "status"), .value(.string("closed")))
        let r21 = await get("/conflicts", cookie: cookie)
        XCTAssertTrue(text(r21).contains("No open conflicts"))
        XCTAssertTrue(text(r21).contains("id=\"conflict-count\">0<"), "the count follows the node's version")
    }

    /// Edits a snapshot file as another office ("baerum") would, with the node's own store code.
    func writeAsOtherOffice(backup: String, key: String, change: String) throws {
        let other = try RunningNodeFromSnapshot(snapshot: backup, id: "baerum")
        defer { other.stop() }
        try other.call(Control.SetFields(key: key, changes: [change]))
        try? FileManager.default.removeItem(atPath: backup)
        try other.call(Control.Snapshot(path: backup))
    }

    /// The home page lists this office's refused edits with the reason, from the list the node
    /// keeps in its store (put there directly: refusing needs a hub; the engine and E2E tests
    /// cover how entries get there).
    func testTheHomePageListsRefusedEdits() async throws {
        var (cookie, _) = try await login()
        let before = text(await get("/", cookie: cookie))
        XCTAssertTrue(before.contains("<dt>Refused edits</dt><dd>0</dd>"), before)
        XCTAssertFalse(before.contains("id=\"h-refused\""), "no list while nothing is refused")
        let dir = node.dir
        node.stop(keepingData: true)
        do {
            let store = try Store(path: dir + "/" + Store.fileName, mustExist: true)
            let edit = RefusedEdit(dot: Dot(try XCTUnwrap(store.storedIdentity()), 3), key: try RecordKey(parsing: "projects/catchmr"),
                                   summary: "status=closed", reason: "unauthorised",
                                   detail: "asker may write only projects asker leads or partners in", held: true, at: 1_764_547_200_000)
            try store.setMeta(RefusedEditsText.metaKey, RefusedEditsText.encode([edit]))
        }
        try restart(try RunningNode(dir: dir))
        (cookie, _) = try await login()
        let home = text(await get("/", cookie: cookie))
        XCTAssertTrue(home.contains("<dt>Refused edits</dt><dd>1</dd>"), home)
        XCTAssertTrue(home.contains("<a href=\"/r/projects/catchmr\">projects/catchmr</a> <code>status=closed</code>: unauthorised"), home)
        XCTAssertTrue(home.contains("leads or partners in"))
        let api = await get("/api/refused", cookie: cookie)
        XCTAssertEqual(api.status, 200)
        XCTAssertTrue(text(api).contains("\"reason\":\"unauthorised\""), text(api))
    }

    func testAStoppedNodeIsReportedNotCrashedInto() async throws {
        let (cookie, csrf) = try await login()
        node.stop(keepingData: true)
        defer { try? FileManager.default.removeItem(atPath: node.dir) }
        let page = await get("/r/organisations/asker", cookie: cookie)
        XCTAssertEqual(page.status, 503)
        XCTAssertTrue(text(page).contains("The node is not answering"), text(page))
        XCTAssertTrue(text(page).contains("status-unreachable"), "the status bar says so too")
        let save = await post("/r/organisations/asker", [("csrf", csrf), ("f:name", "X"), ("o:name", "")], cookie: cookie)
        XCTAssertEqual(save.status, 503)
        XCTAssertTrue(text(save).contains("no node is running"), text(save))
        let api = await get("/api/status", cookie: cookie)
        XCTAssertEqual(api.status, 503)
        let health = await get("/health")
        XCTAssertEqual(health.status, 503)
        XCTAssertTrue(text(health).hasPrefix("unreachable"), text(health))
    }

    func testHealthAndMetricsNeedNoSession() async throws {
        let health = await get("/health")
        XCTAssertEqual(health.status, 200, "a node with no hub or peer configured is healthy, as membersync status says")
        XCTAssertEqual(text(health), "healthy\n")
        let metrics = await get("/metrics")
        XCTAssertEqual(metrics.status, 200)
        XCTAssertTrue(text(metrics).contains("membersync_build_info{"))
        XCTAssertTrue(metrics.header("content-type")?.hasPrefix("text/plain") ?? false)
    }
}

/// A second office for conflict tests: a node started on a copy of another node's snapshot
/// (its own replica id), so its edits are concurrent with the first node's.
final class RunningNodeFromSnapshot: @unchecked Sendable {
    let inner: RunningNode

    init(snapshot: String, id: String) throws {
        inner = try RunningNode(id: id, secure: false)
        _ = try inner.call(Control.Restore(path: snapshot))
    }

    @discardableResult
    func call<C: ControlCommand>(_ command: C) throws -> C.Result { try inner.call(command) }
    func stop() { inner.stop() }
}
