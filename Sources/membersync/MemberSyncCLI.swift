import ArgumentParser
import Foundation
import MemberSyncConfig
import MemberSyncControl
import MemberSyncCrypto
import MemberSyncDirectory
import MemberSyncModel

/// Options every command that talks to a node shares.
struct NodeOptions: ParsableArguments {
    @Option(name: .customLong("data-dir"), help: "The node's data directory (default: $MEMBERSYNC_DATA_DIR, else the current directory).",
            completion: .directory)
    var dataDir: String?

    @Flag(name: .customLong("json"), help: "Machine-readable JSON output.")
    var json = false

    var resolvedDataDir: String {
        dataDir ?? ProcessInfo.processInfo.environment["MEMBERSYNC_DATA_DIR"] ?? FileManager.default.currentDirectoryPath
    }

    var client: ControlClient { ControlClient(dataDir: resolvedDataDir) }
}

extension ControlClient {
    /// Sends one command and returns its result, or fails with the CLI's message and status:
    /// 2 when no node answers, 1 when the node refused the request.
    func request<C: ControlCommand>(_ command: C) throws -> C.Result {
        do { return try call(command) } catch {
            switch error {
            case .unreachable(let m): throw CLIFailure(message: m, code: 2)
            case .refused(let m): throw CLIFailure(message: m, code: 1)
            }
        }
    }
}

/// A failure the CLI reports as `membersync: MESSAGE` with an exit status.
struct CLIFailure: Error, CustomStringConvertible {
    let message: String
    let code: Int32
    var description: String { message }
}

/// Runs a command body, turning failures into `membersync: message` and an exit status.
func runReporting(_ body: () throws -> Void) throws {
    do {
        try body()
    } catch let f as CLIFailure {
        FileHandle.standardError.write(Data("membersync: \(f.message)\n".utf8))
        throw ExitCode(f.code)
    } catch let e as ControlError {
        FileHandle.standardError.write(Data("membersync: \(e.message)\n".utf8))
        throw ExitCode(1)
    } catch let e as ExitCode {
        throw e
    } catch let e as ValidationError {
        throw e
    } catch {
        FileHandle.standardError.write(Data("membersync: \(error)\n".utf8))
        throw ExitCode(1)
    }
}

@main
struct MemberSync: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "membersync",
        abstract: "Edit and inspect the MemberSync directory and project registry through your local node.",
        version: Release.version,
        subcommands: [Init.self, SetFields.self, Get.self, List.self, Delete.self, Conflicts.self, Status.self, RefusedCommand.self, SchemaCommand.self,
                      Show.self, Search.self, History.self, Resolve.self, Import.self, Export.self, CatchUp.self, NodesCommand.self, Doctor.self, Hub.self, Inspect.self,
                      WebLogin.self]
    )

    /// Accepts the shared options before the subcommand too (`GlobalOptions`).
    static func main() {
        main(GlobalOptions.hoisted(Array(CommandLine.arguments.dropFirst())))
    }
}

