// swift-tools-version:6.0
import PackageDescription

let package = Package(
    name: "ferris-usage",
    platforms: [.macOS(.v15)],
    products: [
        .executable(name: "ferris-usage", targets: ["FerrisUsageCLI"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
        .package(url: "https://github.com/apple/swift-log", from: "1.6.0"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle", from: "2.6.0"),
        .package(url: "https://github.com/jpsim/Yams", from: "6.0.0"),
        .package(url: "https://github.com/hummingbird-project/hummingbird", from: "2.0.0"),
        .package(url: "https://github.com/swift-server/swift-prometheus", from: "2.0.0"),
        // The usage API: generated from docs/openapi.yaml, served by Hummingbird, OIDC tokens checked with jwt-kit.
        .package(url: "https://github.com/apple/swift-openapi-generator", from: "1.14.0"),
        .package(url: "https://github.com/apple/swift-openapi-runtime", from: "1.13.0"),
        .package(url: "https://github.com/hummingbird-project/swift-openapi-hummingbird", from: "2.1.0"),
        .package(url: "https://github.com/vapor/jwt-kit", from: "5.7.0"),
        .package(url: "https://github.com/apple/swift-nio", from: "2.80.0"),
        .package(url: "https://github.com/apple/swift-http-types", from: "1.0.0"),
        .package(url: "https://github.com/apple/swift-crypto", from: "4.0.0"),
    ],
    targets: [
        // C shims over the system libraries (pkg-config finds librdkafka >= 2.3 and libpq).
        .systemLibrary(name: "CRdKafka", path: "Sources/CRdKafka", pkgConfig: "rdkafka",
                       providers: [.apt(["librdkafka-dev"])]),
        .systemLibrary(name: "CLibPQ", path: "Sources/CLibPQ", pkgConfig: "libpq",
                       providers: [.apt(["libpq-dev"])]),
        // Thin, safe wrappers.
        .target(name: "Kafka", dependencies: ["CRdKafka", .product(name: "Logging", package: "swift-log")]),
        .target(name: "PostgreSQL", dependencies: ["CLibPQ", .product(name: "Logging", package: "swift-log")]),
        // The usage standard: CloudEvents codec, usage event and totals model. No I/O.
        .target(name: "UsageStandard"),
        // The stage library: windows and aggregation. No I/O.
        .target(name: "UsageStages", dependencies: ["UsageStandard"]),
        // Topology files: a deployment's flow described in YAML, checked, explained, and built into stages.
        .target(name: "UsageTopology", dependencies: ["UsageStages", "UsageStandard",
                                                      .product(name: "Yams", package: "Yams")]),
        // The service: the consume -> aggregate -> sink -> commit loop and its sinks.
        .target(name: "UsageService", dependencies: [
            "Kafka", "PostgreSQL", "UsageStandard", "UsageStages", "UsageTopology",
            .product(name: "Logging", package: "swift-log"),
            .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
        ]),
        // Operations endpoints of a running service: /metrics (Prometheus), /healthz, /readyz.
        .target(name: "UsageEndpoints", dependencies: [
            "UsageService", "Kafka",
            .product(name: "Hummingbird", package: "hummingbird"),
            .product(name: "Prometheus", package: "swift-prometheus"),
            .product(name: "Logging", package: "swift-log"),
        ]),
        // The usage API (`ferris-usage api`): totals from PostgreSQL over REST and a usage page, OIDC bearer auth with
        // tenant isolation. Server code generated from docs/openapi.yaml (Sources/UsageAPI/openapi.yaml links to it).
        .target(name: "UsageAPI", dependencies: [
            "PostgreSQL", "UsageStandard",
            .product(name: "OpenAPIRuntime", package: "swift-openapi-runtime"),
            .product(name: "OpenAPIHummingbird", package: "swift-openapi-hummingbird"),
            .product(name: "Hummingbird", package: "hummingbird"),
            .product(name: "JWTKit", package: "jwt-kit"),
            .product(name: "NIOPosix", package: "swift-nio"),
            .product(name: "HTTPTypes", package: "swift-http-types"),
            .product(name: "Logging", package: "swift-log"),
            .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
        ], plugins: [.plugin(name: "OpenAPIGenerator", package: "swift-openapi-generator")]),
        // Realistic events for the seed scenarios, and the totals they must produce.
        .target(name: "UsageSimulation", dependencies: ["UsageStandard", "UsageStages", "Kafka"]),
        .executableTarget(name: "FerrisUsageCLI", dependencies: [
            "UsageService", "UsageEndpoints", "UsageAPI", "UsageSimulation", "UsageTopology", "Kafka", "PostgreSQL", "UsageStandard",
            .product(name: "ArgumentParser", package: "swift-argument-parser"),
            .product(name: "Logging", package: "swift-log"),
            .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
        ], path: "Sources/ferris-usage"),
        // Benchmark harnesses; their figures live in benchmarks/README.md.
        .target(name: "MallocCounter", path: "benchmarks/malloc-counter"),
        .executableTarget(name: "pipeline-throughput",
                          dependencies: ["UsageStandard", "UsageStages", "UsageTopology", "UsageSimulation", "MallocCounter"],
                          path: "benchmarks/pipeline-throughput"),
        .testTarget(name: "UsageStandardTests", dependencies: ["UsageStandard"]),
        .testTarget(name: "UsageStagesTests", dependencies: ["UsageStages", "UsageStandard", "UsageSimulation", "UsageTopology"]),
        .testTarget(name: "UsageAPITests", dependencies: [
            "UsageAPI", "PostgreSQL", "UsageService", "UsageSimulation", "UsageStandard", "UsageTopology", "Kafka",
            .product(name: "JWTKit", package: "jwt-kit"),
            .product(name: "CryptoExtras", package: "swift-crypto"),
            .product(name: "Hummingbird", package: "hummingbird"),
            .product(name: "Logging", package: "swift-log"),
            .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
        ]),
        .testTarget(name: "IntegrationTests", dependencies: [
            "Kafka", "PostgreSQL", "UsageService", "UsageEndpoints", "UsageSimulation", "UsageStandard", "UsageTopology",
            .product(name: "Logging", package: "swift-log"),
            .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
        ]),
    ],
    swiftLanguageModes: [.v6]
)
