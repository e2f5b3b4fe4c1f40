import Foundation

/// How `search` compares text: one folding, applied alike to the query and to every text
/// searched, so that spellings people type meet the spellings stored. Record ids are ASCII
/// slugs ("goteborg", "lillestrom", "baerum") while names keep their letters ("Gøteborg",
/// "Lillestrøm", "Bærum"); Foundation's diacritic-insensitive comparison cannot bridge them,
/// because æ, ø and å are letters of their own, not letters with accents.
///
/// The folding: lower case; æ → ae, ø → o, å → a (and œ → oe, ß → ss, ð/đ → d, ł → l,
/// þ → th); accents dropped (é → e, ö → o, ü → u); hyphens and underscores read as spaces, so
/// "sor-odal" finds "Sør Odal" and "car free" finds "car-free".
public enum SearchText {
    /// The folded form of `text`.
    public static func fold(_ text: String) -> String {
        var out = ""
        out.reserveCapacity(text.utf8.count)
        for c in text { out += fold(c) }
        return out
    }

    /// The range of `text` (in its own characters) where folded `needle` first occurs in folded
    /// `text`, or nil. An empty needle matches nothing.
    public static func range(of needle: String, in text: String) -> Range<String.Index>? {
        let want = Array(fold(needle))
        guard !want.isEmpty else { return nil }
        if let answer = asciiRange(of: want, in: text) { return answer }
        return foldedRange(of: want, in: text)
    }

    /// `range` for text that is plain ASCII (no carriage return, which makes one character
    /// with a following line feed), as bytes: every character is one byte and folds to one
    /// (lower case; hyphen and underscore to space), so the answer is the same as the
    /// character-wise search's, without building a string per character. Nil means "not
    /// decided here" (text or query not plain ASCII); `.some(nil)`, no match.
    static func asciiRange(of want: [Character], in text: String) -> Range<String.Index>?? {
        var needle: [UInt8] = []
        needle.reserveCapacity(want.count)
        for c in want {
            guard c.unicodeScalars.count == 1, let b = c.asciiValue, b != 13 else { return nil }
            needle.append(b)
        }
        switch text.utf8.withContiguousStorageIfAvailable({ asciiSearch(needle, in: $0) }) ?? .undecided {
        case .undecided: return nil
        case .none: return .some(nil)
        case .at(let start):
            let lower = text.utf8.index(text.utf8.startIndex, offsetBy: start)
            return .some(lower..<text.utf8.index(lower, offsetBy: needle.count))
        }
    }

    enum ByteSearch { case undecided, none, at(Int) }

    /// The first offset of `needle` in `bytes` folded as ASCII, or `.undecided` when `bytes`
    /// are not plain ASCII.
    static func asciiSearch(_ needle: [UInt8], in bytes: UnsafeBufferPointer<UInt8>) -> ByteSearch {
        var folded = [UInt8](repeating: 0, count: bytes.count)
        for (i, b) in bytes.enumerated() {
            if b >= 0x80 || b == 13 { return .undecided }
            folded[i] = b == 45 || b == 95 ? 32 : (b >= 65 && b <= 90 ? b + 32 : b)
        }
        guard folded.count >= needle.count else { return .none }
        outer: for start in 0...(folded.count - needle.count) where folded[start] == needle[0] {
            for k in 1..<needle.count where folded[start + k] != needle[k] { continue outer }
            return .at(start)
        }
        return .none
    }

    /// `range`, character by character: each character of `text` folded on its own.
    static func foldedRange(of want: [Character], in text: String) -> Range<String.Index>? {
        // Each folded character remembers the original character it came from, so a match
        // maps back to the original text (æ folds to two characters, a combining accent to none).
        var folded: [Character] = []
        var source: [String.Index] = []
        folded.reserveCapacity(text.utf8.count)
        source.reserveCapacity(text.utf8.count)
        var i = text.startIndex
        while i < text.endIndex {
            for f in fold(text[i]) {
                folded.append(f)
                source.append(i)
            }
            i = text.index(after: i)
        }
        guard folded.count >= want.count else { return nil }
        for start in 0...(folded.count - want.count) where folded[start] == want[0] {
            var k = 1
            while k < want.count && folded[start + k] == want[k] { k += 1 }
            if k == want.count {
                return source[start]..<text.index(after: source[start + want.count - 1])
            }
        }
        return nil
    }

    /// True when folded `needle` occurs in folded `text`.
    public static func contains(_ text: String, _ needle: String) -> Bool {
        range(of: needle, in: text) != nil
    }

    static func fold(_ c: Character) -> String {
        if c.isASCII {
            if c == "-" || c == "_" { return " " }
            return c.isUppercase ? c.lowercased() : String(c)
        }
        var out = ""
        for lower in c.lowercased() {
            switch lower {
            case "æ": out += "ae"
            case "ø": out += "o"
            case "å": out += "a"
            case "œ": out += "oe"
            case "ß": out += "ss"
            case "ð", "đ": out += "d"
            case "ł": out += "l"
            case "þ": out += "th"
            default:
                // Canonical decomposition splits "é" into "e" and a combining accent; the
                // accents (non-spacing marks) are dropped.
                for scalar in String(lower).decomposedStringWithCanonicalMapping.unicodeScalars
                where scalar.properties.generalCategory != .nonspacingMark {
                    out.unicodeScalars.append(scalar)
                }
            }
        }
        return out
    }
}
