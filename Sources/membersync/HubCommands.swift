import ArgumentParser
import Foundation
import MemberSyncConfig
import MemberSyncModel
import MemberSyncNode

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
            let nodes = try options.client.call(["command": "nodes"]) as? [JSONObject] ?? []
            if options.json { Output.json(nodes); return }
            let rows = nodes.map { n -> [String] in
                var roster = (n["in_roster"] as? Bool ?? false) ? "yes" : "no"
                if n["revoked"] as? Bool ?? false { roster = "revoked" }
                let name = Output.text(n["node_id"] ?? "") + ((n["self"] as? Bool ?? false) ? " (this node)" : "")
                return [name, Output.text(n["organisation"] ?? "-"), Output.text(n["role"] ?? "-"), roster,
                        (n["connected"] as? Bool ?? false) ? "yes" : "no", Output.text(n["last_seen"] ?? "-"),
                        n["ops_behind"].map(Output.text) ?? "-",
                        Output.text(n["software_version"] ?? "-") + (n["protocol"].map { " / MSP \(Output.text($0))" } ?? "")]
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
            var request: JSONObject = ["command": "admit", "node_id": nodeID, "organisation": organisation, "role": role]
            if let curveKey { request["curve_key"] = curveKey }
            if let signingKey { request["signing_key"] = signingKey }
            if !endpoints.isEmpty { request["endpoints"] = endpoints }
            if acceptRevokedEdits { request["accept_revoked_edits"] = true }
            let r = try options.client.call(request) as? JSONObject ?? [:]
            if options.json { Output.json(r); return }
            print("\((r["updated"] as? Bool ?? false) ? "updated" : "admitted") \(nodeID) (organisation \(organisation)) in the roster")
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
            let r = try options.client.call(["command": "revoke", "node_id": nodeID]) as? JSONObject ?? [:]
            if options.json { Output.json(r); return }
            print((r["changed"] as? Bool ?? false) ? "revoked \(nodeID)" : "\(nodeID) was already revoked")
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
            let r = try options.client(timeoutSeconds: 120).call(["command": "compact"]) as? JSONObject ?? [:]
            if options.json { Output.json(r); return }
            print("dropped \(Output.text(r["dropped"] ?? 0)) op(s); \(Output.text(r["ops_in_log"] ?? 0)) left in the log")
            if let note = r["note"] { print("note: \(Output.text(note))") }
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
            let r = try options.client(timeoutSeconds: 600).call(["command": "snapshot", "path": path, "force": force]) as? JSONObject ?? [:]
            if options.json { Output.json(r); return }
            print("wrote \(path): \(Output.text(r["records"] ?? 0)) record(s), \(Output.text(r["ops_in_log"] ?? 0)) op(s), \(Output.text(r["bytes"] ?? 0)) bytes")
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
            let r = try options.client(timeoutSeconds: 600).call(["command": "restore", "path": path]) as? JSONObject ?? [:]
            if options.json { Output.json(r); return }
            print(Output.aligned([
                ("restored from", "\(path) (replica \(Output.text(r["backup_replica"] ?? "")))"),
                ("records", "\(Output.text(r["records_in_backup"] ?? 0)) in the snapshot, \(Output.text(r["records_changed"] ?? 0)) changed here, \(Output.text(r["records_created"] ?? 0)) of them new"),
                ("ops", "\(Output.text(r["ops_in_backup"] ?? 0)) in the snapshot, \(Output.text(r["ops_added"] ?? 0)) new here, \(Output.text(r["ops_rejected"] ?? 0)) rejected"),
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
            let s = try options.client.call(["command": "stats"]) as? JSONObject ?? [:]
            if options.json { Output.json(s); return }
            let records = (s["records"] as? JSONObject ?? [:]).sorted { $0.key < $1.key }.map { "\($0.key) \(Output.text($0.value))" }.joined(separator: ", ")
            let floor = (s["log_floor"] as? JSONObject ?? [:]).sorted { $0.key < $1.key }.map { "\($0.key)=\(Output.text($0.value))" }.joined(separator: " ")
            let rejected = (s["ops_rejected"] as? JSONObject ?? [:]).sorted { $0.key < $1.key }.map { "\($0.key) \(Output.text($0.value))" }.joined(separator: ", ")
            let since = s["counters_since"].map { "since start, \(Output.text($0))" } ?? "since start"
            print(Output.aligned([
                ("node", "\(Output.text(s["node_id"] ?? "")) (\(Output.text(s["role"] ?? "")))"),
                ("records", "\(Output.text(s["records_total"] ?? 0)): \(records)"),
                ("deleted records", Output.text(s["records_deleted"] ?? 0)),
                ("ops in log", Output.text(s["ops_in_log"] ?? 0)),
                ("log floor", floor.isEmpty ? "- (nothing compacted)" : floor),
                ("conflicts", Output.text(s["conflicts"] ?? 0)),
                ("ops applied", "\(Output.text(s["ops_applied"] ?? 0)) (\(since))"),
                ("ops rejected", "\(Output.text(s["ops_rejected_total"] ?? 0))" + (rejected.isEmpty ? "" : " (\(rejected))") + " (\(since))"),
                ("local writes", "\(Output.text(s["local_writes"] ?? 0)) (\(since))"),
                ("connected nodes", "\(Output.text(s["connected_nodes"] ?? 0)) of \(Output.text(s["known_nodes"] ?? 0)) known"),
                ("store", "\(Output.text(s["store_file"] ?? "")), \(Output.text(s["store_bytes"] ?? 0)) bytes"),
            ]))
        }
    }
}
