import Foundation
import MemberSyncModel

/// Conversions between model types and generated protobuf types. The decoding direction
/// checks every field so that nothing malformed reaches the model.
enum ProtoConvert {
    // MARK: model -> proto

    static func replica(_ r: ReplicaID) -> Msp_V1_ReplicaId {
        var p = Msp_V1_ReplicaId()
        p.node = r.node
        p.epoch = r.epoch
        return p
    }

    static func vv(_ v: VersionVector) -> Msp_V1_VersionVector {
        var p = Msp_V1_VersionVector()
        p.entries = v.sorted.map { e in
            var x = Msp_V1_VersionEntry()
            x.replica = replica(e.replica)
            x.counter = e.counter
            return x
        }
        return p
    }

    static func dot(_ d: Dot) -> Msp_V1_Dot {
        var p = Msp_V1_Dot()
        p.replica = replica(d.replica)
        p.counter = d.counter
        return p
    }

    static func value(_ v: Value) -> Msp_V1_Value {
        var p = Msp_V1_Value()
        switch v {
        case .string(let s): p.text = s
        case .int(let i): p.integer = i
        case .bool(let b): p.boolean = b
        case .absent: break  // a present Value with no kind set (MSP.md 5.1)
        }
        return p
    }

    static func register<V>(_ r: Register<V>, _ encode: (V) -> Msp_V1_Value) -> Msp_V1_Register {
        var p = Msp_V1_Register()
        p.siblings = r.siblings.map { s in
            var x = Msp_V1_Sibling()
            x.dot = dot(s.dot)
            x.hlc = s.hlc.raw
            x.value = encode(s.value)
            return x
        }
        p.context = vv(r.context)
        return p
    }

    static func fieldStates(_ fields: [String: FieldState]) -> [Msp_V1_FieldState] {
        fields.keys.sorted().map { name in
            var f = Msp_V1_FieldState()
            f.name = name
            switch fields[name]! {
            case .register(let r):
                f.register = register(r, value)
            case .set(let s):
                var set = Msp_V1_SetState()
                set.elements = s.elements.keys.sorted().map { e in
                    var el = Msp_V1_SetElement()
                    el.element = e
                    el.presence = register(s.elements[e]!) { b in value(.bool(b)) }
                    return el
                }
                f.set = set
            }
            return f
        }
    }

    static func op(_ o: Op) -> Msp_V1_Op {
        var p = Msp_V1_Op()
        p.origin = replica(o.origin)
        p.counter = o.counter
        p.hlc = o.hlc.raw
        p.collection = o.key.collection
        p.id = o.key.id
        p.fields = fieldStates(o.fields)
        p.signature = Data(o.signature)
        p.prev = Data(o.prev)
        return p
    }

    static func recordState(_ key: RecordKey, _ record: Record) -> Msp_V1_RecordState {
        var p = Msp_V1_RecordState()
        p.collection = key.collection
        p.id = key.id
        p.fields = fieldStates(record.fields.dictionary)
        return p
    }

    static func envelope(_ m: Message) -> Msp_V1_Envelope {
        var env = Msp_V1_Envelope()
        switch m {
        case .hello(let h):
            var p = Msp_V1_Hello()
            p.nodeID = h.nodeID
            p.replica = replica(h.replica)
            p.role = h.role
            p.organisation = h.organisation
            p.softwareVersion = h.softwareVersion
            p.minProtocol = h.minProtocol
            p.maxProtocol = h.maxProtocol
            p.version = vv(h.version)
            env.hello = p
        case .welcome(let w):
            var p = Msp_V1_Welcome()
            p.nodeID = w.nodeID
            p.replica = replica(w.replica)
            p.role = w.role
            p.softwareVersion = w.softwareVersion
            p.protocol = w.protocolVersion
            p.version = vv(w.version)
            env.welcome = p
        case .pull(let v, let maxOps):
            var p = Msp_V1_Pull()
            p.version = vv(v)
            p.maxOps = maxOps
            env.pull = p
        case .opBatch(let ops, let more, let senderVersion):
            var p = Msp_V1_OpBatch()
            p.ops = ops.map(op)
            p.more = more
            p.senderVersion = vv(senderVersion)
            env.opBatch = p
        case .push(let ops):
            var p = Msp_V1_Push()
            p.ops = ops.map(op)
            env.push = p
        case .ack(let v):
            var p = Msp_V1_Ack()
            p.version = vv(v)
            env.ack = p
        case .snapshotRequest(let after, let maxRecords):
            var p = Msp_V1_SnapshotRequest()
            p.after = after
            p.maxRecords = maxRecords
            env.snapshotRequest = p
        case .snapshotPage(let page):
            var p = Msp_V1_SnapshotPage()
            p.version = vv(page.version)
            p.records = page.records.map { recordState($0.key, $0.record) }
            p.lastKey = page.lastKey
            p.done = page.done
            env.snapshotPage = p
        case .heartbeat(let h):
            var p = Msp_V1_Heartbeat()
            p.nodeID = h.nodeID
            p.replica = replica(h.replica)
            p.role = h.role
            p.version = vv(h.version)
            p.pending = h.pending
            env.heartbeat = p
        case .error(let code, let message, let refused):
            var p = Msp_V1_Error()
            p.code = Msp_V1_Error.Code(rawValue: code.rawValue) ?? .unspecified
            p.message = message
            p.refused = refused.map { r in
                var q = Msp_V1_Refusal()
                q.dot = dot(r.dot)
                q.reason = r.reason
                q.detail = r.detail
                q.held = r.held
                return q
            }
            env.error = p
        case .op(let o):
            env.op = op(o)
        }
        return env
    }

