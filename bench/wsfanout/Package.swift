// swift-tools-version: 6.0
// The WebSocket fan-out client of bench/ws.sh (wsfanout) and its floor server (wsfloor): a separate package, not part of the runtime's
// build (CI never builds it). Build: swift build -c release --package-path bench/wsfanout
import PackageDescription

let package = Package(
    name: "wsfanout",
    dependencies: [
        .package(url: "https://github.com/apple/swift-nio", from: "2.101.0"),
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
    ],
    targets: [
        .executableTarget(
            name: "wsfanout",
            dependencies: [
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "NIOWebSocket", package: "swift-nio"),
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ]
        ),
        // The client's floor: a broadcaster that does nothing else (no database, no auth, no
        // filtering), so what the client measures against it is the client's own cost.
        .executableTarget(
            name: "wsfloor",
            dependencies: [
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "NIOWebSocket", package: "swift-nio"),
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ]
        ),
    ],
    swiftLanguageModes: [.v6]
)
