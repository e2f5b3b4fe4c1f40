// swift-tools-version:6.0
import PackageDescription

let package = Package(
    name: "MemberSync",
    platforms: [.macOS(.v14)],
    dependencies: [
        .package(url: "https://github.com/apple/swift-protobuf", from: "1.39.0"),
    ],
    targets: [
        .systemLibrary(
            name: "CZeroMQ",
            pkgConfig: "libzmq",
            providers: [.apt(["libzmq3-dev"])]
        ),
        .target(name: "ZeroMQ", dependencies: ["CZeroMQ"]),
        .target(name: "MemberSyncModel"),
        .target(
            name: "MemberSyncWire",
            dependencies: ["MemberSyncModel", .product(name: "SwiftProtobuf", package: "swift-protobuf")]
        ),
        .executableTarget(name: "model-demo", dependencies: ["MemberSyncModel"]),
        .testTarget(name: "ZeroMQTests", dependencies: ["ZeroMQ"]),
        .testTarget(name: "MemberSyncModelTests", dependencies: ["MemberSyncModel"]),
        .testTarget(name: "MemberSyncWireTests", dependencies: ["MemberSyncWire", "MemberSyncModel"]),
    ],
    swiftLanguageModes: [.v6]
)
