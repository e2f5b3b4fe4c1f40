import Foundation
import MemberSyncHarness
import MemberSyncModel
import MemberSyncStore
import XCTest

/// Crash consistency on a secure federation of real daemons: each node is SIGKILLed at a
/// point inside every write path (local edit, import batch, catch-up page, snapshot page,
/// checkpoint, compaction, restore), by the daemon's own crash points (`MEMBERSYNC_CRASH_AT`)
/// so the kill lands inside the path and not merely near it. After each crash the node is
/// restarted (sometimes twice, with more writes and checkpoints between) and checked: every
/// write the CLI acknowledged is present on every node once they converge, digests agree,
/// and each store passes `PRAGMA integrity_check` and its row checksums.
///
/// Seeded: the seed picks the crash phase (inside the transaction or right after it), which
/// pass of a point kills, batch sizes and the double restarts. A failure prints the seed;
/// `MEMBERSYNC_CRASH_SEED=N swift test --filter CrashConsistencyTests` replays it.
final class CrashConsistencyTests: XCTestCase {
    var fed: Federation!
    var rng = SeededRandom(seed: 0)
    var seed: UInt64 = 0
    /// Every acknowledged write: record key -> the name it was given.
    var acked: [String: String] = [:]
    var written = 0
    let members = ["asker", "baerum"]
    var everyone: [String] { ["brussels"] + members }

    override func setUpWithError() throws {
        seed = ProcessInfo.processInfo.environment["MEMBERSYNC_CRASH_SEED"].flatMap { UInt64($0) } ?? UInt64.random(in: 1...999_999)
        rng = SeededRandom(seed: seed)
        fed = try Federation(heartbeatMs: 100, secure: true)
        print("crash consistency: seed \(seed) (replay with MEMBERSYNC_CRASH_SEED=\(seed))")
    }

    override func tearDown() { fed?.shutdown() }

    var replay: String { "seed \(seed): replay with MEMBERSYNC_CRASH_SEED=\(seed)" }

    func below(_ n: Int) -> Int { Int(rng.next() % UInt64(n)) }
    func phase() -> String { below(2) == 0 ? "mid" : "committed" }

    // MARK: writes

    /// `set` of a new contact on `node`; remembered when acknowledged.
    @discardableResult
    func edit(_ node: String) -> Bool {
        written += 1
        let key = "contacts/\(node)-e\(written)", name = "Edit \(written)"
        let ok = fed.on(node, "set", key, "name=\(name)", "organisation=\(node)").status == 0
        if ok { acked[key] = name }
        return ok
    }

    /// `import` of `count` new contacts on `node`, in one batch; remembered when acknowledged.
    @discardableResult
    func importContacts(_ node: String, _ count: Int) -> Bool {
        written += 1
        let batch = written
        var lines: [String] = [], names: [String: String] = [:]
        for i in 0..<count {
            let key = "contacts/\(node)-i\(batch)-\(i)", name = "Import \(batch) \(i)"
            names[key] = name
            lines.append(#"{"key":"\#(key)","fields":{"name":"\#(name)","organisation":"\#(node)"}}"#)
        }
        let file = fed.root + "/import-\(batch).jsonl"
        FileManager.default.createFile(atPath: file, contents: Data(lines.joined(separator: "\n").utf8))
        let r = fed.cli(["import", "--data-dir", fed.dataDir(node), file, "--batch-size", "5000"], timeout: 60)
        if r.status == 0 { acked.merge(names) { _, new in new } }
        return r.status == 0
    }

    /// `membersync hub SUBCOMMAND --data-dir <hub> ARGS...`
    @discardableResult
    func hub(_ sub: String, _ args: String...) -> CommandResult {
        fed.cli(["hub", sub, "--data-dir", fed.dataDir("brussels")] + args, timeout: 60)
    }

    // MARK: crashes

    /// Restarts `node` armed to die at pass `pass` of `point`, runs `action`, and checks that
    /// the node did die there (a crash point that is never reached tests nothing).
    func crash(_ node: String, at point: String, pass: Int = 1, _ action: () -> Void) throws {
        let started = Date()
        defer { print("crash consistency: \(node) killed at \(point):\(pass) (\(String(format: "%.1f", Date().timeIntervalSince(started))) s)") }
        fed.stop(node)
        try fed.start(node, crashAt: "\(point):\(pass)")
        action()
        XCTAssertTrue(waitUntil(timeout: 20) { !self.fed.isRunning(node) }, "\(node) never reached \(point):\(pass); \(replay)\n\(fed.log(node).suffix(2000))")
        fed.killHard(node)
    }

    /// Starts a crashed node again; with the seed's say-so stops and starts it once more
    /// after more writes (the second start loads what the first one checkpointed).
    func restart(_ node: String) throws {
        try fed.start(node)
        if below(2) == 0 {
            importContacts(node == "brussels" ? "asker" : node, 50 + below(150))
            fed.stop(node)  // clean: a shutdown checkpoint
            try fed.start(node)
        }
    }

    // MARK: checks

    /// Every node converges and holds every acknowledged write.
    func verify(_ what: String, file: StaticString = #filePath, line: UInt = #line) {
        let started = Date()
        defer { print("crash consistency: \(what) verified (\(String(format: "%.1f", Date().timeIntervalSince(started))) s, \(acked.count) acknowledged writes)") }
        XCTAssertNotNil(fed.converge(everyone, timeout: 45), "after \(what): nodes did not converge (\(everyone.map { fed.digest($0) ?? "-" })); \(replay)",
                        file: file, line: line)
        for node in everyone {
            let held = exported(node)
            let missing = acked.filter { held[$0.key] != $0.value }.map(\.key).sorted()
            XCTAssertTrue(missing.isEmpty, "after \(what): \(node) lacks \(missing.count) acknowledged write(s), e.g. \(missing.prefix(3)); \(replay)",
                          file: file, line: line)
        }
    }

    /// Contact names as `export` prints them.
    func exported(_ node: String) -> [String: String] {
        let r = fed.cli(["export", "--data-dir", fed.dataDir(node), "contacts"], timeout: 60)
        var out: [String: String] = [:]
        for line in r.stdout.split(separator: "\n") {
            guard let o = try? JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any],
                  let key = o["key"] as? String, let fields = o["fields"] as? [String: Any], let name = fields["name"] as? String else { continue }
            out[key] = name
        }
        return out
    }

