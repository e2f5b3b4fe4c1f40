import Foundation
import MemberSyncModel

/// `search` hit: `{"key", "title"?, "matches": [{"field", "text"}]}`.
public struct SearchHit: Sendable, Hashable, Codable {
    public struct Match: Sendable, Hashable, Codable {
        public var field: String
        public var text: String
        public init(field: String, text: String) { self.field = field; self.text = text }
    }
    public var key: String
    public var title: String?
    public var matches: [Match]
    public init(key: String, title: String? = nil, matches: [Match]) { self.key = key; self.title = title; self.matches = matches }
}

/// A reference resolved to a name: `{"key", "title"?, "exists"}`.
public struct ReferenceJSON: Sendable, Hashable, Codable {
    public var key: String
    public var title: String?
    public var exists: Bool
    public init(key: String, title: String? = nil, exists: Bool) { self.key = key; self.title = title; self.exists = exists }
}

/// One record related to an organisation in `show`: `key`, `title`, and what relates it.
public struct RelatedEntry: Sendable, Hashable, Codable {
    public var key: String
    public var title: String?
    public var role: String?
    public var city: String?
    public var roles: [String]?
    public var status: String?
    public var via: [String]?
    public var exists: Bool?
    public init(key: String, title: String? = nil, role: String? = nil, city: String? = nil, roles: [String]? = nil,
                status: String? = nil, via: [String]? = nil, exists: Bool? = nil) {
        self.key = key
        self.title = title
        self.role = role
        self.city = city
        self.roles = roles
        self.status = status
        self.via = via
        self.exists = exists
    }
}

/// `show`'s `related`: the records that point at an organisation, by kind of relation.
public struct RelatedJSON: Sendable, Hashable, Codable {
    public var contacts: [RelatedEntry]
    public var offices: [RelatedEntry]
    public var networks: [RelatedEntry]
    public var projects: [RelatedEntry]
    public var members: [RelatedEntry]
    public var nodes: [RelatedEntry]
    public init(contacts: [RelatedEntry] = [], offices: [RelatedEntry] = [], networks: [RelatedEntry] = [], projects: [RelatedEntry] = [],
                members: [RelatedEntry] = [], nodes: [RelatedEntry] = []) {
        self.contacts = contacts
        self.offices = offices
        self.networks = networks
        self.projects = projects
        self.members = members
        self.nodes = nodes
    }

    /// The groups in the order `show` prints them, with their headings.
    public static let groups: [(name: String, heading: String)] = [
        ("contacts", "Contacts"), ("offices", "Offices"), ("networks", "Networks"),
        ("projects", "Projects"), ("members", "Member organisations"), ("nodes", "Nodes"),
    ]

    /// The entries of a group named in `groups`.
    public func group(_ name: String) -> [RelatedEntry] {
        switch name {
        case "contacts": return contacts
        case "offices": return offices
        case "networks": return networks
        case "projects": return projects
        case "members": return members
        case "nodes": return nodes
        default: return []
        }
    }
}

/// `show`: the record, its title, every reference resolved, and for an organisation its relations.
public struct ShowResult: Sendable, Hashable, Codable {
    public var key: String
    public var fields: [String: FieldJSON]
    public var conflicts: [String: [SiblingJSON]]?
    public var title: String?
    public var references: [String: [ReferenceJSON]]
    public var related: RelatedJSON?

    public init(record: RecordJSON, title: String?, references: [String: [ReferenceJSON]], related: RelatedJSON?) {
        key = record.key
        fields = record.fields
        conflicts = record.conflicts
        self.title = title
        self.references = references
        self.related = related
    }
}

/// A field change in `history`: the value written (`null`: cleared), or a set's added and removed members.
public enum HistoryChange: Sendable, Hashable, Codable {
    case value(FieldValue)
    case set(added: [String]?, removed: [String]?)

    private enum Keys: String, CodingKey { case added, removed }

    public init(from decoder: Decoder) throws {
        if let c = try? decoder.container(keyedBy: Keys.self) {
            self = .set(added: try c.decodeIfPresent([String].self, forKey: .added), removed: try c.decodeIfPresent([String].self, forKey: .removed))
        } else {
            self = .value(try FieldValue(from: decoder))
        }
    }

    public func encode(to encoder: Encoder) throws {
        switch self {
        case .value(let v): try v.encode(to: encoder)
        case .set(let added, let removed):
            var c = encoder.container(keyedBy: Keys.self)
            try c.encodeIfPresent(added, forKey: .added)
            try c.encodeIfPresent(removed, forKey: .removed)
        }
    }
}