struct Init: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Create a node's data directory and its membersync.toml.")

    @Argument(help: "The data directory to create.") var directory: String
    @Option(name: .customLong("id"), help: "This node's id (a lowercase slug, unique in the federation).") var id: String
    @Option(help: "The organisation this office belongs to (organisations/<id>).") var organisation: String
    @Flag(help: "Make this node the hub.") var hub = false
    @Option(help: "ROUTER endpoint to bind, tcp://HOST:PORT (the PUB socket takes PORT+1).") var listen: String
    @Option(name: .customLong("hub-endpoint"), help: "A hub's endpoint; repeat in order of preference.") var hubEndpoints: [String] = []
    @Option(name: .customLong("peer"), help: "A fallback peer: its node id (endpoint and key then come from the roster) or its endpoint; repeat for several.") var peers: [String] = []
    @Option(name: .customLong("heartbeat-ms"), help: "Heartbeat interval in milliseconds.") var heartbeatMs: Int = 1000
    @Option(name: .customLong("hub-signing-key"), help: "A hub's signing key as HUB_ID:HEX (printed by the hub's init); repeat for several hubs.") var hubSigningKeys: [String] = []
    @Option(name: .customLong("hub-key"), help: "The CURVE public key (curve.pub) of each --hub-endpoint, repeated in the same order.") var hubKeys: [String] = []
    @Option(name: .customLong("peer-key"), help: "The CURVE public key (curve.pub) of each --peer given as an endpoint, repeated in the same order.") var peerKeys: [String] = []
    @Flag(help: "Trusted test network only: apply remote ops without verifying signatures or write rules.") var insecure = false
    @Option(name: .customLong("http-listen"), help: "HOST:PORT of the web page (default 127.0.0.1:7480), or off.") var httpListen: String?
    @Flag(help: "Overwrite an existing membersync.toml.") var force = false
    @Flag(name: .customLong("json"), help: "Machine-readable JSON output.") var json = false

    func validate() throws {
        guard isValidSlug(id) else { throw ValidationError("--id '\(id)' must be a lowercase slug (a-z, 0-9, '-')") }
        guard isValidSlug(organisation) else { throw ValidationError("--organisation '\(organisation)' must be a lowercase slug") }
        if !hub && hubEndpoints.isEmpty && peers.isEmpty {
            throw ValidationError("a member needs at least one --hub-endpoint or --peer to sync with")
        }
        guard (20...60_000).contains(heartbeatMs) else { throw ValidationError("--heartbeat-ms must be between 20 and 60000") }
        for e in [listen] + hubEndpoints {
            do { _ = try Endpoint.publisher(for: e) } catch { throw ValidationError(error.message) }
        }
        var peersByEndpoint = 0
        for p in peers {
            do {
                if case .endpoint = try PeerEntry(parsing: p, selfID: id) { peersByEndpoint += 1 }
            } catch { throw ValidationError("--peer \(error.message)") }
        }
        for k in hubSigningKeys {
            do { _ = try NodeConfig.parseHubSigningKey(k, file: "--hub-signing-key") } catch { throw ValidationError(error.description) }
        }
        if !insecure && (hubKeys.count != hubEndpoints.count || peerKeys.count != peersByEndpoint) {
            throw ValidationError("give one --hub-key per --hub-endpoint and one --peer-key per --peer endpoint, in the same order (their curve.pub; a --peer given by node id needs none), or --insecure on a trusted test network")
        }
        if let httpListen {
            do { _ = try NodeConfig.parseHTTPListen(httpListen, file: "--http-listen") } catch { throw ValidationError(error.description) }
        }
        if !hub && !insecure && hubSigningKeys.isEmpty {
            throw ValidationError("a member needs --hub-signing-key HUB_ID:HEX (from the hub's `membersync init`) to trust the hub's roster, or --insecure on a trusted test network")
        }
    }

    func run() throws {
        try runReporting {
            let dir = URL(fileURLWithPath: directory).standardizedFileURL.path
            try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
            let path = (dir as NSString).appendingPathComponent(NodeConfig.fileName)
            if FileManager.default.fileExists(atPath: path) && !force {
                throw CLIFailure(message: "\(path) already exists (use --force to overwrite)", code: 1)
            }
            var config = NodeConfig(nodeID: id, organisation: organisation, role: hub ? .hub : .member, dataDir: dir,
                                    listen: listen, hubEndpoints: hubEndpoints, peers: peers, heartbeatMilliseconds: heartbeatMs)
            config.insecure = insecure
            if let httpListen {
                config.httpListen = try NodeConfig.parseHTTPListen(httpListen, file: "--http-listen")
                config.httpListenExplicit = true
            }
            config.hubKeys = hubKeys
            config.peerKeys = peerKeys
            for k in hubSigningKeys {
                let (hubID, key) = try NodeConfig.parseHubSigningKey(k, file: "--hub-signing-key")
                config.hubSigningKeys[hubID] = key
            }
            let signing = try NodeKeys.ensureSigningKey(dataDir: dir)
            let signingKey = Hex.encode(signing.publicKey)
            let curveKey = try NodeKeys.ensureCurveKey(dataDir: dir).publicKey
            try config.tomlText().write(toFile: path, atomically: true, encoding: .utf8)
            do { _ = try NodeConfig.load(path: path) } catch { throw CLIFailure(message: "\(error)", code: 1) }
            if json {
                Output.json(["config": .string(path), "node_id": .string(id), "role": .string(config.role.rawValue),
                             "signing_key": .string(signingKey), "curve_key": .string(curveKey)] as JSONValue)
            } else {
                print("wrote \(path)")
                print("signing key (public): \(signingKey)")
                print("CURVE key (public):   \(curveKey)")
                if hub {
                    print("members trust this hub with: --hub-signing-key=\(id):\(signingKey) '--hub-key=\(curveKey)'")
                } else {
                    print("the hub operator admits this node with:")
                    print("  \(config.admitCommand(signingKey: signingKey, curveKey: curveKey))")
                }
                print("start the node with: membersyncd --config \(path)")
            }
        }
    }
}

