import ArgumentParser
import Foundation
import MemberSyncConfig
import MemberSyncControl
import MemberSyncDirectory
import MemberSyncModel

/// `membersync hub …`: the hub operator's commands. Roster changes and compaction are refused
/// by member nodes; the others report on whichever node they are pointed at.
struct Hub: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Hub operator commands: the roster, compaction, snapshots and statistics.",
        subcommands: [HubNodes.self, HubAdmit.self, HubRevoke.self, HubCompact.self, HubSnapshot.self, HubRestore.self, HubStats.self])
}

/// An absolute path: the node resolves paths itself and does not share our working directory.
func absolute(_ path: String) -> String {
    URL(fileURLWithPath: path, relativeTo: URL(fileURLWithPath: FileManager.default.currentDirectoryPath, isDirectory: true))
        .standardizedFileURL.path
}

struct HubNodes: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "nodes",
        abstract: "List every node in the roster or that has said hello: connected or not, last seen, ops behind, versions.")
    @OptionGroup var options: NodeOptions

    func run() throws {
        try runReporting {
            let nodes = try options.client.request(Control.Nodes())
            if options.json { Output.json(nodes); return }
            let rows = nodes.map { n -> [String] in
                var roster = n.inRoster ? "yes" : "no"
                if n.revoked ?? false { roster = "revoked" }
                let name = n.nodeID + (n.isSelf ? " (this node)" : "")
                return [name, n.organisation ?? "-", n.role ?? "-", roster, n.connected ? "yes" : "no", n.lastSeen ?? "-",
                        n.opsBehind.map { "\($0)" } ?? "-",
                        (n.softwareVersion ?? "-") + (n.protocol.map { " / MSP \($0)" } ?? "")]
            }
            print(Output.table(["NODE", "ORGANISATION", "ROLE", "ROSTER", "CONNECTED", "LAST SEEN", "BEHIND", "SOFTWARE / PROTOCOL"], rows))
            print("\(nodes.count) node(s)")
        }
    }
}

struct HubAdmit: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "admit",
        abstract: "Add a node to the roster (nodes/NODE-ID), or update its entry and clear a revocation.",
        discussion: """
            Hub only. Every node admits connections only from roster keys and accepts ops only \
            from roster signing keys, within the node's rights. Re-admitting a revoked node keeps \
            refusing the edits it made while revoked (they are held without effect on every node) \
            unless --accept-revoked-edits is given.
            """)
    @OptionGroup var options: NodeOptions
    @Argument(help: "The node's id.") var nodeID: String
    @Option(help: "The organisation the node belongs to (organisations/<id>, which must exist).") var organisation: String
    @Option(name: .customLong("curve-key"), help: "The node's CURVE public key (Z85, 40 characters).") var curveKey: String?
    @Option(name: .customLong("signing-key"), help: "The node's op-signing public key (64 hex digits, as in signing.pub).") var signingKey: String?
    @Option(help: "member or hub.") var role: String = "member"
    @Option(name: .customLong("endpoint"), help: "An endpoint of the node; repeat for several.") var endpoints: [String] = []
    @Flag(name: .customLong("accept-revoked-edits"),
          help: "When re-admitting a revoked node, also accept the edits it made while revoked.") var acceptRevokedEdits = false

    func validate() throws {
        guard isValidSlug(nodeID) else { throw ValidationError("NODE-ID '\(nodeID)' must be a lowercase slug (a-z, 0-9, '-')") }
        guard isValidSlug(organisation) else { throw ValidationError("--organisation '\(organisation)' must be a lowercase slug") }
        guard ["member", "hub"].contains(role) else { throw ValidationError("--role must be member or hub") }
    }

    func run() throws {
        try runReporting {
            // Checked here too, before anything is sent, so a typo never reaches the roster
            // (the node checks again, and that the organisation exists).
            if let curveKey, let why = KeyText.curveKeyProblem(curveKey) { throw CLIFailure(message: "--curve-key: \(why)", code: 1) }
            if let signingKey, let why = KeyText.signingKeyProblem(signingKey) { throw CLIFailure(message: "--signing-key: \(why)", code: 1) }
            let r = try options.client.request(Control.Admit(nodeID: nodeID, organisation: organisation, role: role, curveKey: curveKey, signingKey: signingKey,
                                                             endpoints: endpoints.isEmpty ? nil : endpoints, acceptRevokedEdits: acceptRevokedEdits ? true : nil))
            if options.json { Output.json(r); return }
            print("\(r.updated ? "updated" : "admitted") \(nodeID) (organisation \(organisation)) in the roster")
        }
    }
}

