import Foundation
import MemberSyncControl
import MemberSyncDirectory
import MemberSyncHarness
import MemberSyncModel
import MemberSyncNode
import MemberSyncStore
import ZeroMQ

#if canImport(Glibc)
import Glibc
#endif

// membersync-chaos: a Jepsen-style test of MemberSync. Real daemons (a hub and members) on a
// secure federation (CURVE, admission, signed ops, write rules), a seeded concurrent
// workload through the CLI, and random faults (among them partner removals and revocations
// racing the edits) (SIGKILL + restart,
// SIGSTOP/SIGCONT, hub down, partitions, a slowed subscriber). Then the network heals and it
// checks convergence, that no acknowledged write was lost, equal conflict lists and sound
// databases. It prints the seed and closes with `N passed, N failed`.

func usage() -> Never {
    say("usage: membersync-chaos [--seed N] [--duration SECONDS] [--members N] [--writers-per-member N] [--keep]")
    exit(64)
}

/// Unbuffered output, so progress shows up at once even when piped.
func say(_ s: String) {
    FileHandle.standardOutput.write(Data((s + "\n").utf8))
}

final class Log: @unchecked Sendable {
    private let lock = NSLock()
    private(set) var acked: [AckedWrite] = []
    var attempts = 0
    func add(_ w: AckedWrite?) {
        lock.lock(); attempts += 1; if let w { acked.append(w) }; lock.unlock()
    }
    var snapshot: (acked: [AckedWrite], attempts: Int) { lock.lock(); defer { lock.unlock() }; return (acked, attempts) }
}