struct SetFields: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "set",
        abstract: "Create or edit a record: FIELD=VALUE, FIELD+=ELEMENT (add to a set), FIELD-=ELEMENT (remove).",
        discussion: """
            FIELD= (nothing after '=') clears the field: it has no value afterwards, everywhere. A             required field (see `membersync schema`) cannot be cleared. FIELD=@PATH sets the field to the             contents of the file PATH (one final line break dropped), e.g. description=@asker.txt;             write FIELD=@@TEXT for a value that begins with '@'.
            """)

    @OptionGroup var options: NodeOptions
    @Argument(help: "COLLECTION/ID, e.g. organisations/asker") var key: String
    @Argument(help: "FIELD=VALUE, FIELD= (clear), FIELD=@PATH (value from a file), FIELD+=ELEMENT or FIELD-=ELEMENT") var changes: [String] = []

    func validate() throws {
        if changes.isEmpty { throw ValidationError("give at least one FIELD=VALUE, FIELD+=ELEMENT or FIELD-=ELEMENT") }
    }

    func run() throws {
        try runReporting {
            let expanded = try changes.map(Self.expandFileValue)
            let r = try options.client.request(Control.SetFields(key: key, changes: expanded))
            if options.json { Output.json(r) } else {
                print("ok \(r.key) (op \(r.origin):\(r.counter))")
            }
        }
    }
}

extension SetFields {
    /// `FIELD=@PATH` becomes `FIELD=<contents of PATH>`, read here because the node (another
    /// user, a sandbox) cannot read the user's files; `FIELD=@@TEXT` becomes `FIELD=@TEXT`.
    /// One final line break is dropped, as editors add one. Other arguments pass unchanged.
    static func expandFileValue(_ arg: String) throws -> String {
        guard let eq = arg.firstIndex(of: "="), eq > arg.startIndex else { return arg }
        let before = arg[arg.index(before: eq)]
        if before == "+" || before == "-" { return arg }
        let field = arg[..<eq]
        let value = arg[arg.index(after: eq)...]
        guard value.hasPrefix("@") else { return arg }
        if value.hasPrefix("@@") { return field + "=" + value.dropFirst() }
        let path = String(value.dropFirst())
        guard !path.isEmpty else {
            throw CLIFailure(message: "'\(arg)': give a file after '@' (\(field)=@PATH), or write \(field)=@@TEXT for a value that begins with '@'", code: 1)
        }
        var isDir: ObjCBool = false
        if FileManager.default.fileExists(atPath: path, isDirectory: &isDir), isDir.boolValue {
            throw CLIFailure(message: "cannot read \(path) for \(field): it is a directory", code: 1)
        }
        guard FileManager.default.isReadableFile(atPath: path), let data = FileManager.default.contents(atPath: path) else {
            let why = FileManager.default.fileExists(atPath: path) ? "permission denied" : "no such file"
            throw CLIFailure(message: "cannot read \(path) for \(field): \(why) (write \(field)=@@TEXT for a value that begins with '@')", code: 1)
        }
        guard var text = String(data: data, encoding: .utf8) else {
            throw CLIFailure(message: "cannot use \(path) for \(field): it is not UTF-8 text", code: 1)
        }
        // "\r\n" is one Character in Swift, so one removeLast drops either ending.
        if text.hasSuffix("\r\n") || text.hasSuffix("\n") { text.removeLast() }
        return field + "=" + text
    }
}

