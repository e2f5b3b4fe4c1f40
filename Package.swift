// swift-tools-version:6.0
import PackageDescription

let package = Package(
    name: "MemberSync",
    platforms: [.macOS(.v14)],
    products: [
        .executable(name: "membersyncd", targets: ["membersyncd"]),
        .executable(name: "membersync", targets: ["membersync"]),
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
        .target(name: "ZeroMQ", dependencies: ["CZeroMQ"]),
        .target(name: "MemberSyncModel"),
        .target(
            name: "MemberSyncWire",
            dependencies: ["MemberSyncModel", .product(name: "SwiftProtobuf", package: "swift-protobuf")]
        ),
        .target(name: "MemberSyncStore", dependencies: ["CSQLite", "MemberSyncModel", "MemberSyncWire"]),
        .target(
            name: "MemberSyncNode",
            dependencies: [
                "MemberSyncModel", "MemberSyncWire", "MemberSyncStore", "ZeroMQ",
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        .executableTarget(
            name: "membersyncd",
            dependencies: ["MemberSyncNode", .product(name: "Logging", package: "swift-log")]
        ),
        .executableTarget(
            name: "membersync",
            dependencies: [
                "MemberSyncNode", "MemberSyncModel", "ZeroMQ",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ]
        ),
        .executableTarget(name: "model-demo", dependencies: ["MemberSyncModel"]),
        .testTarget(name: "ZeroMQTests", dependencies: ["ZeroMQ"]),
        .testTarget(name: "MemberSyncModelTests", dependencies: ["MemberSyncModel"]),
        .testTarget(name: "MemberSyncWireTests", dependencies: ["MemberSyncWire", "MemberSyncModel"]),
        .testTarget(name: "MemberSyncStoreTests", dependencies: ["MemberSyncStore", "MemberSyncModel", "MemberSyncWire"]),
        .testTarget(name: "MemberSyncNodeTests", dependencies: ["MemberSyncNode", "MemberSyncModel", "MemberSyncWire"]),
        .testTarget(name: "EndToEndTests", dependencies: ["MemberSyncModel", "MemberSyncStore"]),
        .testTarget(name: "MembersyncdTests", dependencies: ["membersyncd", .product(name: "Logging", package: "swift-log")]),
    ],
    swiftLanguageModes: [.v6]
)
