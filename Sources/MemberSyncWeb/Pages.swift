import Foundation
import MemberSyncControl
import MemberSyncModel

/// The pages that read: each asks the node (status, list, show, permissions, history,
/// search, conflicts, nodes) and turns the answer into a template context. Values stay
/// plain strings here; the templates escape them.
extension WebApp {
    func home() async -> Page {
        let status: JSONObject, stats: JSONObject, refused: [JSONObject]
        do throws(ControlClientError) {
            status = try await link.call("status").object
            stats = try await link.call("stats").object
            refused = try await link.call("refused").array
        } catch {
            return failure(error, title: "Home")
        }
        let state = SyncState(mode: WebText.text(status["mode"]), pending: WebText.int(status["pending"]), role: identity.role)
        let counts = stats["records"] as? JSONObject ?? [:]
        let activeHub = WebText.text(status["active_hub"])
        return Page(title: "Home", template: "home", context: [
            "mode_label": state.label, "has_active_hub": !activeHub.isEmpty, "active_hub": activeHub,
            "pending": WebText.int(status["pending"]), "records": WebText.int(status["records"]),
            "conflicts": WebText.int(status["conflicts"]), "health": WebText.text(status["health"]),
            "health_reasons": (status["health_reasons"] as? [String]) ?? [],
            // This node's own edits the hub refused (newest first; the CLI's `refused` has all).
            "refused_count": refused.count, "has_refused": !refused.isEmpty, "refused_more": max(0, refused.count - Self.refusedShown), "has_refused_more": refused.count > Self.refusedShown,
            "refused": refused.prefix(Self.refusedShown).map { e -> [String: Any] in
                let key = WebText.text(e["key"])
                return ["key": key, "href": key.isEmpty ? "" : "/r/\(key)", "summary": WebText.text(e["summary"]),
                        "reason": WebText.text(e["reason"]), "detail": WebText.text(e["detail"]), "at": WebText.text(e["at"])]
            },
            "collections": Labels.collectionOrder.map { c -> [String: Any] in
                ["href": "/c/\(c)", "label": Labels.collection(c), "count": WebText.int(counts[c])]
            },
        ])
    }

    /// Refused edits listed on the home page.
    static let refusedShown = 10

    func collectionPage(_ name: String) async -> Page {
        guard let c = collectionSchema(name) else { return missingCollection(name) }
        let records: [JSONObject]
        do throws(ControlClientError) { records = try await link.call("list", ["collection": name]).array } catch { return failure(error, title: Labels.collection(name)) }
        let columns = Labels.columns[name] ?? []
        let create = await creationRule(c)
        let rows = records.map { r -> [String: Any] in
            let key = WebText.text(r["key"])
            let fields = r["fields"] as? JSONObject ?? [:]
            let id = String(key.split(separator: "/", maxSplits: 1).last ?? "")
            let title = WebText.text(fields[c.titleField])
            return ["href": Self.recordURL(key), "id": id, "title": title.isEmpty ? id : title,
                    "conflicted": r["conflicts"] != nil,
                    "cells": columns.map { col -> String in
                        if col == "members", let m = fields[col] as? [Any] { return "\(m.count)" }
                        return WebText.text(fields[col])
                    }]
        }
        return Page(title: Labels.collection(name), template: "collection", context: [
            "label": Labels.collection(name), "singular": Labels.singular[name] ?? name, "count": rows.count,
            "columns": columns.map(Labels.field), "records": rows, "has_records": !rows.isEmpty,
            "can_create": create.allowed, "create_reason": create.reason, "new_href": "/new/\(name)",
        ], nav: name)
    }

    func missingCollection(_ name: String) -> Page {
        Page(title: "Not found", template: "message", context: [
            "heading": "No such collection", "has_hint": true,
            "text": "There is no collection named \(name).",
            "hint": "The collections are " + Labels.collectionOrder.joined(separator: ", ") + ".",
        ], status: 404)
    }

