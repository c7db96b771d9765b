import ArgumentParser
import Logging
import ServiceLifecycle
import UsageService
import UsageStandard

struct RunCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "run", abstract: "Run the accounting service until SIGTERM or SIGINT.")

    @OptionGroup var connection: ConnectionOptions

    @Option(help: "Regular expression for the instance event topics (env FERRIS_TOPIC_PATTERN).")
    var topicPattern: String?

    @Option(help: "Consumer group id; replicas with the same id share the work (env FERRIS_GROUP_ID).")
    var group: String?

    @Option(help: "Seconds after a window's end during which its events are still accepted.")
    var graceSeconds: Int64 = 3600

    @Option(help: "Milliseconds between emitting totals and committing offsets.")
    var commitIntervalMs: Int64 = 1000

    @Option(help: "Topic for rejected and late records (env FERRIS_DEAD_LETTER_TOPIC).")
    var deadLetterTopic: String?

    @Option(help: "Refuse events older than this many days before their record (keep topic retention longer).")
    var maxEventAgeDays: Int64 = 34

    @Option(help: "Refuse events more than this many minutes after their record's timestamp.")
    var maxFutureSkewMinutes: Int64 = 15

    func run() async throws {
        let logger = connection.makeLogger("ferris-usage")
        var configuration = try makeConfiguration(connection: connection, topicPattern: topicPattern, group: group,
                                                  graceSeconds: graceSeconds, commitIntervalMs: commitIntervalMs)
        configuration.deadLetterTopic = deadLetterTopic ?? environment("FERRIS_DEAD_LETTER_TOPIC") ?? configuration.deadLetterTopic
        configuration.policy = UsageEventDecoder.Policy(maxEventAgeMilliseconds: maxEventAgeDays * 86_400_000,
                                                        maxFutureSkewMilliseconds: maxFutureSkewMinutes * 60_000)
        let pipeline = UsagePipeline(configuration: configuration, logger: logger)
        let group = ServiceGroup(configuration: .init(services: [pipeline], gracefulShutdownSignals: [.sigterm, .sigint],
                                                      logger: logger))
        try await group.run()
    }
}

func makeConfiguration(connection: ConnectionOptions, topicPattern: String?, group: String?,
                       graceSeconds: Int64, commitIntervalMs: Int64) throws -> UsagePipelineConfiguration {
    guard let brokers = connection.resolvedBrokers else {
        throw CLIError("no Kafka brokers: pass --brokers host:port or set FERRIS_BROKERS")
    }
    guard let databaseURL = connection.resolvedDatabaseURL else {
        throw CLIError("no database: pass --database-url postgresql://... or set FERRIS_DATABASE_URL")
    }
    return UsagePipelineConfiguration(
        brokers: brokers, databaseURL: databaseURL,
        groupID: group ?? environment("FERRIS_GROUP_ID") ?? "ferris-usage",
        topicPattern: topicPattern ?? environment("FERRIS_TOPIC_PATTERN") ?? #"^ferris\.events\..+"#,
        totalsTopic: connection.resolvedTotalsTopic,
        graceMilliseconds: graceSeconds * 1000, commitIntervalMilliseconds: commitIntervalMs,
        kafka: try connection.extraKafkaProperties())
}
