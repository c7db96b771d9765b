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
    ],
    targets: [
        // C shims over the system libraries (pkg-config finds librdkafka >= 2.3 and libpq).
        .systemLibrary(name: "CRdKafka", path: "Sources/CRdKafka", pkgConfig: "rdkafka",
                       providers: [.apt(["librdkafka-dev"])]),
        .systemLibrary(name: "CLibPQ", path: "Sources/CLibPQ", pkgConfig: "libpq",
                       providers: [.apt(["libpq-dev"])]),
        // Thin, safe wrappers.
        .target(name: "Kafka", dependencies: ["CRdKafka", .product(name: "Logging", package: "swift-log")]),
        .target(name: "PostgreSQL", dependencies: ["CLibPQ"]),
        // The usage standard: CloudEvents codec, usage event and totals model. No I/O.
        .target(name: "UsageStandard"),
        // The stage library: windows and aggregation. No I/O.
        .target(name: "UsageStages", dependencies: ["UsageStandard"]),
        // Topology files: a deployment's flow described in YAML, checked, explained, and built into stages.
        .target(name: "UsageTopology", dependencies: ["UsageStages", "UsageStandard",
                                                      .product(name: "Yams", package: "Yams")]),
        // The totals in PostgreSQL: schema and migrations, the sink's guarded upserts, current figures, replay bookkeeping.
        .target(name: "UsagePostgres", dependencies: ["PostgreSQL", "UsageStandard"]),
        // The service: the consume -> aggregate -> sink -> commit loop (a state machine and its driver) and its sinks.
        .target(name: "UsageService", dependencies: [
            "Kafka", "UsagePostgres", "UsageStandard", "UsageStages", "UsageTopology",
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
        // Development only: a throwaway local broker and PostgreSQL for `demo`, `services` and the tests.
        .target(name: "DevelopmentServices", dependencies: [.product(name: "Logging", package: "swift-log")]),
        // Realistic events for the seed scenarios, and the totals they must produce.
        .target(name: "UsageSimulation", dependencies: ["UsageStandard", "UsageStages", "Kafka"]),
        .executableTarget(name: "FerrisUsageCLI", dependencies: [
            "UsageService", "UsageEndpoints", "UsageSimulation", "UsageTopology", "UsagePostgres", "DevelopmentServices",
            "Kafka", "UsageStandard",
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
        .testTarget(name: "UsageServiceTests", dependencies: ["UsageService", "UsageStages", "UsageStandard", "UsageTopology", "Kafka"]),
        .testTarget(name: "IntegrationTests", dependencies: [
            "Kafka", "PostgreSQL", "UsagePostgres", "UsageService", "UsageEndpoints", "UsageSimulation", "UsageStandard", "UsageTopology",
            .product(name: "Logging", package: "swift-log"),
            .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
        ]),
    ],
    swiftLanguageModes: [.v6]
)
