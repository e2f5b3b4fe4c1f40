import Foundation

/// A compact binary form of import records, for the `import` control request's `packed`
/// argument (Protocols/CONTROL.md): the same `{"key", "fields"}` lines the JSON form carries,
/// with each record's file line, but without JSON on either side. JSON encoding and parsing
/// of a batch cost more than checking and writing it. The node checks a packed record exactly
/// as a JSON one (`ImportFormat.record(key:fields:line:schema:)`); this form only carries it.
///
/// Layout (integers are LEB128 varints, strings a varint byte count then UTF-8):
/// `version (1)`, `record count`, then per record `line`, `key`, `field count`, and per field
/// its `name`, a tag and the value: 0 null, 1 false, 2 true, 3 an integer (zigzag varint),
/// 4 a string, 5 an array of strings (`count`, then the strings).
public enum ImportPack {
    public static let version: UInt8 = 1

    /// One record as it travels: its file line, its key text and its field values, as the JSON
    /// line held them.
    public struct Entry: Equatable, Sendable {
        public var line: Int
        public var key: String
        public var fields: [String: JSONValue]

        public init(line: Int, key: String, fields: [String: JSONValue]) {
            self.line = line
            self.key = key
            self.fields = fields
        }
    }

    /// Why a packed batch could not be read (a client bug or a hostile client, never a file's).
    public struct Malformed: Error, CustomStringConvertible, Sendable {
        public let reason: String
        public var description: String { "packed records are malformed: \(reason)" }
    }

    // MARK: encoding

    public static func encode(_ records: some Sequence<ImportRecord>) -> [UInt8] {
        var out: [UInt8] = [version]
        let list = Array(records)
        out.reserveCapacity(64 + list.count * 160)
        varint(UInt64(list.count), into: &out)
        for r in list {
            varint(UInt64(max(0, r.line)), into: &out)
            string(r.key.description, into: &out)
            varint(UInt64(r.scalars.count + r.sets.count), into: &out)
            for (name, value) in r.scalars {
                string(name, into: &out)
                switch value {
                case .absent: out.append(0)
                case .bool(let b): out.append(b ? 2 : 1)
                case .int(let i):
                    out.append(3)
                    varint(UInt64(bitPattern: (i << 1) ^ (i >> 63)), into: &out)
                case .string(let s):
                    out.append(4)
                    string(s, into: &out)
                }
            }
            for (name, members) in r.sets {
                string(name, into: &out)
                out.append(5)
                varint(UInt64(members.count), into: &out)
                for m in members.sorted() { string(m, into: &out) }
            }
        }
        return out
    }

    private static func varint(_ v: UInt64, into out: inout [UInt8]) {
        var v = v
        while v >= 0x80 {
            out.append(UInt8(truncatingIfNeeded: v) | 0x80)
            v >>= 7
        }
        out.append(UInt8(v))
    }

    private static func string(_ s: String, into out: inout [UInt8]) {
        var s = s
        s.withUTF8 { bytes in
            varint(UInt64(bytes.count), into: &out)
            out.append(contentsOf: bytes)
        }
    }

    // MARK: decoding

    /// Reads a packed batch. Every count and length is checked against what is left, so no
    /// input can make it read out of bounds or reserve more than the input's size.
    public static func decode(_ bytes: [UInt8]) throws(Malformed) -> [Entry] {
        var r = Reader(bytes: bytes)
        guard try r.byte() == version else { throw Malformed(reason: "unknown version \(bytes.first ?? 0) (this node reads \(version))") }
        let count = try r.count()
        var entries: [Entry] = []
        entries.reserveCapacity(count)
        for _ in 0..<count {
            let line = Int(clamping: try r.varint())
            let key = try r.string()
            let fieldCount = try r.count()
            var fields: [String: JSONValue] = [:]
            fields.reserveCapacity(fieldCount)
            for _ in 0..<fieldCount {
                let name = try r.string()
                let value: JSONValue
                switch try r.byte() {
                case 0: value = .null
                case 1: value = .bool(false)
                case 2: value = .bool(true)
                case 3:
                    let z = try r.varint()
                    value = .int(Int64(bitPattern: z >> 1) ^ -Int64(bitPattern: z & 1))
                case 4: value = .string(try r.string())
                case 5:
                    let n = try r.count()
                    var members: [JSONValue] = []
                    members.reserveCapacity(n)
                    for _ in 0..<n { members.append(.string(try r.string())) }
                    value = .array(members)
                case let tag: throw Malformed(reason: "unknown value tag \(tag) in field '\(name)' of \(key)")
                }
                guard fields.updateValue(value, forKey: name) == nil else { throw Malformed(reason: "field '\(name)' given twice in \(key)") }
            }
            entries.append(Entry(line: line, key: key, fields: fields))
        }
        guard r.atEnd else { throw Malformed(reason: "\(bytes.count - r.position) bytes after the last record") }
        return entries
    }

    private struct Reader {
        let bytes: [UInt8]
        var position = 0

        var atEnd: Bool { position == bytes.count }

        mutating func byte() throws(Malformed) -> UInt8 {
            guard position < bytes.count else { throw Malformed(reason: "cut short") }
            defer { position += 1 }
            return bytes[position]
        }

        mutating func varint() throws(Malformed) -> UInt64 {
            var v: UInt64 = 0
            for shift in stride(from: UInt64(0), to: 64, by: 7) {
                let b = try byte()
                v |= UInt64(b & 0x7F) << shift
                if b < 0x80 { return v }
            }
            throw Malformed(reason: "an integer longer than 64 bits")
        }

        /// A count or length: never more than the bytes left, each counted item taking at
        /// least one byte.
        mutating func count() throws(Malformed) -> Int {
            let v = try varint()
            guard v <= UInt64(bytes.count - position) else { throw Malformed(reason: "a count of \(v) with \(bytes.count - position) bytes left") }
            return Int(v)
        }

        mutating func string() throws(Malformed) -> String {
            let n = try count()
            let slice = bytes[position..<(position + n)]
            position += n
            guard let s = String(validating: slice, as: UTF8.self) else { throw Malformed(reason: "a string that is not UTF-8") }
            return s
        }
    }
}
