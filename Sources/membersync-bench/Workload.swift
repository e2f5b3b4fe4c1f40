import Foundation
import MemberSyncCrypto
import MemberSyncModel
import MemberSyncWire

/// The realistic workload every benchmark draws from: organisations, contacts and projects
/// shaped like `Deploy/seed/directory.jsonl` (same ids, topics, networks, programmes), written
/// by many member offices plus the Brussels hub. Fully determined by its seed.
enum Vocabulary {
    static let organisations = """
        aremark as asker asnes aurskog-holand baerum drammen eidskog eidsvoll elverum enebakk faerder flesberg fredrikstad \
        frogn gjerdrum gjovik gran grue halden hamar hole holmestrand horten hurdal hvaler indre-ostfold innlandet jevnaker \
        kongsberg kongsvinger krodsherad lier lillehammer lillestrom lorenskog loten lunner marker modum moss nannestad nes \
        nesodden nittedal nord-odal nordre-follo nordre-land notodden oslo ostre-toten ovre-eiker rade raelingen rakkestad \
        ringerike ringsaker rollag sarpsborg sigdal skiptvedt sondre-land sor-odal stange tinn ullensaker valer vestby \
        vestre-toten viken oslomet vestfold-and-telemark
        """.split(separator: " ").map(String.init)
    static let topics = """
        agriculture air-quality attractiveness bioeconomy branding business-cooperation citizen-participation climate \
        cluster-development communication competitiveness creative-europe cultural-heritage culture digitalisation education \
        energy environment erasmus-plus eu-affairs freight gaming green-cities horizon-2020 innovation integration \
        international-relations investment logistics maritime mental-health mobility noise public-health recruitment research \
        smart-city spatial-planning study-visits sustainability talent-attraction tourism transport urban-development \
        urban-mobility waste water-management welfare-technology youth
        """.split(separator: " ").map(String.init)
    static let networks = """
        aalborg-commitments aer bsssc c40 cities-for-climate-protection-europe covenant-of-mayors eastern-norway-county-network \
        eurocities iclei ifhp pegasus scandinavian-arena scandria-alliance uitp
        """.split(separator: " ").map(String.init)
    static let firstNames = "anna eldri gunnar eva margrethe ola kari per ingrid lars silje jonas marte erik nina thomas hilde kristian".split(separator: " ").map(String.init)
    static let lastNames = "rokseth langaker selvik hansen johansen olsen larsen andersen pedersen nilsen berg haugen hagen eriksen bakken".split(separator: " ").map(String.init)
    static let roles = ["Senior Advisor", "Chief Advisor", "Director", "Project Manager", "EU Advisor", "Head of International Affairs",
                        "Communication Advisor", "Spatial planning, transport, climate and environment"]
    static let programmes = ["Horizon 2020", "Horizon Europe", "Erasmus+", "Creative Europe", "Interreg", "national", "regional", "LIFE"]
    static let counties = ["Viken", "Innlandet", "Oslo", "Vestfold og Telemark", "Akershus", "Buskerud", "Ostfold"]
    static let words = """
        cooperation between municipalities on climate adaptation and sustainable mobility in the capital region with partners \
        across europe joint project for green growth regional development public services digital innovation and culture
        """.split(separator: " ").map(String.init)
}

/// One edit of one field of one record, before it becomes an op.
struct AbstractOp {
    enum Change {
        case assign(Value)
        case element(String, present: Bool)
    }

    /// Index into `Workload.origins`; 0 is the hub.
    let origin: Int
    let key: RecordKey
    let field: String
    let change: Change
    /// The writer had not seen the previous write of this field (or set element).
    let concurrent: Bool

    /// The register this op writes: `collection/id/field` or `collection/id/field/element`.
    var flatKey: String {
        switch change {
        case .assign: return "\(key)/\(field)"
        case .element(let e, _): return "\(key)/\(field)/\(e)"
        }
    }

    /// The CLI form: `field=value`, `field+=element`, `field-=element`.
    var cliChange: String {
        switch change {
        case .assign(let v): return "\(field)=\(v)"
        case .element(let e, let present): return "\(field)\(present ? "+" : "-")=\(e)"
        }
    }

