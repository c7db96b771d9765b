import ArgumentParser
import Foundation
import Kafka
import Logging

@main
struct FerrisUsage: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "ferris-usage",
        abstract: "Exact, billable hourly usage totals from ferrisDX CloudEvents on Kafka.",
        version: ferrisUsageVersion,
        subcommands: [RunCommand.self, SimulateCommand.self, DemoCommand.self, ValidateCommand.self, TopologyCommand.self,
                      ReplayCommand.self, ExportCommand.self, ServicesCommand.self, CollectCommand.self, RegistryCommand.self,
                      APICommand.self])
}

/// Where the broker and database are; flags win over environment variables.
struct ConnectionOptions: ParsableArguments {
    @Option(help: "Kafka bootstrap servers (env FERRIS_BROKERS).")
    var brokers: String?

    @Option(help: "PostgreSQL URL, e.g. postgresql://user@host:5432/db (env FERRIS_DATABASE_URL).")
    var databaseURL: String?

    @Option(help: "Compacted topic the totals are written to (env FERRIS_TOTALS_TOPIC).")
    var totalsTopic: String?

    @Option(name: .customLong("kafka"),
            help: "A librdkafka property name=value, repeatable (e.g. security.protocol=SASL_SSL; env FERRIS_KAFKA_SECURITY_PROTOCOL=SASL_SSL); see librdkafka's CONFIGURATION.md.")
    var kafkaProperties: [String] = []

    @Option(help: "Log level: trace, debug, info, notice, warning, error (env FERRIS_LOG_LEVEL).")
    var logLevel: String?

    @Option(help: "Log format: text, or json (one object per line, for log collectors) (env FERRIS_LOG_FORMAT).")
    var logFormat: String?

    /// The `--kafka` properties as a dictionary.
    /// The librdkafka properties from `FERRIS_KAFKA_<NAME>` environment variables (`FERRIS_KAFKA_SASL_PASSWORD` is
    /// `sasl.password`: lower case, `_` for `.`; how a Kubernetes Secret reaches the service), then `--kafka` flags.
    func extraKafkaProperties() throws -> [String: String] {
        var result: [String: String] = [:]
        for (name, value) in ProcessInfo.processInfo.environment where name.hasPrefix("FERRIS_KAFKA_") && !value.isEmpty {
            result[name.dropFirst("FERRIS_KAFKA_".count).lowercased().replacingOccurrences(of: "_", with: ".")] = value
        }
        for property in kafkaProperties {
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

    var resolvedBrokers: String? { brokers ?? environment("FERRIS_BROKERS") }
    var resolvedDatabaseURL: String? { databaseURL ?? environment("FERRIS_DATABASE_URL") }

    func makeLogger(_ label: String) -> Logger {
        let level = (logLevel ?? environment("FERRIS_LOG_LEVEL")).flatMap(Logger.Level.init(rawValue:)) ?? .info
        LoggingBootstrap.once(json: (logFormat ?? environment("FERRIS_LOG_FORMAT")) == "json")
        var logger = Logger(label: label)
        logger.logLevel = level
        return logger
    }
}

func environment(_ name: String) -> String? {
    guard let value = ProcessInfo.processInfo.environment[name], !value.isEmpty else { return nil }
    return value
}

enum LoggingBootstrap {
    private static let lock = NSLock()
    nonisolated(unsafe) private static var done = false

    /// Chooses the log handler, once per process (text on standard error, or JSON lines).
    static func once(json: Bool = false) {
        lock.lock()
        defer { lock.unlock() }
        guard !done else { return }
        done = true
        if json {
            LoggingSystem.bootstrap { label in JSONLogHandler(label: label) }
        } else {
            LoggingSystem.bootstrap { label in StreamLogHandler.standardError(label: label) }
        }
    }
}

/// A failure the CLI reports as one clear line.
struct CLIError: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}
