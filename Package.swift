// swift-tools-version: 6.1
import PackageDescription

// MARK: - Shared settings

/// One set of compiler settings for every target: Swift 6 language mode plus the
/// upcoming features the project opts into early.
let swiftSettings: [SwiftSetting] = [
    .enableUpcomingFeature("ExistentialAny"),
    .enableUpcomingFeature("MemberImportVisibility"),
    .enableUpcomingFeature("InternalImportsByDefault"),
]

// MARK: - Package

let package = Package(
    name: "Almanac",
    platforms: [.macOS(.v15)],
    products: [
        .library(name: "Journal", targets: ["Journal"]),
        .library(name: "Scheduling", targets: ["Scheduling"]),
        .library(name: "Projections", targets: ["Projections"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-collections", from: "1.1.0"),
        .package(url: "https://github.com/apple/swift-log", from: "1.6.0"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle", from: "2.6.0"),
        .package(url: "https://github.com/swift-server/async-http-client", from: "1.24.0"),
        .package(url: "https://github.com/apple/swift-nio", from: "2.80.0"),
        .package(url: "https://github.com/hummingbird-project/hummingbird", from: "2.20.0"),
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
        .package(url: "https://github.com/swift-server/swift-prometheus", from: "2.1.0"),
        .package(url: "https://github.com/apple/swift-http-types", from: "1.0.0"),
        .package(url: "https://github.com/apple/swift-crypto", "3.0.0"..<"5.0.0"),
        .package(url: "https://github.com/vapor/postgres-nio", from: "1.21.0"),
    ],
    targets: [
        // MARK: Storage foundation
        .systemLibrary(
            name: "CLMDB",
            path: "Sources/CLMDB",
            pkgConfig: "lmdb",
            providers: [.apt(["liblmdb-dev"])]
        ),
        .target(name: "LMDB", dependencies: ["CLMDB"], swiftSettings: swiftSettings),
        .systemLibrary(name: "CFileSystem", path: "Sources/CFileSystem"),
        .target(name: "Journal", dependencies: ["LMDB", "CFileSystem"], swiftSettings: swiftSettings),
        .target(
            name: "PostgresJournal",
            dependencies: [
                "Journal",
                .product(name: "PostgresNIO", package: "postgres-nio"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: swiftSettings
        ),

        // MARK: Domain
        .target(name: "Scheduling", swiftSettings: swiftSettings),
        .target(
            name: "Access",
            dependencies: ["Journal", "Scheduling", .product(name: "Crypto", package: "swift-crypto")],
            swiftSettings: swiftSettings
        ),
        .target(
            name: "Projections",
            dependencies: ["Journal", "Scheduling", .product(name: "HeapModule", package: "swift-collections")],
            swiftSettings: swiftSettings
        ),

        // MARK: Engine
        .target(
            name: "Engine",
            dependencies: [
                "Journal", "Scheduling", "Projections", "Access",
                .product(name: "DequeModule", package: "swift-collections"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "Crypto", package: "swift-crypto"),
            ],
            swiftSettings: swiftSettings
        ),

        .target(
            name: "Cluster",
            dependencies: [
                "Engine", "Journal", "PostgresJournal", "Projections",
                .product(name: "PostgresNIO", package: "postgres-nio"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            swiftSettings: swiftSettings
        ),

        // MARK: Offline tools
        .target(name: "Audit", dependencies: ["Journal", "Scheduling", "Projections", "Access"], swiftSettings: swiftSettings),

        // MARK: Server
        .target(
            name: "Server",
            dependencies: [
                "Journal", "Scheduling", "Projections", "Engine", "Access", "Cluster", "PostgresJournal",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Prometheus", package: "swift-prometheus"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
.product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "HTTPTypes", package: "swift-http-types"),
                .product(name: "UnixSignals", package: "swift-service-lifecycle"),
            ],
            resources: [.copy("Resources/openapi.json"), .copy("Resources/ui")],
            swiftSettings: swiftSettings
        ),
        .executableTarget(
            name: "almanac",
            dependencies: [
                "Server", "Engine", "Journal", "Audit", "Projections", "Scheduling", "Access", "PostgresJournal", "Cluster",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            swiftSettings: swiftSettings
        ),

        // MARK: Tools
        .executableTarget(
            name: "journal-torture",
            dependencies: ["Journal", "AlmanacTesting"],
            path: "tools/torture",
            swiftSettings: swiftSettings
        ),
        .executableTarget(
            name: "engine-torture",
            dependencies: [
                "Engine", "Journal", "Scheduling", "Projections", "AlmanacTesting",
                .product(name: "Logging", package: "swift-log"),
            ],
            path: "tools/engine-torture",
            swiftSettings: swiftSettings
        ),
        .executableTarget(
            name: "bench-scheduler",
            dependencies: [
                "Engine", "Journal", "Scheduling", "Projections", "AlmanacTesting",
                .product(name: "Logging", package: "swift-log"),
            ],
            path: "tools/bench/scheduler",
            swiftSettings: swiftSettings
        ),
        .executableTarget(
            name: "bench-cron",
            dependencies: ["Scheduling"],
            path: "tools/bench/cron",
            swiftSettings: swiftSettings
        ),
        .executableTarget(
            name: "bench-replay",
            dependencies: ["Journal", "Scheduling", "Projections", "AlmanacTesting"],
            path: "tools/bench/replay",
            swiftSettings: swiftSettings
        ),
        .executableTarget(
            name: "bench-fill",
            dependencies: ["Engine", "Journal", "Scheduling"],
            path: "tools/bench/snapshot/fill",
            swiftSettings: swiftSettings
        ),
        .executableTarget(
            name: "bench-http-echo",
            dependencies: [.product(name: "Hummingbird", package: "hummingbird")],
            path: "tools/bench/http/echo",
            swiftSettings: swiftSettings
        ),
        .executableTarget(
            name: "bench-journal",
            dependencies: ["Journal"],
            path: "tools/bench/journal",
            swiftSettings: swiftSettings
        ),

        // MARK: Test support and tests
        .target(
            name: "AlmanacTesting",
            dependencies: [
                "Journal", "Scheduling", "Engine",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
            ],
            swiftSettings: swiftSettings
        ),
        .testTarget(name: "AccessTests", dependencies: ["Access", "Journal", "Scheduling", "AlmanacTesting"], swiftSettings: swiftSettings),
        .testTarget(name: "LMDBTests", dependencies: ["LMDB", "AlmanacTesting"], swiftSettings: swiftSettings),
        .testTarget(
            name: "SchedulingTests",
            dependencies: ["Scheduling"],
            exclude: ["Vectors"],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "EngineTests",
            dependencies: [
                "Engine", "Journal", "Scheduling", "Projections", "AlmanacTesting", "engine-torture",
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "ServerTests",
            dependencies: [
                "Server", "Engine", "Journal", "Scheduling", "Projections", "AlmanacTesting", "almanac", "Access", "PostgresJournal",
                .product(name: "HummingbirdTesting", package: "hummingbird"),
                .product(name: "PostgresNIO", package: "postgres-nio"),
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "HTTPTypes", package: "swift-http-types"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "AuditTests",
            dependencies: [
                "Audit", "Engine", "Journal", "LMDB", "Scheduling", "Projections", "AlmanacTesting", "almanac", "Access",
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "ProjectionsTests",
            dependencies: ["Projections", "Journal", "Scheduling", "AlmanacTesting"],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "JournalTests",
            dependencies: ["Journal", "PostgresJournal", "LMDB", "AlmanacTesting", "journal-torture"],
            swiftSettings: swiftSettings
        ),
    ]
)