    // MARK: proto -> model (strict)

    static func fail(_ path: String, _ reason: String) -> WireError {
        .invalidField(path: path, reason: reason)
    }

    // Paths name the offending field in errors ("op.fields[2].register.siblings[0].dot").
    // They are passed as closures and only built when a check fails: building them eagerly
    // for every field and sibling cost more than the protobuf parse itself.
    typealias Path = () -> String

    static func text(_ s: String, _ path: String, max: Int = WireLimits.maxTextBytes) throws(WireError) -> String {
        try text(s, { path }, max: max)
    }

    static func text(_ s: String, _ path: Path, max: Int = WireLimits.maxTextBytes) throws(WireError) -> String {
        guard s.utf8.count <= max else { throw fail(path(), "longer than \(max) bytes") }
        return s
    }

    static func slug(_ s: String, _ path: String) throws(WireError) -> String {
        try slug(s, { path })
    }

    static func slug(_ s: String, _ path: Path) throws(WireError) -> String {
        guard isValidSlug(s) else { throw fail(path(), "'\(s.prefix(80))' is not a lowercase slug") }
        return s
    }

    static func replica(_ p: Msp_V1_ReplicaId, present: Bool, _ path: String) throws(WireError) -> ReplicaID {
        try replica(p, present: present, { path })
    }

    static func replica(_ p: Msp_V1_ReplicaId, present: Bool, _ path: Path) throws(WireError) -> ReplicaID {
        guard present else { throw fail(path(), "missing") }
        return ReplicaID(node: try slug(p.node, { path() + ".node" }), epoch: p.epoch)
    }

    static func vv(_ p: Msp_V1_VersionVector, path: String) throws(WireError) -> VersionVector {
        try vv(p, { path })
    }

    static func vv(_ p: Msp_V1_VersionVector, _ path: Path) throws(WireError) -> VersionVector {
        guard p.entries.count <= WireLimits.maxVersionEntries else { throw fail(path(), "too many entries") }
        var out: [ReplicaID: UInt64] = [:]
        out.reserveCapacity(p.entries.count)
        for (i, e) in p.entries.enumerated() {
            let r = try replica(e.replica, present: e.hasReplica, { "\(path()).entries[\(i)].replica" })
            guard out[r] == nil else { throw fail("\(path()).entries[\(i)]", "replica \(r) listed twice") }
            out[r] = e.counter
        }
        return VersionVector(out)
    }

    static func dot(_ p: Msp_V1_Dot, present: Bool, _ path: Path) throws(WireError) -> Dot {
        guard present else { throw fail(path(), "missing") }
        guard p.counter > 0 else { throw fail(path() + ".counter", "must be at least 1") }
        return Dot(try replica(p.replica, present: p.hasReplica, { path() + ".replica" }), p.counter)
    }

    static func value(_ p: Msp_V1_Value, present: Bool, _ path: Path) throws(WireError) -> Value {
        guard present else { throw fail(path(), "missing") }
        // A Value present but with no kind is a clear (MSP.md 5.1).
        // One with fields this version does not know is not a clear: refuse it.
        guard let kind = p.kind else {
            guard p.unknownFields.data.isEmpty else { throw fail(path(), "value of a kind this node does not know") }
            return .absent
        }
        switch kind {
        case .text(let s): return .string(try text(s, path))
        case .integer(let i): return .int(i)
        case .boolean(let b): return .bool(b)
        }
    }

