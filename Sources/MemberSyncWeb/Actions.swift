import Foundation
import MemberSyncControl
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
            let r = try await link.call("set", ["key": key, "changes": changes]).object
            sessions.addFlash(session.id, Flash(kind: .ok, message: "Saved \(changes.count) change\(changes.count == 1 ? "" : "s") (edit #\(WebText.text(r["counter"])) of this node)."))
            return .redirect(Self.recordURL(key))
        } catch {
            return await page(await recordPage(name, id, session: session, error: error.message, submitted: form), session: session)
        }
    }

    func deleteRecord(_ name: String, _ id: String, session: Session) async -> WebResponse {
        guard collectionSchema(name) != nil, Labels.isID(id) else { return await notFound("There is no such record.", session: session) }
        do throws(ControlClientError) {
            _ = try await link.call("delete", ["key": "\(name)/\(id)"])
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
        if (try? await link.call("get", ["key": key])) != nil {
            return await refused("\(key) exists already: open it to edit it.")
        }
        let changes: [String]
        do throws(FormError) { changes = try FormEdits.changes(form, collection: c, creating: true) } catch { return await refused(error.message) }
        guard !changes.isEmpty else { return await refused("Give at least one field a value.") }
        do throws(ControlClientError) {
            _ = try await link.call("set", ["key": key, "changes": changes])
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
            let r = try await link.call("resolve", ["key": key, "field": field, "value": FormEdits.normalise(value)]).object
            let replaced = (r["replaced"] as? [Any])?.count ?? 0
            sessions.addFlash(session.id, Flash(kind: .ok, message: "Kept “\(value)” for \(key) \(field); it replaces all \(replaced) values, at every office."))
        } catch {
            sessions.addFlash(session.id, Flash(kind: .error, message: error.message))
        }
        return .redirect(back)
    }

    func admit(_ form: Form, session: Session) async -> WebResponse {
        var args: JSONObject = [:]
        for name in ["node_id", "organisation", "role", "curve_key", "signing_key"] {
            if let v = form.first(name)?.trimmingCharacters(in: .whitespaces), !v.isEmpty { args[name] = v }
        }
        let endpoints = (form.first("endpoints") ?? "").split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
        if !endpoints.isEmpty { args["endpoints"] = endpoints }
        do throws(ControlClientError) {
            let r = try await link.call("admit", args).object
            sessions.addFlash(session.id, Flash(kind: .ok, message: "Admitted \(WebText.text(r["node_id"])) (\(WebText.text(r["key"])))."))
        } catch {
            sessions.addFlash(session.id, Flash(kind: .error, message: error.message))
        }
        return .redirect("/federation")
    }

    func revoke(_ form: Form, session: Session) async -> WebResponse {
        do throws(ControlClientError) {
            let r = try await link.call("revoke", ["node_id": form.first("node_id") ?? ""]).object
            let changed = WebText.bool(r["changed"])
            sessions.addFlash(session.id, Flash(kind: .ok, message: changed ? "Revoked \(WebText.text(r["node_id"])): its later edits are refused everywhere." : "\(WebText.text(r["node_id"])) was revoked already."))
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
        var body: JSONObject = [:]
        if method == "POST" {
            if !r.body.isEmpty {
                guard let object = try? JSONSerialization.jsonObject(with: Data(r.body)) as? JSONObject else {
                    return .json(400, ["ok": false, "error": "the body must be a JSON object"])
                }
                body = object
            }
        }
        let query = r.queryForm ?? Form([])
        func key(_ c: String, _ id: String) -> String { "\(c)/\(id)" }
        let rest = Array(path.dropFirst())
        let m = { (pattern: String) in Self.match(rest, pattern) }
        var call: (String, JSONObject)?
        if method == "GET" {
            for name in ["status", "progress", "stats", "conflicts", "nodes", "lag", "refused"] where rest == [name] { call = (name, [:]) }
            if m("search") != nil {
                var args: JSONObject = ["text": query.first("q") ?? ""]
                if let c = query.first("in"), !c.isEmpty { args["collection"] = c }
                call = ("search", args)
            } else if let a = m("collections/*") {
                var args: JSONObject = ["collection": a[0]]
                let conditions = query.all("where")
                if !conditions.isEmpty { args["where"] = conditions }
                call = ("list", args)
            } else if let a = m("records/*/*") {
                call = ("show", ["key": key(a[0], a[1])])
            } else if let a = m("records/*/*/history") {
                call = ("history", ["key": key(a[0], a[1])])
            } else if let a = m("records/*/*/permissions") {
                var args: JSONObject = ["key": key(a[0], a[1])]
                let changes = query.all("change")
                if !changes.isEmpty { args["changes"] = changes }
                call = ("permissions", args)
            }
        } else {
            if let a = m("records/*/*") {
                guard let changes = body["changes"] as? [String] else {
                    return .json(400, ["ok": false, "error": "give \"changes\": [\"FIELD=VALUE\", \"FIELD+=ELEMENT\", \"FIELD-=ELEMENT\", ...]"])
                }
                call = ("set", ["key": key(a[0], a[1]), "changes": changes])
            } else if let a = m("records/*/*/delete") {
                call = ("delete", ["key": key(a[0], a[1])])
            } else if m("resolve") != nil {
                var args: JSONObject = [:]
                for name in ["key", "field", "value", "force"] where body[name] != nil { args[name] = body[name] }
                call = ("resolve", args)
            } else if m("admit") != nil {
                var args: JSONObject = [:]
                for name in ["node_id", "organisation", "role", "curve_key", "signing_key", "endpoints"] where body[name] != nil { args[name] = body[name] }
                call = ("admit", args)
            } else if m("revoke") != nil {
                call = ("revoke", ["node_id": body["node_id"] ?? ""])
            }
        }
        guard let call else {
            return .json(404, ["ok": false, "error": "no API route \(method) /\(path.joined(separator: "/")) (see docs/WEB.md)"])
        }
        do throws(ControlClientError) {
            let result = try await link.call(call.0, call.1)
            return .json(200, ["ok": true, "result": result.value])
        } catch {
            switch error {
            case .refused(let m): return .json(m.hasPrefix("no such record") ? 404 : 400, ["ok": false, "error": m])
            case .unreachable(let m): return .json(503, ["ok": false, "error": m])
            }
        }
    }
}