    /// `[origin, flat_key, value, concurrent]` for the pycrdt baseline.
    var jsonLine: String {
        let value: String
        switch change {
        case .assign(.string(let s)): value = jsonString(s)
        case .assign(.int(let i)): value = String(i)
        case .assign(.bool(let b)), .element(_, let b): value = b ? "true" : "false"
        case .assign(.absent): value = "null"  // the workload makes no clears
        }
        return "[\(origin),\(jsonString(flatKey)),\(value),\(concurrent)]"
    }
}

func jsonString(_ s: String) -> String {
    var out = "\""
    for u in s.unicodeScalars {
        switch u {
        case "\"": out += "\\\""
        case "\\": out += "\\\\"
        case "\n": out += "\\n"
        default:
            if u.value < 0x20 { out += String(format: "\\u%04x", u.value) } else { out.unicodeScalars.append(u) }
        }
    }
    return out + "\""
}

struct Workload {
    /// The hub and 64 member offices; each member owns a share of the records.
    static let origins: [ReplicaID] = {
        var out = [ReplicaID(node: "brussels", epoch: 0x1c07)]
        for (i, name) in Vocabulary.organisations.prefix(64).enumerated() {
            out.append(ReplicaID(node: name, epoch: UInt32(0x1000 + i)))
        }
        return out
    }()

    struct RecordInfo {
        let key: RecordKey
        /// Origin index of the member that owns (mostly writes) the record.
        let owner: Int
    }

    let records: [RecordInfo]

    /// `count` records: 10% organisations, 60% contacts, 30% projects.
    init(records count: Int, seed: UInt64 = 7) {
        var rng = SplitMix64(seed: seed)
        var out: [RecordInfo] = []
        out.reserveCapacity(count)
        for i in 0..<count {
            let owner = 1 + rng.below(Workload.origins.count - 1)
            let org = Workload.origins[owner].node
            let key: RecordKey
            switch i % 10 {
            case 0: key = RecordKey(collection: "organisations", id: i < 640 ? "\(org)-\(i / 64)" : "\(org)-unit-\(i)")
            case 1...6: key = RecordKey(collection: "contacts", id: "\(rng.pick(Vocabulary.firstNames))-\(rng.pick(Vocabulary.lastNames))-\(i)")
            default: key = RecordKey(collection: "projects", id: "\(org)-\(rng.pick(Vocabulary.topics))-\(i)")
            }
            out.append(RecordInfo(key: key, owner: owner))
        }
        records = out
    }

    /// `count` records that member `writer` may write under the write rules (MSP 11.4): its
    /// own organisation record, then contacts of its organisation (two thirds) and projects it
    /// leads (one third). Secure and insecure runs of a benchmark use the same records, so
    /// they differ only in the security work.
    init(records count: Int, writer: String, seed: UInt64 = 7) {
        guard let owner = Workload.origins.firstIndex(where: { $0.node == writer }) else { fatalError("\(writer) is not one of Workload.origins") }
        var rng = SplitMix64(seed: seed)
        records = (0..<max(1, count)).map { i in
            let key: RecordKey
            if i == 0 {
                key = RecordKey(collection: "organisations", id: writer)
            } else if i % 3 != 0 {
                key = RecordKey(collection: "contacts", id: "\(rng.pick(Vocabulary.firstNames))-\(rng.pick(Vocabulary.lastNames))-\(i)")
            } else {
                key = RecordKey(collection: "projects", id: "\(writer)-\(rng.pick(Vocabulary.topics))-\(i)")
            }
            return RecordInfo(key: key, owner: owner)
        }
    }

    /// One edit per record that makes it its owner's under the write rules: a contact's
    /// `organisation`, a project's `lead`. Written before a benchmark's clock starts, so that
    /// every timed edit of `ownedStream` is allowed.
    func claims() -> [AbstractOp] {
        records.map { r in
            let owner = Workload.origins[r.owner].node
            let field = r.key.collection == "contacts" ? "organisation" : r.key.collection == "projects" ? "lead" : "name"
            return AbstractOp(origin: r.owner, key: r.key, field: field, change: .assign(.string(owner)), concurrent: false)
        }
    }