    static func register<V>(_ p: Msp_V1_Register, _ path: Path, _ decode: (Msp_V1_Value, Bool, Path) throws(WireError) -> V) throws(WireError) -> Register<V> {
        guard p.siblings.count <= WireLimits.maxSiblingsPerRegister else { throw fail(path(), "too many siblings") }
        var siblings: [Sibling<V>] = []
        siblings.reserveCapacity(p.siblings.count)
        // Registers hold one or two siblings almost always: a linear duplicate check beats
        // hashing into a set until they grow.
        let useSet = p.siblings.count > 16
        var seen = Set<Dot>()
        for (i, s) in p.siblings.enumerated() {
            let d = try dot(s.dot, present: s.hasDot, { "\(path()).siblings[\(i)].dot" })
            let duplicate = useSet ? !seen.insert(d).inserted : siblings.contains { $0.dot == d }
            guard !duplicate else { throw fail("\(path()).siblings[\(i)]", "dot \(d) appears twice") }
            // `path` does not escape; the compiler cannot see that through `decode`.
            let v = try withoutActuallyEscaping(path) { (path) throws(WireError) -> V in
                try decode(s.value, s.hasValue, { "\(path()).siblings[\(i)].value" })
            }
            siblings.append(Sibling(dot: d, hlc: HLC(raw: s.hlc), value: v))
        }
        return Register(siblings: siblings, context: try vv(p.context, { path() + ".context" }))
    }

    static func fieldStates(_ fields: [Msp_V1_FieldState], _ path: Path) throws(WireError) -> [String: FieldState] {
        guard fields.count <= WireLimits.maxFieldsPerOp else { throw fail(path(), "too many fields") }
        var out: [String: FieldState] = [:]
        out.reserveCapacity(fields.count)
        for (i, f) in fields.enumerated() {
            let name = try text(f.name, { "\(path())[\(i)].name" }, max: 64)
            guard !name.isEmpty else { throw fail("\(path())[\(i)].name", "empty") }
            guard out[name] == nil else { throw fail("\(path())[\(i)]", "field \(name) appears twice") }
            switch f.state {
            case .register(let r)?:
                out[name] = .register(try register(r, { "\(path())[\(i)].register" }) { (v, present, p) throws(WireError) in try value(v, present: present, p) })
            case .set(let s)?:
                guard s.elements.count <= WireLimits.maxSiblingsPerRegister else { throw fail("\(path())[\(i)]", "too many set elements") }
                var elements: [String: Register<Bool>] = [:]
                elements.reserveCapacity(s.elements.count)
                for (j, e) in s.elements.enumerated() {
                    let element = try text(e.element, { "\(path())[\(i)].set.elements[\(j)].element" }, max: 1024)
                    guard elements[element] == nil else { throw fail("\(path())[\(i)].set.elements[\(j)]", "element appears twice") }
                    guard e.hasPresence else { throw fail("\(path())[\(i)].set.elements[\(j)].presence", "missing") }
                    elements[element] = try register(e.presence, { "\(path())[\(i)].set.elements[\(j)].presence" }) { (v, present, p) throws(WireError) -> Bool in
                        guard case .bool(let b) = try value(v, present: present, p) else { throw fail(p(), "presence must be boolean") }
                        return b
                    }
                }
                out[name] = .set(ORSet(elements: elements))
            case nil:
                throw fail("\(path())[\(i)]", "carries neither a register nor a set")
            }
        }
        return out
    }

    static func key(_ collection: String, _ id: String, _ path: Path) throws(WireError) -> RecordKey {
        guard !collection.isEmpty, collection.utf8.count <= 64 else { throw fail(path() + ".collection", "empty or too long") }
        return RecordKey(collection: collection, id: try slug(id, { path() + ".id" }))
    }

    static func op(_ p: Msp_V1_Op, path: String) throws(WireError) -> Op {
        try op(p, { path })
    }

    static func op(_ p: Msp_V1_Op, _ path: Path) throws(WireError) -> Op {
        guard p.counter > 0 else { throw fail(path() + ".counter", "must be at least 1") }
        guard p.signature.count <= 256 else { throw fail(path() + ".signature", "too long") }
        guard p.prev.isEmpty || p.prev.count == OpChain.hashBytes else { throw fail(path() + ".prev", "must be empty or \(OpChain.hashBytes) bytes") }
        return Op(origin: try replica(p.origin, present: p.hasOrigin, { path() + ".origin" }),
                  counter: p.counter, hlc: HLC(raw: p.hlc),
                  key: try key(p.collection, p.id, path),
                  fields: try fieldStates(p.fields, { path() + ".fields" }),
                  signature: [UInt8](p.signature), prev: [UInt8](p.prev))
    }

