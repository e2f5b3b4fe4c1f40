// swift-tools-version:6.0
import PackageDescription

let package = Package(
    name: "MemberSync",
    platforms: [.macOS(.v14)],
    products: [
        .executable(name: "membersyncd", targets: ["membersyncd"]),
        .executable(name: "membersync", targets: ["membersync"]),
        .executable(name: "membersync-bench", targets: ["membersync-bench"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-protobuf", from: "1.39.0"),
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
        .package(url: "https://github.com/apple/swift-log", from: "1.16.2"),
        // The HTTP servers beside the node's reactor, on SwiftNIO threads: the web page's
        // (MemberSyncWeb: routing, cookies, streamed bodies for server-sent events) and the
        // metrics and health listener (MemberSyncServices).
        .package(url: "https://github.com/hummingbird-project/hummingbird", from: "2.28.1"),
        // Server-rendered pages: logic-less templates whose {{value}} escapes HTML by default.
        .package(url: "https://github.com/hummingbird-project/swift-mustache", from: "2.1.1"),
        // Hummingbird's own foundations, named because the web module and the daemon's services
        // use them directly: NIOCore (the bound port of a listener, the metrics listener's
        // per-connection handler), NIOPosix (an event-loop thread of the web page's own),
        // NIOHTTP1 (the HTTP parser's errors, which that handler answers), HTTPTypes (header
        // fields).
        .package(url: "https://github.com/apple/swift-nio", from: "2.101.2"),
        .package(url: "https://github.com/apple/swift-http-types", from: "1.8.0"),
        // NIOHTTPTypes: the request and response parts in Hummingbird's pipeline, which the
        // metrics listener's per-connection handler sees (a package Hummingbird builds on).
        .package(url: "https://github.com/apple/swift-nio-extras", from: "1.35.2"),
        // The daemon is a ServiceGroup (the reactor, the metrics listener, the web page) that
        // stops gracefully on SIGTERM and SIGINT.
        .package(url: "https://github.com/swift-server/swift-service-lifecycle", from: "2.13.0"),
        // The node's metrics: the reactor records counters, gauges and histograms through the
        // swift-metrics API, into handlers of the backend below.
        .package(url: "https://github.com/apple/swift-metrics", from: "2.13.0"),
        // That backend: a registry of Prometheus metrics with lock-free counters and gauges,
        // and its text exposition, served by the metrics listener and the web page.
        .package(url: "https://github.com/swift-server/swift-prometheus", from: "2.4.1"),
    ],
    targets: [
        .systemLibrary(
            name: "CZeroMQ",
            pkgConfig: "libzmq",
            providers: [.apt(["libzmq3-dev"])]
        ),
        .systemLibrary(
            name: "CSQLite",
            pkgConfig: "sqlite3",
            providers: [.apt(["libsqlite3-dev"])]
        ),
        .systemLibrary(
            name: "CSodium",
            pkgConfig: "libsodium",
            providers: [.apt(["libsodium-dev"])]
        ),
        .target(name: "ZeroMQ", dependencies: ["CZeroMQ"]),
        .target(name: "MemberSyncCrypto", dependencies: ["CSodium"]),
        .target(name: "MemberSyncModel"),
        .target(
            name: "MemberSyncWire",
            dependencies: ["MemberSyncModel", .product(name: "SwiftProtobuf", package: "swift-protobuf")]
        ),
        .target(name: "MemberSyncStore", dependencies: ["CSQLite", "MemberSyncModel", "MemberSyncWire", "MemberSyncCrypto"]),
        // A node's configuration: the TOML subset, the config keys and NodeConfig, key files.
        // No store, no engine, no wire code: the CLI writes and checks configs with it.
        .target(name: "MemberSyncConfig", dependencies: ["MemberSyncModel", "MemberSyncCrypto", "ZeroMQ"]),
        // Reading the directory: search, show, history, list filters, record views, the import
        // and export formats. Pure, over a replica: no sockets, no store.
        .target(name: "MemberSyncDirectory", dependencies: ["MemberSyncModel"]),
        // The control protocol (Protocols/CONTROL.md): a Codable type per command and result,
        // the typed ControlError, and the one client of a node's control socket.
        .target(name: "MemberSyncControl", dependencies: ["MemberSyncDirectory", "MemberSyncConfig", "MemberSyncModel", "MemberSyncCrypto", "ZeroMQ"]),
        // The sync engine: the pure state machine of a node (MSP sync, write rules and rights,
        // forks, refused edits, causal delivery). Inputs in, directives out: no sockets, no
        // store, no clock, no logging. It reads its own EngineSettings, not the daemon's
        // NodeConfig (NodeRole, RequestQuota and Release live in the model).
        .target(name: "MemberSyncEngine", dependencies: ["MemberSyncModel", "MemberSyncWire", "MemberSyncCrypto"]),
        // The daemon around the engine: the reactor (every ZeroMQ socket, the directives carried
        // out around one store commit per batch), ZAP admission, the control server, the event
        // log and the node's metrics.
        .target(
            name: "MemberSyncNode",
            dependencies: [
                "MemberSyncEngine", "MemberSyncModel", "MemberSyncWire", "MemberSyncStore", "ZeroMQ", "MemberSyncCrypto", "MemberSyncConfig",
                "MemberSyncDirectory", "MemberSyncControl",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "CoreMetrics", package: "swift-metrics"),
                .product(name: "Prometheus", package: "swift-prometheus"),
            ]
        ),
        // The daemon's long-running services: the reactor on its own thread, and the metrics
        // and health listener (Hummingbird, off the reactor thread). InProcessNode runs the
        // reactor alone, for tests and the latency benchmark.
        .target(
            name: "MemberSyncServices",
            dependencies: [
                "MemberSyncNode", "MemberSyncConfig",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "HummingbirdCore", package: "hummingbird"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "NIOHTTPTypes", package: "swift-nio-extras"),
                .product(name: "HTTPTypes", package: "swift-http-types"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "CoreMetrics", package: "swift-metrics"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        // The web page: another client of the node's control socket, never of its engine.
        .target(
            name: "MemberSyncWeb",
            dependencies: [
                "MemberSyncControl", "MemberSyncDirectory", "MemberSyncModel", "MemberSyncConfig", "ZeroMQ",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "Mustache", package: "swift-mustache"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "HTTPTypes", package: "swift-http-types"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        .executableTarget(
            name: "membersyncd",
            dependencies: [
                "MemberSyncNode", "MemberSyncConfig", "MemberSyncModel", "MemberSyncServices", "MemberSyncWeb",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        .executableTarget(
            name: "membersync",
            // The control protocol, configs and directory formats only: neither the store
            // (SQLite) nor the engine.
            dependencies: [
                "MemberSyncControl", "MemberSyncConfig", "MemberSyncDirectory", "MemberSyncModel", "MemberSyncCrypto",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ]
        ),
        // What tests, the chaos tool and the benchmarks share: the seeded generator, the
        // simulated clock, ports and sockets, waits, commands, the process federation. Nothing
        // of ours below it, so every test target may use it.
        .target(name: "MemberSyncHarness"),
        .executableTarget(name: "membersync-chaos", dependencies: ["MemberSyncModel", "MemberSyncStore", "MemberSyncNode", "MemberSyncControl", "MemberSyncDirectory", "ZeroMQ", "MemberSyncHarness"]),
        .executableTarget(name: "model-demo", dependencies: ["MemberSyncModel"]),
        .executableTarget(
            name: "membersync-bench",
            dependencies: [
                "MemberSyncModel", "MemberSyncWire", "MemberSyncStore", "MemberSyncEngine", "MemberSyncNode", "MemberSyncServices", "MemberSyncConfig",
                "MemberSyncControl", "MemberSyncDirectory", "ZeroMQ", "MemberSyncHarness",
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        .testTarget(name: "ZeroMQTests", dependencies: ["ZeroMQ"]),
        .testTarget(name: "MemberSyncModelTests", dependencies: ["MemberSyncModel", "MemberSyncHarness"]),
        .testTarget(name: "MemberSyncWireTests", dependencies: ["MemberSyncWire", "MemberSyncModel", "MemberSyncHarness"]),
        // Fixtures/: a database of release 0.1.0 that every later release must open (read by path).
        .testTarget(name: "MemberSyncStoreTests", dependencies: ["MemberSyncStore", "MemberSyncModel", "MemberSyncWire"], exclude: ["Fixtures"]),
        .testTarget(
            name: "MemberSyncNodeTests",
            dependencies: [
                "MemberSyncNode", "MemberSyncEngine", "MemberSyncConfig", "MemberSyncDirectory", "MemberSyncControl", "MemberSyncModel", "MemberSyncWire",
                "MemberSyncStore", "MemberSyncCrypto", "MemberSyncHarness",
                .product(name: "CoreMetrics", package: "swift-metrics"),
            ]
        ),
        .testTarget(name: "MemberSyncControlTests", dependencies: ["MemberSyncControl", "MemberSyncDirectory", "MemberSyncModel", "MemberSyncNode", "MemberSyncServices", "MemberSyncConfig", "MemberSyncHarness", .product(name: "Logging", package: "swift-log")]),
        .testTarget(name: "EndToEndTests", dependencies: ["MemberSyncModel", "MemberSyncStore", "MemberSyncWire", "MemberSyncCrypto", "ZeroMQ", "MemberSyncHarness"]),
        .testTarget(name: "WebTests", dependencies: ["MemberSyncWeb", "MemberSyncControl", "MemberSyncDirectory", "MemberSyncNode", "MemberSyncEngine", "MemberSyncServices", "MemberSyncConfig", "MemberSyncModel", "MemberSyncStore", "MemberSyncHarness"]),
        .testTarget(
            name: "MemberSyncServicesTests",
            dependencies: [
                "MemberSyncServices", "MemberSyncNode", "MemberSyncConfig", "MemberSyncHarness",
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        .testTarget(name: "MembersyncdTests", dependencies: ["membersyncd", .product(name: "Logging", package: "swift-log")]),
    ],
    swiftLanguageModes: [.v6]
)
