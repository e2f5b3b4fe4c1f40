import ArgumentParser
import Foundation
import MemberSyncModel
import MemberSyncNode

struct Search: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Find records by text in their id, name or title, description or topics.",
        discussion: "Case, accents and the letters æ, ø, å are folded alike in the query and the records (æ as ae, ø as o, å as a; hyphens as spaces): 'goteborg' finds Gøteborg, 'baerum' and 'Bærum' both find Bærum.")
    @OptionGroup var options: NodeOptions
    @Argument(help: "The text to look for.") var text: String
    @Option(name: .customLong("in"), help: "Only search this collection.", completion: .list(collectionNames)) var collection: String?

    func run() throws {
        try runReporting {
            var request: JSONObject = ["command": "search", "text": text]
            if let collection { request["collection"] = collection }
            let hits = try options.client.call(request) as? [JSONObject] ?? []
            if options.json { Output.json(hits); return }
            if hits.isEmpty { print("no record matches '\(text)'"); return }
            let rows = hits.map { h -> [String] in
                let matches = h["matches"] as? [JSONObject] ?? []
                let first = matches.first.map { "\(Output.text($0["field"] ?? "")): \(Output.text($0["text"] ?? ""))" } ?? ""
                var others: [String] = []
                for m in matches.dropFirst() where !others.contains(Output.text(m["field"] ?? "")) { others.append(Output.text(m["field"] ?? "")) }
                let more = others.isEmpty ? "" : " (also: \(others.joined(separator: ", ")))"
                return [Output.text(h["key"] ?? ""), Output.text(h["title"] ?? ""), first + more]
            }
            print(Output.table(["KEY", "TITLE", "MATCHED"], rows))
            print("\(hits.count) record(s)")
        }
    }
}

struct Show: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Show a record as a card, with references resolved to names and, for an organisation, its contacts, offices, networks and projects.")
    @OptionGroup var options: NodeOptions
    @Argument(help: "COLLECTION/ID, e.g. organisations/asker") var key: String

    func run() throws {
        try runReporting {
            let result = try options.client.call(["command": "show", "key": key]) as? JSONObject ?? [:]
            if options.json { Output.json(result); return }
            print(Self.render(result))
        }
    }

    /// `Name (id)` for a resolved reference; `id (not in the directory)` when it is missing.
    static func refText(_ r: JSONObject) -> String {
        let key = Output.text(r["key"] ?? "")
        let id = key.split(separator: "/").last.map(String.init) ?? key
        if let t = r["title"] { return "\(Output.text(t)) (\(id))" }
        return (r["exists"] as? Bool ?? false) ? id : "\(id) (not in the directory)"
    }

    static func render(_ r: JSONObject) -> String {
        let fields = r["fields"] as? JSONObject ?? [:]
        let conflicts = r["conflicts"] as? JSONObject ?? [:]
        let refs = r["references"] as? JSONObject ?? [:]
        var lines = [Output.text(r["key"] ?? "") + (r["title"].map { " — " + Output.text($0) } ?? "")]
        var rows: [(String, String)] = []
        for name in fields.keys.sorted() {
            var value: String
            if let resolved = refs[name] as? [JSONObject] {
                value = resolved.map(refText).joined(separator: ", ")
            } else {
                value = Output.text(fields[name]!)
            }
            if let c = conflicts[name] as? [JSONObject] {
                value += "   [CONFLICT: " + c.map(Output.siblingText).joined(separator: " | ") + "]"
            }
            rows.append(("  " + name, value))
        }
        lines.append(Output.aligned(rows))
        guard let related = r["related"] as? JSONObject else { return lines.joined(separator: "\n") }
        let sections: [(String, String, (JSONObject) -> String)] = [
            ("contacts", "Contacts", { Output.text($0["role"] ?? "") }),
            ("offices", "Offices", { Output.text($0["city"] ?? "") }),
            ("networks", "Networks", { ($0["via"] as? [String] ?? []).joined(separator: ", ") }),
            ("projects", "Projects", { (($0["roles"] as? [String] ?? []) + [$0["status"].map(Output.text)].compactMap { $0 }).joined(separator: ", ") }),
            ("members", "Member organisations", { _ in "" }),
            ("nodes", "Nodes", { _ in "" }),
        ]
        for (name, heading, detail) in sections {
            let items = related[name] as? [JSONObject] ?? []
            if items.isEmpty { continue }
            lines.append("")
            lines.append("\(heading) (\(items.count))")
            let table = items.map { ["  " + Output.text($0["key"] ?? ""), Output.text($0["title"] ?? "-"), detail($0)] }
            lines.append(Output.columns(table))
        }
        return lines.joined(separator: "\n")
    }
}