func runChaos() -> Int32 {

    var seed = UInt64(Date().timeIntervalSince1970 * 1000) % 1_000_000
    var duration: TimeInterval = 60
    var memberCount = 4
    var keep = false
    var writersPerMember = 2
    var argv = CommandLine.arguments.dropFirst()
    while let a = argv.popFirst() {
        switch a {
        case "--seed": guard let v = argv.popFirst(), let s = UInt64(v) else { usage() }; seed = s
        case "--duration": guard let v = argv.popFirst(), let d = Double(v), d > 0 else { usage() }; duration = d
        case "--members": guard let v = argv.popFirst(), let n = Int(v), (2...12).contains(n) else { usage() }; memberCount = n
        case "--writers-per-member": guard let v = argv.popFirst(), let n = Int(v), (1...8).contains(n) else { usage() }; writersPerMember = n
    case "--keep": keep = true
        default: usage()
        }
    }

    signal(SIGPIPE, SIG_IGN)
    let binDir = URL(fileURLWithPath: CommandLine.arguments[0]).resolvingSymlinksInPath().deletingLastPathComponent().path
    let names = ["asker", "baerum", "hamar", "oslomet", "drammen", "kongsberg", "lillestrom", "ringsaker", "stange", "elverum", "loten", "flesberg"]
    let root = NSTemporaryDirectory() + "membersync-chaos-\(seed)-\(getpid())"
    let cluster: Cluster
    do { cluster = try Cluster(root: root, binDir: binDir, hub: "brussels", members: Array(names.prefix(memberCount))) } catch {
        say("chaos: cannot create \(root): \(error)")
        say("0 passed, 1 failed")
        return 1
    }
    say("chaos: seed \(seed) (replay with --seed \(seed)), \(memberCount) members + hub, \(Int(duration)) s of faults, data in \(root)")

    var passed = 0, failed = 0
    func report(_ ok: Bool, _ what: String) {
        if ok { passed += 1 } else { failed += 1 }
        say("\(ok ? "PASS" : "FAIL") \(what)")
    }

    do {
        try cluster.setUp(heartbeatMs: 150, pubHighWaterMark: 50)
        try cluster.start(cluster.hub)
        try cluster.admitMembers(projects: Workload.projects)
        for n in cluster.members { try cluster.start(n) }
    } catch {
        say("chaos: cannot set up: \(error)")
        cluster.shutdown()
        say("0 passed, 1 failed")
        return 1
    }

    // MARK: workload

    let log = Log()
    let deadline = Date().addingTimeInterval(duration)
    let writers = DispatchGroup()
    // Per member: one writer through the CLI (the path people use) and the rest straight to
    // the control socket (the same protocol, without a process per edit). The hub operator
    // writes too (through its control socket), so members' own records see concurrent edits.
    let context = try! ZMQContext()
    let writerNodes = cluster.members.flatMap({ m in Array(repeating: m, count: writersPerMember) }) + [cluster.hub]
    for (i, m) in writerNodes.enumerated() {
        writers.enter()
        let writerSeed = seed &* 31 &+ UInt64(i)
        let viaCLI = m != cluster.hub && i % writersPerMember == 0
        let dataDir = cluster.dataDir(m)
        Thread {
            // The same protocol the CLI speaks, without a process per edit, so the workload
            // reaches thousands of edits; a call that gets no answer in time is dropped.
            let client = ControlClient(dataDir: dataDir, timeoutMilliseconds: 3000, context: context)
            var rng = SeededRandom(seed: writerSeed)
            var n = 0
            while Date() < deadline {
                n += 1
                let (args, kind, key) = Workload.next(&rng, writer: m, members: cluster.members, isHub: m == cluster.hub, n: n)
                var reply: WriteResult?
                if viaCLI {
                    let r = cluster.on(m, args + ["--json"], timeout: 3)
                    if r.status == 0 { reply = try? JSONCoding.decode(WriteResult.self, from: Array(r.stdout.utf8)) }
                } else {
                    reply = args[0] == "delete" ? try? client.call(Control.Delete(key: key))
                        : try? client.call(Control.SetFields(key: key, changes: Array(args.dropFirst(2))))
                    if reply == nil { usleep(20_000) }
                }
                let acked = reply.map { AckedWrite(node: m, key: key, kind: kind, origin: $0.origin, counter: $0.counter) }
                log.add(acked)
            }
            writers.leave()
        }.start()
    }

    // MARK: faults

    var rng = SeededRandom(seed: seed)
    var faultCounts: [String: Int] = [:]
    func pause(_ lo: Double, _ hi: Double) { usleep(UInt32(Double.random(in: lo...hi, using: &rng) * 1_000_000)) }
    while Date() < deadline.addingTimeInterval(-2) {
        pause(0.3, 1.0)
        let victim = cluster.members.randomElement(using: &rng)!
        switch Int.random(in: 0..<8, using: &rng) {
        case 0:
            faultCounts["sigkill+restart", default: 0] += 1
            cluster.killHard(victim)
            pause(0.3, 1.5)
            do { try cluster.start(victim) } catch { say("chaos: restart of \(victim) failed: \(error)") }
        case 1:
            faultCounts["sigstop/sigcont", default: 0] += 1
            cluster.signal(victim, SIGSTOP)
            pause(0.5, 2.5)
            cluster.signal(victim, SIGCONT)
        case 2:
            faultCounts["hub down", default: 0] += 1
            if Bool.random(using: &rng) { cluster.killHard(cluster.hub) } else { cluster.stop(cluster.hub) }
            pause(1.0, 3.0)
            do { try cluster.start(cluster.hub) } catch { say("chaos: restart of hub failed: \(error)") }
        case 3, 4:
            faultCounts["partition", default: 0] += 1
            let cut = cluster.links(touching: victim)
            for l in cut { l.router.setCut(true); l.pub.setCut(true) }
            pause(1.0, 3.0)
            for l in cut { l.router.setCut(false); l.pub.setCut(false) }
        case 6:
            // Rights racing edits: the hub operator removes the victim from a project it keeps
            // editing, then puts it back. Edits the removal did not see are refused on every
            // node while it holds, and come back with the re-admission (MSP 11.7).
            faultCounts["partner removal", default: 0] += 1
            let project = Workload.projects.randomElement(using: &rng)!
            _ = cluster.on(cluster.hub, ["set", project, "partners-=\(victim)"])
            pause(0.5, 2.0)
            _ = cluster.on(cluster.hub, ["set", project, "partners+=\(victim)"])
        case 7:
            // Revocation and re-admission: the victim is refused at every node and its ops after
            // the counters the revocation accepts are refused everywhere; re-admitted, they count.
            faultCounts["revocation + re-admission", default: 0] += 1
            _ = cluster.cli(["hub", "revoke", "--data-dir", cluster.dataDir(cluster.hub), victim])
            pause(1.0, 3.0)
            // The workload (the hub's writer too, concurrently) may delete the victim's
            // organisation; `hub admit` rightly wants it in the directory, so the operator puts
            // it back first, and again if a delete slipped in between.
            var readmitted = false
            for attempt in 1...5 where !readmitted {
                _ = cluster.on(cluster.hub, ["set", "organisations/\(victim)", "name=\(victim)"])
                do { try cluster.admit(victim); readmitted = true } catch {
                    if attempt == 5 { say("chaos: re-admission of \(victim) failed: \(error)") }
                }
            }
        default:
            faultCounts["slow subscriber", default: 0] += 1
            let l = cluster.links[Cluster.linkKey(victim, cluster.hub)]!
            l.pub.setThrottle(microseconds: 200_000)
            pause(1.0, 3.0)
            l.pub.setThrottle(microseconds: 0)
        }
    }
    writers.wait()

    // MARK: heal and check

    for l in cluster.links.values {
        l.router.setCut(false); l.pub.setCut(false); l.pub.setThrottle(microseconds: 0)
    }
    for n in cluster.all {
        cluster.signal(n, SIGCONT)
        if !cluster.isRunning(n) { try? cluster.start(n) }
    }
    let (acked, attempts) = log.snapshot
    say("chaos: faults injected: " + faultCounts.sorted { $0.key < $1.key }.map { "\($0.key) \($0.value)" }.joined(separator: ", "))
    say("chaos: \(attempts) edits attempted, \(acked.count) acknowledged")
    let expected = max(100, min(1000, Int(duration * 25)))
    report(acked.count >= expected, "workload: at least \(expected) acknowledged edits (\(acked.count))")

    let healStart = Date()
    var digests: [String: String] = [:]
    let converged = waitUntil(timeout: 90, interval: 0.2) {
        digests = [:]
        for n in cluster.all { digests[n] = cluster.digest(n, timeout: 5) ?? "unreachable" }
        return Set(digests.values).count == 1 && !digests.values.contains("unreachable")
    }
    let convergeSeconds = Date().timeIntervalSince(healStart)
    report(converged, String(format: "every node reaches the same digest (took %.1f s after healing)", convergeSeconds))
    if !converged { for (n, d) in digests.sorted(by: { $0.key < $1.key }) { say("   \(n): \(d)") } }

    /// Field states per node and key, fetched once.
    var inspected: [String: [String: Control.Inspect.Result]] = [:]
    for n in cluster.all {
        for key in Set(acked.map(\.key)) {
            let out = cluster.on(n, ["inspect", key, "--json"], timeout: 10).stdout
            inspected[n, default: [:]][key] = try? JSONCoding.decode(Control.Inspect.Result.self, from: Array(out.utf8))
        }
    }

    /// An acknowledged write survives as a sibling, or its dot is covered by the register's
    /// causal context: a causally later write replaced it. Anything else is a lost write.
    func survives(_ w: AckedWrite, on node: String) -> Bool {
        guard let fields = inspected[node]?[w.key]?.fields else { return false }
        let register: Control.Inspect.Register?
        switch w.kind {
        case .assign(let f, _): register = fields[f].flatMap { f in f.siblings.map { .init(siblings: $0, context: f.context ?? [:]) } }
        case .add(let f, let e), .remove(let f, let e): register = fields[f]?.elements?[e]
        case .delete: register = fields["$exists"].flatMap { f in f.siblings.map { .init(siblings: $0, context: f.context ?? [:]) } }
        }
        guard let register else { return false }
        if register.siblings.contains(where: { $0.origin == w.origin && $0.counter == w.counter }) { return true }
        return (register.context[w.origin] ?? 0) >= w.counter
    }

    for n in cluster.all {
        let lost = acked.filter { !survives($0, on: n) }
        report(lost.isEmpty, "\(n): all \(acked.count) acknowledged writes present, superseded by a later write, or kept as conflict siblings")
        for w in lost.prefix(5) { say("   lost: \(w.key) \(w.kind) \(w.origin):\(w.counter) written at \(w.node)") }
    }

    func conflictList(_ n: String) -> String {
        let list = cluster.on(n, ["conflicts", "--json"]).json as? [[String: Any]] ?? []
        return list.map { c in
            let values = (c["values"] as? [[String: Any]] ?? []).map { "\($0["origin"] ?? "")=\($0["value"] ?? "")" }.sorted()
            return "\(c["key"] ?? "") \(c["field"] ?? "") \(values)"
        }.sorted().joined(separator: "\n")
    }
    let reference = conflictList(cluster.hub)
    let conflictCount = reference.isEmpty ? 0 : reference.split(separator: "\n").count
    for n in cluster.members {
        report(conflictList(n) == reference, "\(n): lists the same \(conflictCount) conflicts as the hub")
    }

    for n in cluster.all { cluster.stop(n) }
    for n in cluster.all {
        do {
            let store = try Store(path: cluster.dataDir(n) + "/" + Store.fileName)
            let integrity = try store.integrityCheck()
            let replica = try store.loadReplica(id: try store.identity(node: n), wallClock: { 0 })
            report(integrity == "ok" && replica.digest() == digests[n],
                   "\(n): database intact (integrity \(integrity)) and reloads to the converged digest")
        } catch {
            report(false, "\(n): database opens: \(error)")
        }
    }

    cluster.shutdown()
    if !keep && failed == 0 { try? FileManager.default.removeItem(atPath: root) }
    say("seed \(seed)")
    say("\(passed) passed, \(failed) failed")
    return failed == 0 ? 0 : 1

}

exit(runChaos())
