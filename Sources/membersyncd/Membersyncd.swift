import ArgumentParser
import Foundation
import Logging
import MemberSyncConfig
import MemberSyncModel
import MemberSyncNode
import MemberSyncServices
import ServiceLifecycle

#if canImport(Glibc)
import Glibc
#endif

/// `membersyncd`: runs a node. Statuses scripts and systemd check: 0 stopped cleanly (or a
/// valid configuration with `--check-config`), 1 cannot start, 64 wrong arguments (usage on
/// stderr; swift-argument-parser's status for a parse error), 78 bad configuration or keys.
@main
struct Membersyncd: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "membersyncd",
        abstract: "Runs a MemberSync node (member office or hub) as configured in the TOML file PATH.",
        usage: """
            membersyncd --config PATH [--check-config | --repair]
            membersyncd --version
            """,
        discussion: """
            Logs go to standard error, one logfmt line per event. SIGTERM or SIGINT stops it cleanly.

            Exit status: 0 stopped cleanly (or, with --check-config, the configuration is valid); \
            1 cannot start; 64 wrong arguments; 78 bad configuration or keys (systemd does not restart it).
            """,
        version: "membersyncd \(Release.version)"
    )

    @Option(name: [.customShort("c"), .long], help: ArgumentHelp("The node's configuration file.", valueName: "PATH"))
    var config: String

    @Flag(help: "Only check the configuration file (and the keys), then exit: 0 if valid, 78 if not.")
    var checkConfig = false

    @Flag(help: ArgumentHelp("""
        When the replica database is damaged or missing: move it aside \
        (replica.sqlite.damaged-TIME) and start as a new replica that fetches everything from its hub.
        """))
    var repair = false

    func run() async throws {
        let config: NodeConfig
        do {
            config = try NodeConfig.load(path: self.config)
        } catch {
            FileHandle.standardError.write(Data("membersyncd: bad configuration: \(error)\n".utf8))
            throw ExitCode(78)
        }
        if checkConfig { try check(config) }
        try await serve(config)
    }

    /// `--check-config`: with security on, the keys are part of what must be right before a
    /// start: a key file others can read, or one that is not a key, would stop the daemon
    /// (exit 78, no restart).
    func check(_ config: NodeConfig) throws -> Never {
        var keysNote = ""
        if !config.insecure {
            do {
                if let keys = try NodeKeys.checkKeys(dataDir: config.dataDir) {
                    keysNote = "keys: signing \(keys.signing), CURVE \(keys.curve)"
                } else {
                    keysNote = "keys: none yet in \(config.dataDir); membersyncd creates them at its first start (never replacing one)"
                }
            } catch {
                FileHandle.standardError.write(Data("membersyncd: bad keys: \(error)\n".utf8))
                Self.exit(withError: ExitCode(78))
            }
        }
        print("\(self.config): ok (node \(config.nodeID), role \(config.role.rawValue), data_dir \(config.dataDir))")
        if !keysNote.isEmpty { print(keysNote) }
        if config.insecure { print("warning: insecure = true: security is off (no CURVE, no admission, no signature or write-rule checks)") }
        Self.exit()
    }

    /// Runs the node until SIGTERM or SIGINT: the reactor, the metrics listener and the web
    /// page as one `ServiceGroup`.
    func serve(_ config: NodeConfig) async throws {
        let level = Logger.Level(rawValue: config.logLevel) ?? .info
        LoggingSystem.bootstrap { label in
            var handler = LogfmtLogHandler(label: label)
            handler.logLevel = level
            return handler
        }
        var logger = Logger(label: "membersyncd")
        logger[metadataKey: "node.id"] = "\(config.nodeID)"

        // Everything the daemon creates (database, WAL, sockets, snapshots) is its user's alone.
        umask(0o077)

        // An explicit opt-out that must never go unnoticed: said at every start, at warning level.
        if config.insecure {
            logger.warning("security is OFF (insecure = true): no CURVE encryption, no admission, remote ops applied without checking signatures or write rules; use only on a trusted test network", metadata: [
                "config": "\(self.config)",
            ])
        }
        try ensureKeys(config, logger: logger)
        signal(SIGPIPE, SIG_IGN)
        CrashPoint.installFromEnvironment()

        let services = DaemonServices(config: config, repair: repair, logger: logger)
        let group = ServiceGroup(configuration: services.groupConfiguration())
        do {
            try await group.run()
        } catch {
            await services.reactor.waitUntilFinished()
            logger.critical("cannot start", metadata: ["error": "\(error)"])
            throw ExitCode.failure
        }
        // However the group ended, the last commit is made before the process exits.
        await services.reactor.waitUntilFinished()
        logger.info("stopped cleanly")
    }

    /// A secure node installed without `membersync init` (the systemd route) has no keys yet:
    /// make them now, once; say their public halves, which the hub operator needs to admit it.
    func ensureKeys(_ config: NodeConfig, logger: Logger) throws {
        guard !config.insecure else { return }
        do {
            let (keys, created) = try NodeKeys.ensureKeys(dataDir: config.dataDir)
            if created {
                let next = config.role == .hub
                    ? "members trust this hub with hub_keys = [\"\(keys.curve)\"] and hub_signing_keys = [\"\(config.nodeID):\(keys.signing)\"]"
                    : "admit it on the hub with: \(config.admitCommand(signingKey: keys.signing, curveKey: keys.curve))"
                logger.notice("created this node's keys; \(next)", metadata: [
                    "signing.key": "\(keys.signing)", "curve.key": "\(keys.curve)", "data_dir": "\(config.dataDir)",
                ])
            }
        } catch {
            logger.critical("cannot start: bad or unwritable keys", metadata: ["error": "\(error)"])
            throw ExitCode(78)
        }
    }
}
