import Foundation
import MemberSyncControl
import MemberSyncEngine
import MemberSyncModel

/// The list of refused edits as the text of the store's `refused` meta row (a JSON array),
/// and back. The row is checksummed like every meta row, so no new table is needed.
public enum RefusedEditsText {
    public static let metaKey = "refused"

    public static func encode(_ list: [RefusedEdit]) -> String {
        let rows: [[String: Any]] = list.map { e in
            var o: [String: Any] = ["origin": e.dot.replica.description, "counter": e.dot.counter, "summary": e.summary,
                                    "reason": e.reason, "detail": e.detail, "held": e.held, "at": e.at]
            if let k = e.key { o["key"] = k.description }
            return o
        }
        let data = (try? JSONSerialization.data(withJSONObject: rows, options: [.sortedKeys])) ?? Data("[]".utf8)
        return String(decoding: data, as: UTF8.self)
    }

    /// Refuses text that is not such a list (a damaged row is reported, never half-read).
    public static func decode(_ text: String) throws -> [RefusedEdit] {
        guard let rows = try JSONSerialization.jsonObject(with: Data(text.utf8)) as? [[String: Any]] else {
            throw ControlError("the refused-edits row is not a JSON array of objects")
        }
        return try rows.enumerated().map { i, o in
            guard let origin = (o["origin"] as? String).flatMap(ReplicaID.init(parsing:)),
                  let counter = (o["counter"] as? NSNumber)?.uint64Value, counter > 0,
                  let reason = o["reason"] as? String, let held = o["held"] as? Bool else {
                throw ControlError("refused-edits row, entry \(i): missing origin, counter, reason or held")
            }
            return RefusedEdit(dot: Dot(origin, counter), key: (o["key"] as? String).flatMap { try? RecordKey(parsing: $0) },
                               summary: o["summary"] as? String ?? "", reason: reason, detail: o["detail"] as? String ?? "",
                               held: held, at: (o["at"] as? NSNumber)?.uint64Value ?? 0)
        }
    }
}