struct Get: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Show one record.")
    @OptionGroup var options: NodeOptions
    @Argument(help: "COLLECTION/ID") var key: String

    func run() throws {
        try runReporting {
            let record = try options.client.request(Control.Get(key: key))
            if options.json { Output.json(record) } else { print(Output.card(record)) }
        }
    }
}

struct List: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "List the records of a collection.")
    @OptionGroup var options: NodeOptions
    @Argument(help: "organisations, contacts, offices, networks, projects or nodes", completion: .list(collectionNames)) var collection: String
    @Option(name: .customLong("where"), help: "FIELD=VALUE: only records with this value (for a set field: containing it). Repeat to combine.")
    var conditions: [String] = []

    func run() throws {
        try runReporting {
            let records = try options.client.request(Control.List(collection: collection, where: conditions.isEmpty ? nil : conditions))
            if options.json { Output.json(records); return }
            let title = collection == "projects" ? "title" : "name"
            let rows = records.map { r -> [String] in
                [r.key, (r.fields[title] ?? r.fields["organisation"])?.description ?? "", r.conflicts == nil ? "" : "conflict"]
            }
            print(Output.table(["KEY", title.uppercased(), ""], rows))
            print("\(records.count) record(s)")
        }
    }
}

struct Delete: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Delete a record (an edit made concurrently elsewhere keeps it).")
    @OptionGroup var options: NodeOptions
    @Argument(help: "COLLECTION/ID") var key: String

    func run() throws {
        try runReporting {
            let result = try options.client.request(Control.Delete(key: key))
            if options.json { Output.json(result) } else { print("deleted \(key)") }
        }
    }
}

struct Conflicts: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "List every conflicted field with all its values and their origins.")
    @OptionGroup var options: NodeOptions

    func run() throws {
        try runReporting {
            let conflicts = try options.client.request(Control.Conflicts())
            if options.json { Output.json(conflicts); return }
            if conflicts.isEmpty { print("no conflicts"); return }
            for c in conflicts {
                print("\(c.key) \(c.field):")
                for v in c.values { print("  - " + Output.siblingText(v)) }
            }
            print("\(conflicts.count) conflict(s); resolve one by setting the field again")
        }
    }
}

