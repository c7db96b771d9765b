import ArgumentParser
import Logging
import ProcessSupport
import ServiceLifecycle
import UsageCollector
import UsageCollectorService
import UsageStandard

struct CollectCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "collect",
        abstract: "Turn the Prometheus series of every instance in the registry into usage events.",
        subcommands: [Run.self, Check.self, DefaultMapping.self], defaultSubcommand: Run.self)

    struct Run: AsyncParsableCommand, EnvironmentDefaults {
        static let configuration = CommandConfiguration(
            abstract: "Collect until SIGTERM or SIGINT (the default subcommand: `ferris-usage collect --prometheus-url ...`).")

        @OptionGroup var connection: ConnectionOptions
        @OptionGroup var logging: LogOptions

        @Option(help: "The Prometheus server (env FERRIS_PROMETHEUS_URL), e.g. http://prometheus.monitoring.svc:9090.")
        var prometheusURL: String?

        @Option(help: "Mapping file (collector/default.yaml's format; env FERRIS_COLLECT_MAPPING). Default: the built-in mapping.")
        var mapping: String?

        @Option(help: "Only the instances on this Kubernetes cluster (env FERRIS_CLUSTER). Default: every instance in the registry.")
        var cluster: String?

        @Option(help: "The compacted instance topic (env FERRIS_INSTANCE_TOPIC).")
        var instanceTopic: String?

        @Option(help: "The compacted topic of the collector's cursors (env FERRIS_CURSOR_TOPIC).")
        var cursorTopic: String?

        @Option(help: "/readyz turns not ready when an instance's collection is this many seconds behind its schedule.")
        var maxLagSeconds: Int64 = 300

        @Option(help: "Port of /metrics, /healthz and /readyz (env FERRIS_HTTP_PORT); 0 turns them off.")
        var httpPort: Int?

        @Option(help: "Address the HTTP endpoints listen on.")
        var httpHost = "0.0.0.0"

        @Option(help: "After SIGTERM or SIGINT, exit after this many seconds even if the current interval is not delivered (it is collected again after the restart); a second signal exits at once.")
        var shutdownTimeoutSeconds = 25

        static let environmentDefaults: [EnvironmentDefault<Self>] = [
            .string("FERRIS_PROMETHEUS_URL", \.prometheusURL),
            .string("FERRIS_COLLECT_MAPPING", \.mapping),
            .string("FERRIS_CLUSTER", \.cluster),
            .string("FERRIS_INSTANCE_TOPIC", \.instanceTopic),
            .string("FERRIS_CURSOR_TOPIC", \.cursorTopic),
            .int("FERRIS_HTTP_PORT", \.httpPort),
        ]

        func run() async throws {
            let logger = logging.makeLogger(label: "ferris-usage.collect")
            let brokers = try connection.requiredBrokers()
            guard let prometheus = prometheusURL else {
                throw CLIError("no Prometheus: pass --prometheus-url http://host:9090 or set FERRIS_PROMETHEUS_URL")
            }
            var mappingConfiguration = CollectorConfiguration.standard
            if let path = mapping {
                do {
                    mappingConfiguration = try CollectorConfiguration.load(path: path)
                } catch {
                    throw CLIError("mapping \(path) has problems:\n\(error)")
                }
            }
            var options = CollectorOptions(kafka: try connection.kafkaConfiguration(brokers: brokers), prometheusURL: prometheus,
                                           mapping: mappingConfiguration)
            options.cluster = cluster
            if let topic = instanceTopic { options.registryTopic = topic }
            if let topic = cursorTopic { options.cursorTopic = topic }
            options.maxLagMilliseconds = maxLagSeconds * 1000
            let collector = CollectorService(options: options, logger: logger)
            var services: [any Service] = [collector]
            let port = httpPort ?? 9090
            if port > 0 {
                let status = collector.status
                services.append(ProbesServer.make(host: httpHost, port: port, serverName: "ferris-usage-collect",
                                                  readiness: { status.readiness }, metrics: { status.exposition() }, logger: logger))
            }
            try await ProcessServices.run(services, shutdownTimeout: .seconds(shutdownTimeoutSeconds), logger: logger)
        }
    }

    struct Check: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Check mapping files; print 'FILE:LINE:COLUMN: problem' for each problem and exit 1 if any.")

        @Argument(help: "Mapping files.") var files: [String]

        func run() throws {
            var failed = false
            for file in files {
                do {
                    _ = try CollectorConfiguration.load(path: file)
                } catch {
                    failed = true
                    for problem in error.problems { print(problem) }
                }
            }
            if failed { throw ExitCode(1) }
        }
    }

    struct DefaultMapping: ParsableCommand {
        static let configuration = CommandConfiguration(commandName: "default-mapping",
                                                        abstract: "Print the built-in mapping (a starting point for your own).")

        func run() { print(CollectorConfiguration.standardText, terminator: "") }
    }
}
