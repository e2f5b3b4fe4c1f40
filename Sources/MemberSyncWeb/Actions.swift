import Foundation
import MemberSyncControl
import MemberSyncDirectory
import MemberSyncModel

/// The forms that write: each becomes one control command (`set`, `delete`, `resolve`,
/// `admit`, `revoke`), so the node checks it with the same code as the CLI's. A refusal is
/// shown with the node's reason; what the person typed stays in the form.
extension WebApp {
    func saveEdit(_ name: String, _ id: String, _ form: Form, session: Session) async -> WebResponse {
        guard let c = collectionSchema(name), Labels.isID(id) else { return await notFound("There is no such record.", session: session) }
        let key = "\(name)/\(id)"
        let changes: [String]
        do throws(FormError) { changes = try FormEdits.changes(form, collection: c, creating: false) } catch {
            return await page(await recordPage(name, id, session: session, error: error.message, submitted: form), session: session)
        }
        guard !changes.isEmpty else {
            sessions.addFlash(session.id, Flash(kind: .ok, message: "Nothing changed, so nothing was written."))
            return .redirect(Self.recordURL(key))
        }
        do throws(ControlClientError) {
            let r = try await link.call(Control.SetFields(key: key, changes: changes))
            sessions.addFlash(session.id, Flash(kind: .ok, message: "Saved \(changes.count) change\(changes.count == 1 ? "" : "s") (edit #\(r.counter) of this node)."))
            return .redirect(Self.recordURL(key))
        } catch {
            return await page(await recordPage(name, id, session: session, error: error.message, submitted: form), session: session)
        }
    }

    func deleteRecord(_ name: String, _ id: String, session: Session) async -> WebResponse {
        guard collectionSchema(name) != nil, Labels.isID(id) else { return await notFound("There is no such record.", session: session) }
        do throws(ControlClientError) {
            _ = try await link.call(Control.Delete(key: "\(name)/\(id)"))
            sessions.addFlash(session.id, Flash(kind: .ok, message: "Deleted \(name)/\(id)."))
            return .redirect("/c/\(name)")
        } catch {
            sessions.addFlash(session.id, Flash(kind: .error, message: error.message))
            return .redirect(Self.recordURL("\(name)/\(id)"))
        }
    }

    func create(_ name: String, _ form: Form, session: Session) async -> WebResponse {
        guard let c = collectionSchema(name) else { return await notFound("There is no such collection.", session: session) }
        func refused(_ message: String) async -> WebResponse {
            await page(await newPage(name, session: session, error: message, submitted: form), session: session)
        }
        let id = (form.first("id") ?? "").trimmingCharacters(in: .whitespaces)
        guard Labels.isID(id) else {
            return await refused("'\(id)' is not an id: use lowercase letters, digits and '-' (at most 64), starting with a letter or digit.")
        }
        let key = "\(name)/\(id)"
        if (try? await link.call(Control.Get(key: key))) != nil {
            return await refused("\(key) exists already: open it to edit it.")
        }
        let changes: [String]
        do throws(FormError) { changes = try FormEdits.changes(form, collection: c, creating: true) } catch { return await refused(error.message) }
        guard !changes.isEmpty else { return await refused("Give at least one field a value.") }
        do throws(ControlClientError) {
            _ = try await link.call(Control.SetFields(key: key, changes: changes))
            sessions.addFlash(session.id, Flash(kind: .ok, message: "Created \(key)."))
            return .redirect(Self.recordURL(key))
        } catch {
            return await refused(error.message)
        }
    }

    func resolve(_ form: Form, session: Session) async -> WebResponse {
        let back = Self.safeReturn(form.first("return"), fallback: "/conflicts")
        guard let key = form.first("key"), let field = form.first("field"), let value = form.first("value") else {
            sessions.addFlash(session.id, Flash(kind: .error, message: "The form lacks the record, field or value to keep."))
            return .redirect(back)
        }
        do throws(ControlClientError) {
            let r = try await link.call(Control.Resolve(key: key, field: field, value: FormEdits.normalise(value)))
            sessions.addFlash(session.id, Flash(kind: .ok, message: "Kept “\(value)” for \(key) \(field); it replaces all \(r.replaced.count) values, at every office."))
        } catch {
            sessions.addFlash(session.id, Flash(kind: .error, message: error.message))
        }
        return .redirect(back)
    }

    func admit(_ form: Form, session: Session) async -> WebResponse {
        var args: [String: JSONValue] = [:]
        for name in ["node_id", "organisation", "role", "curve_key", "signing_key"] {
            if let v = form.first(name)?.trimmingCharacters(in: .whitespaces), !v.isEmpty { args[name] = .string(v) }
        }
        let endpoints = (form.first("endpoints") ?? "").split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
        if !endpoints.isEmpty { args["endpoints"] = .array(endpoints.map(JSONValue.string)) }
        do throws(ControlClientError) {
            let r = try await link.call(Control.Admit.self, arguments: args)
            sessions.addFlash(session.id, Flash(kind: .ok, message: "Admitted \(r.nodeID) (\(r.key))."))
        } catch {
            sessions.addFlash(session.id, Flash(kind: .error, message: error.message))
        }
        return .redirect("/federation")
    }

