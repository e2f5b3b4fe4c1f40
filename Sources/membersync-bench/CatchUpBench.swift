import Foundation
import MemberSyncModel
import MemberSyncStore
import MemberSyncNode

/// Catch-up of a member that was offline while `ops` ops happened, with real processes:
/// hub, writer `asker`, and `baerum`, which is stopped (SIGTERM), misses the ops, and is
/// started again. Measured: from starting baerum's process to baerum's version covering
/// every op (Hello, then paged Pull/OpBatch, each page applied and committed durably).
struct CatchUpBench {
    let ops: Int
    let workDir: String
    let binDir: String

    func run(_ report: Report) throws {
        let cluster = try ProcessCluster.hubWithTwoMembers(root: workDir + "/catchup", binDir: binDir)
        defer { cluster.shutdown() }
        let writer = try cluster.replicaID("asker")
        cluster.stop("baerum")

        progress("catch-up: \(ops) ops at asker while baerum is offline")
        let workload = Workload(records: max(1000, ops / 50), seed: 41)
        let t0 = now()
        let last = try cluster.writeBatches("asker", workload.stream(ops: ops, seed: 43), batch: 5000)
        guard cluster.waitHolds("brussels", origin: writer, counter: last, timeout: 1200, interval: 0.05) else {
            throw BenchFailure("the hub did not receive the ops")
        }
        let produced = now() - t0
        progress(String(format: "catch-up: ops produced in %.1f s; starting baerum", produced))
        let t1 = now()
        try cluster.start("baerum")
        guard cluster.waitHolds("baerum", origin: writer, counter: last, timeout: 1200, interval: 0.01) else {
            throw BenchFailure("baerum did not catch up")
        }
        let seconds = now() - t1
        report.details["catchup"] = ["ops": ops, "seconds": seconds, "ops_per_second": Double(ops) / seconds,
                                     "production_seconds": produced, "pull_page_ops": NodeConfig.defaultPageSize]
        var row = ResultRow(benchmark: "Catch-up", metric: "offline member reconnects, \(ops) ops missed, until converged",
                            value: seconds, unit: "s", target: "< 10 s")
        row.met = seconds < 10
        report.add(row)
    }
}

/// Snapshot bootstrap and memory: the hub's store is filled with `records` realistic records
/// written by the hub and then compacted (exactly what the hub's `persistCompaction` writes
/// once every live node holds everything: ops dropped, floors raised), so a new member's Pull
/// gets SNAPSHOT_REQUIRED and it bootstraps by snapshot pages. Measured: from starting the new
/// member's process to its version covering the hub's. Memory: peak RSS (VmHWM) of the hub
/// after loading the records, of the new member after bootstrapping, and of the new member
/// restarted (loading its million records from its own store).
struct SnapshotBench {
    let records: Int
    let workDir: String
    let binDir: String

    static func fillStore(path: String, node: String, records: Int) throws -> VersionVector {
        let store = try Store(path: path)
        let id = try store.identity(node: node)
        var replica = Replica(id: id, wallClock: { 1_764_000_000_000 })
        var rng = SplitMix64(seed: 51)
        var ops: [Op] = []
        var keys: [RecordKey] = []
        func flush() throws {
            try store.commit(ops: ops, records: keys.map { ($0, replica.record($0)!) }, version: replica.version, floor: replica.logFloor)
            replica.compact(below: replica.version)
            ops.removeAll(keepingCapacity: true)
            keys.removeAll(keepingCapacity: true)
        }
        for i in 0..<records {
            let org = rng.pick(Vocabulary.organisations)
            let first = rng.pick(Vocabulary.firstNames), last = rng.pick(Vocabulary.lastNames)
            let key = RecordKey(collection: "contacts", id: "\(first)-\(last)-\(i)")
            let op = try replica.write(key, [
                .assign(field: "name", value: .string("\(first.capitalized) \(last.capitalized)")),
                .assign(field: "organisation", value: .string(org)),
                .assign(field: "role", value: .string(rng.pick(Vocabulary.roles))),
                .assign(field: "email", value: .string("\(first).\(last)@\(org).kommune.no")),
                .assign(field: "phone", value: .string("+47 \(10 + rng.below(89)) \(10 + rng.below(89)) \(10 + rng.below(89)) \(10 + rng.below(89))")),
                .add(field: "topics", element: rng.pick(Vocabulary.topics)),
            ])
            ops.append(op)
            keys.append(key)
            if ops.count == 10_000 { try flush() }
        }
        if !ops.isEmpty { try flush() }
        try store.compact(floor: replica.version, version: replica.version)
        return replica.version
    }

    func run(_ report: Report) throws {
        let cluster = try ProcessCluster(root: workDir + "/snapshot", binDir: binDir)
        defer { cluster.shutdown() }
        try cluster.configure("brussels")
        progress("snapshot: writing \(records) records into the hub's store")
        let t0 = now()
        let hubVersion = try Self.fillStore(path: cluster.dataDir("brussels") + "/" + Store.fileName, node: "brussels", records: records)
        let fill = now() - t0
        let t1 = now()
        try cluster.start("brussels", timeout: 600)
        let hubLoad = now() - t1
        let hubMemory = cluster.pid("brussels").flatMap(memoryOf(pid:))
        progress(String(format: "snapshot: hub loaded %d records in %.1f s; starting new member", records, hubLoad))

        try cluster.configure("hamar", hubs: ["brussels"])
        let t2 = now()
        try cluster.start("hamar")
        let target = hubVersion.entries.first!
        let key = target.key.description
        guard cluster.waitHolds("hamar", origin: key, counter: target.value, timeout: 1800, interval: 0.01) else {
            throw BenchFailure("the new member did not finish its snapshot")
        }
        let bootstrap = now() - t2
        let memberMemory = cluster.pid("hamar").flatMap(memoryOf(pid:))
        let held = (try? cluster.control("hamar", ["command": "version"]) as? [String: Any])?["records"] as? Int ?? 0

        cluster.stop("hamar")
        let t3 = now()
        try cluster.start("hamar", timeout: 600)
        let restartLoad = now() - t3
        let restartedMemory = cluster.pid("hamar").flatMap(memoryOf(pid:))

        report.details["snapshot"] = [
            "records": records, "records_at_new_member": held, "fill_seconds": fill, "hub_load_seconds": hubLoad,
            "bootstrap_seconds": bootstrap, "member_restart_load_seconds": restartLoad,
            "hub_peak_rss_bytes": hubMemory?.peak ?? 0, "member_after_bootstrap_peak_rss_bytes": memberMemory?.peak ?? 0,
            "member_restarted_peak_rss_bytes": restartedMemory?.peak ?? 0, "member_restarted_rss_bytes": restartedMemory?.current ?? 0,
        ]
        var row = ResultRow(benchmark: "Snapshot", metric: "new member bootstraps \(records) records (hub compacted)",
                            value: bootstrap, unit: "s", target: "< 10 s")
        row.met = bootstrap < 10 && held >= records
        report.add(row)
        report.add(ResultRow(benchmark: "Snapshot", metric: "node restart: load \(records) records from its store", value: restartLoad, unit: "s"))
        for (name, m) in [("member holding \(records) records, restarted (load from store)", restartedMemory),
                          ("new member after snapshot bootstrap", memberMemory),
                          ("hub holding \(records) records, after start", hubMemory)] {
            var r = ResultRow(benchmark: "Memory", metric: "peak RSS (VmHWM), \(name)", value: Double(m?.peak ?? 0), unit: "bytes",
                              target: "< 300 MB")
            r.met = (m?.peak ?? Int.max) < 300_000_000
            report.add(r)
        }
    }
}