    /// `count` single-field edits, each by the record's owner and allowed by the write rules
    /// once `claims()` are made. Otherwise shaped as `stream` (hot records, realistic values);
    /// no concurrent edits (one writer). The claim fields (`organisation`, `lead`) are not
    /// written again: a repeated claim made the hub withdraw edits it had accepted once the
    /// first claim was compacted (see Benchmarks/README.md), which is a bug of the rights
    /// history, not a workload the benchmarks mean to measure.
    func ownedStream(ops count: Int, seed: UInt64 = 11) -> [AbstractOp] {
        var rng = SplitMix64(seed: seed)
        var members: [String: Set<String>] = [:]
        let hot = max(1, records.count / 10)
        return (0..<count).map { _ in
            let r = records[rng.chance(0.5) ? rng.below(hot) : rng.below(records.count)]
            let owner = Workload.origins[r.owner].node
            var field = Self.pickField(r.key.collection, &rng)
            while field == "organisation" || field == "lead" { field = Self.pickField(r.key.collection, &rng) }
            let change = Self.change(r.key, field, owner: owner, &rng, members: &members)
            return AbstractOp(origin: r.owner, key: r.key, field: field, change: change, concurrent: false)
        }
    }

    static let fields: [String: [(String, Int)]] = [
        "organisations": [("name", 1), ("kind", 1), ("county", 1), ("population", 2), ("description", 2), ("website", 1),
                          ("topics", 3), ("networks", 2), ("memberships", 1), ("joined", 1)],
        "contacts": [("name", 1), ("organisation", 1), ("role", 2), ("email", 2), ("phone", 2), ("topics", 3)],
        "projects": [("title", 1), ("programme", 1), ("status", 3), ("lead", 1), ("partners", 3), ("topics", 2),
                     ("description", 2), ("start", 1), ("end", 1)],
    ]

    static func pickField(_ collection: String, _ rng: inout SplitMix64) -> String {
        let fs = fields[collection]!
        var r = rng.below(fs.reduce(0) { $0 + $1.1 })
        for (f, w) in fs {
            if r < w { return f }
            r -= w
        }
        return fs[0].0
    }

    static func sentence(_ rng: inout SplitMix64, words: Int) -> String {
        (0..<words).map { _ in rng.pick(Vocabulary.words) }.joined(separator: " ")
    }

    static func date(_ rng: inout SplitMix64) -> String {
        String(format: "%04d-%02d-%02d", 2004 + rng.below(20), 1 + rng.below(12), 1 + rng.below(28))
    }

    /// A realistic value for a scalar field, or an element for a set field.
    static func change(_ key: RecordKey, _ field: String, owner: String, _ rng: inout SplitMix64,
                       members: inout [String: Set<String>]) -> AbstractOp.Change {
        func text(_ s: String) -> AbstractOp.Change { .assign(.string(s)) }
        switch field {
        case "name": return text(key.collection == "contacts" ? "\(rng.pick(Vocabulary.firstNames).capitalized) \(rng.pick(Vocabulary.lastNames).capitalized)" : "Office of \(owner.capitalized) \(rng.below(100))")
        case "title": return text("\(rng.pick(Vocabulary.topics).capitalized) \(owner.capitalized) \(2004 + rng.below(20))")
        case "kind": return text(rng.pick(["municipality", "county", "university", "city", "office"]))
        case "county": return text(rng.pick(Vocabulary.counties))
        case "population": return .assign(.int(Int64(1_000 + rng.below(700_000))))
        case "description": return text(sentence(&rng, words: 8 + rng.below(16)))
        case "website": return text("https://www.\(owner).kommune.no/\(rng.pick(Vocabulary.topics))")
        case "joined", "start", "end": return text(date(&rng))
        case "organisation", "lead": return text(rng.chance(0.8) ? owner : rng.pick(Vocabulary.organisations))
        case "role": return text(rng.pick(Vocabulary.roles))
        case "email": return text("\(rng.pick(Vocabulary.firstNames)).\(rng.pick(Vocabulary.lastNames))@\(owner).kommune.no")
        case "phone": return text("+47 \(10 + rng.below(89)) \(10 + rng.below(89)) \(10 + rng.below(89)) \(10 + rng.below(89))")
        case "programme": return text(rng.pick(Vocabulary.programmes))
        case "status": return text(rng.pick(["idea", "proposal", "running", "closed"]))
        default:
            // Set fields: mostly adds; a remove takes out an element that is there.
            let pool: [String]
            switch field {
            case "networks": pool = Vocabulary.networks
            case "memberships", "partners": pool = Vocabulary.organisations
            default: pool = Vocabulary.topics
            }
            let setKey = "\(key)/\(field)"
            var current = members[setKey] ?? []
            if !current.isEmpty && rng.chance(0.25) {
                let e = current.sorted()[rng.below(current.count)]
                current.remove(e)
                members[setKey] = current
                return .element(e, present: false)
            }
            let e = rng.pick(pool)
            current.insert(e)
            members[setKey] = current
            return .element(e, present: true)
        }
    }

