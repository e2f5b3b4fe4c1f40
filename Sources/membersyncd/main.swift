import Foundation
import Logging
import MemberSyncNode
import Synchronization

#if canImport(Glibc)
import Glibc
#endif

/// Set by SIGTERM/SIGINT; the reactor checks it at least every 25 ms.
let stopRequested = Atomic<Bool>(false)

func usage() -> Never {
    FileHandle.standardError.write(Data("usage: membersyncd --config PATH\n       membersyncd --version\n".utf8))
    exit(64)
}

var configPath: String?
var args = CommandLine.arguments.dropFirst()
while let arg = args.popFirst() {
    switch arg {
    case "--config", "-c":
        guard let p = args.popFirst() else { usage() }
        configPath = p
    case "--version":
        print("membersyncd \(SyncEngine.softwareVersion)")
        exit(0)
    case "--help", "-h":
        usage()
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

let level = Logger.Level(rawValue: config.logLevel) ?? .info
LoggingSystem.bootstrap { label in
    var handler = StreamLogHandler.standardError(label: label)
    handler.logLevel = level
    return handler
}
var logger = Logger(label: "membersyncd")
logger[metadataKey: "node.id"] = "\(config.nodeID)"

signal(SIGPIPE, SIG_IGN)
signal(SIGTERM) { _ in stopRequested.store(true, ordering: .relaxed) }
signal(SIGINT) { _ in stopRequested.store(true, ordering: .relaxed) }

do {
    let node = try Node(config: config, logger: logger)
    node.run { stopRequested.load(ordering: .relaxed) }
    logger.info("stopped cleanly")
} catch {
    logger.critical("cannot start", metadata: ["error": "\(error)"])
    FileHandle.standardError.write(Data("membersyncd: cannot start: \(error)\n".utf8))
    exit(1)
}
