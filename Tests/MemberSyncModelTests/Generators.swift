import MemberSyncHarness
import MemberSyncModel

/// A simulated federation: replicas that write at random and exchange ops at random, which
/// yields realistic field and record states (with conflicts, removals, deletes) to test laws on.
struct Simulation {
    var rng: SeededRandom
    var replicas: [Replica]
    var allOps: [Op] = []
    let keys: [RecordKey]
    static let orgFields = ["name", "county", "description"]
    static let topics = ["climate", "transport", "digitalisation", "public-health", "culture"]

    init(seed: UInt64, replicaCount: Int, keyCount: Int = 3) {
        rng = SeededRandom(seed: seed)
        var clockBase: UInt64 = 1_700_000_000_000
        replicas = (0..<replicaCount).map { i in
            clockBase += 1
            let t = clockBase
            return Replica(id: ReplicaID(node: "node-\(i)", epoch: UInt32(i + 1)), wallClock: { t })
        }
        keys = (0..<keyCount).map { RecordKey(collection: "organisations", id: "org-\($0)") }
    }

    /// One random step: a write, a delete, or delivery of some op to some replica.
    mutating func step() {
        let i = Int.random(in: 0..<replicas.count, using: &rng)
        let roll = Int.random(in: 0..<10, using: &rng)
        if roll < 5 {
            let key = keys.randomElement(using: &rng)!
            var changes: [FieldChange] = []
            for _ in 0..<Int.random(in: 1...2, using: &rng) {
                if Bool.random(using: &rng) {
                    let f = Self.orgFields.randomElement(using: &rng)!
                    changes.append(.assign(field: f, value: .string("\(f)-\(Int.random(in: 0..<4, using: &rng))")))
                } else {
                    let t = Self.topics.randomElement(using: &rng)!
                    changes.append(Bool.random(using: &rng) ? .add(field: "topics", element: t) : .remove(field: "topics", element: t))
                }
            }
            allOps.append(try! replicas[i].write(key, changes))
        } else if roll < 6 {
            let key = keys.randomElement(using: &rng)!
            if let op = try? replicas[i].delete(key) { allOps.append(op) }
        } else if !allOps.isEmpty {
            // An op whose causal past this replica lacks is refused for now (`causality`), as
            // on a node; it may be delivered again by a later step.
            let op = allOps.randomElement(using: &rng)!
            _ = try? replicas[i].apply(op)
        }
    }

    mutating func run(steps: Int) {
        for _ in 0..<steps { step() }
    }

    /// The state of `field` in some record of some replica, for law tests. (Joins are only
    /// defined between states of the same field: one op writes several fields with one dot.)
    mutating func randomRegister(field: String) -> Register<Value> {
        let r = replicas.randomElement(using: &rng)!
        let key = keys.randomElement(using: &rng)!
        return r.record(key)?.register(field) ?? Register()
    }

    mutating func randomSet() -> ORSet {
        let r = replicas.randomElement(using: &rng)!
        return r.record(keys.randomElement(using: &rng)!)?.set("topics") ?? ORSet()
    }

    mutating func randomRecord() -> Record {
        replicas.randomElement(using: &rng)!.record(keys.randomElement(using: &rng)!) ?? Record()
    }
}
