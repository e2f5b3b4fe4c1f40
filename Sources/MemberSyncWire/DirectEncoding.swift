import MemberSyncModel

/// Encodes ops and record states straight from model types into protobuf bytes, without
/// building the generated messages first. Profiles of running nodes showed SwiftProtobuf's
/// generic visitors (which also recompute nested sizes at every level) taking over half the
/// CPU of a node that writes or relays ops. The output is byte-for-byte what
/// `ProtoConvert` + `serializedBytes()` produce (fields in number order, proto3 defaults
/// left out, always-set sub-messages written even when empty, fields and set elements sorted
/// by name, version vectors by replica id); `WireTests` checks that on every message kind.
enum DirectEncoding {
    // MARK: sizes

    @inline(__always) static func varintSize(_ v: UInt64) -> Int {
        var n = 1
        var x = v >> 7
        while x != 0 { n += 1; x >>= 7 }
        return n
    }

    /// A length-delimited field with a one-byte tag (every field number here is below 16).
    @inline(__always) static func delimited(_ length: Int) -> Int { 1 + varintSize(UInt64(length)) + length }
    @inline(__always) static func optionalString(_ s: String) -> Int { s.isEmpty ? 0 : delimited(s.utf8.count) }
    @inline(__always) static func optionalVarint(_ v: UInt64) -> Int { v == 0 ? 0 : 1 + varintSize(v) }

    static func size(_ r: ReplicaID) -> Int { optionalString(r.node) + optionalVarint(UInt64(r.epoch)) }

    static func size(_ v: VersionVector) -> Int {
        var n = 0
        for (r, c) in v.sorted { n += delimited(delimited(size(r)) + optionalVarint(c)) }
        return n
    }

    static func size(_ d: Dot) -> Int { delimited(size(d.replica)) + optionalVarint(d.counter) }

    static func size(_ v: Value) -> Int {
        switch v {
        case .string(let s): return delimited(s.utf8.count)
        case .int(let i): return 1 + varintSize(zigzag(i))
        case .bool: return 2
        }
    }

    static func size<V: DirectValue>(_ r: Register<V>) -> Int {
        var n = 0
        for s in r.siblings {
            n += delimited(delimited(size(s.dot)) + optionalVarint(s.hlc.raw) + delimited(size(s.value.directValue)))
        }
        return n + delimited(size(r.context))
    }

    static func size(_ s: ORSet) -> Int {
        var n = 0
        for (e, r) in s.elements { n += delimited(optionalString(e) + delimited(size(r))) }
        return n
    }

    static func size(_ name: String, _ f: FieldState) -> Int {
        let body: Int
        switch f {
        case .register(let r): body = size(r)
        case .set(let s): body = size(s)
        }
        return optionalString(name) + delimited(body)
    }

    static func size(_ fields: [String: FieldState]) -> Int {
        var n = 0
        for (name, f) in fields { n += delimited(size(name, f)) }
        return n
    }

    static func size(_ op: Op) -> Int {
        delimited(size(op.origin)) + optionalVarint(op.counter) + optionalVarint(op.hlc.raw)
            + optionalString(op.key.collection) + optionalString(op.key.id) + size(op.fields)
            + (op.signature.isEmpty ? 0 : delimited(op.signature.count))
    }

    @inline(__always) static func zigzag(_ i: Int64) -> UInt64 { UInt64(bitPattern: (i << 1) ^ (i >> 63)) }

    // MARK: writing

    struct Writer {
        var bytes: [UInt8] = []

        init(capacity: Int) { bytes.reserveCapacity(capacity) }

        @inline(__always) mutating func varint(_ v: UInt64) {
            var x = v
            while x >= 0x80 {
                bytes.append(UInt8(truncatingIfNeeded: x) | 0x80)
                x >>= 7
            }
            bytes.append(UInt8(x))
        }

        @inline(__always) mutating func tag(_ field: Int, _ wireType: Int) { bytes.append(UInt8(field << 3 | wireType)) }

        mutating func optionalVarint(_ field: Int, _ v: UInt64) {
            guard v != 0 else { return }
            tag(field, 0)
            varint(v)
        }

        mutating func string(_ field: Int, _ s: String) {
            tag(field, 2)
            varint(UInt64(s.utf8.count))
            bytes.append(contentsOf: s.utf8)
        }

        mutating func optionalString(_ field: Int, _ s: String) {
            if !s.isEmpty { string(field, s) }
        }

        /// A sub-message field: tag, length, body.
        @inline(__always) mutating func message(_ field: Int, size: Int, _ body: (inout Writer) -> Void) {
            tag(field, 2)
            varint(UInt64(size))
            body(&self)
        }

        mutating func replica(_ field: Int, _ r: ReplicaID) {
            message(field, size: DirectEncoding.size(r)) { w in
                w.optionalString(1, r.node)
                w.optionalVarint(2, UInt64(r.epoch))
            }
        }

        mutating func version(_ field: Int, _ v: VersionVector) {
            message(field, size: DirectEncoding.size(v)) { w in
                for (r, c) in v.sorted {
                    w.message(1, size: DirectEncoding.delimited(DirectEncoding.size(r)) + DirectEncoding.optionalVarint(c)) { w in
                        w.replica(1, r)
                        w.optionalVarint(2, c)
                    }
                }
            }
        }

