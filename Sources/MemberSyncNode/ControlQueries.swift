import Foundation
import MemberSyncModel

/// Everyday reading and repair commands on the control socket: `list` with filters, `search`,
/// `show` (a record with its references resolved), `history` (from the op log) and `resolve`.
extension Node {
    /// The commands of the CLI issue beyond the original set; nil when `command` is not one.
    func handleDirectoryControl(_ command: String, _ request: JSONObject, now: UInt64) throws -> Any? {
        switch command {
        case "import": return try importBatch(request, now: now)
        case "export": return try exportPage(request)
        case "search": return try search(request)
        case "show": return try show(request)
        case "history": return try history(request)
        case "resolve": return try resolve(request, now: now)
        case "progress": return progress(now: now)
        case "nodes": return try nodes(now: now)
        case "admit": return try admit(request, now: now)
        case "revoke": return try revoke(request, now: now)
        case "compact": return try compactNow(now: now)
        case "snapshot": return try snapshot(request)
        case "restore": return try restore(request)
        case "stats": return try stats(now: now)
        case "integrity":
            // SQLite's full check, for `membersync doctor`: it reads the whole database, so it
            // holds up replication for as long as that takes (a second or so per 100 MB).
            do { return ["result": try store.integrityCheck(), "path": store.path] } catch {
                throw ControlError("cannot check the store: \(error)")
            }
        default: return nil
        }
    }

    /// `key` of a request, parsed and checked against the schema.
    func requestKey(_ request: JSONObject) throws -> RecordKey {
        guard let text = request["key"] as? String else { throw ControlError("missing 'key' (COLLECTION/ID)") }
        do throws(SchemaError) {
            let k = try RecordKey(parsing: text)
            _ = try engine.replica.schema.collection(k.collection)
            return k
        } catch {
            throw ControlError(error.description)
        }
    }

    func collectionSchema(_ name: Any?) throws -> CollectionSchema {
        guard let name = name as? String else { throw ControlError("missing 'collection'") }
        do { return try engine.replica.schema.collection(name) } catch { throw ControlError(error.description) }
    }

    /// The text a record is known by (its name or title), if it has one.
    func title(_ key: RecordKey) -> String? {
        guard let c = engine.replica.schema.collections[key.collection], let view = engine.replica.view(key) else { return nil }
        return view.field(c.titleField)?.value?.description
    }

    // MARK: list

    /// `list` with optional `where` filters (`["FIELD=VALUE", ...]`, all must hold).
    func listRecords(_ request: JSONObject) throws -> [JSONObject] {
        let c = try collectionSchema(request["collection"])
        let conditions = request["where"] as? [String] ?? []
        if request["where"] != nil && request["where"] as? [String] == nil { throw ControlError("'where' must be a list of \"FIELD=VALUE\" strings") }
        let filters = try conditions.map { try RecordFilter(parsing: $0, collection: c, schema: engine.replica.schema) }
        return engine.replica.keys(in: c.name).compactMap { key in
            guard let view = engine.replica.view(key), filters.allSatisfy({ $0.matches(view) }) else { return nil }
            return JSONView.record(view)
        }
    }

    // MARK: search

    /// Fields that search looks at, besides the collection's title field and the record id.
    static let searchedFields = ["name", "title", "description", "topics"]

    /// Search across ids, names/titles, descriptions and topics, folded alike on both sides
    /// (case, accents, æ/ø/å: see `SearchText`), so "goteborg" finds Gøteborg by its name.
    func search(_ request: JSONObject) throws -> [JSONObject] {
        guard let text = request["text"] as? String, !text.trimmingCharacters(in: .whitespaces).isEmpty else {
            throw ControlError("missing 'text' to search for")
        }
        var only: CollectionSchema?
        if let c = request["collection"] { only = try collectionSchema(c) }
        let needle = text.trimmingCharacters(in: .whitespaces)
        var hits: [(rank: Int, key: RecordKey, object: JSONObject)] = []
        for (key, record) in engine.replica.records where record.exists {
            guard only == nil || key.collection == only?.name, let c = engine.replica.schema.collections[key.collection] else { continue }
            let view = Replica.view(key: key, record: record)
            var matches: [JSONObject] = []
            var rank = 3
            for name in [c.titleField] + Self.searchedFields.filter({ $0 != c.titleField }) {
                guard let f = view.field(name) else { continue }
                for value in f.members ?? [f.value?.description ?? ""] {
                    if let snippet = Self.snippet(value, needle) {
                        matches.append(["field": name, "text": snippet])
                        rank = min(rank, name == c.titleField ? 0 : 2)
                    }
                }
            }
            if SearchText.contains(key.id, needle) {
                matches.append(["field": "id", "text": key.id])
                rank = min(rank, 1)
            }
            guard !matches.isEmpty else { continue }
            var object: JSONObject = ["key": key.description, "matches": matches]
            if let t = view.field(c.titleField)?.value { object["title"] = t.description }
            hits.append((rank, key, object))
        }
        // Title matches first, then id matches, then the rest; by key within each.
        return hits.sorted { ($0.rank, $0.key) < ($1.rank, $1.key) }.map(\.object)
    }

