import Foundation
import MemberSyncControl
import MemberSyncDirectory
import MemberSyncModel

/// The pages that read: each asks the node (status, list, show, permissions, history,
/// search, conflicts, nodes) with a typed command and turns its typed result into a template
/// context. Values stay plain strings here; the templates escape them.
extension WebApp {
    func home() async -> Page {
        let status: StatusResult, stats: StatsResult, refused: [RefusedEditJSON]
        do throws(ControlClientError) {
            status = try await link.call(Control.StatusQuery())
            stats = try await link.call(Control.Stats())
            refused = try await link.call(Control.Refused())
        } catch {
            return failure(error, title: "Home")
        }
        let state = SyncState(mode: status.mode, pending: Int(clamping: status.pending), role: identity.role)
        let activeHub = status.activeHub ?? ""
        return Page(title: "Home", template: "home", context: [
            "mode_label": state.label, "has_active_hub": !activeHub.isEmpty, "active_hub": activeHub,
            "pending": Int(clamping: status.pending), "records": status.records,
            "conflicts": status.conflicts, "health": status.health ?? "",
            "health_reasons": status.healthReasons ?? [],
            // This node's own edits the hub refused (newest first; the CLI's `refused` has all).
            "refused_count": refused.count, "has_refused": !refused.isEmpty, "refused_more": max(0, refused.count - Self.refusedShown), "has_refused_more": refused.count > Self.refusedShown,
            "refused": refused.prefix(Self.refusedShown).map { e -> [String: Any] in
                let key = e.key ?? ""
                return ["key": key, "href": key.isEmpty ? "" : "/r/\(key)", "summary": e.summary,
                        "reason": e.reason, "detail": e.detail, "at": e.at]
            },
            "collections": Labels.collectionOrder.map { c -> [String: Any] in
                ["href": "/c/\(c)", "label": Labels.collection(c), "count": stats.records[c] ?? 0]
            },
        ])
    }

    /// Refused edits listed on the home page.
    static let refusedShown = 10

