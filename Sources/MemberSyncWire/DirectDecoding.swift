import Foundation
import MemberSyncModel

/// Decodes the bulk of the traffic (live ops, pushes, op batches, snapshot pages) and the
/// store's op and record blobs straight from protobuf bytes into model types.
///
/// Profiles of the merge core showed SwiftProtobuf's generic decoding plus the conversion from
/// generated messages taking about 70% of the time to decode and apply an op. This decoder
/// only handles well-formed input in the canonical form `DirectEncoding` writes (each singular
/// field at most once, no unknown fields, every check of `ProtoConvert` passing); on anything
/// else it gives up with `NotDirect`, and the caller decodes the same bytes with SwiftProtobuf
/// and `ProtoConvert`, which give the authoritative answer, value or error. So the two paths
/// can never disagree on what they accept: `WireTests` checks that they agree on every
/// message kind and on mutated inputs.
enum DirectDecoding {
    /// "Not in the form this decoder handles": decode with the generated code instead.
    struct NotDirect: Error {}

    /// The last few causal contexts decoded from one buffer, by their byte ranges, so an
    /// equal one later in the buffer is the same `VersionVector` (one array shared by every
    /// register of it) instead of a copy decoded again. Every field an op writes carries the
    /// same context, and so do the fields of a record written by one op: a loaded or
    /// received record then holds one context array per distinct context instead of one per
    /// field (arrays are values, so sharing one is invisible to the model).
    struct ContextMemo {
        struct Slot {
            var pos = 0, count = -1
            var vector = VersionVector()
        }
        /// Four slots held inline (a homogeneous tuple is laid out as an array), so a decode
        /// allocates nothing for its memo.
        var slots = (Slot(), Slot(), Slot(), Slot())
        var next = 0

        /// The vector decoded from bytes equal to the `count` bytes at `pos`, if one is kept.
        mutating func vector(_ base: UnsafePointer<UInt8>, _ pos: Int, _ count: Int) -> VersionVector? {
            withUnsafeMutableBytes(of: &slots) { raw in
                for s in raw.assumingMemoryBound(to: Slot.self) where s.count == count && memcmp(base + pos, base + s.pos, count) == 0 {
                    return s.vector
                }
                return nil
            }
        }

        mutating func keep(_ vector: VersionVector, pos: Int, count: Int) {
            let i = next
            next = (next + 1) % 4
            withUnsafeMutableBytes(of: &slots) { raw in raw.assumingMemoryBound(to: Slot.self)[i] = Slot(pos: pos, count: count, vector: vector) }
        }
    }

    /// Reads protobuf wire format from a byte range.
    struct Reader {
        let base: UnsafePointer<UInt8>
        var pos: Int
        let end: Int
        /// The buffer's context memo (see `ContextMemo`); nil in readers made without one.
        var memo: UnsafeMutablePointer<ContextMemo>? = nil

        var atEnd: Bool { pos >= end }

        @inline(__always) mutating func varint() throws(NotDirect) -> UInt64 {
            var result: UInt64 = 0
            var shift: UInt64 = 0
            while true {
                guard pos < end, shift < 64 else { throw NotDirect() }
                let b = base[pos]
                pos += 1
                result |= UInt64(b & 0x7f) << shift
                if b < 0x80 { return result }
                shift += 7
            }
        }

        /// The next field's number and wire type.
        @inline(__always) mutating func tag() throws(NotDirect) -> (field: UInt64, wire: UInt64) {
            let t = try varint()
            return (t >> 3, t & 7)
        }

        /// The body of a length-delimited field as a reader of its own; the parent skips it.
        @inline(__always) mutating func delimited() throws(NotDirect) -> Reader {
            let n = try varint()
            guard n <= UInt64(end - pos) else { throw NotDirect() }
            let sub = Reader(base: base, pos: pos, end: pos + Int(n), memo: memo)
            pos += Int(n)
            return sub
        }

        mutating func bytes() throws(NotDirect) -> [UInt8] {
            let sub = try delimited()
            return Array(UnsafeBufferPointer(start: base + sub.pos, count: sub.end - sub.pos))
        }

