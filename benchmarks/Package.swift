// swift-tools-version:6.0
import PackageDescription

// Benchmarks of ferris-usage, kept in their own package so that the service's build stays lean.
let package = Package(
    name: "ferris-usage-benchmarks",
    platforms: [.macOS(.v15)],
    dependencies: [
        .package(name: "ferris-usage", path: ".."),
    ],
    targets: [
        .executableTarget(name: "pipeline-throughput", dependencies: [
            .product(name: "UsageStandard", package: "ferris-usage"),
            .product(name: "UsageStages", package: "ferris-usage"),
            .product(name: "UsageTopology", package: "ferris-usage"),
            .product(name: "UsageSimulation", package: "ferris-usage"),
        ]),
    ],
    swiftLanguageModes: [.v6]
)