    func revoke(_ form: Form, session: Session) async -> WebResponse {
        do throws(ControlClientError) {
            let r = try await link.call(Control.Revoke(nodeID: form.first("node_id") ?? ""))
            sessions.addFlash(session.id, Flash(kind: .ok, message: r.changed ? "Revoked \(r.nodeID): its later edits are refused everywhere." : "\(r.nodeID) was revoked already."))
        } catch {
            sessions.addFlash(session.id, Flash(kind: .error, message: error.message))
        }
        return .redirect("/federation")
    }

    // MARK: JSON API

    /// `/api/...`: the control commands over HTTP, with the session and CSRF rules of the
    /// page. Answers `{"ok": true, "result": ...}` or `{"ok": false, "error": ...}` like the
    /// control socket (docs/WEB.md lists the routes).
    func api(_ method: String, _ path: [String], _ r: WebRequest, session: Session) async -> WebResponse {
        if path == ["events"] {
            guard method == "GET" else { return .json(405, ["ok": false, "error": "GET /events"]) }
            guard let stream = await feed.subscribe() else {
                return .json(503, ["ok": false, "error": "too many pages are listening for live updates; reload later"])
            }
            return WebResponse(status: 200, headers: [("Content-Type", "text/event-stream"), ("Cache-Control", "no-store"),
                                                      ("X-Accel-Buffering", "no")], events: stream)
        }
        var body: [String: JSONValue] = [:]
        if method == "POST" {
            if !r.body.isEmpty {
                guard let object = JSONValue(parsing: r.body)?.object else {
                    return .json(400, ["ok": false, "error": "the body must be a JSON object"])
                }
                body = object
            }
        }
        let query = r.queryForm ?? Form([])
        func key(_ c: String, _ id: String) -> String { "\(c)/\(id)" }
        /// The body's members of these names, as the command's arguments.
        func arguments(_ names: [String]) -> [String: JSONValue] { body.filter { names.contains($0.key) } }
        let rest = Array(path.dropFirst())
        let m = { (pattern: String) in Self.match(rest, pattern) }
        if method == "GET" {
            switch rest {
            case ["status"]: return await answer(Control.StatusQuery())
            case ["progress"]: return await answer(Control.Progress())
            case ["stats"]: return await answer(Control.Stats())
            case ["conflicts"]: return await answer(Control.Conflicts())
            case ["nodes"]: return await answer(Control.Nodes())
            case ["lag"]: return await answer(Control.Lag())
            case ["refused"]: return await answer(Control.Refused())
            default: break
            }
            if m("search") != nil {
                let scope = query.first("in") ?? ""
                return await answer(Control.Search(text: query.first("q") ?? "", collection: scope.isEmpty ? nil : scope))
            } else if let a = m("collections/*") {
                let conditions = query.all("where")
                return await answer(Control.List(collection: a[0], where: conditions.isEmpty ? nil : conditions))
            } else if let a = m("records/*/*") {
                return await answer(Control.Show(key: key(a[0], a[1])))
            } else if let a = m("records/*/*/history") {
                return await answer(Control.History(key: key(a[0], a[1])))
            } else if let a = m("records/*/*/permissions") {
                let changes = query.all("change")
                return await answer(Control.Permissions(key: key(a[0], a[1]), changes: changes.isEmpty ? nil : changes))
            }
        } else {
            if let a = m("records/*/*") {
                guard let changes = body["changes"]?.strings else {
                    return .json(400, ["ok": false, "error": "give \"changes\": [\"FIELD=VALUE\", \"FIELD+=ELEMENT\", \"FIELD-=ELEMENT\", ...]"])
                }
                return await answer(Control.SetFields(key: key(a[0], a[1]), changes: changes))
            } else if let a = m("records/*/*/delete") {
                return await answer(Control.Delete(key: key(a[0], a[1])))
            } else if m("resolve") != nil {
                return await answer { () async throws(ControlClientError) in
                    try await self.link.call(Control.Resolve.self, arguments: arguments(["key", "field", "value", "force"]))
                }
            } else if m("admit") != nil {
                return await answer { () async throws(ControlClientError) in
                    try await self.link.call(Control.Admit.self, arguments: arguments(["node_id", "organisation", "role", "curve_key", "signing_key", "endpoints"]))
                }
            } else if m("revoke") != nil {
                var args = arguments(["node_id"])
                if args["node_id"] == nil { args["node_id"] = "" }
                return await answer { () async throws(ControlClientError) in try await self.link.call(Control.Revoke.self, arguments: args) }
            }
        }
        return .json(404, ["ok": false, "error": "no API route \(method) /\(path.joined(separator: "/")) (see docs/WEB.md)"])
    }

    /// One command's answer on the JSON API: its typed result as the control socket shapes it.
    func answer<C: ControlCommand>(_ command: C) async -> WebResponse {
        await answer { () async throws(ControlClientError) in try await self.link.call(command) }
    }

    func answer<R: Encodable>(_ call: () async throws(ControlClientError) -> R) async -> WebResponse {
        do throws(ControlClientError) {
            return .json(200, bytes: ControlReply.encode(result: try await call()))
        } catch {
            switch error {
            case .refused(let m): return .json(m.hasPrefix("no such record") ? 404 : 400, ["ok": false, "error": m])
            case .unreachable(let m): return .json(503, ["ok": false, "error": m])
            }
        }
    }
}
