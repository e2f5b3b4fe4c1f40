import Foundation
import MemberSyncNode

/// Human and JSON renderings of control results.
enum Output {
    static func json(_ object: Any) {
        let data = (try? JSONSerialization.data(withJSONObject: object, options: [.prettyPrinted, .sortedKeys, .fragmentsAllowed, .withoutEscapingSlashes])) ?? Data()
        print(String(decoding: data, as: UTF8.self))
    }

    static func text(_ v: Any) -> String {
        switch v {
        case let a as [Any]: return a.map(text).joined(separator: ", ")
        case let s as String: return s
        case is NSNull: return "(cleared)"  // a cleared field's sibling in a conflict or history
        case let n as NSNumber:
            // JSON booleans arrive as NSNumbers of type "c" (char).
            if String(cString: n.objCType) == "c" { return n.boolValue ? "true" : "false" }
            return n.stringValue
        default: return "\(v)"
        }
    }

    /// Rows of `label  value`, labels padded to one width.
    static func aligned(_ rows: [(String, String)]) -> String {
        let width = rows.map(\.0.count).max() ?? 0
        return rows.map { $0.0.padding(toLength: width, withPad: " ", startingAt: 0) + "  " + $0.1 }.joined(separator: "\n")
    }

    static func siblingText(_ s: JSONObject) -> String {
        "\(text(s["value"] ?? "")) (by \(text(s["origin"] ?? "?")) at \(text(s["time"] ?? "?")))"
    }

    static func card(_ record: JSONObject) -> String {
        let fields = record["fields"] as? JSONObject ?? [:]
        let conflicts = record["conflicts"] as? JSONObject ?? [:]
        var rows: [(String, String)] = []
        for name in fields.keys.sorted() {
            var value = text(fields[name]!)
            if let c = conflicts[name] as? [JSONObject] {
                value += "   [CONFLICT: " + c.map(siblingText).joined(separator: " | ") + "]"
            }
            rows.append((name, value))
        }
        return "\(text(record["key"] ?? ""))\n" + aligned(rows.map { ("  " + $0.0, $0.1) })
    }

    static func table(_ header: [String], _ rows: [[String]]) -> String {
        var widths = header.map(\.count)
        for r in rows { for (i, c) in r.enumerated() where i < widths.count { widths[i] = max(widths[i], c.count) } }
        func line(_ r: [String]) -> String {
            r.enumerated().map { i, c in i == r.count - 1 ? c : c.padding(toLength: widths[i], withPad: " ", startingAt: 0) }.joined(separator: "  ")
        }
        return ([line(header)] + rows.map(line)).joined(separator: "\n")
    }
}