    static func ops(_ list: [Msp_V1_Op], _ path: String) throws(WireError) -> [Op] {
        guard list.count <= WireLimits.maxOpsPerMessage else { throw fail(path, "more than \(WireLimits.maxOpsPerMessage) ops") }
        var out: [Op] = []
        out.reserveCapacity(list.count)
        for (i, o) in list.enumerated() { out.append(try op(o, { "\(path)[\(i)]" })) }
        return out
    }

    static func recordState(_ p: Msp_V1_RecordState, path: String) throws(WireError) -> (key: RecordKey, record: Record) {
        try recordState(p, { path })
    }

    static func recordState(_ p: Msp_V1_RecordState, _ path: Path) throws(WireError) -> (key: RecordKey, record: Record) {
        (try key(p.collection, p.id, path), Record(fields: try fieldStates(p.fields, { path() + ".fields" })))
    }

    static func message(_ env: Msp_V1_Envelope) throws(WireError) -> Message {
        guard let body = env.body else { throw .emptyEnvelope }
        switch body {
        case .hello(let p):
            return .hello(Hello(
                nodeID: try slug(p.nodeID, "hello.node_id"),
                replica: try replica(p.replica, present: p.hasReplica, "hello.replica"),
                role: try text(p.role, "hello.role", max: 16),
                organisation: try text(p.organisation, "hello.organisation", max: 64),
                softwareVersion: try text(p.softwareVersion, "hello.software_version", max: 64),
                minProtocol: p.minProtocol, maxProtocol: p.maxProtocol,
                version: try vv(p.version, path: "hello.version")))
        case .welcome(let p):
            return .welcome(Welcome(
                nodeID: try slug(p.nodeID, "welcome.node_id"),
                replica: try replica(p.replica, present: p.hasReplica, "welcome.replica"),
                role: try text(p.role, "welcome.role", max: 16),
                softwareVersion: try text(p.softwareVersion, "welcome.software_version", max: 64),
                protocolVersion: p.protocol,
                version: try vv(p.version, path: "welcome.version")))
        case .pull(let p):
            return .pull(version: try vv(p.version, path: "pull.version"), maxOps: p.maxOps)
        case .opBatch(let p):
            return .opBatch(ops: try ops(p.ops, "op_batch.ops"), more: p.more,
                            senderVersion: try vv(p.senderVersion, path: "op_batch.sender_version"))
        case .push(let p):
            return .push(try ops(p.ops, "push.ops"))
        case .ack(let p):
            return .ack(try vv(p.version, path: "ack.version"))
        case .snapshotRequest(let p):
            return .snapshotRequest(after: try text(p.after, "snapshot_request.after", max: 200), maxRecords: p.maxRecords)
        case .snapshotPage(let p):
            guard p.records.count <= WireLimits.maxRecordsPerPage else { throw fail("snapshot_page.records", "too many records") }
            var records: [(key: RecordKey, record: Record)] = []
            records.reserveCapacity(p.records.count)
            for (i, r) in p.records.enumerated() { records.append(try recordState(r, { "snapshot_page.records[\(i)]" })) }
            return .snapshotPage(SnapshotPage(version: try vv(p.version, path: "snapshot_page.version"), records: records,
                                              lastKey: try text(p.lastKey, "snapshot_page.last_key", max: 200), done: p.done))
        case .heartbeat(let p):
            return .heartbeat(Heartbeat(
                nodeID: try slug(p.nodeID, "heartbeat.node_id"),
                replica: try replica(p.replica, present: p.hasReplica, "heartbeat.replica"),
                role: try text(p.role, "heartbeat.role", max: 16),
                version: try vv(p.version, path: "heartbeat.version"), pending: p.pending))
        case .error(let p):
            guard p.refused.count <= WireLimits.maxOpsPerMessage else { throw fail("error.refused", "more refusals than ops in a Push") }
            var refused: [Refusal] = []
            refused.reserveCapacity(p.refused.count)
            for (i, r) in p.refused.enumerated() {
                refused.append(Refusal(dot: try dot(r.dot, present: r.hasDot, { "error.refused[\(i)].dot" }),
                                       reason: try text(r.reason, "error.refused[\(i)].reason", max: Refusal.maxReasonBytes),
                                       detail: try text(r.detail, "error.refused[\(i)].detail", max: Refusal.maxDetailBytes),
                                       held: r.held))
            }
            return .error(code: ErrorCode(rawValue: p.code.rawValue) ?? .unspecified, message: try text(p.message, "error.message", max: 4096),
                          refused: refused)
        case .op(let p):
            return .op(try op(p, path: "op"))
        }
    }
}