        /// A UTF-8 string of at most `max` bytes.
        mutating func text(max: Int) throws(NotDirect) -> String {
            let sub = try delimited()
            let count = sub.end - sub.pos
            guard count <= max else { throw NotDirect() }
            let buffer = UnsafeBufferPointer(start: base + sub.pos, count: count)
            // ASCII needs no validation beyond the high bit; anything else is checked.
            if buffer.allSatisfy({ $0 < 0x80 }) { return String(decoding: buffer, as: UTF8.self) }
            guard let s = String(validating: buffer, as: UTF8.self) else { throw NotDirect() }
            return s
        }

        /// A lowercase slug (see `isValidSlug`), checked on the bytes before a String is made.
        mutating func slug() throws(NotDirect) -> String {
            let sub = try delimited()
            let buffer = UnsafeBufferPointer(start: base + sub.pos, count: sub.end - sub.pos)
            guard !buffer.isEmpty, buffer.count <= 64, buffer[0] != UInt8(ascii: "-"),
                  buffer.allSatisfy({ (0x61...0x7a).contains($0) || (0x30...0x39).contains($0) || $0 == UInt8(ascii: "-") })
            else { throw NotDirect() }
            return String(decoding: buffer, as: UTF8.self)
        }
    }

    /// Tracks which singular fields a message has seen, so a repeated one sends it to the
    /// generated decoder (protobuf's last-one-wins and merge rules live there).
    struct Seen {
        private var bits: UInt32 = 0
        @inline(__always) mutating func first(_ field: UInt64) throws(NotDirect) {
            let bit: UInt32 = 1 << UInt32(field & 31)
            guard bits & bit == 0 else { throw NotDirect() }
            bits |= bit
        }
        @inline(__always) func has(_ field: UInt64) -> Bool { bits & (1 << UInt32(field & 31)) != 0 }
    }

    // MARK: model types

    static func replica(_ r: inout Reader) throws(NotDirect) -> ReplicaID {
        var node: String?
        var epoch: UInt64 = 0
        var seen = Seen()
        while !r.atEnd {
            let (field, wire) = try r.tag()
            try seen.first(field)
            switch (field, wire) {
            case (1, 2): node = try r.slug()
            case (2, 0): epoch = try r.varint()
            default: throw NotDirect()
            }
        }
        guard let node, epoch <= UInt64(UInt32.max) else { throw NotDirect() }
        return ReplicaID(node: node, epoch: UInt32(epoch))
    }

    static func version(_ r: inout Reader) throws(NotDirect) -> VersionVector {
        var out: [(replica: ReplicaID, counter: UInt64)] = []
        while !r.atEnd {
            guard try r.tag() == (1, 2) else { throw NotDirect() }
            var entry = try r.delimited()
            var replicaID: ReplicaID?
            var counter: UInt64 = 0
            var seen = Seen()
            while !entry.atEnd {
                let (field, wire) = try entry.tag()
                try seen.first(field)
                switch (field, wire) {
                case (1, 2): var sub = try entry.delimited(); replicaID = try replica(&sub)
                case (2, 0): counter = try entry.varint()
                default: throw NotDirect()
                }
            }
            guard let replicaID, out.count < WireLimits.maxVersionEntries else { throw NotDirect() }
            out.append((replicaID, counter))
        }
        // Out of order or listed twice: the generated path sorts it out (or refuses it).
        guard let v = VersionVector(strictlyIncreasing: out) else { throw NotDirect() }
        return v
    }

    /// Runs `decode` with a context memo for the rest of `r`'s buffer: for the messages that
    /// carry many registers (records, pages of ops), where sharing pays for the memo. A live
    /// op, decoded alone, goes without: there the memo's setup cost more than the one
    /// context it shares (about 15% of the merge benchmark's decode + apply row).
    static func memoised<T>(_ r: inout Reader, _ decode: (inout Reader) throws(NotDirect) -> T) throws(NotDirect) -> T {
        var memo = ContextMemo()
        return try withUnsafeMutablePointer(to: &memo) { (memo) throws(NotDirect) -> T in
            r.memo = memo
            defer { r.memo = nil }
            return try decode(&r)
        }
    }