    /// Stopped, each store is sound: SQLite's own check and every row's checksum.
    func verifyStores() throws {
        for node in everyone {
            fed.stop(node)
            let store = try Store(path: fed.dataDir(node) + "/" + Store.fileName, mustExist: true)
            XCTAssertEqual(try store.integrityCheck(), "ok", "\(node); \(replay)")
            let id = try XCTUnwrap(try store.storedIdentity())
            XCTAssertNoThrow(try store.loadReplica(id: id, wallClock: { 0 }), "\(node) loads with every checksum matching; \(replay)")
        }
    }

    // MARK: the run

    func testEveryWritePathSurvivesASigkillInsideIt() throws {
        try fed.initNode("brussels", hub: true, organisation: "oslo-region-european-office")
        for m in members + ["hamar"] { try fed.initNode(m, hubs: ["brussels"]) }
        try fed.start("brussels")
        for m in members + ["hamar"] { fed.admit(m) }
        for m in members { try fed.start(m) }
        for m in members { for _ in 0..<3 { XCTAssertTrue(edit(m), "a plain edit works; \(replay)") } }
        verify("start")

        // Local edits: killed inside the commit of the Nth edit; the CLI never hears "ok".
        try crash("asker", at: "local.\(phase())", pass: 1 + below(4)) {
            for _ in 0..<8 { if !edit("asker") { break } }
        }
        try restart("asker")
        edit("asker")
        verify("local edit")

        // An import batch.
        importContacts("baerum", 100)
        try crash("baerum", at: "import.\(phase())") { importContacts("baerum", 200 + below(800)) }
        try restart("baerum")
        verify("import")

        // A catch-up page: baerum is down while asker imports, and dies applying what it missed.
        fed.stop("baerum")
        importContacts("asker", 2000 + below(2000))
        try crash("baerum", at: "ops.\(phase())") {}
        try restart("baerum")
        verify("catch-up")

        // A checkpoint: the shutdown checkpoint after a bulk import (records deferred).
        importContacts("asker", 500 + below(500))
        try crash("asker", at: "checkpoint.\(phase())") {
            importContacts("asker", 300)
            fed.signal("asker", SIGTERM)
        }
        try restart("asker")
        verify("checkpoint")

        // Compaction on the hub.
        try crash("brussels", at: "compaction.\(phase())") {
            // Compaction needs ops every live member holds, and the restarted hub must have
            // heard from the members again: edit, wait, compact, until it dies there.
            _ = waitUntil(timeout: 20) {
                self.edit("asker")
                _ = self.fed.converge(self.everyone, timeout: 3)
                self.hub("compact")
                return !self.fed.isRunning("brussels")
            }
        }
        try restart("brussels")
        verify("compaction")

        // A snapshot page: a new member bootstraps from the compacted hub.
        edit("asker")
        _ = fed.converge(everyone, timeout: 10)
        hub("compact")
        try fed.start("hamar", crashAt: "snapshot.\(phase()):1")
        XCTAssertTrue(waitUntil(timeout: 20) { !self.fed.isRunning("hamar") }, "hamar never loaded a snapshot page; \(replay)\n\(fed.log("hamar").suffix(2000))")
        fed.killHard("hamar")
        try fed.start("hamar")
        XCTAssertNotNil(fed.converge(everyone + ["hamar"], timeout: 45), "the new member completes its snapshot after the crash; \(replay)")
        fed.stop("hamar")

        // A restore on the hub: a backup merged back in.
        let backup = fed.root + "/hub-backup.sqlite"
        XCTAssertEqual(hub("snapshot", backup).status, 0)
        edit("asker")
        try crash("brussels", at: "restore.\(phase())") { self.hub("restore", backup) }
        try restart("brussels")
        edit("baerum")
        verify("restore")

        try verifyStores()
    }
}
