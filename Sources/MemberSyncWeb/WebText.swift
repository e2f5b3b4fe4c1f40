import Foundation
import MemberSyncDirectory
import Mustache

/// Text handling at the edges of the web page: what a browser sends (URL-encoded forms and
/// queries) and what the page shows (escaped HTML in which control characters are visible).
enum WebText {
    /// A value made safe to show: C0 and C1 control characters other than tab and newline
    /// become their visible Unicode pictures (U+2400…) or U+FFFD, so a record holding
    /// terminal escapes or a NUL shows what it holds instead of garbling the page.
    static func visible(_ s: String) -> String {
        guard s.unicodeScalars.contains(where: isHidden) else { return s }
        var out = String.UnicodeScalarView()
        for u in s.unicodeScalars {
            if !isHidden(u) {
                out.append(u)
            } else if u.value < 0x20 {
                out.append(Unicode.Scalar(0x2400 + u.value)!)
            } else if u.value == 0x7F {
                out.append(Unicode.Scalar(0x2421)!)
            } else {
                out.append(Unicode.Scalar(0xFFFD)!)
            }
        }
        return String(out)
    }

    static func isHidden(_ u: Unicode.Scalar) -> Bool {
        (u.value < 0x20 && u != "\n" && u != "\t" && u != "\r") || (0x7F...0x9F).contains(u.value)
            || u.value == 0x2028 || u.value == 0x2029
    }

    /// HTML escaping (the five characters that can end a text node or an attribute) after
    /// `visible`. The page templates use it for every `{{value}}`.
    static func html(_ s: String) -> String {
        var out = ""
        out.reserveCapacity(s.utf8.count)
        for c in visible(s) {
            switch c {
            case "<": out += "&lt;"
            case ">": out += "&gt;"
            case "&": out += "&amp;"
            case "\"": out += "&quot;"
            case "'": out += "&#39;"
            default: out.append(c)
            }
        }
        return out
    }

    /// Decodes `application/x-www-form-urlencoded` text (a form body or a query string)
    /// into its pairs, in order. Nil when it is not valid percent-encoded UTF-8.
    static func formPairs(_ text: String) -> [(String, String)]? {
        var out: [(String, String)] = []
        for part in text.split(separator: "&", omittingEmptySubsequences: true) {
            let kv = part.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
            guard let name = percentDecode(kv[0]), let value = percentDecode(kv.count > 1 ? kv[1] : "") else { return nil }
            out.append((name, value))
        }
        return out
    }

    static func percentDecode(_ s: Substring) -> String? {
        var bytes: [UInt8] = []
        bytes.reserveCapacity(s.utf8.count)
        var it = s.utf8.makeIterator()
        func hex(_ b: UInt8) -> UInt8? {
            switch b {
            case 0x30...0x39: return b - 0x30
            case 0x41...0x46: return b - 0x41 + 10
            case 0x61...0x66: return b - 0x61 + 10
            default: return nil
            }
        }
        while let b = it.next() {
            switch b {
            case UInt8(ascii: "+"): bytes.append(0x20)
            case UInt8(ascii: "%"):
                guard let h = it.next().flatMap(hex), let l = it.next().flatMap(hex) else { return nil }
                bytes.append(h << 4 | l)
            default: bytes.append(b)
            }
        }
        return String(validating: bytes, as: UTF8.self)
    }

    /// Percent-encodes a path segment or query value (everything but unreserved characters).
    static func percentEncode(_ s: String) -> String {
        var out = ""
        for b in s.utf8 {
            switch b {
            case 0x30...0x39, 0x41...0x5A, 0x61...0x7A, UInt8(ascii: "-"), UInt8(ascii: "."), UInt8(ascii: "_"), UInt8(ascii: "~"):
                out.append(Character(Unicode.Scalar(b)))
            default:
                out += String(format: "%%%02X", b)
            }
        }
        return out
    }

    /// Text of a field value from a control reply; a clear (`null`) shows as nothing.
    static func text(_ v: FieldValue?) -> String {
        switch v {
        case nil, .null: return ""
        case .string(let s): return s
        case .int(let i): return String(i)
        case .bool(let b): return b ? "true" : "false"
        }
    }

    /// Text of a record's field: a value, or a set's members joined with ", ".
    static func text(_ f: FieldJSON?) -> String {
        switch f {
        case nil: return ""
        case .value(let v): return text(v)
        case .members(let m): return text(m)
        }
    }

    static func text(_ list: [String]) -> String { list.joined(separator: ", ") }

    /// `2026-11-25T10:15:02.123Z` → `2026-11-25 10:15:02 UTC`: shorter, still unambiguous.
    static func time(_ iso: String?) -> String {
        let s = iso ?? ""
        guard s.count >= 19, s.contains("T") else { return s }
        return s.prefix(19).replacingOccurrences(of: "T", with: " ") + " UTC"
    }
}

/// The page templates' content type: HTML escaping with control characters made visible.
struct VisibleHTML: MustacheContentType {
    static let name = "MSHTML"
    func escapeText(_ text: String) -> String { WebText.html(text) }
}
