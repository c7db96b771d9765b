import ArgumentParser
import FocusExport
import Foundation
import Logging
import ProcessSupport
import ServiceLifecycle
import UsageEndpoints
import UsageService
import UsageStandard
import UsageTopology

struct RunCommand: AsyncParsableCommand, EnvironmentDefaults {
    static let configuration = CommandConfiguration(
        commandName: "run", abstract: "Run the accounting service until SIGTERM or SIGINT.")

    @OptionGroup var connection: ConnectionOptions
    @OptionGroup var logging: LogOptions
    @OptionGroup var flow: FlowOptions

    @Option(help: "Milliseconds between emitting totals and committing offsets.")
    var commitIntervalMs: Int64 = 1000

    @Option(help: "A stable, unique name for this replica, e.g. its pod name (env FERRIS_MEMBER_ID): static group membership, so that a restart takes its partitions back without waiting for the old process to time out.")
    var memberID: String?

    @Option(help: "Port of the HTTP endpoints /metrics, /healthz and /readyz (env FERRIS_HTTP_PORT); 0 turns them off.")
    var httpPort: Int?

    @Option(help: "Address the HTTP endpoints listen on.")
    var httpHost = "0.0.0.0"

    @Option(help: "/readyz turns not ready when the loop or a partition with records to read stands still this long.")
    var stallSeconds = 30

    @Flag(help: "Totals go to the Kafka totals topic only, not to PostgreSQL (billing consumers read the topic); no database URL needed.")
    var withoutPostgres = false

    @Flag(help: "Stop once every assigned partition has been read to its end and its totals are committed (batch accounting of a backlog, benchmarks); logs the rate from the first record consumed to the last commit.")
    var untilCaughtUp = false

    @Option(help: "After SIGTERM or SIGINT, exit after this many seconds even if the last commit has not finished; a second signal exits at once.")
    var shutdownTimeoutSeconds = 25

    @OptionGroup(title: "FOCUS export (on when --export-to or FERRIS_EXPORT_TO is given)") var export: ExportOptions

    @Option(help: "Seconds between two passes of the FOCUS export schedule.")
    var exportIntervalSeconds = 600

    static let environmentDefaults: [EnvironmentDefault<Self>] = [
        .string("FERRIS_MEMBER_ID", \.memberID),
        .int("FERRIS_HTTP_PORT", \.httpPort),
    ]

    func run() async throws {
        let logger = logging.makeLogger(label: "ferris-usage")
        var configuration = try flow.pipelineConfiguration(connection: connection, commitIntervalMs: commitIntervalMs,
                                                           database: !withoutPostgres)
        configuration.memberID = memberID
        let pipeline = UsagePipeline(configuration: configuration, mode: untilCaughtUp ? .untilCaughtUp(partitions: 1) : .continuous,
                                     logger: logger)
        var services: [any Service] = [pipeline]
        var extensions: [ProbeContributor] = []
        if var exportConfiguration = try export.configuration(databaseURL: configuration.databaseURL ?? "", topology: configuration.topology,
                                                                 connection: connection) {
            guard configuration.databaseURL != nil else { throw CLIError("the FOCUS export reads PostgreSQL: it cannot run with --without-postgres") }
            exportConfiguration.interval = .seconds(exportIntervalSeconds)
            // While this process's accounting is far behind, a closed day's last hours may be missing from PostgreSQL
            // altogether (a partition that far behind holds its provisional totals back), so "every total final"
            // proves nothing yet: the schedule waits.
            let counters = pipeline.counters
            let schedule = try ExportSchedule(configuration: exportConfiguration, logger: logger, holdBack: {
                let health = counters.health
                return AccountingBacklog.reason(joined: health.joined, partitionLags: health.partitions.values.map(\.lag),
                                                sinkLag: Int64(counters.sinkLag))
            })
            // First in the group, so that a shutdown stops it last: the pipeline's last commit never waits for an upload.
            services.insert(schedule, at: 0)
            extensions.append(schedule.status.probe)
        }
        let port = httpPort ?? 9090
        if port > 0 {
            services.append(OperationsServer.make(pipeline: pipeline, host: httpHost, port: port,
                                                  stallAfter: .seconds(stallSeconds), extensions: extensions, logger: logger))
        }
        // The pipeline ends the group: when it stops (or fails), the HTTP server and the export stop too.
        try await ProcessServices.run(services, shutdownTimeout: .seconds(shutdownTimeoutSeconds), logger: logger)
    }
}