struct History: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Show who changed a record, what and when, from the ops this node's log still holds.")
    @OptionGroup var options: NodeOptions
    @Argument(help: "COLLECTION/ID") var key: String

    func run() throws {
        try runReporting {
            let result = try options.client.call(["command": "history", "key": key]) as? JSONObject ?? [:]
            if options.json { Output.json(result); return }
            let ops = result["ops"] as? [JSONObject] ?? []
            let compacted = result["compacted"] as? [JSONObject] ?? []
            var why = ""
            if ops.isEmpty && !compacted.isEmpty {
                // Say at once why nothing is shown: the log no longer holds the ops.
                why = result["role"] as? String == "hub"
                    ? ": this hub compacted its op log (it drops ops every live node holds); a member's history still holds them unless it started from a snapshot"
                    : ": the ops were compacted away or arrived in a snapshot"
            }
            print("history of \(key): \(ops.count) op(s) held" + ((result["exists"] as? Bool ?? true) ? "" : " (the record is deleted)") + why)
            if !ops.isEmpty {
                let rows = ops.map { op -> [String] in
                    [Output.text(op["time"] ?? ""), Output.text(op["origin"] ?? ""), Output.text(op["counter"] ?? ""),
                     Output.text(op["action"] ?? ""), Self.changes(op["fields"] as? JSONObject ?? [:])]
                }
                print(Output.table(["TIME", "BY", "OP", "ACTION", "CHANGES"], rows))
            }
            if compacted.isEmpty {
                print("complete: no op of this record's writers has been compacted")
            } else {
                for c in compacted {
                    let lost = (c["latest_edit_compacted"] as? Bool ?? false) ? "; its latest edit of this record is among them" : ""
                    print("note: ops of \(Output.text(c["origin"] ?? "")) up to \(Output.text(c["floor"] ?? "")) were compacted and are gone; "
                          + "earlier changes by it are not shown\(lost)")
                }
            }
        }
    }

    /// `population=95000, topics +climate -transport`
    static func changes(_ fields: JSONObject) -> String {
        if fields.isEmpty { return "(no field changed)" }
        return fields.keys.sorted().map { name -> String in
            if let set = fields[name] as? JSONObject {
                let added = (set["added"] as? [String] ?? []).map { "+" + $0 }
                let removed = (set["removed"] as? [String] ?? []).map { "-" + $0 }
                return name + " " + (added + removed).joined(separator: " ")
            }
            if fields[name] is NSNull { return "\(name) cleared" }
            let text = Output.text(fields[name]!)
            return "\(name)=" + (text.count > 60 ? text.prefix(59) + "…" : text)
        }.joined(separator: ", ")
    }
}

struct Resolve: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Settle a conflict by writing the field again; its new value replaces every sibling.",
        discussion: "Refused when the field is not in conflict, unless --force. For an edit concurrent with a delete, resolve the field '$exists' with true (keep) or false (delete).")
    @OptionGroup var options: NodeOptions
    @Argument(help: "COLLECTION/ID") var key: String
    @Argument(help: "The conflicted field.") var field: String
    @Argument(help: "The value to keep (any value of the field's type, not only one of the siblings).") var value: String
    @Flag(help: "Write the field even if it is not in conflict.") var force = false

    func run() throws {
        try runReporting {
            let result = try options.client.call(["command": "resolve", "key": key, "field": field, "value": value, "force": force]) as? JSONObject ?? [:]
            if options.json { Output.json(result); return }
            let replaced = result["replaced"] as? [JSONObject] ?? []
            print("resolved \(key) \(field) = \(value) (op \(Output.text(result["origin"] ?? "")):\(Output.text(result["counter"] ?? "")))")
            for s in replaced { print("  replaced " + Output.siblingText(s)) }
        }
    }
}

extension Output {
    /// Rows of cells in aligned columns, without a header.
    static func columns(_ rows: [[String]]) -> String {
        var widths: [Int] = []
        for r in rows { for (i, c) in r.enumerated() { if i < widths.count { widths[i] = max(widths[i], c.count) } else { widths.append(c.count) } } }
        return rows.map { r in
            var line = r.enumerated().map { i, c in i == r.count - 1 ? c : c.padding(toLength: widths[i], withPad: " ", startingAt: 0) }
                .joined(separator: "  ")
            while line.hasSuffix(" ") { line.removeLast() }
            return line
        }.joined(separator: "\n")
    }
}