    /// The part of `text` around the first match of `needle`, at most about 70 characters.
    static func snippet(_ text: String, _ needle: String) -> String? {
        guard let r = SearchText.range(of: needle, in: text) else { return nil }
        guard text.count > 70 else { return text }
        let start = text.index(r.lowerBound, offsetBy: -30, limitedBy: text.startIndex) ?? text.startIndex
        let end = text.index(r.upperBound, offsetBy: 30, limitedBy: text.endIndex) ?? text.endIndex
        return (start == text.startIndex ? "" : "…") + text[start..<end] + (end == text.endIndex ? "" : "…")
    }

    // MARK: show

    /// A record with every reference resolved to a name, and (for organisations) the records
    /// that point at it: contacts, offices, networks, projects, member organisations, nodes.
    func show(_ request: JSONObject) throws -> JSONObject {
        let key = try requestKey(request)
        let replica = engine.replica
        guard let view = replica.view(key), let c = replica.schema.collections[key.collection] else { throw ControlError("no such record: \(key)") }
        var out = JSONView.record(view)
        if let t = view.field(c.titleField)?.value { out["title"] = t.description }
        func ref(_ collection: String, _ id: String) -> JSONObject {
            let k = RecordKey(collection: collection, id: id)
            var o: JSONObject = ["key": k.description, "exists": replica.view(k) != nil]
            if let t = title(k) { o["title"] = t }
            return o
        }
        // Forward references: every ref and ref-set field of the record.
        var refs: JSONObject = [:]
        for f in view.fields {
            switch c.fields[f.name] {
            case .reference(let target)?:
                if let id = f.value?.description { refs[f.name] = [ref(target, id)] }
            case .referenceSet(let target)?:
                refs[f.name] = (f.members ?? []).map { ref(target, $0) }
            default:
                break
            }
        }
        out["references"] = refs
        if key.collection == "organisations" { out["related"] = related(to: key.id, view: view) }
        return out
    }

    /// Records that point at organisation `id`, grouped by kind of relation.
    private func related(to id: String, view: RecordView) -> JSONObject {
        let replica = engine.replica
        var contacts: [JSONObject] = [], offices: [JSONObject] = [], projects: [JSONObject] = []
        var members: [JSONObject] = [], nodes: [JSONObject] = []
        var networks: [String: Set<String>] = [:]
        for id in view.field("networks")?.members ?? [] { networks[id, default: []].insert("listed by the organisation") }
        for (key, record) in replica.records where record.exists {
            let v = Replica.view(key: key, record: record)
            func entry(_ extra: JSONObject = [:]) -> JSONObject {
                var o: JSONObject = ["key": key.description]
                if let c = replica.schema.collections[key.collection], let t = v.field(c.titleField)?.value { o["title"] = t.description }
                return o.merging(extra) { _, new in new }
            }
            switch key.collection {
            case "contacts" where v.field("organisation")?.value == .string(id):
                contacts.append(entry(v.field("role")?.value.map { ["role": $0.description] } ?? [:]))
            case "offices" where v.field("organisation")?.value == .string(id):
                offices.append(entry(v.field("city")?.value.map { ["city": $0.description] } ?? [:]))
            case "nodes" where v.field("organisation")?.value == .string(id):
                nodes.append(entry())
            case "networks" where v.field("members")?.members?.contains(id) ?? false:
                networks[key.id, default: []].insert("member")
            case "organisations" where v.field("memberships")?.members?.contains(id) ?? false:
                members.append(entry())
            case "projects":
                var roles: [String] = []
                if v.field("lead")?.value == .string(id) { roles.append("lead") }
                if v.field("partners")?.members?.contains(id) ?? false { roles.append("partner") }
                if roles.isEmpty { break }
                var extra: JSONObject = ["roles": roles]
                if let s = v.field("status")?.value { extra["status"] = s.description }
                projects.append(entry(extra))
            default:
                break
            }
        }
        let networkList = networks.keys.sorted().map { nid -> JSONObject in
            let k = RecordKey(collection: "networks", id: nid)
            var o: JSONObject = ["key": k.description, "via": networks[nid]!.sorted(), "exists": replica.view(k) != nil]
            if let t = title(k) { o["title"] = t }
            return o
        }
        func byKey(_ a: [JSONObject]) -> [JSONObject] { a.sorted { ($0["key"] as? String ?? "") < ($1["key"] as? String ?? "") } }
        return ["contacts": byKey(contacts), "offices": byKey(offices), "networks": networkList,
                "projects": byKey(projects), "members": byKey(members), "nodes": byKey(nodes)]
    }

