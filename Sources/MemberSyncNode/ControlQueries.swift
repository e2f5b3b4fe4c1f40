import Foundation
import MemberSyncControl
import MemberSyncDirectory
import MemberSyncEngine
import MemberSyncModel

/// Repair and progress commands on the control socket: `resolve` (write a conflicted field
/// again) and `progress` (for `catch-up`). The reading commands (`list`, `search`, `show`,
/// `history`) are `MemberSyncDirectory`'s, over this node's replica.
extension Node {
    // MARK: resolve

    /// Writes a field again so that its new value replaces every sibling: the way to settle a
    /// conflict. Refused when the field is not in conflict, unless `force`.
    func resolve(_ request: Control.Resolve, now: UInt64) throws -> Control.Resolve.Result {
        let key = try requestKey(request.key)
        let field = request.field, text = request.value
        let replica = engine.replica
        let isExists = field == Record.existsField
        guard let record = replica.record(key), record.exists || isExists else { throw ControlError("no such record: \(key)") }
        var type: FieldType?
        if !isExists {
            do { type = try replica.schema.fieldType(key.collection, field) } catch { throw ControlError(error.description) }
            if type?.isSet == true {
                throw ControlError("\(key).\(field) is a set: sets never conflict (a concurrent add and remove keep the element); edit it with set \(field)+=… or \(field)-=…")
            }
        }
        let register = record.register(field)
        if !register.isConflicted && !request.force {
            let current = register.winner.flatMap { $0.value.isAbsent ? nil : "its value is \($0.value)" } ?? "it has no value"
            throw ControlError("\(key).\(field) is not in conflict (\(current)); use --force to write it anyway")
        }
        let replaced = register.siblings.map(SiblingJSON.init)
        let op: Op, commit: LocalCommit
        do {
            if isExists {
                // An edit concurrent with a delete: true keeps the record, false deletes it.
                switch text.lowercased() {
                case "true": (op, commit) = try engine.localWrite(key, [], allowEmpty: true, now: now)
                case "false": (op, commit) = try engine.localDelete(key, now: now)
                default: throw ControlError("\(Record.existsField) is resolved with true (keep the record) or false (delete it)")
                }
            } else {
                // An empty value keeps the clear side of a conflict: the field ends with no value.
                let value: Value
                if text.isEmpty {
                    try replica.schema.checkClear(collection: key.collection, field: field)
                    value = .absent
                } else {
                    value = try replica.schema.parseValue(text, collection: key.collection, field: field)
                }
                (op, commit) = try engine.localWrite(key, [.assign(field: field, value: value)], now: now)
            }
        } catch let e as ControlError {
            throw e
        } catch {
            throw ControlError("\(error)")
        }
        try commitLocal(commit)
        return .init(key: key.description, field: field, value: text, replaced: replaced, wasConflicted: register.isConflicted,
                     origin: op.origin.description, counter: op.counter)
    }

    // MARK: catch-up progress

    /// How far this node is from the nodes it syncs with: ops they hold that it lacks
    /// (`behind`) and its own ops its hub has not acknowledged (`pending`).
    func progress(now: UInt64) -> Control.Progress.Result {
        let links = engine.syncLinks(now: now)
        var remote = VersionVector()
        for l in links {
            switch l {
            case .hub(let i): remote.merge(engine.hubs[i].remoteVersion)
            case .peer(let i): remote.merge(engine.peers[i].remoteVersion)
            }
        }
        return .init(mode: syncMode(now: now, activeHub: engine.activeHub(now: now)), behind: engine.replica.version.missing(from: remote),
                     pending: engine.pendingCount, links: links.count, opsInLog: engine.replica.logCount)
    }
}