    /// What a new record of this collection starts with here: a member names its own
    /// organisation in a contact and as a project's lead, which the write rules require.
    func creationDefaults(_ c: CollectionSchema) -> [String: String] {
        guard !identity.isHub else { return [:] }
        switch c.name {
        case "contacts": return ["organisation": identity.organisation]
        case "projects": return ["lead": identity.organisation]
        default: return [:]
        }
    }

    /// Whether this node may create records of the collection at all, by asking the node's
    /// write rules about a record that does not exist, with the defaults above.
    func creationRule(_ c: CollectionSchema) async -> (allowed: Bool, reason: String, permissions: JSONObject) {
        let defaults = creationDefaults(c)
        let probe = "\(c.name)/new--record"
        guard let p = try? await link.call("permissions", ["key": probe, "changes": defaults.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }]).object else {
            return (false, "the node did not say what it allows", [:])
        }
        let edit = p["edit"] as? JSONObject ?? [:]
        return (WebText.bool(edit["writable"]), WebText.text(edit["reason"]), p)
    }

    func recordPage(_ name: String, _ id: String, session: Session, error: String? = nil, submitted: Form? = nil) async -> Page {
        guard let c = collectionSchema(name) else { return missingCollection(name) }
        guard Labels.isID(id) else { return Page(title: "Not found", template: "message", context: ["heading": "Not found", "text": "'\(id)' is not a record id (ids are lowercase letters, digits and -).", "has_hint": false], status: 404) }
        let key = "\(name)/\(id)"
        let shown: JSONObject, perms: JSONObject
        do throws(ControlClientError) {
            shown = try await link.call("show", ["key": key]).object
            perms = try await link.call("permissions", ["key": key]).object
        } catch {
            return failure(error, title: key)
        }
        let fields = shown["fields"] as? JSONObject ?? [:]
        let references = shown["references"] as? JSONObject ?? [:]
        let conflicts = shown["conflicts"] as? JSONObject ?? [:]
        let title = WebText.text(shown["title"]).isEmpty ? id : WebText.text(shown["title"])
        let url = Self.recordURL(key)

        var displayed: [[String: Any]] = []
        for f in Labels.fieldOrder(c) {
            var values: [[String: Any]] = []
            if let refs = references[f] as? [JSONObject] {
                values = refs.map { ref in
                    let k = WebText.text(ref["key"])
                    let t = WebText.text(ref["title"])
                    return ["text": t.isEmpty ? String(k.split(separator: "/").last ?? "") : t, "href": Self.recordURL(k),
                            "is_link": true, "missing": !WebText.bool(ref["exists"])]
                }
            } else if let list = fields[f] as? [Any] {
                values = list.map { ["text": WebText.text($0), "href": "", "is_link": false, "missing": false] }
            } else if let v = fields[f] {
                values = [["text": WebText.text(v), "href": "", "is_link": false, "missing": false]]
            }
            displayed.append(["name": f, "label": Labels.field(f), "values": values, "conflicted": conflicts[f] != nil])
        }

        let conflictItems = conflicts.keys.sorted().map { field -> [String: Any] in
            conflictContext(key: key, field: field, siblings: conflicts[field] as? [JSONObject] ?? [], returnTo: url, showRecord: false, recordTitle: title)
        }

        var related: [[String: Any]] = []
        if let rel = shown["related"] as? JSONObject {
            let groups: [(String, String)] = [("contacts", "Contacts"), ("offices", "Offices"), ("networks", "Networks"),
                                              ("projects", "Projects"), ("members", "Member organisations"), ("nodes", "Roster nodes")]
            for (group, label) in groups {
                let items = (rel[group] as? [JSONObject] ?? []).map { item -> [String: Any] in
                    let k = WebText.text(item["key"])
                    let t = WebText.text(item["title"])
                    var extra: [String] = []
                    for name in ["role", "city", "status"] where item[name] != nil { extra.append(WebText.text(item[name])) }
                    if let roles = item["roles"] as? [Any] { extra.append(WebText.text(roles)) }
                    if let via = item["via"] as? [Any] { extra.append(WebText.text(via)) }
                    return ["href": Self.recordURL(k), "key": k, "title": t.isEmpty ? k : t,
                            "has_extra": !extra.isEmpty, "extra": extra.joined(separator: " · ")]
                }
                if !items.isEmpty { related.append(["name": group, "label": label, "items": items]) }
            }
        }

        let form = formContext(c, current: fields, conflicts: conflicts, permissions: perms["fields"] as? JSONObject ?? [:],
                               submitted: submitted, defaults: [:])
        let edit = perms["edit"] as? JSONObject ?? [:]
        let delete = perms["delete"] as? JSONObject ?? [:]
        return Page(title: title, template: "record", context: [
            "collection": name, "collection_label": Labels.collection(name), "id": id, "key": key, "title": title,
            "record_url": url, "has_error": error != nil, "error": error ?? "",
            "shown": displayed, "related": related, "conflicts": conflictItems, "has_conflicts": !conflictItems.isEmpty,
            "form": form, "any_writable": form.contains { !($0["disabled"] as? Bool ?? true) },
            "edit_allowed": WebText.bool(edit["writable"]), "edit_reason": WebText.text(edit["reason"]),
            "delete_allowed": WebText.bool(delete["writable"]),
        ], status: error == nil ? 200 : 422, nav: name)
    }

    /// The inputs of an edit or create form. `submitted` (a form that was refused) keeps what
    /// the person typed; `defaults` fill a new record.
    func formContext(_ c: CollectionSchema, current: JSONObject, conflicts: JSONObject, permissions: JSONObject,
                     submitted: Form?, defaults: [String: String]) -> [[String: Any]] {
        Labels.fieldOrder(c).map { name -> [String: Any] in
            let type = c.fields[name]!
            let perm = permissions[name] as? JSONObject ?? [:]
            let writable = WebText.bool(perm["writable"])
            var reason = WebText.text(perm["reason"])
            if !writable && reason.isEmpty { reason = "the node did not say whether this field may be written" }
            let orig = current[name].map { WebText.text($0) } ?? ""
            let value = submitted?.first("f:\(name)") ?? (current[name] == nil ? defaults[name] ?? "" : orig)
            var o: [String: Any] = [
                "name": name, "label": Labels.field(name), "type": type.description.replacingOccurrences(of: "|", with: " | "), "disabled": !writable, "reason": reason,
                "conflicted": conflicts[name] != nil, "is_set": type.isSet, "value": value, "orig": orig,
                "added": submitted?.first("add:\(name)") ?? "",
                "members": (current[name] as? [Any] ?? []).map { ["value": WebText.text($0)] },
                "is_textarea": false, "is_select": false, "is_input": false, "input_type": "text", "options": [Any](),
            ]
            switch type {
            case .oneOf(let options):
                o["is_select"] = true
                o["options"] = ([""] + options).map { ["value": $0, "label": $0.isEmpty ? "—" : $0, "selected": $0 == value] }
            case .boolean:
                o["is_select"] = true
                o["options"] = ["", "true", "false"].map { ["value": $0, "label": $0.isEmpty ? "—" : $0, "selected": $0 == value] }
            case .integer:
                o["is_input"] = true
                o["input_type"] = "number"
            case .date:
                o["is_input"] = true
                o["input_type"] = "date"
            case .text where name == "description" || name == "address":
                o["is_textarea"] = true
            case .text, .reference:
                o["is_input"] = true
            case .textSet, .referenceSet:
                break
            }
            return o
        }
    }

    /// One conflicted field with its siblings side by side.
    func conflictContext(key: String, field: String, siblings: [JSONObject], returnTo: String, showRecord: Bool, recordTitle: String) -> [String: Any] {
        [
            "key": key, "field": field, "show_record": showRecord, "record_href": Self.recordURL(key), "record_title": recordTitle,
            "siblings": siblings.map { s -> [String: Any] in
                let value = WebText.text(s["value"])
                let origin = WebText.text(s["origin"])
                return ["value": value, "node": String(origin.split(separator: "@").first ?? ""), "origin": origin,
                        "time": WebText.time(s["time"]), "iso": WebText.text(s["time"]), "key": key, "field": field,
                        "return_to": returnTo, "short": value.count > 40 ? String(value.prefix(40)) + "…" : value]
            },
        ]
    }

    func historyPage(_ name: String, _ id: String) async -> Page {
        guard collectionSchema(name) != nil else { return missingCollection(name) }
        let key = "\(name)/\(id)"
        let h: JSONObject
        do throws(ControlClientError) { h = try await link.call("history", ["key": key]).object } catch { return failure(error, title: "History of \(key)") }
        let shown = try? await link.call("show", ["key": key]).object
        let title = WebText.text(shown?["title"]).isEmpty ? id : WebText.text(shown?["title"])
        let ops = (h["ops"] as? [JSONObject] ?? []).map { op -> [String: Any] in
            let fields = op["fields"] as? JSONObject ?? [:]
            let changes = fields.keys.sorted().map { f -> [String: Any] in
                if let set = fields[f] as? JSONObject {
                    var parts: [String] = []
                    if let a = set["added"] as? [Any] { parts.append("added " + WebText.text(a)) }
                    if let r = set["removed"] as? [Any] { parts.append("removed " + WebText.text(r)) }
                    return ["field": f, "text": parts.joined(separator: "; ")]
                }
                return ["field": f, "text": WebText.text(fields[f])]
            }
            return ["time": WebText.time(op["time"]), "iso": WebText.text(op["time"]), "node": WebText.text(op["node"]),
                    "counter": WebText.int(op["counter"]), "action": WebText.text(op["action"]), "changes": changes]
        }
        let compacted = (h["compacted"] as? [JSONObject] ?? []).map { WebText.text($0["origin"]) }
        return Page(title: "History of \(title)", template: "history", context: [
            "collection": name, "collection_label": Labels.collection(name), "id": id, "title": title,
            "record_href": Self.recordURL(key), "ops": ops, "has_ops": !ops.isEmpty, "count": ops.count,
            "complete": WebText.bool(h["complete"]), "compacted": compacted.joined(separator: ", "),
        ], nav: name)
    }

    func newPage(_ name: String, session: Session, error: String? = nil, submitted: Form? = nil) async -> Page {
        guard let c = collectionSchema(name) else { return missingCollection(name) }
        let rule = await creationRule(c)
        let perms = rule.permissions["fields"] as? JSONObject ?? [:]
        var form = formContext(c, current: [:], conflicts: [:], permissions: perms, submitted: submitted, defaults: creationDefaults(c))
        if !rule.allowed {
            for i in form.indices { form[i]["disabled"] = true; form[i]["reason"] = rule.reason }
        }
        return Page(title: "New \(Labels.singular[name] ?? name)", template: "new", context: [
            "collection": name, "collection_label": Labels.collection(name), "singular": Labels.singular[name] ?? name,
            "has_error": error != nil, "error": error ?? "", "id": submitted?.first("id") ?? "",
            "example_id": name == "contacts" ? "kari-nordmann" : "green-ports-2030",
            "form": form, "any_writable": rule.allowed, "edit_allowed": rule.allowed,
            "edit_reason": rule.allowed ? "" : "You cannot create \(name) here: \(rule.reason)",
        ], status: error == nil ? 200 : 422, nav: name)
    }

    func searchPage(_ query: Form) async -> Page {
        let text = (query.first("q") ?? "").trimmingCharacters(in: .whitespaces)
        let scope = query.first("in") ?? ""
        let scopes = ([""] + Labels.collectionOrder).map { c -> [String: Any] in
            ["value": c, "label": c.isEmpty ? "everything" : c, "selected": c == scope]
        }
        var context: [String: Any] = ["query": text, "scopes": scopes, "searched": false, "results": [Any](), "count": 0]
        guard !text.isEmpty else { return Page(title: "Search", template: "search", context: context) }
        if !scope.isEmpty && collectionSchema(scope) == nil { return missingCollection(scope) }
        var args: JSONObject = ["text": text]
        if !scope.isEmpty { args["collection"] = scope }
        let hits: [JSONObject]
        do throws(ControlClientError) { hits = try await link.call("search", args).array } catch { return failure(error, title: "Search") }
        context["searched"] = true
        context["count"] = hits.count
        context["results"] = hits.map { h -> [String: Any] in
            let key = WebText.text(h["key"])
            let title = WebText.text(h["title"])
            return ["href": Self.recordURL(key), "key": key, "title": title.isEmpty ? key : title,
                    "matches": (h["matches"] as? [JSONObject] ?? []).map { ["field": WebText.text($0["field"]), "text": WebText.text($0["text"])] }]
        }
        return Page(title: "Search: \(text)", template: "search", context: context)
    }

    func conflictsPage(session: Session) async -> Page {
        let list: [JSONObject]
        do throws(ControlClientError) { list = try await link.call("conflicts").array } catch { return failure(error, title: "Conflicts") }
        let items = list.map { c -> [String: Any] in
            let key = WebText.text(c["key"])
            return conflictContext(key: key, field: WebText.text(c["field"]), siblings: c["values"] as? [JSONObject] ?? [],
                                   returnTo: "/conflicts", showRecord: true, recordTitle: key)
        }
        return Page(title: "Conflicts", template: "conflicts", context: ["items": items, "has_items": !items.isEmpty], nav: "conflicts")
    }

    func federationPage() async -> Page {
        let nodes: [JSONObject], stats: JSONObject
        let lag: [JSONObject]
        do throws(ControlClientError) {
            nodes = try await link.call("nodes").array
            lag = try await link.call("lag").array
            stats = try await link.call("stats").object
        } catch {
            return failure(error, title: "Federation")
        }
        var lagByNode: [String: JSONObject] = [:]
        for l in lag { lagByNode[WebText.text(l["node_id"])] = l }
        let rows = nodes.map { n -> [String: Any] in
            let id = WebText.text(n["node_id"])
            let isSelf = WebText.bool(n["self"])
            var lagText = ""
            if let l = lagByNode[id], let s = l["lag_seconds"] { lagText = String(format: "%.1f s", (s as? NSNumber)?.doubleValue ?? 0) }
            if isSelf { lagText = "—" }
            let inRoster = WebText.bool(n["in_roster"])
            let revoked = WebText.bool(n["revoked"])
            return ["node_id": id, "self": isSelf, "organisation": WebText.text(n["organisation"]), "node_role": WebText.text(n["role"]),
                    "online": WebText.bool(n["connected"]), "last_seen": isSelf ? "now" : WebText.time(n["last_seen"]),
                    "ops_behind": n["ops_behind"].map { WebText.text($0) } ?? "?", "lag": lagText,
                    "software": WebText.text(n["software_version"]), "protocol": WebText.text(n["protocol"]),
                    "revoked": revoked, "in_roster": inRoster, "can_revoke": !isSelf && !revoked]
        }
        let rejected = (stats["ops_rejected"] as? JSONObject ?? [:]).sorted { $0.key < $1.key }.map { ["reason": $0.key, "count": WebText.int($0.value)] as [String: Any] }
        return Page(title: "Federation", template: "federation", context: [
            "nodes": rows, "is_hub": identity.isHub, "rejected": rejected, "has_rejected": !rejected.isEmpty,
            "rejected_total": WebText.int(stats["ops_rejected_total"]),
        ], nav: "federation")
    }
}
