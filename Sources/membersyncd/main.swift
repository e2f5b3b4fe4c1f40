import Foundation
import Logging
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
    print("\(configPath): ok (node \(config.nodeID), role \(config.role.rawValue), data_dir \(config.dataDir))")
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
