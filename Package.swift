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
        // FOCUS export: gzip (with NIO's byte buffers); SHA-256 from swift-crypto (also the API's).
        .package(url: "https://github.com/adam-fowler/compress-nio", from: "1.5.0"),
        // The collector's Prometheus client.
        .package(url: "https://github.com/swift-server/async-http-client", from: "1.37.0"),
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
        // Layers, bottom up (a target only depends on targets of its own layer or below; Sources/<layer>/<target>):
        // Shims (C) -> Wrappers (safe Swift over C libraries) -> Standard (the Usage Tracking Standard, no I/O) ->
        // Stages (pure logic on the standard) -> Stores (the standard's data in Kafka topics and PostgreSQL) ->
        // Services (long-running parts of a process) -> CLI. Support serves every Swift layer; Development only the
        // demo, the tests and the benchmarks. docs/architecture.md draws the graph.

        // Shims: the system libraries (pkg-config finds librdkafka >= 2.3, libpq and libcurl).
        .systemLibrary(name: "CRdKafka", path: "Sources/Shims/CRdKafka", pkgConfig: "rdkafka",
                       providers: [.apt(["librdkafka-dev"])]),
        .systemLibrary(name: "CLibPQ", path: "Sources/Shims/CLibPQ", pkgConfig: "libpq",
                       providers: [.apt(["libpq-dev"])]),
        .systemLibrary(name: "CCurl", path: "Sources/Shims/CCurl", pkgConfig: "libcurl",
                       providers: [.apt(["libcurl4-openssl-dev"])]),

        // Support: what every process needs: blocking work on its own thread, retry backoff, the wall clock, the
        // probes and metrics server, the service group with its shutdown watchdog.
        .target(name: "ProcessSupport", dependencies: [
            .product(name: "Logging", package: "swift-log"),
            .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            .product(name: "Hummingbird", package: "hummingbird"),
        ], path: "Sources/Support/ProcessSupport"),
        // Configuration files read with every problem located (line and column): the one YAML reader of the
        // topology, collector mapping, price book and budget files.
        .target(name: "YAMLFiles", dependencies: [.product(name: "Yams", package: "Yams")], path: "Sources/Support/YAMLFiles"),

        // Wrappers: thin, safe Swift over the C libraries; they know nothing of usage.
        .target(name: "Kafka", dependencies: ["CRdKafka", .product(name: "Logging", package: "swift-log")],
                path: "Sources/Wrappers/Kafka"),
        .target(name: "PostgreSQL", dependencies: ["CLibPQ"], path: "Sources/Wrappers/PostgreSQL"),
        // S3 objects and multipart uploads, signed by libcurl (AWS Signature V4).
        .target(name: "S3", dependencies: ["CCurl", .product(name: "Crypto", package: "swift-crypto")],
                path: "Sources/Wrappers/S3"),

        // Standard: the Usage Tracking Standard: CloudEvents codec, usage event and totals model. No I/O.
        .target(name: "UsageStandard", path: "Sources/Standard/UsageStandard"),

        // Stages: pure logic on the standard. No I/O.
        // The stage library: windows and aggregation.
        .target(name: "UsageStages", dependencies: ["UsageStandard"], path: "Sources/Stages/UsageStages"),
        // Topology files: a deployment's flow described in YAML, checked, explained, and built into stages.
        .target(name: "UsageTopology", dependencies: ["UsageStages", "UsageStandard", "YAMLFiles", .product(name: "Yams", package: "Yams")],
                path: "Sources/Stages/UsageTopology"),
        // The collector's pure core: mapping files, exact interval usage from raw Prometheus samples, the scheduler
        // state machine.
        .target(name: "UsageCollector", dependencies: ["UsageStandard", "ProcessSupport", "YAMLFiles", .product(name: "Yams", package: "Yams")],
                path: "Sources/Stages/UsageCollector"),
        // Prices and costs: the price book (versions, SKUs, tiers, contracts), its file format, and exact rating of
        // totals into FOCUS costs.
        .target(name: "UsagePricing", dependencies: ["UsageStandard", "YAMLFiles", .product(name: "Yams", package: "Yams")],
                path: "Sources/Stages/UsagePricing"),
        // Budgets: their file form and rules, the periods they count in, and the tracker that turns figures into
        // threshold and forecast alerts (standard, section 15).
        .target(name: "UsageBudgets", dependencies: ["UsagePricing", "UsageStandard", "YAMLFiles", .product(name: "Yams", package: "Yams")],
                path: "Sources/Stages/UsageBudgets"),

        // Stores: the standard's data where it is kept.
        // The totals in PostgreSQL, and the only code that knows their tables and views: schema and migrations, the
        // sink's guarded upserts, typed queries of the current figures (API, export), replay bookkeeping.
        .target(name: "UsagePostgres", dependencies: ["PostgreSQL", "UsageStandard"], path: "Sources/Stores/UsagePostgres"),
        // The instance registry on Kafka: follows the compacted registry topic, publishes instance events, and
        // translates the deployment wizard's configuration message.
        .target(name: "UsageRegistry", dependencies: ["Kafka", "UsageStandard", .product(name: "Logging", package: "swift-log")],
                path: "Sources/Stores/UsageRegistry"),
        // Price books on Kafka: the compacted prices topic read into every book's history, and publications of a new
        // revision that keep the history's rule (standard, section 14).
        .target(name: "UsagePriceBooks", dependencies: ["Kafka", "UsagePricing", "UsageStandard", .product(name: "Logging", package: "swift-log")],
                path: "Sources/Stores/UsagePriceBooks"),

        // Services: the long-running parts of a process.
        // The accounting: the consume -> aggregate -> sink -> commit loop (a state machine and its driver) and its sinks.
        .target(name: "UsageService", dependencies: [
            "Kafka", "ProcessSupport", "UsagePostgres", "UsageRegistry", "UsageStandard", "UsageStages", "UsageTopology",
            .product(name: "Logging", package: "swift-log"),
            .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
        ], path: "Sources/Services/UsageService"),
        // The accounting's metrics and readiness (served by ProcessSupport's probes server).
        .target(name: "UsageEndpoints", dependencies: [
            "UsageService", "Kafka", "ProcessSupport",
            .product(name: "Prometheus", package: "swift-prometheus"),
        ], path: "Sources/Services/UsageEndpoints"),
        // FOCUS export: closed days and months of PostgreSQL's totals as FOCUS files in S3, and its schedule.
        .target(name: "FocusExport", dependencies: [
            "Kafka", "PostgreSQL", "ProcessSupport", "UsagePostgres", "UsagePriceBooks", "UsagePricing", "UsageStandard", "S3",
            .product(name: "Crypto", package: "swift-crypto"),
            .product(name: "CompressNIO", package: "compress-nio"),
            .product(name: "NIOCore", package: "swift-nio"),
            .product(name: "Logging", package: "swift-log"),
            .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
        ], path: "Sources/Services/FocusExport"),
        // The collector's driver: Prometheus HTTP API client, Kafka events and cursors, status. Independent of the
        // accounting service (never imports UsageService).
        .target(name: "UsageCollectorService", dependencies: [
            "UsageCollector", "UsageRegistry", "Kafka", "ProcessSupport", "UsageStandard",
            .product(name: "AsyncHTTPClient", package: "async-http-client"),
            .product(name: "Prometheus", package: "swift-prometheus"),
            .product(name: "Logging", package: "swift-log"),
            .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
        ], path: "Sources/Services/UsageCollectorService"),
        // The usage API (`ferris-usage api`): totals from PostgreSQL (asked of UsagePostgres) over REST and a usage
        // page, OIDC bearer auth with tenant isolation. Server code generated from docs/openapi.yaml
        // (Sources/Services/UsageAPI/openapi.yaml links to it).
        .target(name: "UsageAPI", dependencies: [
            "Kafka", "PostgreSQL", "ProcessSupport", "UsagePostgres", "UsagePriceBooks", "UsagePricing", "UsageStandard",
            .product(name: "OpenAPIRuntime", package: "swift-openapi-runtime"),
            .product(name: "OpenAPIHummingbird", package: "swift-openapi-hummingbird"),
            .product(name: "Hummingbird", package: "hummingbird"),
            .product(name: "JWTKit", package: "jwt-kit"),
            .product(name: "NIOPosix", package: "swift-nio"),
            .product(name: "HTTPTypes", package: "swift-http-types"),
            .product(name: "Logging", package: "swift-log"),
            .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
        ], path: "Sources/Services/UsageAPI",
           plugins: [.plugin(name: "OpenAPIGenerator", package: "swift-openapi-generator")]),

        // Development only (demo, tests, benchmarks; never in production paths).
        // A throwaway local broker and PostgreSQL for `demo`, `services` and the tests.
        .target(name: "DevelopmentServices", dependencies: [.product(name: "Logging", package: "swift-log")],
                path: "Sources/Development/DevelopmentServices"),
        // Realistic events for the seed scenarios, and the totals they must produce.
        .target(name: "UsageSimulation", dependencies: ["UsageStandard", "UsageStages", "Kafka"],
                path: "Sources/Development/UsageSimulation"),

        // CLI: the `ferris-usage` command.
        .executableTarget(name: "FerrisUsageCLI", dependencies: [
            "UsageService", "UsageEndpoints", "UsageAPI", "UsageSimulation", "UsageTopology", "UsagePostgres", "DevelopmentServices",
            "Kafka", "ProcessSupport", "UsageStandard", "FocusExport", "S3", "UsageRegistry", "UsageCollector", "UsageCollectorService",
            "UsagePricing", "UsagePriceBooks", "PostgreSQL", "UsageBudgets", "YAMLFiles",
            .product(name: "ArgumentParser", package: "swift-argument-parser"),
            .product(name: "Logging", package: "swift-log"),
            .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
        ], path: "Sources/CLI/ferris-usage"),

        // Benchmark harnesses; their figures live in benchmarks/README.md.
        .target(name: "MallocCounter", path: "benchmarks/malloc-counter"),
        .executableTarget(name: "pipeline-throughput",
                          dependencies: ["UsageStandard", "UsageStages", "UsageTopology", "UsageSimulation", "MallocCounter"],
                          path: "benchmarks/pipeline-throughput"),

        // What the tests share: the servers scripts/test.sh started (from the environment), free ports, unique
        // names, a logger, set-up errors.
        .target(name: "TestSupport", dependencies: ["DevelopmentServices", "Kafka", "ProcessSupport", .product(name: "Logging", package: "swift-log")],
                path: "Tests/TestSupport"),
        .testTarget(name: "KafkaTests", dependencies: ["Kafka"]),
        .testTarget(name: "ProcessSupportTests", dependencies: [
            "ProcessSupport",
            .product(name: "Hummingbird", package: "hummingbird"),
            .product(name: "HummingbirdTesting", package: "hummingbird"),
        ]),
        .testTarget(name: "UsageStandardTests", dependencies: ["ProcessSupport", "UsageStandard"]),
        .testTarget(name: "UsageStagesTests", dependencies: ["UsageStages", "UsageStandard", "UsageSimulation", "UsageTopology"]),
        .testTarget(name: "UsageServiceTests", dependencies: ["UsageService", "UsageStages", "UsageStandard", "UsageTopology", "Kafka"]),
        .testTarget(name: "FocusExportTests", dependencies: ["FocusExport", "S3", "UsageStandard"]),
        .testTarget(name: "UsageCollectorTests", dependencies: ["UsageCollector", "UsageRegistry", "UsageStandard"]),
        .testTarget(name: "UsagePricingTests", dependencies: ["UsagePricing", "UsageStandard", "YAMLFiles"]),
        .testTarget(name: "UsageBudgetsTests", dependencies: ["UsageBudgets", "UsagePricing", "UsageStandard"]),
        .testTarget(name: "UsagePriceBooksTests", dependencies: ["UsagePriceBooks", "UsagePricing", "UsageStandard"]),
        .testTarget(name: "CollectorIntegrationTests", dependencies: [
            "Kafka", "ProcessSupport", "TestSupport", "UsageCollector", "UsageRegistry", "UsageService", "UsageStandard",
            .product(name: "AsyncHTTPClient", package: "async-http-client"),
            .product(name: "Logging", package: "swift-log"),
        ]),
        .testTarget(name: "UsageAPITests", dependencies: [
            "UsageAPI", "PostgreSQL", "ProcessSupport", "TestSupport", "UsagePostgres", "UsagePriceBooks", "UsagePricing",
            "UsageService", "UsageSimulation", "UsageStandard", "UsageTopology", "Kafka",
            .product(name: "JWTKit", package: "jwt-kit"),
            .product(name: "CryptoExtras", package: "swift-crypto"),
            .product(name: "Hummingbird", package: "hummingbird"),
            .product(name: "HummingbirdTesting", package: "hummingbird"),
            .product(name: "Logging", package: "swift-log"),
            .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
        ]),
        .testTarget(name: "IntegrationTests", dependencies: [
            "Kafka", "PostgreSQL", "ProcessSupport", "TestSupport", "UsagePostgres", "UsageService", "UsageEndpoints",
            "UsageSimulation", "UsageStandard", "UsageTopology", "UsageStages", "UsageRegistry", "FocusExport", "S3",
            "UsagePricing", "UsagePriceBooks",
            .product(name: "Logging", package: "swift-log"),
            .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
        ]),
    ],
    swiftLanguageModes: [.v6]
)
