import ArgumentParser
import Foundation
import MemberSyncControl
import MemberSyncDirectory
import MemberSyncModel

struct Search: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Find records by text in their id, name or title, description or topics.",
        discussion: "Case, accents and the letters æ, ø, å are folded alike in the query and the records (æ as ae, ø as o, å as a; hyphens as spaces): 'goteborg' finds Gøteborg, 'baerum' and 'Bærum' both find Bærum.")
    @OptionGroup var options: NodeOptions
    @Argument(help: "The text to look for.") var text: String
    @Option(name: .customLong("in"), help: "Only search this collection.", completion: .list(collectionNames)) var collection: String?

    func run() throws {
        try runReporting {
            let hits = try options.client.request(Control.Search(text: text, collection: collection))
            if options.json { Output.json(hits); return }
            if hits.isEmpty { print("no record matches '\(text)'"); return }
            let rows = hits.map { h -> [String] in
                let first = h.matches.first.map { "\($0.field): \($0.text)" } ?? ""
                var others: [String] = []
                for m in h.matches.dropFirst() where !others.contains(m.field) { others.append(m.field) }
                let more = others.isEmpty ? "" : " (also: \(others.joined(separator: ", ")))"
                return [h.key, h.title ?? "", first + more]
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
            let result = try options.client.request(Control.Show(key: key))
            if options.json { Output.json(result); return }
            print(Self.render(result))
        }
    }

    /// `Name (id)` for a resolved reference; `id (not in the directory)` when it is missing.
    static func refText(_ r: ReferenceJSON) -> String {
        let id = r.key.split(separator: "/").last.map(String.init) ?? r.key
        if let t = r.title { return "\(t) (\(id))" }
        return r.exists ? id : "\(id) (not in the directory)"
    }

    static func render(_ r: ShowResult) -> String {
        let conflicts = r.conflicts ?? [:]
        var lines = [r.key + (r.title.map { " — " + $0 } ?? "")]
        var rows: [(String, String)] = []
        for name in r.fields.keys.sorted() {
            var value: String
            if let resolved = r.references[name] {
                value = resolved.map(refText).joined(separator: ", ")
            } else {
                value = r.fields[name]!.description
            }
            if let c = conflicts[name] {
                value += "   [CONFLICT: " + c.map(Output.siblingText).joined(separator: " | ") + "]"
            }
            rows.append(("  " + name, value))
        }
        lines.append(Output.aligned(rows))
        guard let related = r.related else { return lines.joined(separator: "\n") }
        func detail(_ group: String, _ e: RelatedEntry) -> String {
            switch group {
            case "contacts": return e.role ?? ""
            case "offices": return e.city ?? ""
            case "networks": return (e.via ?? []).joined(separator: ", ")
            case "projects": return ((e.roles ?? []) + [e.status].compactMap { $0 }).joined(separator: ", ")
            default: return ""
            }
        }
        for (name, heading) in RelatedJSON.groups {
            let items = related.group(name)
            if items.isEmpty { continue }
            lines.append("")
            lines.append("\(heading) (\(items.count))")
            let table = items.map { ["  " + $0.key, $0.title ?? "-", detail(name, $0)] }
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
            let result = try options.client.request(Control.History(key: key))
            if options.json { Output.json(result); return }
            let ops = result.ops
            let compacted = result.compacted
            var why = ""
            if ops.isEmpty && !compacted.isEmpty {
                // Say at once why nothing is shown: the log no longer holds the ops.
                why = result.role == "hub"
                    ? ": this hub compacted its op log (it drops ops every live node holds); a member's history still holds them unless it started from a snapshot"
                    : ": the ops were compacted away or arrived in a snapshot"
            }
            print("history of \(key): \(ops.count) op(s) held" + (result.exists ? "" : " (the record is deleted)") + why)
            if !ops.isEmpty {
                let rows = ops.map { op -> [String] in
                    [op.time, op.origin, "\(op.counter)", op.action, Self.changes(op.fields)]
                }
                print(Output.table(["TIME", "BY", "OP", "ACTION", "CHANGES"], rows))
            }
            if compacted.isEmpty {
                print("complete: no op of this record's writers has been compacted")
            } else {
                for c in compacted {
                    let lost = c.latestEditCompacted ? "; its latest edit of this record is among them" : ""
                    print("note: ops of \(c.origin) up to \(c.floor) were compacted and are gone; "
                          + "earlier changes by it are not shown\(lost)")
                }
            }
        }
    }

    /// `population=95000, topics +climate -transport`
    static func changes(_ fields: [String: HistoryChange]) -> String {
        if fields.isEmpty { return "(no field changed)" }
        return fields.keys.sorted().map { name -> String in
            switch fields[name]! {
            case .set(let added, let removed):
                return name + " " + ((added ?? []).map { "+" + $0 } + (removed ?? []).map { "-" + $0 }).joined(separator: " ")
            case .value(.null):
                return "\(name) cleared"
            case .value(let v):
                let text = v.description
                return "\(name)=" + (text.count > 60 ? text.prefix(59) + "…" : text)
            }
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
            let result = try options.client.request(Control.Resolve(key: key, field: field, value: value, force: force))
            if options.json { Output.json(result); return }
            print("resolved \(key) \(field) = \(value) (op \(result.origin):\(result.counter))")
            for s in result.replaced { print("  replaced " + Output.siblingText(s)) }
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