    // MARK: history

    /// Who changed what and when, from the ops the log still holds for one record.
    func history(_ request: JSONObject) throws -> JSONObject {
        let key = try requestKey(request)
        let replica = engine.replica
        guard let record = replica.record(key) else { throw ControlError("no such record: \(key) (never written here)") }
        let ops = replica.heldOps(for: key)
        let entries = ops.map { op -> JSONObject in
            var fields: JSONObject = [:]
            var action = "edit"
            for (name, state) in op.fields {
                switch state {
                case .register(let r):
                    guard let value = r.siblings.first?.value else { continue }
                    if name == Record.existsField {
                        if value == .bool(false) { action = "delete" }
                    } else {
                        fields[name] = JSONView.value(value)
                    }
                case .set(let s):
                    let added = s.elements.filter { $0.value.siblings.contains { $0.value } }.keys.sorted()
                    let removed = s.elements.filter { !$0.value.siblings.contains { $0.value } }.keys.sorted()
                    var change: JSONObject = [:]
                    if !added.isEmpty { change["added"] = added }
                    if !removed.isEmpty { change["removed"] = removed }
                    fields[name] = change
                }
            }
            var entry: JSONObject = ["origin": op.origin.description, "node": op.origin.node, "counter": op.counter, "hlc": op.hlc.raw,
                                     "time": JSONView.isoTime(milliseconds: op.hlc.milliseconds), "action": action, "fields": fields]
            // Held but refused by the write rules (MSP 11.7): part of the log, not of the record.
            if replica.withheld.contains(op.dot) { entry["refused"] = true }
            return entry
        }
        // The $exists register's context names, per origin, the last op that edited this record
        // (every edit writes $exists). Where an origin's log floor is above 0, its older ops are
        // gone, and where it covers that last op, the record's newest edit by it is gone too.
        let floor = replica.logFloor
        var compacted: [JSONObject] = []
        for (origin, last) in record.register(Record.existsField).context.sorted where floor[origin] > 0 {
            compacted.append(["origin": origin.description, "floor": floor[origin], "latest_edit_compacted": last <= floor[origin]])
        }
        var out: JSONObject = ["key": key.description, "exists": record.exists, "ops": entries, "compacted": compacted,
                               "role": config.role.rawValue]
        out["complete"] = compacted.isEmpty
        return out
    }

    // MARK: resolve