    /// `count` single-field edits: the owner writes 85%, the hub 10%, another member 5%;
    /// half of the edits go to the hottest 10% of records; 2% of edits are concurrent with the
    /// previous write of the same register (when that was by another writer).
    func stream(ops count: Int, seed: UInt64 = 11, concurrency: Double = 0.02) -> [AbstractOp] {
        var rng = SplitMix64(seed: seed)
        var members: [String: Set<String>] = [:]
        var lastWriter: [String: Int] = [:]
        var out: [AbstractOp] = []
        out.reserveCapacity(count)
        let hot = max(1, records.count / 10)
        for _ in 0..<count {
            let r = records[rng.chance(0.5) ? rng.below(hot) : rng.below(records.count)]
            let origin: Int
            let roll = rng.below(100)
            if roll < 85 { origin = r.owner } else if roll < 95 { origin = 0 } else { origin = 1 + rng.below(Workload.origins.count - 1) }
            let field = Self.pickField(r.key.collection, &rng)
            let change = Self.change(r.key, field, owner: Workload.origins[r.owner].node, &rng, members: &members)
            var op = AbstractOp(origin: origin, key: r.key, field: field, change: change, concurrent: false)
            let flat = op.flatKey
            if let last = lastWriter[flat], last != origin, rng.chance(concurrency) {
                op = AbstractOp(origin: origin, key: r.key, field: field, change: change, concurrent: true)
            }
            lastWriter[flat] = origin
            out.append(op)
        }
        return out
    }
}

/// Turns abstract edits into real MemberSync ops, exactly as each origin's `Replica.write`
/// would have produced them had it seen every earlier op (or, for a concurrent edit, every
/// earlier op but the previous write of that register).
struct OpBuilder {
    private var state: [RecordKey: Record] = [:]
    private var counters: [UInt64]
    private var lastDot: [String: Dot] = [:]
    private var tick: UInt64 = 0
    let baseMilliseconds: UInt64 = 1_764_000_000_000
    /// With keys (one per origin, as `signingKeys()` makes), every op is signed by its
    /// origin's key over its canonical bytes, as a secure node's `Replica.write` signs it.
    let keys: [SigningKeyPair]?

    init(keys: [SigningKeyPair]? = nil) {
        counters = Array(repeating: 0, count: Workload.origins.count)
        self.keys = keys
    }

    /// One Ed25519 key per origin of `Workload.origins`, from fixed seeds (reproducible runs).
    static func signingKeys() throws -> [SigningKeyPair] {
        try Workload.origins.indices.map { i in try SigningKeyPair(seed: [UInt8](repeating: UInt8(i & 0xff), count: 32)) }
    }

    mutating func build(_ a: AbstractOp) -> Op {
        counters[a.origin] += 1
        let origin = Workload.origins[a.origin]
        let dot = Dot(origin, counters[a.origin])
        tick += 1
        let hlc = HLC(milliseconds: baseMilliseconds + tick / 8, logical: UInt16(tick % 8))
        let record = state[a.key] ?? Record()
        let flat = a.flatKey
        func delta<V>(_ current: Register<V>, _ value: V) -> Register<V> {
            guard a.concurrent, let last = lastDot[flat] else { return current.writing(value, dot: dot, hlc: hlc) }
            var ctx = current.context
            ctx[last.replica] = min(ctx[last.replica], last.counter - 1)
            ctx.add(dot)
            return Register(siblings: [Sibling(dot: dot, hlc: hlc, value: value)], context: ctx)
        }
        var fields: [String: FieldState] = [:]
        switch a.change {
        case .assign(let v):
            fields[a.field] = .register(delta(record.register(a.field), v))
        case .element(let e, let present):
            let current = record.set(a.field).elements[e] ?? Register()
            fields[a.field] = .set(ORSet(elements: [e: delta(current, present)]))
        }
        fields[Record.existsField] = .register(record.register(Record.existsField).writing(.bool(true), dot: dot, hlc: hlc))
        var op = Op(origin: origin, counter: dot.counter, hlc: hlc, key: a.key, fields: fields)
        if let keys { op.signature = keys[a.origin].sign(WireCodec.canonicalBytes(op)) }
        state[a.key] = record.joined(with: Record(fields: fields))
        lastDot[flat] = dot
        return op
    }
}