/// `history`: the ops the log still holds for one record, and what was compacted away.
public struct HistoryResult: Sendable, Hashable, Codable {
    public struct Entry: Sendable, Hashable, Codable {
        public var origin: String
        public var node: String
        public var counter: UInt64
        public var hlc: UInt64
        public var time: String
        public var action: String
        public var fields: [String: HistoryChange]
        /// Held but refused by the write rules (MSP 11.7): part of the log, not of the record.
        public var refused: Bool?
    }
    public struct Compacted: Sendable, Hashable, Codable {
        public var origin: String
        public var floor: UInt64
        public var latestEditCompacted: Bool
        enum CodingKeys: String, CodingKey { case origin, floor, latestEditCompacted = "latest_edit_compacted" }
    }
    public var key: String
    public var exists: Bool
    public var role: String
    public var ops: [Entry]
    public var compacted: [Compacted]
    public var complete: Bool
}

/// `conflicts` entry: `{"key", "field", "values": [sibling, ...]}`.
public struct ConflictJSON: Sendable, Hashable, Codable {
    public var key: String
    public var field: String
    public var values: [SiblingJSON]
    public init(key: String, field: String, values: [SiblingJSON]) { self.key = key; self.field = field; self.values = values }
}

/// Reading the directory: pure functions over a replica (no sockets, no store), shared by the
/// node's control server and anything else that holds a replica.
public enum Directory {
    /// Fields that search looks at, besides the collection's title field and the record id.
    public static let searchedFields = ["name", "title", "description", "topics"]

    /// The collection's schema, or the schema's own sentence why not.
    public static func collection(_ name: String, in schema: Schema) throws(DirectoryError) -> CollectionSchema {
        do { return try schema.collection(name) } catch { throw DirectoryError(error.description) }
    }

    /// A `COLLECTION/ID` key, parsed and checked against the schema.
    public static func key(_ text: String, in schema: Schema) throws(DirectoryError) -> RecordKey {
        do throws(SchemaError) {
            let k = try RecordKey(parsing: text)
            _ = try schema.collection(k.collection)
            return k
        } catch {
            throw DirectoryError(error.description)
        }
    }

    /// The text a record is known by (its name or title), if it has one.
    public static func title(_ key: RecordKey, in replica: Replica) -> String? {
        guard let c = replica.schema.collections[key.collection], let view = replica.view(key) else { return nil }
        return view.field(c.titleField)?.value?.description
    }

    public static func get(_ key: RecordKey, in replica: Replica) throws(DirectoryError) -> RecordJSON {
        guard let view = replica.view(key) else { throw DirectoryError("no such record: \(key)") }
        return RecordJSON(view)
    }

    /// `list`: existing records of a collection matching every filter, by key.
    public static func list(_ collection: CollectionSchema, where conditions: [String], in replica: Replica) throws(DirectoryError) -> [RecordJSON] {
        list(listed(collection, in: replica), where: try filters(conditions, collection, replica.schema))
    }

    /// `list`'s conditions, parsed against the schema.
    public static func filters(_ conditions: [String], _ collection: CollectionSchema, _ schema: Schema) throws(DirectoryError) -> [RecordFilter] {
        var filters: [RecordFilter] = []
        for c in conditions { filters.append(try RecordFilter(parsing: c, collection: collection, schema: schema)) }
        return filters
    }

    /// The existing records of a collection, with their keys, in no particular order: what
    /// `list` filters (a node takes them on its reactor and lists them off it).
    public static func listed(_ collection: CollectionSchema, in replica: Replica) -> [(key: RecordKey, value: Record)] {
        if collection.name == "nodes" {
            return replica.keys(in: collection.name).compactMap { key in replica.records[key].map { (key: key, value: $0) } }
        }
        return replica.records.compactMap { $0.key.collection == collection.name && $0.value.exists ? (key: $0.key, value: $0.value) : nil }
    }

    /// `list` over the records given: those matching every filter, by key.
    public static func list(_ records: [(key: RecordKey, value: Record)], where filters: [RecordFilter]) -> [RecordJSON] {
        records.sorted { $0.key < $1.key }.compactMap { key, record in
            guard record.exists else { return nil }
            let view = Replica.view(key: key, record: record)
            return filters.allSatisfy({ $0.matches(view) }) ? RecordJSON(view) : nil
        }
    }

    public static func conflicts(in replica: Replica) -> [ConflictJSON] {
        replica.conflicts().map { ConflictJSON(key: $0.key.description, field: $0.field, values: $0.siblings.map(SiblingJSON.init)) }
    }

