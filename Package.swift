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
        // The web page's HTTP server (MemberSyncWeb): routing, cookies, streamed bodies for
        // server-sent events, on SwiftNIO threads of its own beside the node's reactor.
        .package(url: "https://github.com/hummingbird-project/hummingbird", from: "2.28.1"),
        // Server-rendered pages: logic-less templates whose {{value}} escapes HTML by default.
        .package(url: "https://github.com/hummingbird-project/swift-mustache", from: "2.1.1"),
        // Hummingbird's own foundations, named because the web module uses them directly:
        // NIOCore (the bound port of the listener), NIOPosix (an event-loop thread of the web
        // page's own), HTTPTypes (response header fields).
        .package(url: "https://github.com/apple/swift-nio", from: "2.101.2"),
        .package(url: "https://github.com/apple/swift-http-types", from: "1.8.0"),
        // Graceful stop of the web page's server (a ServiceGroup without signal handlers: the
        // daemon keeps its own SIGTERM/SIGINT handling).
        .package(url: "https://github.com/swift-server/swift-service-lifecycle", from: "2.13.0"),
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
        // No store, no engine: the CLI writes and checks configs with it.
        .target(name: "MemberSyncConfig", dependencies: ["MemberSyncModel", "MemberSyncWire", "MemberSyncCrypto", "ZeroMQ"]),
        // Reading the directory: search, show, history, list filters, record views, the import
        // and export formats. Pure, over a replica: no sockets, no store.
        .target(name: "MemberSyncDirectory", dependencies: ["MemberSyncModel"]),
        // The control protocol (Protocols/CONTROL.md): a Codable type per command and result,
        // the typed ControlError, and the one client of a node's control socket.
        .target(name: "MemberSyncControl", dependencies: ["MemberSyncDirectory", "MemberSyncConfig", "MemberSyncModel", "MemberSyncCrypto", "ZeroMQ"]),
        .target(
            name: "MemberSyncNode",
            dependencies: [
                "MemberSyncModel", "MemberSyncWire", "MemberSyncStore", "ZeroMQ", "MemberSyncCrypto", "MemberSyncConfig",
                "MemberSyncDirectory", "MemberSyncControl",
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
            dependencies: ["MemberSyncNode", "MemberSyncConfig", "MemberSyncWeb", .product(name: "Logging", package: "swift-log")]
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
        .target(name: "MemberSyncHarness"),
        .executableTarget(name: "membersync-chaos", dependencies: ["MemberSyncModel", "MemberSyncStore", "MemberSyncNode", "MemberSyncControl", "MemberSyncDirectory", "ZeroMQ", "MemberSyncHarness"]),
        .executableTarget(name: "model-demo", dependencies: ["MemberSyncModel"]),
        .executableTarget(
            name: "membersync-bench",
            dependencies: [
                "MemberSyncModel", "MemberSyncWire", "MemberSyncStore", "MemberSyncNode", "MemberSyncConfig", "MemberSyncControl", "ZeroMQ", "MemberSyncHarness",
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        .testTarget(name: "ZeroMQTests", dependencies: ["ZeroMQ"]),
        .testTarget(name: "MemberSyncModelTests", dependencies: ["MemberSyncModel", "MemberSyncHarness"]),
        .testTarget(name: "MemberSyncWireTests", dependencies: ["MemberSyncWire", "MemberSyncModel"]),
        .testTarget(name: "MemberSyncStoreTests", dependencies: ["MemberSyncStore", "MemberSyncModel", "MemberSyncWire"]),
        .testTarget(name: "MemberSyncNodeTests", dependencies: ["MemberSyncNode", "MemberSyncConfig", "MemberSyncDirectory", "MemberSyncControl", "MemberSyncModel", "MemberSyncWire", "MemberSyncStore", "MemberSyncCrypto", "MemberSyncHarness"]),
        .testTarget(name: "MemberSyncControlTests", dependencies: ["MemberSyncControl", "MemberSyncDirectory", "MemberSyncModel", "MemberSyncNode", "MemberSyncConfig", "MemberSyncHarness", .product(name: "Logging", package: "swift-log")]),
        .testTarget(name: "EndToEndTests", dependencies: ["MemberSyncModel", "MemberSyncStore", "MemberSyncWire", "MemberSyncCrypto", "ZeroMQ", "MemberSyncHarness"]),
        .testTarget(name: "WebTests", dependencies: ["MemberSyncWeb", "MemberSyncControl", "MemberSyncDirectory", "MemberSyncNode", "MemberSyncConfig", "MemberSyncModel", "MemberSyncStore", "MemberSyncHarness"]),
        .testTarget(name: "MembersyncdTests", dependencies: ["membersyncd", .product(name: "Logging", package: "swift-log")]),
    ],
    swiftLanguageModes: [.v6]
)