    /// `version(&r)`, or the vector decoded earlier from the same bytes of this buffer.
    static func memoisedVersion(_ r: inout Reader) throws(NotDirect) -> VersionVector {
        guard let memo = r.memo else { return try version(&r) }
        let start = r.pos, count = r.end - r.pos
        if let kept = memo.pointee.vector(r.base, start, count) {
            r.pos = r.end
            return kept
        }
        let v = try version(&r)
        memo.pointee.keep(v, pos: start, count: count)
        return v
    }

    static func dot(_ r: inout Reader) throws(NotDirect) -> Dot {
        var replicaID: ReplicaID?
        var counter: UInt64 = 0
        var seen = Seen()
        while !r.atEnd {
            let (field, wire) = try r.tag()
            try seen.first(field)
            switch (field, wire) {
            case (1, 2): var sub = try r.delimited(); replicaID = try replica(&sub)
            case (2, 0): counter = try r.varint()
            default: throw NotDirect()
            }
        }
        guard let replicaID, counter > 0 else { throw NotDirect() }
        return Dot(replicaID, counter)
    }

    static func value(_ r: inout Reader) throws(NotDirect) -> Value {
        // An empty Value message is a clear (MSP.md 5.1).
        if r.atEnd { return .absent }
        let (field, wire) = try r.tag()
        let v: Value
        switch (field, wire) {
        case (1, 2): v = .string(try r.text(max: WireLimits.maxTextBytes))
        case (2, 0):
            let z = try r.varint()
            v = .int(Int64(bitPattern: z >> 1) ^ -Int64(bitPattern: z & 1))
        case (3, 0):
            let b = try r.varint()
            guard b <= 1 else { throw NotDirect() }
            v = .bool(b == 1)
        default: throw NotDirect()
        }
        guard r.atEnd else { throw NotDirect() }
        return v
    }

    static func register<V>(_ r: inout Reader, _ convert: (Value) throws(NotDirect) -> V) throws(NotDirect) -> Register<V> {
        var siblings: [Sibling<V>] = []
        var context = VersionVector()
        var hasContext = false
        while !r.atEnd {
            let (field, wire) = try r.tag()
            switch (field, wire) {
            case (1, 2):
                var s = try r.delimited()
                var d: Dot?, hlc: UInt64 = 0, v: V?
                var seen = Seen()
                while !s.atEnd {
                    let (f, w) = try s.tag()
                    try seen.first(f)
                    switch (f, w) {
                    case (1, 2): var sub = try s.delimited(); d = try dot(&sub)
                    case (2, 0): hlc = try s.varint()
                    case (3, 2): var sub = try s.delimited(); v = try convert(try value(&sub))
                    default: throw NotDirect()
                    }
                }
                guard let d, let v, siblings.count < WireLimits.maxSiblingsPerRegister,
                      !siblings.contains(where: { $0.dot == d }) else { throw NotDirect() }
                siblings.append(Sibling(dot: d, hlc: HLC(raw: hlc), value: v))
            case (2, 2):
                guard !hasContext else { throw NotDirect() }
                hasContext = true
                var sub = try r.delimited()
                context = try memoisedVersion(&sub)
            default: throw NotDirect()
            }
        }
        return Register(siblings: siblings, context: context)
    }

    /// One `FieldState` message: the field's name and state.
    static func field(_ r: inout Reader) throws(NotDirect) -> (name: String, state: FieldState) {
        var name = ""
        var state: FieldState?
        var seen = Seen()
        while !r.atEnd {
            let (field, wire) = try r.tag()
            try seen.first(field)
            switch (field, wire) {
            case (1, 2): name = try r.text(max: 64)
            case (2, 2):
                guard state == nil else { throw NotDirect() }
                var sub = try r.delimited()
                state = .register(try register(&sub) { $0 })
            case (3, 2):
                guard state == nil else { throw NotDirect() }
                var sub = try r.delimited()
                state = .set(try set(&sub))
            default: throw NotDirect()
            }
        }
        guard !name.isEmpty, let state else { throw NotDirect() }
        return (name, state)
    }

