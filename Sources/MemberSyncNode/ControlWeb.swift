import Foundation
import MemberSyncControl
import MemberSyncDirectory
import MemberSyncEngine
import MemberSyncModel

/// Control commands the web page needs beyond the CLI's: `permissions` (which fields the
/// write rules let this node write, and why not), `metrics` (the Prometheus exposition and
/// the health verdict, so the web listener can serve /metrics and /health) and `lag` (how
/// far behind, in ops and seconds, each node that said hello is). All read-only: nothing
/// here is committed, stored or sent.
extension Node {
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
    func permissions(_ request: Control.Permissions) throws -> PermissionsResult {
        let key = try requestKey(request.key)
        let base = try editChanges(request.changes ?? [], key)
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
        var fields: [String: PermissionsResult.Answer] = [:]
        for name in collection.fields.keys.sorted() {
            let type = collection.fields[name]!
            let probe = base.filter { $0.field != name } + [Self.probeChange(name, type, current: view?.field(name))]
            fields[name] = .init(refusal: refusal { r throws(ModelError) in try r.prepareWrite(key, probe) }, type: type.description)
        }
        let edit = PermissionsResult.Answer(refusal: refusal { r throws(ModelError) in try r.prepareWrite(key, base, allowEmpty: true) })
        let delete = view == nil ? nil : PermissionsResult.Answer(refusal: refusal { r throws(ModelError) in try r.prepareDelete(key) })
        var writer = PermissionsResult.Writer(nodeID: config.nodeID, organisation: config.organisation, hubOperator: config.role == .hub)
        if let authority = engine.authority {
            do {
                let w = try authority.writer(config.nodeID, in: replica)
                writer.hubOperator = w.hubOperator
                if let org = w.organisation { writer.organisation = org }
            } catch {
                writer.refused = error.detail
            }
        } else {
            writer.hubOperator = true
        }
        return PermissionsResult(key: key.description, exists: view != nil, rules: engine.authority == nil ? "off (insecure)" : "enforced",
                                 writer: writer, edit: edit, delete: delete, fields: fields)
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
    func metricsExposition(now: UInt64) -> Control.Metrics.Result {
        let h = health(now: now)
        return .init(text: metricsText(now: now), contentType: PrometheusText.contentType, health: h.word, reasons: h.reasons)
    }

    // MARK: lag

    /// Per node that said hello: the ops this node holds that it lacks, and the lag in
    /// seconds: how long ago the oldest of those ops was written (its HLC time). No lag when
    /// the node lacks nothing; `lag_seconds` is absent when that op was already compacted.
    func replicationLag(now: UInt64) -> [Control.Lag.Entry] {
        let replica = engine.replica
        return engine.clients.values.sorted { $0.nodeID < $1.nodeID }.map { c -> Control.Lag.Entry in
            let behind = c.version.missing(from: replica.version)
            var o = Control.Lag.Entry(nodeID: c.nodeID, opsBehind: behind, lastSeenSeconds: Double(now &- min(now, c.lastSeen)) / 1000, lagSeconds: nil)
            if behind == 0 {
                o.lagSeconds = 0
            } else {
                var oldest: UInt64?
                for e in replica.version.sorted where e.counter > c.version[e.replica] {
                    guard let op = replica.op(Dot(e.replica, c.version[e.replica] + 1)) else { oldest = nil; break }
                    oldest = min(oldest ?? .max, op.hlc.milliseconds)
                }
                if let oldest { o.lagSeconds = Double(now &- min(now, oldest)) / 1000 }
            }
            return o
        }
    }
}