    func collectionPage(_ name: String) async -> Page {
        guard let c = collectionSchema(name) else { return missingCollection(name) }
        let records: [RecordJSON]
        do throws(ControlClientError) { records = try await link.call(Control.List(collection: name)) } catch { return failure(error, title: Labels.collection(name)) }
        let columns = Labels.columns[name] ?? []
        let create = await creationRule(c)
        let rows = records.map { r -> [String: Any] in
            let key = r.key
            let fields = r.fields
            let id = String(key.split(separator: "/", maxSplits: 1).last ?? "")
            let title = WebText.text(fields[c.titleField])
            return ["href": Self.recordURL(key), "id": id, "title": title.isEmpty ? id : title,
                    "conflicted": r.conflicts != nil,
                    "cells": columns.map { col -> String in
                        if col == "members", let m = fields[col]?.members { return "\(m.count)" }
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
    func creationRule(_ c: CollectionSchema) async -> (allowed: Bool, reason: String, permissions: [String: PermissionsResult.Answer]) {
        let defaults = creationDefaults(c)
        let probe = "\(c.name)/new--record"
        let changes = defaults.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }
        guard let p = try? await link.call(Control.Permissions(key: probe, changes: changes)) else {
            return (false, "the node did not say what it allows", [:])
        }
        return (p.edit.writable, p.edit.reason ?? "", p.fields)
    }

    func recordPage(_ name: String, _ id: String, session: Session, error: String? = nil, submitted: Form? = nil) async -> Page {
        guard let c = collectionSchema(name) else { return missingCollection(name) }
        guard Labels.isID(id) else { return Page(title: "Not found", template: "message", context: ["heading": "Not found", "text": "'\(id)' is not a record id (ids are lowercase letters, digits and -).", "has_hint": false], status: 404) }
        let key = "\(name)/\(id)"
        let shown: ShowResult, perms: PermissionsResult
        do throws(ControlClientError) {
            shown = try await link.call(Control.Show(key: key))
            perms = try await link.call(Control.Permissions(key: key))
        } catch {
            return failure(error, title: key)
        }
        let fields = shown.fields
        let conflicts = shown.conflicts ?? [:]
        let title = shown.title.flatMap { $0.isEmpty ? nil : $0 } ?? id
        let url = Self.recordURL(key)

        var displayed: [[String: Any]] = []
        for f in Labels.fieldOrder(c) {
            var values: [[String: Any]] = []
            if let refs = shown.references[f] {
                values = refs.map { ref in
                    let k = ref.key
                    let t = ref.title ?? ""
                    return ["text": t.isEmpty ? String(k.split(separator: "/").last ?? "") : t, "href": Self.recordURL(k),
                            "is_link": true, "missing": !ref.exists]
                }
            } else if let list = fields[f]?.members {
                values = list.map { ["text": $0, "href": "", "is_link": false, "missing": false] }
            } else if let v = fields[f] {
                values = [["text": WebText.text(v), "href": "", "is_link": false, "missing": false]]
            }
            displayed.append(["name": f, "label": Labels.field(f), "values": values, "conflicted": conflicts[f] != nil])
        }

        let conflictItems = conflicts.keys.sorted().map { field -> [String: Any] in
            conflictContext(key: key, field: field, siblings: conflicts[field] ?? [], returnTo: url, showRecord: false, recordTitle: title)
        }

        var related: [[String: Any]] = []
        if let rel = shown.related {
            let groups: [(String, String)] = [("contacts", "Contacts"), ("offices", "Offices"), ("networks", "Networks"),
                                              ("projects", "Projects"), ("members", "Member organisations"), ("nodes", "Roster nodes")]
            for (group, label) in groups {
                let items = rel.group(group).map { item -> [String: Any] in
                    let k = item.key
                    let t = item.title ?? ""
                    var extra = [item.role, item.city, item.status].compactMap { $0 }
                    if let roles = item.roles { extra.append(WebText.text(roles)) }
                    if let via = item.via { extra.append(WebText.text(via)) }
                    return ["href": Self.recordURL(k), "key": k, "title": t.isEmpty ? k : t,
                            "has_extra": !extra.isEmpty, "extra": extra.joined(separator: " · ")]
                }
                if !items.isEmpty { related.append(["name": group, "label": label, "items": items]) }
            }
        }

        let form = formContext(c, current: fields, conflicts: conflicts, permissions: perms.fields, submitted: submitted, defaults: [:])
        return Page(title: title, template: "record", context: [
            "collection": name, "collection_label": Labels.collection(name), "id": id, "key": key, "title": title,
            "record_url": url, "has_error": error != nil, "error": error ?? "",
            "shown": displayed, "related": related, "conflicts": conflictItems, "has_conflicts": !conflictItems.isEmpty,
            "form": form, "any_writable": form.contains { !($0["disabled"] as? Bool ?? true) },
            "edit_allowed": perms.edit.writable, "edit_reason": perms.edit.reason ?? "",
            "delete_allowed": perms.delete?.writable ?? false,
        ], status: error == nil ? 200 : 422, nav: name)
    }

    /// The inputs of an edit or create form. `submitted` (a form that was refused) keeps what
    /// the person typed; `defaults` fill a new record.
    func formContext(_ c: CollectionSchema, current: [String: FieldJSON], conflicts: [String: [SiblingJSON]],
                     permissions: [String: PermissionsResult.Answer], submitted: Form?, defaults: [String: String]) -> [[String: Any]] {
        Labels.fieldOrder(c).map { name -> [String: Any] in
            let type = c.fields[name]!
            let writable = permissions[name]?.writable ?? false
            var reason = permissions[name]?.reason ?? ""
            if !writable && reason.isEmpty { reason = "the node did not say whether this field may be written" }
            let orig = current[name].map { WebText.text($0) } ?? ""
            let value = submitted?.first("f:\(name)") ?? (current[name] == nil ? defaults[name] ?? "" : orig)
            var o: [String: Any] = [
                "name": name, "label": Labels.field(name), "type": type.description.replacingOccurrences(of: "|", with: " | "), "disabled": !writable, "reason": reason,
                "conflicted": conflicts[name] != nil, "is_set": type.isSet, "value": value, "orig": orig,
                "added": submitted?.first("add:\(name)") ?? "",
                "members": (current[name]?.members ?? []).map { ["value": $0] },
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
    func conflictContext(key: String, field: String, siblings: [SiblingJSON], returnTo: String, showRecord: Bool, recordTitle: String) -> [String: Any] {
        [
            "key": key, "field": field, "show_record": showRecord, "record_href": Self.recordURL(key), "record_title": recordTitle,
            "siblings": siblings.map { s -> [String: Any] in
                let value = WebText.text(s.value)
                let origin = s.origin
                return ["value": value, "node": String(origin.split(separator: "@").first ?? ""), "origin": origin,
                        "time": WebText.time(s.time), "iso": s.time, "key": key, "field": field,
                        "return_to": returnTo, "short": value.count > 40 ? String(value.prefix(40)) + "…" : value]
            },
        ]
    }

    func historyPage(_ name: String, _ id: String) async -> Page {
        guard collectionSchema(name) != nil else { return missingCollection(name) }
        let key = "\(name)/\(id)"
        let h: HistoryResult
        do throws(ControlClientError) { h = try await link.call(Control.History(key: key)) } catch { return failure(error, title: "History of \(key)") }
        let shownTitle = (try? await link.call(Control.Show(key: key)))?.title ?? ""
        let title = shownTitle.isEmpty ? id : shownTitle
        let ops = h.ops.map { op -> [String: Any] in
            let changes = op.fields.keys.sorted().map { f -> [String: Any] in
                switch op.fields[f]! {
                case .set(let added, let removed):
                    var parts: [String] = []
                    if let added { parts.append("added " + WebText.text(added)) }
                    if let removed { parts.append("removed " + WebText.text(removed)) }
                    return ["field": f, "text": parts.joined(separator: "; ")]
                case .value(let v):
                    return ["field": f, "text": WebText.text(v)]
                }
            }
            return ["time": WebText.time(op.time), "iso": op.time, "node": op.node,
                    "counter": Int(clamping: op.counter), "action": op.action, "changes": changes]
        }
        let compacted = h.compacted.map(\.origin)
        return Page(title: "History of \(title)", template: "history", context: [
            "collection": name, "collection_label": Labels.collection(name), "id": id, "title": title,
            "record_href": Self.recordURL(key), "ops": ops, "has_ops": !ops.isEmpty, "count": ops.count,
            "complete": h.complete, "compacted": compacted.joined(separator: ", "),
        ], nav: name)
    }

    func newPage(_ name: String, session: Session, error: String? = nil, submitted: Form? = nil) async -> Page {
        guard let c = collectionSchema(name) else { return missingCollection(name) }
        let rule = await creationRule(c)
        var form = formContext(c, current: [:], conflicts: [:], permissions: rule.permissions, submitted: submitted, defaults: creationDefaults(c))
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
        let hits: [SearchHit]
        do throws(ControlClientError) {
            hits = try await link.call(Control.Search(text: text, collection: scope.isEmpty ? nil : scope))
        } catch {
            return failure(error, title: "Search")
        }
        context["searched"] = true
        context["count"] = hits.count
        context["results"] = hits.map { h -> [String: Any] in
            let key = h.key
            let title = h.title ?? ""
            return ["href": Self.recordURL(key), "key": key, "title": title.isEmpty ? key : title,
                    "matches": h.matches.map { ["field": $0.field, "text": $0.text] }]
        }
        return Page(title: "Search: \(text)", template: "search", context: context)
    }

    func conflictsPage(session: Session) async -> Page {
        let list: [ConflictJSON]
        do throws(ControlClientError) { list = try await link.call(Control.Conflicts()) } catch { return failure(error, title: "Conflicts") }
        let items = list.map { c -> [String: Any] in
            conflictContext(key: c.key, field: c.field, siblings: c.values, returnTo: "/conflicts", showRecord: true, recordTitle: c.key)
        }
        return Page(title: "Conflicts", template: "conflicts", context: ["items": items, "has_items": !items.isEmpty], nav: "conflicts")
    }

    func federationPage() async -> Page {
        let nodes: [NodeRow], stats: StatsResult
        let lag: [Control.Lag.Entry]
        do throws(ControlClientError) {
            nodes = try await link.call(Control.Nodes())
            lag = try await link.call(Control.Lag())
            stats = try await link.call(Control.Stats())
        } catch {
            return failure(error, title: "Federation")
        }
        var lagByNode: [String: Control.Lag.Entry] = [:]
        for l in lag { lagByNode[l.nodeID] = l }
        let rows = nodes.map { n -> [String: Any] in
            let id = n.nodeID
            let isSelf = n.isSelf
            var lagText = ""
            if let s = lagByNode[id]?.lagSeconds { lagText = String(format: "%.1f s", s) }
            if isSelf { lagText = "—" }
            let revoked = n.revoked ?? false
            return ["node_id": id, "self": isSelf, "organisation": n.organisation ?? "", "node_role": n.role ?? "",
                    "online": n.connected, "last_seen": isSelf ? "now" : WebText.time(n.lastSeen),
                    "ops_behind": n.opsBehind.map { String($0) } ?? "?", "lag": lagText,
                    "software": n.softwareVersion ?? "", "protocol": n.protocol.map { String($0) } ?? "",
                    "revoked": revoked, "in_roster": n.inRoster, "can_revoke": !isSelf && !revoked]
        }
        let rejected = stats.opsRejected.sorted { $0.key < $1.key }.map { ["reason": $0.key, "count": Int(clamping: $0.value)] as [String: Any] }
        return Page(title: "Federation", template: "federation", context: [
            "nodes": rows, "is_hub": identity.isHub, "rejected": rejected, "has_rejected": !rejected.isEmpty,
            "rejected_total": Int(clamping: stats.opsRejectedTotal),
        ], nav: "federation")
    }
}
