import Foundation
import MemberSyncModel

/// Control commands the web page needs beyond the CLI's: `permissions` (which fields the
/// write rules let this node write, and why not), `metrics` (the Prometheus exposition and
/// the health verdict, so the web listener can serve /metrics and /health) and `lag` (how
/// far behind, in ops and seconds, each node that said hello is). All read-only: nothing
/// here is committed, stored or sent.
extension Node {
    /// nil when `command` is not one of these.
    func handleWebControl(_ command: String, _ request: JSONObject, now: UInt64) throws -> Any? {
        switch command {
        case "permissions": return try permissions(request)
        case "metrics": return metricsExposition(now: now)
        case "lag": return replicationLag(now: now)
        default: return nil
        }
    }

    // MARK: permissions

    /// For one record: may this node edit it, delete it, and write each field of its
    /// collection? Each answer comes from `WriteAuthority.checkLocal` on an op prepared on a
    /// scratch copy of the replica (only that copy's clock advances) and never committed, so
    /// the page shows exactly what `set` would refuse, with the same reason.
    ///
    /// A field is probed by writing its current value back (which changes no ownership) or,
    /// when it has none, a sample of its type that names nobody; a set field by adding a
    /// sample element. `changes` (optional, `FIELD=VALUE` like `set`) are added to every
    /// probe: a form creating a contact asks with `organisation=OWN` what else it may write.
    func permissions(_ request: JSONObject) throws -> JSONObject {
        let key = try requestKey(request)
        if request["changes"] != nil && request["changes"] as? [String] == nil {
            throw ControlError("'changes' must be a list of \"FIELD=VALUE\" strings")
        }
        let base = try EditParser.changes(request["changes"] as? [String] ?? [], key: key, schema: engine.replica.schema)
        let replica = engine.replica
        let collection = try collectionSchema(key.collection)
        let view = replica.view(key)
        var scratch = replica
        /// nil when allowed, else the sentence `set` would answer.
        func refusal(_ prepare: (inout Replica) throws(ModelError) -> Op) -> String? {
            do throws(ModelError) {
                let op = try prepare(&scratch)
                guard let authority = engine.authority else { return nil }
                do { try authority.checkLocal(op, in: replica) } catch { return ModelError.unauthorised(error.detail).description }
                return nil
            } catch {
                return error.description
            }
        }
        func answer(_ reason: String?) -> JSONObject {
            var o: JSONObject = ["writable": reason == nil]
            if let reason { o["reason"] = reason }
            return o
        }
        var fields: JSONObject = [:]
        for name in collection.fields.keys.sorted() {
            let type = collection.fields[name]!
            let probe = base.filter { $0.field != name } + [Self.probeChange(name, type, current: view?.field(name))]
            var o = answer(refusal { r throws(ModelError) in try r.prepareWrite(key, probe) })
            o["type"] = type.description
            fields[name] = o
        }
        var out: JSONObject = [
            "key": key.description, "exists": view != nil, "fields": fields,
            "rules": engine.authority == nil ? "off (insecure)" : "enforced",
            "edit": answer(refusal { r throws(ModelError) in try r.prepareWrite(key, base, allowEmpty: true) }),
        ]
        if view != nil { out["delete"] = answer(refusal { r throws(ModelError) in try r.prepareDelete(key) }) }
        var writer: JSONObject = ["node_id": config.nodeID, "organisation": config.organisation, "hub_operator": config.role == .hub]
        if let authority = engine.authority {
            do {
                let w = try authority.writer(config.nodeID, in: replica)
                writer["hub_operator"] = w.hubOperator
                if let org = w.organisation { writer["organisation"] = org }
            } catch {
                writer["refused"] = error.detail
            }
        } else {
            writer["hub_operator"] = true
        }
        out["writer"] = writer
        return out
    }

    /// The change that probes one field: see `permissions`.
    static func probeChange(_ name: String, _ type: FieldType, current: FieldView?) -> FieldChange {
        if let value = current?.value { return .assign(field: name, value: value) }
        switch type {
        case .text, .reference: return .assign(field: name, value: .string("example"))
        case .integer: return .assign(field: name, value: .int(0))
        case .boolean: return .assign(field: name, value: .bool(false))
        case .date: return .assign(field: name, value: .string("2000-01-01"))
        case .oneOf(let options): return .assign(field: name, value: .string(options.first ?? ""))
        case .textSet, .referenceSet: return .add(field: name, element: current?.members?.first ?? "example")
        }
    }

    // MARK: metrics

    /// What the metrics listener serves, for another listener to serve the same.
    func metricsExposition(now: UInt64) -> JSONObject {
        let h = health(now: now)
        return ["text": metricsText(now: now), "content_type": PrometheusText.contentType,
                "health": h.word, "reasons": h.reasons]
    }

    // MARK: lag

    /// Per node that said hello: the ops this node holds that it lacks, and the lag in
    /// seconds: how long ago the oldest of those ops was written (its HLC time). No lag when
    /// the node lacks nothing; `lag_seconds` is absent when that op was already compacted.
    func replicationLag(now: UInt64) -> [JSONObject] {
        let replica = engine.replica
        return engine.clients.values.sorted { $0.nodeID < $1.nodeID }.map { c -> JSONObject in
            let behind = c.version.missing(from: replica.version)
            var o: JSONObject = ["node_id": c.nodeID, "ops_behind": behind,
                                 "last_seen_seconds": Double(now &- min(now, c.lastSeen)) / 1000]
            if behind == 0 {
                o["lag_seconds"] = 0.0
            } else {
                var oldest: UInt64?
                for e in replica.version.sorted where e.counter > c.version[e.replica] {
                    guard let op = replica.op(Dot(e.replica, c.version[e.replica] + 1)) else { oldest = nil; break }
                    oldest = min(oldest ?? .max, op.hlc.milliseconds)
                }
                if let oldest { o["lag_seconds"] = Double(now &- min(now, oldest)) / 1000 }
            }
            return o
        }
    }
}