    static func fields(_ r: inout Reader, into out: inout [String: FieldState]) throws(NotDirect) {
        let (name, state) = try field(&r)
        guard out.updateValue(state, forKey: name) == nil, out.count <= WireLimits.maxFieldsPerOp else { throw NotDirect() }
    }

    static func set(_ r: inout Reader) throws(NotDirect) -> ORSet {
        var elements: [String: Register<Bool>] = [:]
        while !r.atEnd {
            guard try r.tag() == (1, 2) else { throw NotDirect() }
            var e = try r.delimited()
            var element = ""
            var presence: Register<Bool>?
            var seen = Seen()
            while !e.atEnd {
                let (f, w) = try e.tag()
                try seen.first(f)
                switch (f, w) {
                case (1, 2): element = try e.text(max: 1024)
                case (2, 2):
                    var sub = try e.delimited()
                    presence = try register(&sub) { (v) throws(NotDirect) -> Bool in
                        guard case .bool(let b) = v else { throw NotDirect() }
                        return b
                    }
                default: throw NotDirect()
                }
            }
            guard let presence, elements.updateValue(presence, forKey: element) == nil,
                  elements.count <= WireLimits.maxSiblingsPerRegister else { throw NotDirect() }
        }
        return ORSet(elements: elements)
    }

    static func collection(_ r: inout Reader) throws(NotDirect) -> String {
        let c = try r.text(max: 64)
        guard !c.isEmpty else { throw NotDirect() }
        return c
    }

    static func op(_ r: inout Reader) throws(NotDirect) -> Op {
        var origin: ReplicaID?
        var counter: UInt64 = 0, hlc: UInt64 = 0
        var collectionName = "", id = ""
        // Most ops carry one field and `$exists`: sized for that, so no insert reallocates.
        var fieldStates = [String: FieldState](minimumCapacity: 2)
        var signature: [UInt8] = [], prev: [UInt8] = []
        var seen = Seen()
        while !r.atEnd {
            let (field, wire) = try r.tag()
            if field != 6 { try seen.first(field) }
            switch (field, wire) {
            case (1, 2): var sub = try r.delimited(); origin = try replica(&sub)
            case (2, 0): counter = try r.varint()
            case (3, 0): hlc = try r.varint()
            case (4, 2): collectionName = try collection(&r)
            case (5, 2): id = try r.slug()
            case (6, 2): var sub = try r.delimited(); try fields(&sub, into: &fieldStates)
            case (7, 2):
                signature = try r.bytes()
                guard signature.count <= 256 else { throw NotDirect() }
            case (8, 2):
                prev = try r.bytes()
                guard prev.count == OpChain.hashBytes else { throw NotDirect() }
            default: throw NotDirect()
            }
        }
        guard let origin, counter > 0, seen.has(4), seen.has(5) else { throw NotDirect() }
        return Op(origin: origin, counter: counter, hlc: HLC(raw: hlc), key: RecordKey(collection: collectionName, id: id),
                  fields: fieldStates, signature: signature, prev: prev)
    }

    static func ops(_ r: inout Reader, into out: inout [Op]) throws(NotDirect) {
        var sub = try r.delimited()
        out.append(try op(&sub))
        guard out.count <= WireLimits.maxOpsPerMessage else { throw NotDirect() }
    }

    /// A record's state with its contexts memoised (a record's fields mostly share one).
    static func memoisedRecordState(_ r: inout Reader) throws(NotDirect) -> (key: RecordKey, record: Record) {
        try memoised(&r, recordState)
    }

