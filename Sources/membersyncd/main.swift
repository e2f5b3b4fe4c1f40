import Foundation
import Logging
import MemberSyncConfig
import MemberSyncNode
import Synchronization

#if canImport(Glibc)
import Glibc
#endif

/// Set by SIGTERM/SIGINT; the reactor checks it at least every 25 ms.
let stopRequested = Atomic<Bool>(false)

let usageText = """
    usage: membersyncd --config PATH [--check-config | --repair]
           membersyncd --version

    Runs a MemberSync node (member office or hub) as configured in the TOML file PATH.
    Logs go to standard error, one logfmt line per event. SIGTERM or SIGINT stops it cleanly.

      -c, --config PATH   the node's configuration file
      --check-config      only check the configuration file, then exit (0 if valid, 78 if not)
      --repair            when the replica database is damaged or missing: move it aside
                          (replica.sqlite.damaged-TIME) and start as a new replica that
                          fetches everything from its hub
      --version           print the version and exit
      -h, --help          print this help and exit

    """

/// Wrong arguments: usage on stderr and EX_USAGE, so scripts tell it from a runtime failure.
func usage() -> Never {
    FileHandle.standardError.write(Data(usageText.utf8))
    exit(64)
}

var configPath: String?
var checkOnly = false
var repair = false
var args = CommandLine.arguments.dropFirst()
while let arg = args.popFirst() {
    switch arg {
    case "--config", "-c":
        guard let p = args.popFirst() else { usage() }
        configPath = p
    case "--version":
        print("membersyncd \(SyncEngine.softwareVersion)")
        exit(0)
    case "--check-config":
        checkOnly = true
    case "--repair":
        repair = true
    case "--help", "-h":
        print(usageText, terminator: "")
        exit(0)
    default:
        FileHandle.standardError.write(Data("membersyncd: unknown argument '\(arg)'\n".utf8))
        usage()
    }
}
guard let configPath else { usage() }

let config: NodeConfig
do {
    config = try NodeConfig.load(path: configPath)
} catch {
    FileHandle.standardError.write(Data("membersyncd: bad configuration: \(error)\n".utf8))
    exit(78)
}
if checkOnly {
    // With security on, the keys are part of what must be right before a start: a key file
    // others can read, or one that is not a key, would stop the daemon (exit 78, no restart).
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
            exit(78)
        }
    }
    print("\(configPath): ok (node \(config.nodeID), role \(config.role.rawValue), data_dir \(config.dataDir))")
    if !keysNote.isEmpty { print(keysNote) }
    if config.insecure { print("warning: insecure = true: security is off (no CURVE, no admission, no signature or write-rule checks)") }
    exit(0)
}

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
        "config": "\(configPath)",
    ])
}

// A secure node installed without `membersync init` (the systemd route) has no keys yet: make
// them now, once; say their public halves, which the hub operator needs to admit the node.
if !config.insecure {
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
        exit(78)
    }
}

signal(SIGPIPE, SIG_IGN)
signal(SIGTERM) { _ in stopRequested.store(true, ordering: .relaxed) }
signal(SIGINT) { _ in stopRequested.store(true, ordering: .relaxed) }

do {
    CrashPoint.installFromEnvironment()
    let node = try Node(config: config, logger: logger, repair: repair)
    let web = try startWebPage(config, logger: logger)
    node.run { stopRequested.load(ordering: .relaxed) }
    web?.stop()
    logger.info("stopped cleanly")
} catch {
    logger.critical("cannot start", metadata: ["error": "\(error)"])
    exit(1)
}
