// swift-tools-version:6.2
// The tools version turns on Swift 6 language mode (strict concurrency) for every target.
import PackageDescription

let package = Package(
    name: "ishop",
    platforms: [.macOS(.v15)],
    products: [
        .executable(name: "ishop", targets: ["ishop"]),
    ],
    dependencies: [
        .package(url: "https://github.com/hummingbird-project/hummingbird.git", from: "2.28.0"),
        .package(url: "https://github.com/hummingbird-project/swift-mustache.git", from: "2.1.0"),
        .package(url: "https://github.com/groue/GRDB.swift.git", from: "7.10.0"),
        .package(url: "https://github.com/vapor/postgres-nio.git", from: "1.33.0"),
        .package(url: "https://github.com/apple/swift-nio-ssl.git", from: "2.37.0"),
        .package(url: "https://github.com/apple/swift-nio.git", from: "2.100.0"),
        .package(url: "https://github.com/apple/swift-crypto.git", "3.0.0"..<"5.0.0"),
        .package(url: "https://github.com/jpsim/Yams.git", from: "6.2.0"),
        .package(url: "https://github.com/apple/swift-argument-parser.git", from: "1.8.0"),
        .package(url: "https://github.com/apple/swift-log.git", from: "1.16.0"),
        .package(url: "https://github.com/apple/swift-http-types.git", from: "1.0.0"),
        // Already built for HummingbirdTesting; the end-to-end tests use it as a real HTTP client.
        .package(url: "https://github.com/swift-server/async-http-client.git", from: "1.37.0"),
        // The runtime: bcrypt (HummingbirdBcrypt), JWT HS256, Prometheus /metrics.
        .package(url: "https://github.com/hummingbird-project/hummingbird-auth.git", from: "2.5.0"),
        // Live stock over /ws/stock (issue 7): NIO's WebSocket codec and HTTP plumbing, used directly
        // by the runtime's upgrade channel (ShopRuntime/StockSocketChannel.swift) so that a refused
        // handshake gets its real status, and a channel handler per socket rather than a task
        // (StockSocketHandler.swift says why swift-websocket's WSCore was dropped).
        .package(url: "https://github.com/apple/swift-nio-extras.git", from: "1.35.0"),
        // The stock hub runs as a service beside the HTTP server (graceful shutdown).
        .package(url: "https://github.com/swift-server/swift-service-lifecycle.git", from: "2.6.0"),
        .package(url: "https://github.com/vapor/jwt-kit.git", from: "5.7.1"),
        .package(url: "https://github.com/swift-server/swift-prometheus.git", from: "2.4.1"),
    ],
    targets: [
        // cmark-gfm and its extensions from Debian (libcmark-gfm-dev, libcmark-gfm-extensions-dev).
        .systemLibrary(
            name: "CMarkGFM", pkgConfig: "libcmark-gfm",
            providers: [.apt(["libcmark-gfm-dev", "libcmark-gfm-extensions-dev"])]
        ),
        // libxml2's HTML parser, for sanitising product descriptions (Debian's libxml2-dev).
        .systemLibrary(name: "CLibXML2", pkgConfig: "libxml-2.0", providers: [.apt(["libxml2-dev"])]),
        // zlib, for the .gz files written beside text outputs (Debian's zlib1g-dev).
        .systemLibrary(name: "CZlib", pkgConfig: "zlib", providers: [.apt(["zlib1g-dev"])]),
        // System calls Swift's Glibc module does not import (renameat2 for the atomic publish).
        .target(name: "CSystemCalls"),
        // The image codecs over Debian's libjpeg-turbo, libpng, libwebp and Little CMS (liblcms2-dev):
        // longjmp error handling caught in C, and the pixel loops. -O2 even in debug builds, where
        // unoptimised resize loops would make every test and development build crawl.
        .target(
            name: "CImageCodecs",
            cSettings: [.unsafeFlags(["-O2"])],
            linkerSettings: [
                .linkedLibrary("jpeg"), .linkedLibrary("png16"), .linkedLibrary("webp"),
                .linkedLibrary("lcms2"), .linkedLibrary("m"),
            ]
        ),
        // Programs ishop and its tests start (posix_spawn, not Foundation's Process).
        .target(name: "ShopSystem", dependencies: ["CSystemCalls"]),
        .target(
            name: "ShopCore",
            dependencies: ["CLibXML2", .product(name: "Yams", package: "Yams")]
        ),
        .target(
            name: "ShopStore",
            dependencies: [
                "ShopCore",
                .product(name: "GRDB", package: "GRDB.swift"),
                // SQLite's C calls, for reading the catalog's rows without GRDB's Row (SQLiteRows).
                .product(name: "GRDBSQLite", package: "GRDB.swift"),
                .product(name: "PostgresNIO", package: "postgres-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        // Responsive WebP sets from local and remote product images (issue 5).
        .target(
            name: "ShopImages",
            dependencies: [
                "ShopCore", "CImageCodecs",
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        .target(
            name: "ShopImport",
            dependencies: ["ShopCore", "ShopStore"]
        ),
        .target(
            name: "SiteBuild",
            dependencies: [
                "ShopCore", "ShopStore", "ShopImages", "CMarkGFM", "CSystemCalls", "CZlib",
                .product(name: "Mustache", package: "swift-mustache"),
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "Yams", package: "Yams"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        .target(
            name: "ShopRuntime",
            dependencies: [
                "ShopCore", "ShopStore",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "HummingbirdCore", package: "hummingbird"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "NIOWebSocket", package: "swift-nio"),
                .product(name: "NIOHTTPTypes", package: "swift-nio-extras"),
                .product(name: "NIOHTTPTypesHTTP1", package: "swift-nio-extras"),
                .product(name: "HummingbirdBcrypt", package: "hummingbird-auth"),
                .product(name: "JWTKit", package: "jwt-kit"),
                .product(name: "Prometheus", package: "swift-prometheus"),
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "HTTPTypes", package: "swift-http-types"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        .executableTarget(
            name: "ishop",
            dependencies: [
                "ShopCore", "ShopStore", "ShopImport", "SiteBuild", "ShopRuntime", "ShopImages", "CSystemCalls",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Hummingbird", package: "hummingbird"),
            ]
        ),

        // Depends on SiteBuild only so that cmark-gfm's unsynchronised extension registration
        // happens through the same once-token as in production, never twice at once.
        .testTarget(name: "CMarkGFMTests", dependencies: ["CMarkGFM", "SiteBuild"]),
        .testTarget(name: "ShopSystemTests", dependencies: ["ShopSystem"]),
        .testTarget(name: "ShopCoreTests", dependencies: ["ShopCore", "ShopTestSupport"]),
        // Helpers shared by test targets: the backends the Store contract runs on, temporary
        // folders, the repository's and ../shared's paths, and a CSV reader independent of the importer's.
        .target(
            name: "ShopTestSupport",
            dependencies: [
                "ShopStore", "ShopSystem",
                .product(name: "PostgresNIO", package: "postgres-nio"),
                .product(name: "Logging", package: "swift-log"),
            ],
            path: "Tests/ShopTestSupport"
        ),
        .testTarget(
            name: "ShopStoreTests",
            dependencies: [
                "ShopStore", "ShopCore", "ShopTestSupport",
                // Only to break the rules on purpose: the tests show the databases refuse it.
                .product(name: "GRDB", package: "GRDB.swift"),
                .product(name: "PostgresNIO", package: "postgres-nio"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        .testTarget(
            name: "ShopImagesTests",
            dependencies: [
                "ShopImages", "ShopCore", "CImageCodecs", "ShopSystem", "ShopTestSupport",
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "NIOCore", package: "swift-nio"),
            ],
            exclude: ["Fixtures"]
        ),
        .testTarget(name: "ShopImportTests", dependencies: ["ShopImport", "ShopStore", "ShopCore", "ShopTestSupport"]),
        .testTarget(name: "SiteBuildTests", dependencies: ["SiteBuild", "ShopStore", "ShopImport", "ShopCore", "ShopImages", "ShopTestSupport"],
                    exclude: ["Golden"]),
        .testTarget(
            name: "ShopRuntimeTests",
            dependencies: [
                "ShopRuntime", "ShopStore", "ShopImport", "ShopCore", "ShopTestSupport",
                // Only to change the database behind the runtime's back on purpose.
                .product(name: "GRDB", package: "GRDB.swift"),
                .product(name: "HummingbirdTesting", package: "hummingbird"),
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "JWTKit", package: "jwt-kit"),
                .product(name: "PostgresNIO", package: "postgres-nio"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "HTTPTypes", package: "swift-http-types"),
            ]
        ),
        // Drives the built `ishop` binary end to end, as a shop owner would.
        .testTarget(
            name: "ishopTests",
            dependencies: [
                "ishop", "ShopTestSupport",
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
            ]
        ),
    ]
)
