import ArgumentParser
import Foundation
import Kafka
import Logging
import ProcessSupport
import UsageService
import UsageSimulation
import UsageStandard

/// Which simulated usage to make.
struct SimulationOptions: ParsableArguments {
    @Option(name: .customLong("scenario"),
            help: "Scenario to simulate (repeatable): single-user-gcp, team-databricks, hybrid-onprem-gcp, large (2,000 tenants, hourly: 2.3 million events a day, one shared topic), or per-minute (200 tenants, every minute: 9,600 keys, 576,000 events an hour, one shared topic). Default: the three seed scenarios.")
    var scenarios: [String] = []

    @Option(help: "CloudEvents mode of the events: binary, structured, or mixed (each event at random).")
    var mode: String = "mixed"

    @Option(help: "Seed for reproducible events.")
    var seed: UInt64 = 42

    @Option(help: "UTC day to simulate, YYYY-MM-DD. Default: yesterday.")
    var date: String?

    @Option(help: "Hours to simulate from the start of the day.")
    var hours: Int = 24

    @Option(help: "Partitions per instance event topic when the simulator creates it.")
    var partitions: Int32 = 2

    func selectedScenarios() throws -> [Scenario] {
        guard !scenarios.isEmpty else { return Scenario.all }
        return try scenarios.map { id in
            guard let scenario = Scenario.named(id) else {
                throw CLIError("unknown scenario '\(id)'; choose from \((Scenario.all + [.large, .perMinute]).map(\.id).joined(separator: ", "))")
            }
            return scenario
        }
    }

    func simulator() throws -> UsageSimulator {
        let start: Timestamp
        if let date {
            guard let parsed = Timestamp.parse(date + "T00:00:00Z") else {
                throw CLIError("--date '\(date)' is not a date like 2026-11-25")
            }
            start = parsed
        } else {
            let now = WallClock.milliseconds()
            start = Timestamp(milliseconds: (now / 86_400_000 - 1) * 86_400_000)
        }
        guard mode == "mixed" || CloudEventMode(rawValue: mode) != nil else {
            throw CLIError("--mode '\(mode)' is not binary, structured or mixed")
        }
        return UsageSimulator(seed: seed, start: start, hours: hours, mode: CloudEventMode(rawValue: mode))
    }
}

/// Creates the instance topics of `scenarios` and produces their simulated events; returns the records.
func simulate(_ options: SimulationOptions, kafka: KafkaConfiguration, logger: Logger,
              progress: @escaping @Sendable (Int) -> Void) async throws -> [SimulatedRecord] {
    let scenarios = try options.selectedScenarios()
    let clock = ContinuousClock()
    let began = clock.now
    let records = try options.simulator().records(for: scenarios)
    let generated = clock.now
    let partitions = options.partitions
    var names = Set<String>()
    let topics = scenarios.flatMap(\.instances).map(\.topic).filter { names.insert($0).inserted }
        .map { KafkaNewTopic(name: $0, partitions: partitions, configs: ["retention.ms": "3024000000"]) }
    try await DedicatedThread.run(name: "simulate") {
        try KafkaAdmin(configuration: kafka, logger: logger).createTopics(topics)
        let producer = try KafkaProducer(configuration: kafka, logger: logger)
        let producing = clock.now
        try UsageSimulator.produce(records, with: producer, progress: progress)
        let produced = clock.now - producing
        let seconds = Double(produced.components.seconds) + Double(produced.components.attoseconds) / 1e18
        logger.info("simulated events produced", metadata: [
            "events": "\(records.count)", "generate_seconds": "\(generated - began)",
            "produce_seconds": "\(produced)", "produced_per_second": "\(Int(Double(records.count) / max(seconds, 1e-9)))",
        ])
    }
    return records
}

struct SimulateCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "simulate",
        abstract: "Produce realistic usage events for the seed scenarios, one topic per instance.")

    @OptionGroup var connection: ConnectionOptions
    @OptionGroup var logging: LogOptions
    @OptionGroup var simulation: SimulationOptions
    @OptionGroup var flow: FlowOptions

    @Option(help: "Write the exact hourly totals the events must produce to this file (JSON lines).")
    var expected: String?

    func run() async throws {
        let logger = logging.makeLogger(label: "ferris-usage.simulate")
        let topology = try flow.resolvedTopology(connection: connection)
        if let pattern = try? NSRegularExpression(pattern: topology.source.topics) {
            for instance in try simulation.selectedScenarios().flatMap(\.instances) {
                let range = NSRange(instance.topic.startIndex..., in: instance.topic)
                if pattern.firstMatch(in: instance.topic, range: range) == nil {
                    say("warning: topology '\(topology.name)' does not read \(instance.topic) (source.topics \(topology.source.topics))")
                }
            }
        }
        let brokers = try connection.requiredBrokers()
        let records = try await simulate(simulation, kafka: try connection.kafkaConfiguration(brokers: brokers),
                                          logger: logger) { count in
            FileHandle.standardError.write(Data("produced \(count) events\n".utf8))
        }
        if let expected {
            try ExpectedTotals(records: records, scope: topology.scope, key: topology.key)
                .jsonLines().write(toFile: expected, atomically: true, encoding: .utf8)
            FileHandle.standardError.write(Data("expected totals written to \(expected)\n".utf8))
        }
    }
}
