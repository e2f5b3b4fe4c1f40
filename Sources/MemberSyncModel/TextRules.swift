/// Which characters a text value may hold. Every value is shown on some member's terminal
/// (`show`, `list`, `conflicts`, `history`, exports), so control characters are refused
/// everywhere a value enters: a stray ESC would let one member rewrite another's screen
/// (terminal escape sequences), a NUL or CR would hide text. Newline and tab are allowed only
/// in the fields that hold running text. Invalid UTF-8 never reaches a `String` unnoticed on
/// the wire (the decoders refuse it); on paths that repair it (command-line arguments), it
/// arrives as U+FFFD, which is refused too, so a broken encoding is an error and not a value.
public enum TextRules {
    /// Fields whose values may span several lines (newline and tab allowed), in any collection.
    public static let multiLineFields: Set<String> = ["description", "address"]

    /// Why `text` may not be a value of `field` (nil when it may). `field` nil: a set element,
    /// always a single line.
    public static func problem(in text: String, field: String?) -> String? {
        // Nearly every value is printable ASCII: one pass over the bytes settles it.
        if text.utf8.allSatisfy({ (0x20...0x7E).contains($0) }) { return nil }
        let multiLine = field.map { multiLineFields.contains($0) } ?? false
        var index = 0
        for scalar in text.unicodeScalars {
            index += 1
            let v = scalar.value
            if multiLine && (v == 0x0A || v == 0x09) { continue }
            if v < 0x20 || (0x7F...0x9F).contains(v) {
                var why = "contains the control character \(name(v)) at character \(index); control characters are not allowed"
                if v == 0x0A || v == 0x09 { why += " (newlines and tabs only in \(multiLineFields.sorted().joined(separator: ", ")))" }
                return why
            }
            if v == 0xFFFD {
                return "contains U+FFFD at character \(index), the mark of text that was not valid UTF-8; give the value in UTF-8"
            }
        }
        return nil
    }

    /// The offset of the first byte that is not part of valid UTF-8, or nil when all is valid.
    public static func firstInvalidUTF8(_ bytes: some Collection<UInt8>) -> Int? {
        var decoder = UTF8()
        var it = bytes.makeIterator()
        var offset = 0
        while true {
            switch decoder.decode(&it) {
            case .scalarValue(let s): offset += UTF8.width(s)
            case .emptyInput: return nil
            case .error: return offset
            }
        }
    }

    /// `U+001B (ESC)`: the code point, and the usual name of the common ones.
    static func name(_ v: UInt32) -> String {
        let names: [UInt32: String] = [0x00: "NUL", 0x07: "BEL", 0x08: "BS", 0x09: "TAB", 0x0A: "LF", 0x0D: "CR", 0x1B: "ESC", 0x7F: "DEL", 0x9B: "CSI"]
        var hex = String(v, radix: 16, uppercase: true)
        while hex.count < 4 { hex = "0" + hex }
        return "U+\(hex)" + (names[v].map { " (\($0))" } ?? "")
    }
}