    /// Search across ids, names/titles, descriptions and topics, folded alike on both sides
    /// (case, accents, æ/ø/å: see `SearchText`), so "goteborg" finds Gøteborg by its name.
    /// Title matches first, then id matches, then the rest; by key within each. With
    /// `candidates` only those records are looked at (the node's search index names them,
    /// a superset of the records that match); without, every record is.
    public static func search(_ text: String, in only: CollectionSchema?, replica: Replica,
                              among candidates: Set<RecordKey>? = nil) throws(DirectoryError) -> [SearchHit] {
        if let candidates {
            return try search(text, in: only, schema: replica.schema,
                              records: candidates.lazy.compactMap { key in replica.records[key].map { (key: key, value: $0) } })
        }
        return try search(text, in: only, schema: replica.schema, records: replica.records)
    }

    /// `search` over the records given (with their keys) instead of a replica's: a node
    /// matches a snapshot of many candidates this way off its reactor thread.
    public static func search(_ text: String, in only: CollectionSchema?, schema: Schema,
                              records: some Sequence<(key: RecordKey, value: Record)>) throws(DirectoryError) -> [SearchHit] {
        let needle = text.trimmingCharacters(in: .whitespaces)
        guard !needle.isEmpty else { throw DirectoryError("missing 'text' to search for") }
        var hits: [(rank: Int, key: RecordKey, hit: SearchHit)] = []
        for (key, record) in records {
            guard only == nil || key.collection == only?.name, let found = hit(key, record, needle, schema) else { continue }
            hits.append((found.rank, key, found.hit))
        }
        return hits.sorted { ($0.rank, $0.key) < ($1.rank, $1.key) }.map(\.hit)
    }

    /// One record's search hit with its rank (0 title, 1 id, 2 another field), or nil.
    static func hit(_ key: RecordKey, _ record: Record, _ needle: String, _ schema: Schema) -> (rank: Int, hit: SearchHit)? {
        guard record.exists, let c = schema.collections[key.collection] else { return nil }
        let view = Replica.view(key: key, record: record)
        var matches: [SearchHit.Match] = []
        var rank = 3
        for (name, value) in searchedValues(view, c) {
            if let snippet = snippet(value, needle) {
                matches.append(.init(field: name, text: snippet))
                rank = min(rank, name == c.titleField ? 0 : 2)
            }
        }
        if SearchText.contains(key.id, needle) {
            matches.append(.init(field: "id", text: key.id))
            rank = min(rank, 1)
        }
        guard !matches.isEmpty else { return nil }
        return (rank, SearchHit(key: key.description, title: view.field(c.titleField)?.value?.description, matches: matches))
    }

    /// The field values search compares, in the order its matches are listed: the title
    /// field, then the other searched fields, a set's members one by one.
    static func searchedValues(_ view: RecordView, _ c: CollectionSchema) -> [(field: String, value: String)] {
        var out: [(field: String, value: String)] = []
        for name in [c.titleField] + searchedFields.filter({ $0 != c.titleField }) {
            guard let f = view.field(name) else { continue }
            for value in f.members ?? [f.value?.description ?? ""] { out.append((name, value)) }
        }
        return out
    }

    /// What the node's search index keeps of a record: every value search compares and the
    /// record id, each folded (`SearchText.fold`), one per line; nil when search never finds
    /// the record (deleted, or of no collection of the schema). A record matches a query only
    /// where this text holds the folded query, which is what lets an index of it name the
    /// candidates. Change `SearchIndex.format` when this changes.
    public static func searchText(_ key: RecordKey, in replica: Replica) -> String? {
        guard let record = replica.records[key], record.exists, let c = replica.schema.collections[key.collection] else { return nil }
        let values = searchedValues(Replica.view(key: key, record: record), c).map { SearchText.fold($0.value) }
        return (values + [SearchText.fold(key.id)]).joined(separator: "\n")
    }

    /// The part of `text` around the first match of `needle`, at most about 70 characters.
    public static func snippet(_ text: String, _ needle: String) -> String? {
        guard let r = SearchText.range(of: needle, in: text) else { return nil }
        guard text.count > 70 else { return text }
        let start = text.index(r.lowerBound, offsetBy: -30, limitedBy: text.startIndex) ?? text.startIndex
        let end = text.index(r.upperBound, offsetBy: 30, limitedBy: text.endIndex) ?? text.endIndex
        return (start == text.startIndex ? "" : "…") + text[start..<end] + (end == text.endIndex ? "" : "…")
    }

    /// A record with every reference resolved to a name, and (for organisations) the records
    /// that point at it: contacts, offices, networks, projects, member organisations, nodes.
    public static func show(_ key: RecordKey, in replica: Replica) throws(DirectoryError) -> ShowResult {
        guard let view = replica.view(key), let c = replica.schema.collections[key.collection] else { throw DirectoryError("no such record: \(key)") }
        func ref(_ collection: String, _ id: String) -> ReferenceJSON {
            let k = RecordKey(collection: collection, id: id)
            return ReferenceJSON(key: k.description, title: title(k, in: replica), exists: replica.view(k) != nil)
        }
        var refs: [String: [ReferenceJSON]] = [:]
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
        return ShowResult(record: RecordJSON(view), title: view.field(c.titleField)?.value?.description, references: refs,
                          related: key.collection == "organisations" ? related(to: key.id, view: view, in: replica) : nil)
    }