        mutating func value(_ field: Int, _ v: Value) {
            message(field, size: DirectEncoding.size(v)) { w in
                switch v {
                case .string(let s): w.string(1, s)
                case .int(let i): w.tag(2, 0); w.varint(DirectEncoding.zigzag(i))
                case .bool(let b): w.tag(3, 0); w.varint(b ? 1 : 0)
                }
            }
        }

        mutating func register<V: DirectValue>(_ field: Int, _ r: Register<V>) {
            message(field, size: DirectEncoding.size(r)) { w in
                for s in r.siblings {
                    let value = s.value.directValue
                    let size = DirectEncoding.delimited(DirectEncoding.size(s.dot)) + DirectEncoding.optionalVarint(s.hlc.raw)
                        + DirectEncoding.delimited(DirectEncoding.size(value))
                    w.message(1, size: size) { w in
                        w.message(1, size: DirectEncoding.size(s.dot)) { w in
                            w.replica(1, s.dot.replica)
                            w.optionalVarint(2, s.dot.counter)
                        }
                        w.optionalVarint(2, s.hlc.raw)
                        w.value(3, value)
                    }
                }
                w.version(2, r.context)
            }
        }

        mutating func fields(_ field: Int, _ fields: [String: FieldState]) {
            for name in fields.keys.sorted() {
                let state = fields[name]!
                message(field, size: DirectEncoding.size(name, state)) { w in
                    w.optionalString(1, name)
                    switch state {
                    case .register(let r):
                        w.register(2, r)
                    case .set(let s):
                        w.message(3, size: DirectEncoding.size(s)) { w in
                            for e in s.elements.keys.sorted() {
                                let presence = s.elements[e]!
                                w.message(1, size: DirectEncoding.optionalString(e) + DirectEncoding.delimited(DirectEncoding.size(presence))) { w in
                                    w.optionalString(1, e)
                                    w.register(2, presence)
                                }
                            }
                        }
                    }
                }
            }
        }

        /// The fields of a `RecordState` message (without its own tag and length).
        mutating func recordBody(_ key: RecordKey, _ record: Record) {
            optionalString(1, key.collection)
            optionalString(2, key.id)
            fields(3, record.fields)
        }

        /// The fields of an `Op` message (without its own tag and length).
        mutating func opBody(_ op: Op) {
            replica(1, op.origin)
            optionalVarint(2, op.counter)
            optionalVarint(3, op.hlc.raw)
            optionalString(4, op.key.collection)
            optionalString(5, op.key.id)
            fields(6, op.fields)
            if !op.signature.isEmpty {
                tag(7, 2)
                varint(UInt64(op.signature.count))
                bytes.append(contentsOf: op.signature)
            }
        }
    }

    static func op(_ op: Op) -> [UInt8] {
        var w = Writer(capacity: size(op))
        w.opBody(op)
        return w.bytes
    }

    static func recordSize(_ key: RecordKey, _ record: Record) -> Int {
        optionalString(key.collection) + optionalString(key.id) + size(record.fields)
    }

    static func record(_ key: RecordKey, _ record: Record) -> [UInt8] {
        var w = Writer(capacity: recordSize(key, record))
        w.recordBody(key, record)
        return w.bytes
    }

    /// `Envelope{op}` (field 11), `Envelope{push}` (5), `Envelope{op_batch}` (4) and
    /// `Envelope{snapshot_page}` (8); nil for the other messages, which are small and rare
    /// enough for the generated code.
    static func envelope(_ message: Message) -> [UInt8]? {
        switch message {
        case .op(let op):
            let n = size(op)
            var w = Writer(capacity: delimited(n))
            w.message(11, size: n) { $0.opBody(op) }
            return w.bytes
        case .push(let ops):
            let sizes = ops.map(size)
            let body = sizes.reduce(0) { $0 + delimited($1) }
            var w = Writer(capacity: delimited(body))
            w.message(5, size: body) { w in
                for (op, n) in zip(ops, sizes) { w.message(1, size: n) { $0.opBody(op) } }
            }
            return w.bytes
        case .opBatch(let ops, let more, let senderVersion):
            let sizes = ops.map(size)
            let body = sizes.reduce(0) { $0 + delimited($1) } + (more ? 2 : 0) + delimited(size(senderVersion))
            var w = Writer(capacity: delimited(body))
            w.message(4, size: body) { w in
                for (op, n) in zip(ops, sizes) { w.message(1, size: n) { $0.opBody(op) } }
                if more { w.tag(2, 0); w.varint(1) }
                w.version(3, senderVersion)
            }
            return w.bytes
        case .snapshotPage(let page):
            let sizes = page.records.map { recordSize($0.key, $0.record) }
            let body = delimited(size(page.version)) + sizes.reduce(0) { $0 + delimited($1) }
                + optionalString(page.lastKey) + (page.done ? 2 : 0)
            var w = Writer(capacity: delimited(body))
            w.message(8, size: body) { w in
                w.version(1, page.version)
                for (entry, n) in zip(page.records, sizes) { w.message(2, size: n) { $0.recordBody(entry.key, entry.record) } }
                w.optionalString(3, page.lastKey)
                if page.done { w.tag(4, 0); w.varint(1) }
            }
            return w.bytes
        default:
            return nil
        }
    }
}

/// Register values the direct encoder can write: `Value`, and `Bool` for set presence.
protocol DirectValue: Hashable & Sendable {
    var directValue: Value { get }
}

extension Value: DirectValue {
    var directValue: Value { self }
}

extension Bool: DirectValue {
    var directValue: Value { .bool(self) }
}
