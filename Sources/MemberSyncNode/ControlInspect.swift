import MemberSyncControl
import MemberSyncDirectory
import MemberSyncModel

extension Node {
    /// The raw CRDT state of one record: every field's siblings with their dots and the
    /// field's causal context. Lets tools check that an acknowledged write is either still
    /// present or covered by a causally later write (never silently lost).
    func inspect(_ key: RecordKey) -> Control.Inspect.Result {
        guard let record = engine.replica.record(key) else { return .init(key: key.description, exists: false, fields: [:]) }
        func register<V>(_ r: Register<V>, _ value: (V) -> FieldValue) -> Control.Inspect.Register {
            .init(siblings: r.siblings.map { .init(origin: $0.dot.replica.description, counter: $0.dot.counter, value: value($0.value)) },
                  context: r.context.json)
        }
        var fields: [String: Control.Inspect.Field] = [:]
        for (name, state) in record.fields {
            switch state {
            case .register(let r):
                fields[name] = .init(register: register(r, FieldValue.init))
            case .set(let s):
                var elements: [String: Control.Inspect.Register] = [:]
                for (e, r) in s.elements { elements[e] = register(r) { .bool($0) } }
                fields[name] = .init(elements: elements)
            }
        }
        return .init(key: key.description, exists: record.exists, fields: fields)
    }
}
