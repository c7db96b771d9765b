import ArgumentParser
import Foundation
import Kafka

@main
struct FerrisUsage: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "ferris-usage",
        abstract: "Exact, billable hourly usage totals from ferrisDX CloudEvents on Kafka.",
        version: ferrisUsageVersion,
        subcommands: [RunCommand.self, SimulateCommand.self, DemoCommand.self, ValidateCommand.self, TopologyCommand.self,
                      ReplayCommand.self, ExportCommand.self, ServicesCommand.self, CollectCommand.self, RegistryCommand.self,
                      APICommand.self, PricesCommand.self, BudgetsCommand.self])
}

/// Where the broker and database are; flags win over environment variables.
struct ConnectionOptions: EnvironmentDefaults {
    @Option(help: "Kafka bootstrap servers (env FERRIS_BROKERS).")
    var brokers: String?

    @Option(help: "PostgreSQL URL, e.g. postgresql://user@host:5432/db (env FERRIS_DATABASE_URL).")
    var databaseURL: String?

    @Option(help: "Compacted topic the totals are written to (env FERRIS_TOTALS_TOPIC).")
    var totalsTopic: String?

    @Option(name: .customLong("kafka"),
            help: "A librdkafka property name=value, repeatable (e.g. security.protocol=SASL_SSL; env FERRIS_KAFKA_SECURITY_PROTOCOL=SASL_SSL); see librdkafka's CONFIGURATION.md.")
    var kafkaProperties: [String] = []

    static let environmentDefaults: [EnvironmentDefault<Self>] = [
        .string("FERRIS_BROKERS", \.brokers),
        .string("FERRIS_DATABASE_URL", \.databaseURL),
        .string("FERRIS_TOTALS_TOPIC", \.totalsTopic),
    ]

    /// The brokers, or an error saying how to give them.
    func requiredBrokers() throws -> String {
        guard let brokers else { throw CLIError("no Kafka brokers: pass --brokers host:port or set FERRIS_BROKERS") }
        return brokers
    }

    /// The librdkafka properties from `FERRIS_KAFKA_<NAME>` environment variables (`FERRIS_KAFKA_SASL_PASSWORD` is
    /// `sasl.password`: lower case, `_` for `.`; how a Kubernetes Secret reaches the service), then `--kafka` flags.
    func extraKafkaProperties() throws -> [String: String] {
        try Self.kafkaProperties(flags: kafkaProperties)
    }

    /// The librdkafka properties from `FERRIS_KAFKA_<NAME>` environment variables, then the `--kafka name=value`
    /// flags `flags` (which win).
    static func kafkaProperties(flags: [String]) throws -> [String: String] {
        var result: [String: String] = [:]
        for (name, value) in environment(prefix: "FERRIS_KAFKA_") {
            result[name.lowercased().replacingOccurrences(of: "_", with: ".")] = value
        }
        for property in flags {
            let parts = property.split(separator: "=", maxSplits: 1)
            guard parts.count == 2, !parts[0].isEmpty else {
                throw CLIError("--kafka '\(property)' is not name=value")
            }
            result[String(parts[0])] = String(parts[1])
        }
        return result
    }

    /// librdkafka configuration for the resolved brokers plus `--kafka` properties.
    func kafkaConfiguration(brokers: String) throws -> KafkaConfiguration {
        var config = KafkaConfiguration(try extraKafkaProperties())
        config["bootstrap.servers"] = brokers
        return config
    }
}

/// A failure the CLI reports as one clear line.
struct CLIError: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}
