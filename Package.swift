// swift-tools-version:6.2
import PackageDescription

let swiftSettings: [SwiftSetting] = [
    .enableUpcomingFeature("InternalImportsByDefault"),
    .enableUpcomingFeature("ExistentialAny"),
    // Our targets only (dependencies keep their own): a warning is a finding, and CI builds with this.
    .treatAllWarnings(as: .error),
]

let package = Package(
    name: "tapedeck",
    platforms: [.macOS(.v15)],
    products: [
        .executable(name: "tapedeck", targets: ["tapedeck"]),
        .library(name: "TapedeckServer", targets: ["TapedeckServer"]),
        .library(name: "TapedeckTesting", targets: ["TapedeckTesting"]),
    ],
    dependencies: [
        .package(url: "https://github.com/hummingbird-project/hummingbird", exact: "2.28.1"),
        .package(url: "https://github.com/swift-server/async-http-client", exact: "1.37.0"),
        .package(url: "https://github.com/apple/swift-argument-parser", exact: "1.8.2"),
        .package(url: "https://github.com/groue/GRDB.swift", exact: "7.10.0"),
        .package(url: "https://github.com/apple/swift-log", from: "1.16.2"),
        .package(url: "https://github.com/apple/swift-nio", from: "2.101.3"),
        .package(url: "https://github.com/apple/swift-crypto", "3.12.3"..<"5.0.0"),
        .package(url: "https://github.com/apple/swift-http-types", from: "1.8.0"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle", from: "2.13.0"),
        .package(url: "https://github.com/hummingbird-project/swift-mustache", exact: "2.1.1"),
        .package(url: "https://github.com/apple/swift-collections", from: "1.6.0"),
        .package(url: "https://github.com/vapor/multipart-kit", exact: "4.7.1"),
    ],
    targets: [
        // Wire types, JSON, validation, SSE, errors, ids. No I/O.
        .target(
            name: "MessagesAPI",
            dependencies: [.product(name: "Crypto", package: "swift-crypto")],
            swiftSettings: swiftSettings
        ),
        // Deterministic synthetic answers. No I/O.
        .target(
            name: "Synthesis",
            dependencies: ["MessagesAPI", .product(name: "Crypto", package: "swift-crypto")],
            swiftSettings: swiftSettings
        ),
        // SQLite cassettes, fingerprints, matching.
        .target(
            name: "Cassette",
            dependencies: [
                "MessagesAPI",
                .product(name: "GRDB", package: "GRDB.swift"),
                .product(name: "Crypto", package: "swift-crypto"),
            ],
            swiftSettings: swiftSettings
        ),
        // The Hummingbird application.
        .target(
            name: "TapedeckServer",
            dependencies: [
                "MessagesAPI", "Synthesis", "Cassette",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "HTTPTypes", package: "swift-http-types"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "Mustache", package: "swift-mustache"),
                .product(name: "HeapModule", package: "swift-collections"),
                .product(name: "MultipartKit", package: "multipart-kit"),
                .product(name: "NIOPosix", package: "swift-nio"),
            ],
            // The inspector's templates and static files, and the vocabulary of synthetic answers, loaded once at
            // start-up (see InspectorTemplates and SynthesisVocabulary).
            resources: [.copy("Resources/Inspector"), .copy("Resources/Synthesis")],
            swiftSettings: swiftSettings
        ),
        // The command line: parsing and option resolution, testable by parsing.
        .target(
            name: "TapedeckCLI",
            dependencies: [
                "TapedeckServer", "Cassette", "MessagesAPI",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            swiftSettings: swiftSettings
        ),
        .executableTarget(name: "tapedeck", dependencies: ["TapedeckCLI"], swiftSettings: swiftSettings),
        // `withTapedeck`: the server in-process for the scope of a test, for Swift apps' test suites.
        .target(
            name: "TapedeckTesting",
            dependencies: [
                "TapedeckServer", "MessagesAPI",
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            swiftSettings: swiftSettings
        ),
        // A fake upstream and helpers shared by the test suites.
        .target(
            name: "TapedeckTestSupport",
            dependencies: [
                "MessagesAPI", "TapedeckTesting",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "HTTPTypes", package: "swift-http-types"),
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "NIOCore", package: "swift-nio"),
            ],
            swiftSettings: swiftSettings
        ),
        .executableTarget(
            name: "tapedeck-fake-upstream",
            dependencies: ["TapedeckTestSupport", .product(name: "Hummingbird", package: "hummingbird")],
            swiftSettings: swiftSettings
        ),
        // The benchmark's bare reference server (Benchmarks/run.sh builds it; it is not a product).
        .executableTarget(
            name: "bench-bare-server",
            dependencies: [.product(name: "Hummingbird", package: "hummingbird"), .product(name: "Logging", package: "swift-log")],
            path: "Benchmarks/BareServer",
            swiftSettings: swiftSettings
        ),
        // The paced-streams benchmark's load client: thousands of concurrent SSE streams on NIO (not a product).
        .executableTarget(
            name: "bench-paced-load",
            dependencies: [
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
            ],
            path: "Benchmarks/PacedLoad",
            swiftSettings: swiftSettings
        ),
        .testTarget(name: "MessagesAPITests", dependencies: ["MessagesAPI"], swiftSettings: swiftSettings),
        .testTarget(name: "SynthesisTests", dependencies: ["Synthesis", "MessagesAPI"], swiftSettings: swiftSettings),
        .testTarget(
            name: "CassetteTests",
            dependencies: ["Cassette", "MessagesAPI", "TapedeckTestSupport", .product(name: "GRDB", package: "GRDB.swift")],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "TapedeckCLITests",
            dependencies: ["TapedeckCLI", "TapedeckServer", "Cassette", "MessagesAPI", "TapedeckTestSupport"],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "TapedeckServerTests",
            dependencies: [
                "TapedeckServer", "TapedeckTesting", "TapedeckTestSupport", "MessagesAPI", "Cassette",
                .product(name: "HummingbirdTesting", package: "hummingbird"),
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
            ],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "TapedeckTestingTests",
            dependencies: [
                "TapedeckTesting", "TapedeckTestSupport", "Cassette",
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "NIOCore", package: "swift-nio"),
            ],
            swiftSettings: swiftSettings
        ),
    ]
)
