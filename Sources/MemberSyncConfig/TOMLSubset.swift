import Foundation

/// A value in the small TOML subset MemberSync configs use.
public enum TOMLValue: Equatable, Sendable {
    case string(String)
    case integer(Int)
    case boolean(Bool)
    case array([String])
}

/// A parse failure with its line number.
public struct TOMLError: Error, CustomStringConvertible {
    public let line: Int
    public let message: String
    public var description: String { "line \(line): \(message)" }
}

/// Parses the TOML subset of MemberSync config files: `key = value` lines with basic
/// strings, integers, booleans and single-line arrays of strings, plus `#` comments.
/// Kept in-house so the daemon needs no C++ TOML library; anything outside the subset is
/// refused with its line number rather than misread.
public enum TOMLSubset {
    public static func parse(_ text: String) throws(TOMLError) -> [String: TOMLValue] {
        var out: [String: TOMLValue] = [:]
        for (i, raw) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            let n = i + 1
            var p = Parser(Array(raw.utf8), line: n)
            p.skipSpace()
            if p.atEnd || p.peek == UInt8(ascii: "#") { continue }
            if p.peek == UInt8(ascii: "[") { throw TOMLError(line: n, message: "tables are not used in MemberSync configs") }
            let key = try p.key()
            p.skipSpace()
            try p.expect(UInt8(ascii: "="))
            p.skipSpace()
            let value = try p.value()
            p.skipSpace()
            if !p.atEnd && p.peek != UInt8(ascii: "#") { throw TOMLError(line: n, message: "unexpected text after the value of '\(key)'") }
            if out[key] != nil { throw TOMLError(line: n, message: "key '\(key)' given twice") }
            out[key] = value
        }
        return out
    }

    /// A TOML basic string literal for `s`.
    public static func quote(_ s: String) -> String {
        var out = "\""
        for ch in s.unicodeScalars {
            switch ch {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\t": out += "\\t"
            default: out.unicodeScalars.append(ch)
            }
        }
        return out + "\""
    }

    struct Parser {
        let b: [UInt8]
        var i = 0
        let line: Int
        init(_ b: [UInt8], line: Int) { self.b = b; self.line = line }
        var atEnd: Bool { i >= b.count }
        var peek: UInt8 { b[i] }
        mutating func skipSpace() { while !atEnd && (peek == 0x20 || peek == 0x09 || peek == 0x0d) { i += 1 } }
        func fail(_ m: String) -> TOMLError { TOMLError(line: line, message: m) }
        mutating func expect(_ c: UInt8) throws(TOMLError) {
            guard !atEnd, peek == c else { throw fail("expected '\(Character(UnicodeScalar(c)))'") }
            i += 1
        }
        mutating func key() throws(TOMLError) -> String {
            let start = i
            while !atEnd, peek == UInt8(ascii: "_") || peek == UInt8(ascii: "-") || (0x61...0x7a).contains(peek) || (0x41...0x5a).contains(peek) || (0x30...0x39).contains(peek) { i += 1 }
            guard i > start else { throw fail("expected a key") }
            return String(decoding: b[start..<i], as: UTF8.self)
        }
        mutating func string() throws(TOMLError) -> String {
            try expect(UInt8(ascii: "\""))
            var out: [UInt8] = []
            while true {
                guard !atEnd else { throw fail("unterminated string") }
                let c = peek
                i += 1
                if c == UInt8(ascii: "\"") { break }
                if c == UInt8(ascii: "\\") {
                    guard !atEnd else { throw fail("unterminated escape") }
                    let e = peek
                    i += 1
                    switch e {
                    case UInt8(ascii: "\""): out.append(e)
                    case UInt8(ascii: "\\"): out.append(e)
                    case UInt8(ascii: "n"): out.append(0x0a)
                    case UInt8(ascii: "t"): out.append(0x09)
                    default: throw fail("unsupported escape \\\(Character(UnicodeScalar(e)))")
                    }
                } else {
                    out.append(c)
                }
            }
            return String(decoding: out, as: UTF8.self)
        }
        mutating func value() throws(TOMLError) -> TOMLValue {
            guard !atEnd else { throw fail("missing value") }
            switch peek {
            case UInt8(ascii: "\""):
                return .string(try string())
            case UInt8(ascii: "["):
                i += 1
                var items: [String] = []
                while true {
                    skipSpace()
                    guard !atEnd else { throw fail("unterminated array (arrays must fit on one line)") }
                    if peek == UInt8(ascii: "]") { i += 1; break }
                    items.append(try string())
                    skipSpace()
                    if !atEnd && peek == UInt8(ascii: ",") { i += 1; continue }
                    skipSpace()
                    guard !atEnd, peek == UInt8(ascii: "]") else { throw fail("expected ',' or ']' in array") }
                }
                return .array(items)
            default:
                let start = i
                while !atEnd, peek != 0x20, peek != 0x09, peek != UInt8(ascii: "#") { i += 1 }
                let word = String(decoding: b[start..<i], as: UTF8.self)
                if word == "true" { return .boolean(true) }
                if word == "false" { return .boolean(false) }
                if let n = Int(word.replacingOccurrences(of: "_", with: "")) { return .integer(n) }
                throw fail("cannot read value '\(word)' (strings need double quotes)")
            }
        }
    }
}
