import MemberSyncModel

/// Encodes ops and record states straight from model types into protobuf bytes, without
/// building the generated messages first. Profiles of running nodes showed SwiftProtobuf's
/// generic visitors (which also recompute nested sizes at every level) taking over half the
/// CPU of a node that writes or relays ops. The output is byte-for-byte what
/// `ProtoConvert` + `serializedBytes()` produce (fields in number order, proto3 defaults
/// left out, always-set sub-messages written even when empty, fields and set elements sorted
/// by name, version vectors by replica id); `WireTests` checks that on every message kind.
enum DirectEncoding {
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

        /// A sub-message field: tag, length, body. The body is written first behind a one-byte
        /// length that is patched afterwards (and widened in the rare case of 128 bytes or
        /// more), so no level computes the size of what it nests: computing sizes up front
        /// made encoding quadratic in the nesting depth (six levels for a set element).
        @inline(__always) mutating func message(_ field: Int, _ body: (inout Writer) -> Void) {
            tag(field, 2)
            let at = bytes.count
            bytes.append(0)
            body(&self)
            let length = bytes.count - at - 1
            if length < 0x80 {
                bytes[at] = UInt8(length)
            } else {
                var prefix: [UInt8] = []
                var x = UInt64(length)
                while x >= 0x80 {
                    prefix.append(UInt8(truncatingIfNeeded: x) | 0x80)
                    x >>= 7
                }
                prefix.append(UInt8(x))
                bytes.replaceSubrange(at..<(at + 1), with: prefix)
            }
        }

        mutating func replica(_ field: Int, _ r: ReplicaID) {
            message(field) { w in
                w.optionalString(1, r.node)
                w.optionalVarint(2, UInt64(r.epoch))
            }
        }

        mutating func version(_ field: Int, _ v: VersionVector) {
            message(field) { w in
                for (r, c) in v.sorted {
                    w.message(1) { w in
                        w.replica(1, r)
                        w.optionalVarint(2, c)
                    }
                }
            }
        }

        mutating func value(_ field: Int, _ v: Value) {
            message(field) { w in
                switch v {
                case .string(let s): w.string(1, s)
                case .int(let i): w.tag(2, 0); w.varint(DirectEncoding.zigzag(i))
                case .bool(let b): w.tag(3, 0); w.varint(b ? 1 : 0)
                case .absent: break  // an empty Value message: a clear
                }
            }
        }

        mutating func register<V: DirectValue>(_ field: Int, _ r: Register<V>) {
            message(field) { w in
                for s in r.siblings {
                    w.message(1) { w in
                        w.message(1) { w in
                            w.replica(1, s.dot.replica)
                            w.optionalVarint(2, s.dot.counter)
                        }
                        w.optionalVarint(2, s.hlc.raw)
                        w.value(3, s.value.directValue)
                    }
                }
                w.version(2, r.context)
            }
        }

        mutating func fields(_ field: Int, _ fields: [String: FieldState]) {
            for name in fields.keys.sorted() { fieldState(field, name, fields[name]!) }
        }

        /// A record's fields, in the table's (name) order.
        mutating func fields(_ field: Int, _ fields: FieldTable) {
            for (name, state) in fields { fieldState(field, name, state) }
        }

