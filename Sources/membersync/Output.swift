import Foundation
import MemberSyncControl
import MemberSyncDirectory

/// Human and JSON renderings of control results.
enum Output {
    /// Indented JSON with sorted keys, for `--json`.
    static func json(_ value: some Encodable) {
        print(JSONCoding.pretty(value))
    }

    /// A number of seconds (or any measure) as the node sent it: whole numbers without ".0".
    static func number(_ d: Double) -> String {
        if d == d.rounded(), abs(d) < 1e15 { return String(Int64(d)) }
        return String(d)
    }

    static func number(_ d: Double?, _ absent: String = "?") -> String { d.map(number) ?? absent }

    /// Rows of `label  value`, labels padded to one width.
    static func aligned(_ rows: [(String, String)]) -> String {
        let width = rows.map(\.0.count).max() ?? 0
        return rows.map { $0.0.padding(toLength: width, withPad: " ", startingAt: 0) + "  " + $0.1 }.joined(separator: "\n")
    }

    static func siblingText(_ s: SiblingJSON) -> String {
        "\(s.value) (by \(s.origin) at \(s.time))"
    }

    static func card(_ record: RecordJSON) -> String {
        let conflicts = record.conflicts ?? [:]
        var rows: [(String, String)] = []
        for name in record.fields.keys.sorted() {
            var value = record.fields[name]!.description
            if let c = conflicts[name] {
                value += "   [CONFLICT: " + c.map(siblingText).joined(separator: " | ") + "]"
            }
            rows.append((name, value))
        }
        return "\(record.key)\n" + aligned(rows.map { ("  " + $0.0, $0.1) })
    }

    static func table(_ header: [String], _ rows: [[String]]) -> String {
        var widths = header.map(\.count)
        for r in rows { for (i, c) in r.enumerated() where i < widths.count { widths[i] = max(widths[i], c.count) } }
        func line(_ r: [String]) -> String {
            r.enumerated().map { i, c in i == r.count - 1 ? c : c.padding(toLength: widths[i], withPad: " ", startingAt: 0) }.joined(separator: "  ")
        }
        return ([line(header)] + rows.map(line)).joined(separator: "\n")
    }

    /// `key=value` pairs sorted by key, space-separated (version vectors, log floors).
    static func pairs<V>(_ map: [String: V], separator: String = "=", joiner: String = " ") -> String {
        map.sorted { $0.key < $1.key }.map { "\($0.key)\(separator)\($0.value)" }.joined(separator: joiner)
    }
}
