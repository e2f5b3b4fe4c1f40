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
        .target(
            name: "MemberSyncNode",
            dependencies: [
                "MemberSyncModel", "MemberSyncWire", "MemberSyncStore", "ZeroMQ", "MemberSyncCrypto",
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        // The control-socket client shared by the CLI and the web page.
        .target(name: "MemberSyncClient", dependencies: ["MemberSyncNode", "ZeroMQ"]),
        .executableTarget(
            name: "membersyncd",
            dependencies: ["MemberSyncNode", .product(name: "Logging", package: "swift-log")]
        ),
        .executableTarget(
            name: "membersync",
            dependencies: [
                "MemberSyncNode", "MemberSyncModel", "ZeroMQ", "MemberSyncCrypto", "MemberSyncClient",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ]
        ),
        .target(name: "MemberSyncHarness"),
        .executableTarget(name: "membersync-chaos", dependencies: ["MemberSyncModel", "MemberSyncStore", "MemberSyncNode", "ZeroMQ", "MemberSyncHarness"]),
        .executableTarget(name: "model-demo", dependencies: ["MemberSyncModel"]),
        .executableTarget(
            name: "membersync-bench",
            dependencies: [
                "MemberSyncModel", "MemberSyncWire", "MemberSyncStore", "MemberSyncNode", "ZeroMQ", "MemberSyncHarness",
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        .testTarget(name: "ZeroMQTests", dependencies: ["ZeroMQ"]),
        .testTarget(name: "MemberSyncModelTests", dependencies: ["MemberSyncModel", "MemberSyncHarness"]),
        .testTarget(name: "MemberSyncWireTests", dependencies: ["MemberSyncWire", "MemberSyncModel"]),
        .testTarget(name: "MemberSyncStoreTests", dependencies: ["MemberSyncStore", "MemberSyncModel", "MemberSyncWire"]),
        .testTarget(name: "MemberSyncNodeTests", dependencies: ["MemberSyncNode", "MemberSyncModel", "MemberSyncWire", "MemberSyncStore", "MemberSyncCrypto", "MemberSyncHarness"]),
        .testTarget(name: "EndToEndTests", dependencies: ["MemberSyncModel", "MemberSyncStore", "MemberSyncWire", "MemberSyncCrypto", "ZeroMQ", "MemberSyncHarness"]),
        .testTarget(name: "MembersyncdTests", dependencies: ["membersyncd", .product(name: "Logging", package: "swift-log")]),
    ],
    swiftLanguageModes: [.v6]
)