struct Status: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Show the node's state. Exit status: 0 healthy, 1 degraded, 2 node unreachable.",
        discussion: """
        The exit status is meant for monitoring (it follows the Nagios plugin convention):

          0  healthy      the node runs and syncs with a hub (or, configured with fallback
                          peers only, with at least one peer)
          1  degraded     the node runs but no configured hub answers (it is offline or
                          syncing with fallback peers only), or its store fails to commit;
                          the reasons are printed (and in --json as health_reasons)
          2  unreachable  no node runs for the data directory, it did not answer within
                          --timeout seconds, or it could not report its status

        The node's HTTP listener (metrics_listen) answers GET /health with the same verdict:
        200 when healthy, 503 when degraded.
        """)
    @OptionGroup var options: NodeOptions
    @Option(help: "Seconds to wait for the node's answer before reporting it unreachable.")
    var timeout: Int = 10

    func validate() throws {
        guard (1...300).contains(timeout) else { throw ValidationError("--timeout must be between 1 and 300 seconds") }
    }

    func run() throws {
        let s: StatusResult
        do {
            let client = options.client
            client.timeoutMilliseconds = timeout * 1000
            s = try client.request(Control.StatusQuery())
        } catch {
            // Whatever kept us from a status (no node, no answer, a refusal), monitoring
            // must read it as "unreachable", never as "degraded".
            let message = (error as? CLIFailure)?.message ?? "\(error)"
            FileHandle.standardError.write(Data("membersync: \(message)\n".utf8))
            // A monitoring script reading --json gets JSON in every case, this one included.
            if options.json {
                Output.json(["health": "unreachable", "health_reasons": [.string(message)], "error": .string(message),
                             "data_dir": .string(options.resolvedDataDir)] as JSONValue)
            }
            throw ExitCode(2)
        }
        let mode = s.mode
        // Nodes from before the health field: judge by the sync mode as they did.
        let degraded = s.health.map { $0 != "healthy" } ?? (mode == "offline" || mode == "fallback-peers")
        if options.json {
            Output.json(s)
        } else {
            func links(_ l: [StatusResult.Link]) -> String {
                if l.isEmpty { return "-" }
                return l.map { link -> String in
                    if link.awaitingRoster == true {
                        return "\(link.nodeID ?? "") (waiting: the roster gives it no endpoint and CURVE key)"
                    }
                    let name = link.fromRoster == true ? "\(link.nodeID ?? "") at " : ""
                    var state = link.connected ? "connected" : "not connected"
                    if let f = link.handshakeFailure, !link.connected {
                        state += ": CURVE handshake refused (\(f.cause))"
                    }
                    return "\(name)\(link.endpoint) (\(state))"
                }.joined(separator: ", ")
            }
            let version = Output.pairs(s.version)
            let reasons = (s.healthReasons ?? []).joined(separator: "; ")
            var rows: [(String, String)] = [
                ("node", "\(s.nodeID) (\(s.role), organisation \(s.organisation))"),
                ("health", (degraded ? "degraded" : "healthy") + (reasons.isEmpty ? "" : " (\(reasons))")),
            ]
            if s.revoked {
                rows.append(("revoked", "yes: the hub operator revoked this node (nodes/\(s.nodeID) revoked=true); hubs and peers refuse it"))
            }
            rows += [
                ("replica", s.replica),
                ("mode", mode),
                ("hubs", links(s.hubs)),
                ("peers", links(s.peers)),
                ("version", version.isEmpty ? "-" : version),
                ("pending", "\(s.pending)"),
                ("records", "\(s.records)"),
                ("conflicts", "\(s.conflicts)"),
                ("refused edits", Self.refusedEdits(s.refusedEdits)),
                ("digest", s.digest),
            ]
            if let hub = s.hub { rows.insert(("hub sync", Self.hubSync(hub)), at: rows.count - 6) }
            print(Output.aligned(rows))
        }
        if degraded { throw ExitCode(1) }
    }
}

extension Status {
    /// "2 (membersync refused lists them)"; "0"; "-" for a node from before the count.
    static func refusedEdits(_ count: Int?) -> String {
        guard let n = count else { return "-" }
        return n == 0 ? "0" : "\(n) (membersync refused lists them)"
    }

    /// "last exchange 0.4 s ago with brussels; behind by 0 ops"
    static func hubSync(_ hub: StatusResult.Hub) -> String {
        let name = hub.nodeID ?? hub.endpoint
        guard let ago = hub.lastExchangeSecondsAgo else { return "never heard from \(name)" }
        var text = "last exchange \(Output.number(ago)) s ago with \(name)"
        let behind = hub.behindOps ?? 0
        if behind == 0 {
            text += "; up to date (0 ops behind)"
        } else {
            text += "; behind by \(behind) op(s)"
            if let secs = hub.behindSeconds { text += " for \(Output.number(secs)) s" }
        }
        if let pending = hub.theirMissingOps, pending > 0 { text += "; it lacks \(pending) of ours" }
        return text
    }
}

struct Inspect: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Show a record's raw CRDT state: every field's siblings with their dots and causal context (JSON).")
    @OptionGroup var options: NodeOptions
    @Argument(help: "COLLECTION/ID") var key: String

    func run() throws {
        try runReporting {
            Output.json(try options.client.request(Control.Inspect(key: key)))
        }
    }
}