        mutating func fieldState(_ field: Int, _ name: String, _ state: FieldState) {
            message(field) { w in
                w.optionalString(1, name)
                switch state {
                case .register(let r):
                    w.register(2, r)
                case .set(let s):
                    w.message(3) { w in
                        for e in s.elements.keys.sorted() {
                            let presence = s.elements[e]!
                            w.message(1) { w in
                                w.optionalString(1, e)
                                w.register(2, presence)
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

        mutating func optionalBytes(_ field: Int, _ b: [UInt8]) {
            guard !b.isEmpty else { return }
            tag(field, 2)
            varint(UInt64(b.count))
            bytes.append(contentsOf: b)
        }

        /// The fields of an `Op` message (without its own tag and length).
        mutating func opBody(_ op: Op) {
            opHead(op)
            optionalBytes(7, op.signature)
            optionalBytes(8, op.prev)
        }

        /// An op's fields before its signature (origin to fields).
        mutating func opHead(_ op: Op) {
            replica(1, op.origin)
            optionalVarint(2, op.counter)
            optionalVarint(3, op.hlc.raw)
            optionalString(4, op.key.collection)
            optionalString(5, op.key.id)
            fields(6, op.fields)
        }

        /// The body of an `Envelope{op}` or `Push` entry whose op is encoded already.
        mutating func encodedOp(_ field: Int, _ op: EncodedOp) {
            message(field) { $0.bytes.append(contentsOf: op.bytes) }
        }
    }

    /// A first guess at an encoding's size, so the buffer rarely grows.
    static let opCapacityGuess = 384
    static let recordCapacityGuess = 512

    static func op(_ op: Op) -> [UInt8] {
        var w = Writer(capacity: opCapacityGuess)
        w.opBody(op)
        return w.bytes
    }

    /// Encodes `op` once, signed by `sign` over its canonical bytes (the op without its
    /// signature). Those are the encoding without field 7, which sits between the fields
    /// before it and `prev` (8): the signature is inserted there, and the result is byte for
    /// byte `op(_:)` of the signed op.
    static func sealed(_ op: Op, sign: ([UInt8]) -> [UInt8]) -> EncodedOp {
        var unsigned = op
        unsigned.signature = []
        var w = Writer(capacity: opCapacityGuess)
        w.opHead(unsigned)
        let signatureAt = w.bytes.count
        w.optionalBytes(8, unsigned.prev)
        var signed = unsigned
        signed.signature = sign(w.bytes)
        var field = Writer(capacity: signed.signature.count + 3)
        field.optionalBytes(7, signed.signature)
        w.bytes.insert(contentsOf: field.bytes, at: signatureAt)
        return EncodedOp(op: signed, bytes: w.bytes)
    }

    static func record(_ key: RecordKey, _ record: Record) -> [UInt8] {
        var w = Writer(capacity: recordCapacityGuess)
        w.recordBody(key, record)
        return w.bytes
    }

    /// `Envelope{op}` and `Envelope{push}` of ops encoded already (`EncodedOp`): byte for
    /// byte `envelope(.op(op.op))` and `envelope(.push(ops.map(\.op)))`.
    static func envelope(publishing op: EncodedOp) -> [UInt8] {
        var w = Writer(capacity: op.bytes.count + 8)
        w.encodedOp(11, op)
        return w.bytes
    }

    static func envelope(pushing ops: [EncodedOp]) -> [UInt8] {
        pushEnvelope(count: ops.count, capacity: 8 + ops.reduce(0) { $0 + $1.bytes.count + 4 }) { w, i in w.encodedOp(1, ops[i]) }
    }

    /// `Envelope{push}`: field 5, whose entries (field 1) `entry` writes.
    private static func pushEnvelope(count: Int, capacity: Int, _ entry: (inout Writer, Int) -> Void) -> [UInt8] {
        var w = Writer(capacity: capacity)
        w.message(5) { w in
            for i in 0..<count { entry(&w, i) }
        }
        return w.bytes
    }

    /// `Envelope{op}` (field 11), `Envelope{push}` (5), `Envelope{op_batch}` (4) and
    /// `Envelope{snapshot_page}` (8); nil for the other messages, which are small and rare
    /// enough for the generated code.
    static func envelope(_ message: Message) -> [UInt8]? {
        switch message {
        case .op(let op):
            var w = Writer(capacity: opCapacityGuess)
            w.message(11) { $0.opBody(op) }
            return w.bytes
        case .push(let ops):
            return pushEnvelope(count: ops.count, capacity: 8 + ops.count * opCapacityGuess) { w, i in w.message(1) { $0.opBody(ops[i]) } }
        case .opBatch(let ops, let more, let senderVersion):
            var w = Writer(capacity: 8 + ops.count * opCapacityGuess)
            w.message(4) { w in
                for op in ops { w.message(1) { $0.opBody(op) } }
                if more { w.tag(2, 0); w.varint(1) }
                w.version(3, senderVersion)
            }
            return w.bytes
        case .snapshotPage(let page):
            var w = Writer(capacity: 8 + page.records.count * recordCapacityGuess)
            w.message(8) { w in
                w.version(1, page.version)
                for entry in page.records { w.message(2) { $0.recordBody(entry.key, entry.record) } }
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