    static func recordState(_ r: inout Reader) throws(NotDirect) -> (key: RecordKey, record: Record) {
        var collectionName = "", id = ""
        // In name order, as the encoder writes them (else the generated path sorts them out).
        var fieldStates: [(name: String, state: FieldState)] = []
        var seen = Seen()
        while !r.atEnd {
            let (field, wire) = try r.tag()
            if field != 3 { try seen.first(field) }
            switch (field, wire) {
            case (1, 2): collectionName = try collection(&r)
            case (2, 2): id = try r.slug()
            case (3, 2):
                var sub = try r.delimited()
                fieldStates.append(try Self.field(&sub))
                guard fieldStates.count <= WireLimits.maxFieldsPerOp else { throw NotDirect() }
            default: throw NotDirect()
            }
        }
        guard seen.has(1), seen.has(2), let table = FieldTable(strictlyIncreasing: fieldStates) else { throw NotDirect() }
        return (RecordKey(collection: collectionName, id: id), Record(fields: table))
    }

    // MARK: messages

    /// The envelope's message, when it is one of the bulk kinds in canonical form.
    static func envelope(_ r: inout Reader) throws(NotDirect) -> Message {
        guard !r.atEnd else { throw NotDirect() }
        let (field, wire) = try r.tag()
        guard wire == 2 else { throw NotDirect() }
        var body = try r.delimited()
        guard r.atEnd else { throw NotDirect() }
        // Batches of ops and pages of records carry many registers: their contexts are memoised.
        if field == 4 || field == 5 || field == 8 { return try memoised(&body) { (b) throws(NotDirect) in try bulk(field, &b) } }
        guard field == 11 else { throw NotDirect() }
        return .op(try op(&body))
    }

    /// The body of a Push (5), an OpBatch (4) or a SnapshotPage (8).
    static func bulk(_ field: UInt64, _ body: inout Reader) throws(NotDirect) -> Message {
        switch field {
        case 5:
            var list: [Op] = []
            while !body.atEnd {
                guard try body.tag() == (1, 2) else { throw NotDirect() }
                try ops(&body, into: &list)
            }
            return .push(list)
        case 4:
            var list: [Op] = []
            var more = false
            var sender = VersionVector()
            var seen = Seen()
            while !body.atEnd {
                let (f, w) = try body.tag()
                if f != 1 { try seen.first(f) }
                switch (f, w) {
                case (1, 2): try ops(&body, into: &list)
                case (2, 0):
                    let b = try body.varint()
                    guard b <= 1 else { throw NotDirect() }
                    more = b == 1
                case (3, 2): var sub = try body.delimited(); sender = try version(&sub)
                default: throw NotDirect()
                }
            }
            return .opBatch(ops: list, more: more, senderVersion: sender)
        case 8:
            var records: [(key: RecordKey, record: Record)] = []
            var pageVersion = VersionVector()
            var lastKey = ""
            var done = false
            var seen = Seen()
            while !body.atEnd {
                let (f, w) = try body.tag()
                if f != 2 { try seen.first(f) }
                switch (f, w) {
                case (1, 2): var sub = try body.delimited(); pageVersion = try version(&sub)
                case (2, 2):
                    var sub = try body.delimited()
                    records.append(try recordState(&sub))
                    guard records.count <= WireLimits.maxRecordsPerPage else { throw NotDirect() }
                case (3, 2): lastKey = try body.text(max: 200)
                case (4, 0):
                    let b = try body.varint()
                    guard b <= 1 else { throw NotDirect() }
                    done = b == 1
                default: throw NotDirect()
                }
            }
            return .snapshotPage(SnapshotPage(version: pageVersion, records: records, lastKey: lastKey, done: done))
        default:
            throw NotDirect()
        }
    }

    /// Runs `decode` over the bytes; nil when they are not in the form it handles.
    static func attempt<T>(_ bytes: [UInt8], _ decode: (inout Reader) throws(NotDirect) -> T) -> T? {
        bytes.withUnsafeBufferPointer { buffer -> T? in
            guard let base = buffer.baseAddress else { return nil }
            var reader = Reader(base: base, pos: 0, end: buffer.count)
            return try? decode(&reader)
        }
    }
}