/// The topology and the flags that override it.
struct FlowOptions: EnvironmentDefaults {
    @Option(help: "Topology file (topologies/*.yaml) describing the flow (env FERRIS_TOPOLOGY). Default: the built-in default topology.")
    var topology: String?

    @Option(help: "Regular expression for the instance event topics (env FERRIS_TOPIC_PATTERN; overrides the topology).")
    var topicPattern: String?

    @Option(help: "Consumer group id; replicas with the same id share the work (env FERRIS_GROUP_ID; overrides the topology).")
    var group: String?

    @Option(help: "Topic for rejected and late records (env FERRIS_DEAD_LETTER_TOPIC; overrides the topology).")
    var deadLetterTopic: String?

    @Option(help: "Seconds after a window's end during which its events are still accepted (overrides the topology).")
    var graceSeconds: Int64?

    @Option(help: "Refuse events older than this many days before their record (overrides the topology).")
    var maxEventAgeDays: Int64?

    @Option(help: "Refuse events more than this many minutes after their record's timestamp (overrides the topology).")
    var maxFutureSkewMinutes: Int64?

    @Option(help: "The instance registry's compacted topic (env FERRIS_INSTANCE_TOPIC; default ferris.instances): registered instances get their event topic, and usage of links they mark not accounted is dropped.")
    var instanceTopic: String?

    @Flag(help: "Run without the instance registry: the topology's scope rules only, no event topics created.")
    var withoutRegistry = false

    static let environmentDefaults: [EnvironmentDefault<Self>] = [
        .string("FERRIS_TOPOLOGY", \.topology),
        .string("FERRIS_TOPIC_PATTERN", \.topicPattern),
        .string("FERRIS_GROUP_ID", \.group),
        .string("FERRIS_DEAD_LETTER_TOPIC", \.deadLetterTopic),
        .string("FERRIS_INSTANCE_TOPIC", \.instanceTopic),
    ]

    /// The topology file's flow with the overrides applied.
    func resolvedTopology(connection: ConnectionOptions) throws -> Topology {
        var result = Topology.standard
        if let path = topology {
            do {
                result = try Topology.load(path: path)
            } catch {
                throw CLIError("topology \(path) has problems:\n\(error)")
            }
        }
        if let pattern = topicPattern { result.source.topics = pattern }
        if let group { result.source.group = group }
        if let topic = connection.totalsTopic { result.sinks.totalsTopic = topic }
        if let topic = deadLetterTopic { result.sinks.deadLetterTopic = topic }
        if let graceSeconds { result.window.graceMilliseconds = graceSeconds * 1000 }
        if let maxEventAgeDays { result.policy.maxEventAgeMilliseconds = maxEventAgeDays * 86_400_000 }
        if let maxFutureSkewMinutes { result.policy.maxFutureSkewMilliseconds = maxFutureSkewMinutes * 60_000 }
        return result
    }

    func pipelineConfiguration(connection: ConnectionOptions, commitIntervalMs: Int64,
                               database: Bool = true) throws -> UsagePipelineConfiguration {
        let brokers = try connection.requiredBrokers()
        let databaseURL = database ? connection.databaseURL : nil
        if database && databaseURL == nil {
            throw CLIError("no database: pass --database-url postgresql://... or set FERRIS_DATABASE_URL (or run --without-postgres)")
        }
        var configuration = UsagePipelineConfiguration(brokers: brokers, databaseURL: databaseURL,
                                                       topology: try resolvedTopology(connection: connection),
                                                       commitIntervalMilliseconds: commitIntervalMs,
                                                       kafka: try connection.extraKafkaProperties())
        configuration.instanceTopic = withoutRegistry ? nil
            : instanceTopic ?? UsageStandard.instanceTopic
        return configuration
    }
}