struct HubRevoke: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "revoke", abstract: "Mark a node revoked in the roster. Hub only.")
    @OptionGroup var options: NodeOptions
    @Argument(help: "The node's id.") var nodeID: String

    func validate() throws {
        guard isValidSlug(nodeID) else { throw ValidationError("NODE-ID '\(nodeID)' must be a lowercase slug (a-z, 0-9, '-')") }
    }

    func run() throws {
        try runReporting {
            let r = try options.client.request(Control.Revoke(nodeID: nodeID))
            if options.json { Output.json(r); return }
            print(r.changed ? "revoked \(nodeID)" : "\(nodeID) was already revoked")
        }
    }
}

struct HubCompact: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "compact",
        abstract: "Drop from the op log every op that every live node holds, now. Hub only.")
    @OptionGroup var options: NodeOptions

    func run() throws {
        try runReporting {
            let r = try options.client(timeoutSeconds: 120).request(Control.Compact())
            if options.json { Output.json(r); return }
            print("dropped \(r.dropped) op(s); \(r.opsInLog) left in the log")
            if let note = r.note { print("note: \(note)") }
        }
    }
}

struct HubSnapshot: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "snapshot",
        abstract: "Write a consistent copy of the node's database to FILE while it runs.",
        discussion: "The file is written with mode 0600 (it holds the whole directory and roster). It holds no keys: keep the node's curve.key and signing.key (in its data directory) safe separately.")
    @OptionGroup var options: NodeOptions
    @Argument(help: "The file to write.", completion: .file()) var file: String
    @Flag(help: "Replace FILE if it exists.") var force = false

    func run() throws {
        try runReporting {
            let path = absolute(file)
            let r = try options.client(timeoutSeconds: 600).request(Control.Snapshot(path: path, force: force))
            if options.json { Output.json(r); return }
            print("wrote \(path): \(r.records) record(s), \(r.opsInLog) op(s), \(r.bytes) bytes")
        }
    }
}

struct HubRestore: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "restore",
        abstract: "Merge a snapshot file into the running node (a CRDT join: nothing newer is lost).")
    @OptionGroup var options: NodeOptions
    @Argument(help: "A file written by `membersync hub snapshot`.", completion: .file()) var file: String

    func run() throws {
        try runReporting {
            let path = absolute(file)
            let r = try options.client(timeoutSeconds: 600).request(Control.Restore(path: path))
            if options.json { Output.json(r); return }
            print(Output.aligned([
                ("restored from", "\(path) (replica \(r.backupReplica))"),
                ("records", "\(r.recordsInBackup) in the snapshot, \(r.recordsChanged) changed here, \(r.recordsCreated) of them new"),
                ("ops", "\(r.opsInBackup) in the snapshot, \(r.opsAdded) new here, \(r.opsRejected) rejected"),
            ]))
        }
    }
}

struct HubStats: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "stats",
        abstract: "Records per collection, op log size and floor, conflicts, ops applied and rejected, connected nodes, store size.",
        discussion: "Records, the op log, conflicts and the store are the node's state; ops applied, rejected and local writes are counted since the daemon started (they start from zero at every restart).")
    @OptionGroup var options: NodeOptions

    func run() throws {
        try runReporting {
            let s = try options.client.request(Control.Stats())
            if options.json { Output.json(s); return }
            let records = Output.pairs(s.records, separator: " ", joiner: ", ")
            let floor = Output.pairs(s.logFloor)
            let rejected = Output.pairs(s.opsRejected, separator: " ", joiner: ", ")
            let since = "since start, \(s.countersSince)"
            print(Output.aligned([
                ("node", "\(s.nodeID) (\(s.role))"),
                ("records", "\(s.recordsTotal): \(records)"),
                ("deleted records", "\(s.recordsDeleted)"),
                ("ops in log", "\(s.opsInLog)"),
                ("log floor", floor.isEmpty ? "- (nothing compacted)" : floor),
                ("conflicts", "\(s.conflicts)"),
                ("ops applied", "\(s.opsApplied) (\(since))"),
                ("ops rejected", "\(s.opsRejectedTotal)" + (rejected.isEmpty ? "" : " (\(rejected))") + " (\(since))"),
                ("local writes", "\(s.localWrites) (\(since))"),
                ("connected nodes", "\(s.connectedNodes) of \(s.knownNodes) known"),
                ("store", "\(s.storeFile), \(s.storeBytes) bytes"),
            ]))
        }
    }
}
