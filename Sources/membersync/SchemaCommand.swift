import ArgumentParser
import Foundation
import MemberSyncDirectory
import MemberSyncModel

/// `membersync schema`: the collections, fields, kinds and limits every write and op is
/// checked against, printed from the schema this CLI was built with (no node needed).
struct SchemaCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "schema",
        abstract: "List the collections, their fields, kinds and limits (from the schema writes are checked against).",
        discussion: """
            Every edit (set, import) and every op from another node is checked against this schema. \
            Required fields can be replaced but not cleared with FIELD=. The listing comes from this \
            membersync binary; it needs no running node.
            """)

    @Argument(help: "Only this collection.", completion: .list(collectionNames)) var collection: String?
    @Flag(name: .customLong("json"), help: "Machine-readable JSON output.") var json = false

    func run() throws {
        try runReporting {
            let schema = Schema.memberSync
            var chosen = schema.collections.values.sorted { $0.name < $1.name }
            if let collection {
                guard let c = schema.collections[collection] else {
                    throw CLIFailure(message: "unknown collection '\(collection)' (known: \(collectionNames.joined(separator: ", ")))", code: 1)
                }
                chosen = [c]
            }
            if json {
                Output.json(Self.json(chosen, schema: schema))
                return
            }
            var blocks: [String] = []
            for c in chosen {
                let rows = schema.describe(c).map { f -> [String] in
                    var kind = f.kind
                    if let t = f.target { kind += " → \(t)" }
                    var flags: [String] = []
                    if f.isTitle { flags.append("title") }
                    if f.required { flags.append("required") }
                    return ["  " + f.name, kind, flags.joined(separator: ", "), f.limit]
                }
                blocks.append("\(c.name)\n" + Output.table(["  FIELD", "KIND", "", "LIMITS"], rows))
            }
            print(blocks.joined(separator: "\n\n"))
            print("\nids: \(Schema.idRule); FIELD= clears a field that is not required")
            if collection == nil {
                print("\nlimits every write and op is checked against:")
                print(Output.table(["  LIMIT", "VALUE", "MEANING"], Limits.table.map { ["  " + $0.name, $0.value, $0.meaning] }))
            }
        }
    }

    static func json(_ collections: [CollectionSchema], schema: Schema) -> JSONValue {
        let list = collections.map { c -> JSONValue in
            let fields = schema.describe(c).map { f -> JSONValue in
                var o: [String: JSONValue] = ["name": .string(f.name), "kind": .string(f.kind), "set": .bool(f.isSet), "required": .bool(f.required),
                                              "title": .bool(f.isTitle), "limit": .string(f.limit)]
                if let v = f.options { o["options"] = .array(v.map(JSONValue.string)) }
                if let v = f.target { o["target"] = .string(v) }
                if let v = f.maxBytes { o[f.isSet ? "max_element_bytes" : "max_bytes"] = .int(Int64(v)) }
                return .object(o)
            }
            return ["name": .string(c.name), "title_field": .string(c.titleField), "fields": .array(fields)]
        }
        var limits: [String: JSONValue] = ["text_bytes": .int(Int64(Schema.maxTextBytes)), "set_element_bytes": .int(Int64(Schema.maxElementBytes)),
                                           "id": .string(Schema.idRule)]
        // The whole limits table (MSP.md section 10), by its names.
        for row in Limits.table { limits[row.name] = Int64(row.value).map(JSONValue.int) ?? .string(row.value) }
        return ["collections": .array(list), "limits": .object(limits)]
    }
}
