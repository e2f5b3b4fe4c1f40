import MemberSyncModel

extension Node {
    /// The raw CRDT state of one record: every field's siblings with their dots and the
    /// field's causal context. Lets tools check that an acknowledged write is either still
    /// present or covered by a causally later write (never silently lost).
    func inspect(_ key: RecordKey) -> JSONObject {
        guard let record = engine.replica.record(key) else { return ["key": key.description, "exists": false, "fields": [:]] }
        func register<V>(_ r: Register<V>, _ value: (V) -> Any) -> JSONObject {
            ["siblings": r.siblings.map { ["origin": $0.dot.replica.description, "counter": $0.dot.counter, "value": value($0.value)] as JSONObject },
             "context": JSONView.version(r.context)]
        }
        var fields: JSONObject = [:]
        for (name, state) in record.fields {
            switch state {
            case .register(let r):
                fields[name] = register(r, JSONView.value)
            case .set(let s):
                var elements: JSONObject = [:]
                for (e, r) in s.elements { elements[e] = register(r) { $0 } }
                fields[name] = ["elements": elements]
            }
        }
        return ["key": key.description, "exists": record.exists, "fields": fields]
    }
}