    /// Writes a field again so that its new value replaces every sibling: the way to settle a
    /// conflict. Refused when the field is not in conflict, unless `force`.
    func resolve(_ request: JSONObject, now: UInt64) throws -> JSONObject {
        let key = try requestKey(request)
        guard let field = request["field"] as? String, !field.isEmpty else { throw ControlError("missing 'field'") }
        guard let text = request["value"] as? String else { throw ControlError("missing 'value'") }
        let force = request["force"] as? Bool ?? false
        let replica = engine.replica
        let isExists = field == Record.existsField
        guard let record = replica.record(key), record.exists || isExists else { throw ControlError("no such record: \(key)") }
        var type: FieldType?
        if !isExists {
            do { type = try replica.schema.fieldType(key.collection, field) } catch { throw ControlError(error.description) }
            if type?.isSet == true {
                throw ControlError("\(key).\(field) is a set: sets never conflict (a concurrent add and remove keep the element); edit it with set \(field)+=… or \(field)-=…")
            }
        }
        let register = record.register(field)
        if !register.isConflicted && !force {
            let current = register.winner.flatMap { $0.value.isAbsent ? nil : "its value is \($0.value)" } ?? "it has no value"
            throw ControlError("\(key).\(field) is not in conflict (\(current)); use --force to write it anyway")
        }
        let replaced = register.siblings.map(JSONView.sibling)
        let op: Op, commit: LocalCommit
        do {
            if isExists {
                // An edit concurrent with a delete: true keeps the record, false deletes it.
                switch text.lowercased() {
                case "true": (op, commit) = try engine.localWrite(key, [], allowEmpty: true, now: now)
                case "false": (op, commit) = try engine.localDelete(key, now: now)
                default: throw ControlError("\(Record.existsField) is resolved with true (keep the record) or false (delete it)")
                }
            } else {
                // An empty value keeps the clear side of a conflict: the field ends with no value.
                let value: Value
                if text.isEmpty {
                    try replica.schema.checkClear(collection: key.collection, field: field)
                    value = .absent
                } else {
                    value = try replica.schema.parseValue(text, collection: key.collection, field: field)
                }
                (op, commit) = try engine.localWrite(key, [.assign(field: field, value: value)], now: now)
            }
        } catch let e as ControlError {
            throw e
        } catch {
            throw ControlError("\(error)")
        }
        try commitLocal(commit)
        return ["key": key.description, "field": field, "value": text, "replaced": replaced,
                "was_conflicted": register.isConflicted, "origin": op.origin.description, "counter": op.counter]
    }

    // MARK: catch-up progress

    /// How far this node is from the nodes it syncs with: ops they hold that it lacks
    /// (`behind`) and its own ops its hub has not acknowledged (`pending`).
    func progress(now: UInt64) -> JSONObject {
        let links = engine.syncLinks(now: now)
        var remote = VersionVector()
        for l in links {
            switch l {
            case .hub(let i): remote.merge(engine.hubs[i].remoteVersion)
            case .peer(let i): remote.merge(engine.peers[i].remoteVersion)
            }
        }
        let mode: String
        if config.role == .hub { mode = "hub" } else if engine.activeHub(now: now) != nil { mode = "via-hub" } else if !links.isEmpty { mode = "fallback-peers" } else { mode = "offline" }
        return ["mode": mode, "behind": engine.replica.version.missing(from: remote), "pending": engine.pendingCount,
                "links": links.count, "ops_in_log": engine.replica.logCount]
    }
}

/// One `FIELD=VALUE` condition of `list --where`: equality for scalar fields (typed by the
/// schema, so `population=68000` compares numbers), membership for set fields. `FIELD=` (no
/// value) matches records where the field has no value, the way `set FIELD=` leaves it.
struct RecordFilter {
    enum Test { case equals(Value), contains(String), missing }
    let field: String
    let test: Test

    init(parsing text: String, collection: CollectionSchema, schema: Schema) throws {
        guard let eq = text.firstIndex(of: "=") else { throw ControlError("'\(text)': a condition has the form FIELD=VALUE") }
        field = String(text[..<eq])
        let value = String(text[text.index(after: eq)...])
        do throws(SchemaError) {
            let type = try schema.fieldType(collection.name, field)
            if value.isEmpty {
                test = .missing
            } else if type.isSet {
                try schema.checkElement(value, type: type, collection: collection.name, field: field)
                test = .contains(value)
            } else {
                test = .equals(try schema.parseValue(value, collection: collection.name, field: field))
            }
        } catch {
            throw ControlError("--where \(text): \(error.description)")
        }
    }

    func matches(_ view: RecordView) -> Bool {
        switch test {
        case .equals(let v): return view.field(field)?.value == v
        case .contains(let e): return view.field(field)?.members?.contains(e) ?? false
        case .missing: return view.field(field).map { $0.value == nil && $0.members == nil } ?? true
        }
    }
}