    /// Records that point at organisation `id`, grouped by kind of relation.
    static func related(to id: String, view: RecordView, in replica: Replica) -> RelatedJSON {
        var out = RelatedJSON()
        var networks: [String: Set<String>] = [:]
        for id in view.field("networks")?.members ?? [] { networks[id, default: []].insert("listed by the organisation") }
        for (key, record) in replica.records where record.exists {
            let v = Replica.view(key: key, record: record)
            var entry = RelatedEntry(key: key.description)
            if let c = replica.schema.collections[key.collection], let t = v.field(c.titleField)?.value { entry.title = t.description }
            switch key.collection {
            case "contacts" where v.field("organisation")?.value == .string(id):
                entry.role = v.field("role")?.value?.description
                out.contacts.append(entry)
            case "offices" where v.field("organisation")?.value == .string(id):
                entry.city = v.field("city")?.value?.description
                out.offices.append(entry)
            case "nodes" where v.field("organisation")?.value == .string(id):
                out.nodes.append(entry)
            case "networks" where v.field("members")?.members?.contains(id) ?? false:
                networks[key.id, default: []].insert("member")
            case "organisations" where v.field("memberships")?.members?.contains(id) ?? false:
                out.members.append(entry)
            case "projects":
                var roles: [String] = []
                if v.field("lead")?.value == .string(id) { roles.append("lead") }
                if v.field("partners")?.members?.contains(id) ?? false { roles.append("partner") }
                if roles.isEmpty { break }
                entry.roles = roles
                entry.status = v.field("status")?.value?.description
                out.projects.append(entry)
            default:
                break
            }
        }
        out.networks = networks.keys.sorted().map { nid in
            let k = RecordKey(collection: "networks", id: nid)
            return RelatedEntry(key: k.description, title: title(k, in: replica), via: networks[nid]!.sorted(), exists: replica.view(k) != nil)
        }
        func byKey(_ a: [RelatedEntry]) -> [RelatedEntry] { a.sorted { $0.key < $1.key } }
        out.contacts = byKey(out.contacts)
        out.offices = byKey(out.offices)
        out.projects = byKey(out.projects)
        out.members = byKey(out.members)
        out.nodes = byKey(out.nodes)
        return out
    }

    /// Who changed what and when, from the ops the log still holds for one record. `role` is
    /// the answering node's (a hub compacts its log; the CLI says so).
    public static func history(_ key: RecordKey, in replica: Replica, role: String) throws(DirectoryError) -> HistoryResult {
        guard let record = replica.record(key) else { throw DirectoryError("no such record: \(key) (never written here)") }
        let entries = replica.heldOps(for: key).map { op -> HistoryResult.Entry in
            var fields: [String: HistoryChange] = [:]
            var action = "edit"
            for (name, state) in op.fields {
                switch state {
                case .register(let r):
                    guard let value = r.siblings.first?.value else { continue }
                    if name == Record.existsField {
                        if value == .bool(false) { action = "delete" }
                    } else {
                        fields[name] = .value(FieldValue(value))
                    }
                case .set(let s):
                    let added = s.elements.filter { $0.value.siblings.contains { $0.value } }.keys.sorted()
                    let removed = s.elements.filter { !$0.value.siblings.contains { $0.value } }.keys.sorted()
                    fields[name] = .set(added: added.isEmpty ? nil : added, removed: removed.isEmpty ? nil : removed)
                }
            }
            return HistoryResult.Entry(origin: op.origin.description, node: op.origin.node, counter: op.counter, hlc: op.hlc.raw,
                                       time: ISOTime.string(milliseconds: op.hlc.milliseconds), action: action, fields: fields,
                                       refused: replica.withheld.contains(op.dot) ? true : nil)
        }
        // The $exists register's context names, per origin, the last op that edited this record
        // (every edit writes $exists). Where an origin's log floor is above 0, its older ops are
        // gone, and where it covers that last op, the record's newest edit by it is gone too.
        let floor = replica.logFloor
        var compacted: [HistoryResult.Compacted] = []
        for (origin, last) in record.register(Record.existsField).context.sorted where floor[origin] > 0 {
            compacted.append(.init(origin: origin.description, floor: floor[origin], latestEditCompacted: last <= floor[origin]))
        }
        return HistoryResult(key: key.description, exists: record.exists, role: role, ops: entries, compacted: compacted, complete: compacted.isEmpty)
    }
}
