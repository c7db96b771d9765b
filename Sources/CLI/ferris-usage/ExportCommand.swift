import ArgumentParser
import FocusExport
import Foundation
import Logging
import ProcessSupport
import S3
import UsageService
import UsagePriceBooks
import UsageStandard
import UsageTopology

struct ExportCommand: AsyncParsableCommand, EnvironmentDefaults {
    static let configuration = CommandConfiguration(
        commandName: "export",
        abstract: "Write closed UTC days and months of the totals as FinOps FOCUS 1.2 files (gzip CSV + manifest) to S3.",
        discussion: """
            Reads the current totals from PostgreSQL (the topology's sinks.table) and writes, per period,
            <prefix>/focus/v1/period=<YYYY-MM-DD|YYYY-MM>/revision=<N>/part-0000.csv.gz and its manifest.json.
            A period is exported only once closed: its end plus the topology's grace period and idle timeout has
            passed and every total in it is final; an open period is refused (exit status 1). Exporting again writes
            nothing unless the totals changed (then a new revision). `ferris-usage run --export-to ...` does the same
            on a schedule. Credentials come from FERRIS_S3_ACCESS_KEY_ID and FERRIS_S3_SECRET_ACCESS_KEY (or
            AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY), and FERRIS_S3_SESSION_TOKEN for temporary ones.
            """)

    @OptionGroup var connection: ConnectionOptions

    @Option(help: "Topology file: its sinks.table, grace period and idle timeout are used (env FERRIS_TOPOLOGY). Default: the built-in default topology.")
    var topology: String?

    @Option(help: "The view of current totals to export (overrides the topology's sinks.table; its replays are in <table>_replays).")
    var table: String?

    @OptionGroup var destination: ExportOptions

    @Option(name: .customLong("day"), help: "A UTC day to export, YYYY-MM-DD (repeatable).")
    var days: [String] = []

    @Option(name: .customLong("month"), help: "A UTC month to export, YYYY-MM (repeatable).")
    var months: [String] = []

    @Flag(help: "Export every closed day and month that is not exported yet or changed since (one pass of the schedule).")
    var closed = false

    @OptionGroup var logging: LogOptions

    static let environmentDefaults: [EnvironmentDefault<Self>] = [
        .string("FERRIS_TOPOLOGY", \.topology),
    ]

    func run() async throws {
        let periods = try (days + months).map { name -> ExportPeriod in
            guard let period = ExportPeriod(name) else {
                throw CLIError("'\(name)' is not a day (YYYY-MM-DD) or a month (YYYY-MM)")
            }
            return period
        }
        guard !periods.isEmpty || closed else {
            throw CLIError("name what to export: --day YYYY-MM-DD, --month YYYY-MM (both repeatable) or --closed")
        }
        let logger = logging.makeLogger(label: "ferris-usage.export")
        guard let url = connection.databaseURL else {
            throw CLIError("no database: pass --database-url postgresql://... or set FERRIS_DATABASE_URL")
        }
        var flow = Topology.standard
        if let path = topology {
            do {
                flow = try Topology.load(path: path)
            } catch {
                throw CLIError("topology \(path) has problems:\n\(error)")
            }
        }
        if let table { flow.sinks.table = table }
        guard var configuration = try destination.configuration(databaseURL: url, topology: flow, connection: connection) else {
            throw CLIError("no destination: pass --export-to s3://bucket/prefix/ or set FERRIS_EXPORT_TO")
        }
        let partLogger = logger
        configuration.onPartUploaded = { key, part in partLogger.debug("part stored", metadata: ["key": "\(key)", "part": "\(part)"]) }
        let destination = configuration.destination
        let exporter = try FocusExporter(configuration: configuration, logger: logger)
        let now = Timestamp(milliseconds: WallClock.milliseconds())
        let closed = self.closed
        let (outcomes, summary) = try await DedicatedThread.run(name: "export") { () throws -> ([ExportOutcome], String?) in
            let outcomes = try periods.map { try exporter.export($0, now: now) }
            guard closed else { return (outcomes, nil) }
            var memory = ExportMemory()
            let report = try exporter.pass(now: now, memory: &memory)
            if report.standby { throw CLIError("another process is exporting to \(destination): try again later") }
            let waiting = report.waiting.map { ExportOutcome.notClosed(period: $0, reason: "some of its totals are still provisional") }
            return (outcomes + report.written + waiting,
                    "closed periods: \(report.written.count) written, \(report.unchanged) unchanged, \(report.waiting.count) not final yet")
        }
        for outcome in outcomes { print(outcome) }
        if let summary { print(summary) }
        if outcomes.contains(where: { if case .notClosed = $0 { true } else { false } }) { throw ExitCode(1) }
    }
}

/// The export destination and store: shared by `export` and `run`.
struct ExportOptions: EnvironmentDefaults {
    @Option(help: "Where FOCUS files go, s3://bucket/prefix/ (env FERRIS_EXPORT_TO); with `run`, turns the export schedule on.")
    var exportTo: String?

    @Option(help: "S3 endpoint, e.g. http://minio.ferris.svc:9000 (env FERRIS_S3_ENDPOINT). Default: AWS, https://s3.<region>.amazonaws.com.")
    var s3Endpoint: String?

    @Option(help: "S3 signing region (env FERRIS_S3_REGION). Default: us-east-1 (MinIO's default).")
    var s3Region: String?

    /// Where the bucket goes in an S3 request's URL.
    enum Addressing: String, ExpressibleByArgument, CaseIterable, Sendable {
        case path, virtual
    }

    @Option(help: "S3 addressing: path (bucket in the path, as MinIO and SeaweedFS expect) or virtual (bucket in the host name) (env FERRIS_S3_ADDRESSING). Default: path.")
    var s3Addressing: Addressing?

    @Option(help: "PEM file of the certificate authorities to trust for an https S3 endpoint (env FERRIS_S3_CA_FILE). Default: the system's.")
    var s3CAFile: String?

    @Option(help: "Files above this many MiB are sent as multipart uploads in parts of this size (at least 5).")
    var exportPartMib = 16

    @Option(name: .customLong("price-book"),
            help: "A price book file to rate the export with, repeatable. Default: the current books on the prices topic (needs --brokers).")
    var priceBooks: [String] = []

    @Option(help: "The compacted price book topic (env FERRIS_PRICE_TOPIC). Default: ferris.usage.prices.")
    var priceTopic: String?

    static let environmentDefaults: [EnvironmentDefault<Self>] = [
        .string("FERRIS_EXPORT_TO", \.exportTo),
        .string("FERRIS_S3_ENDPOINT", \.s3Endpoint),
        .string("FERRIS_S3_REGION", \.s3Region),
        .choice("FERRIS_S3_ADDRESSING", \.s3Addressing),
        .string("FERRIS_S3_CA_FILE", \.s3CAFile),
        .string("FERRIS_PRICE_TOPIC", \.priceTopic),
    ]

    /// Where the price books come from: the files given, else the prices topic on the brokers.
    func prices(connection: ConnectionOptions) throws -> PriceSource {
        if !priceBooks.isEmpty { return .books(try priceBooks.map(PricesCommand.loadOrExit)) }
        guard let brokers = connection.brokers else {
            throw CLIError("no price books: the export rates every row; pass --price-book FILE or --brokers host:port (the prices topic's books; or set FERRIS_BROKERS)")
        }
        return .topic(try connection.kafkaConfiguration(brokers: brokers), topic: priceTopic ?? PriceBookTopic.defaultTopic)
    }

    /// The export configuration, or nil when no destination is given.
    func configuration(databaseURL: String, topology: Topology, connection: ConnectionOptions) throws -> ExportConfiguration? {
        guard let destination = exportTo else { return nil }
        let location = try S3Location(destination)
        let region = s3Region ?? "us-east-1"
        let addressing = s3Addressing ?? .path
        guard exportPartMib >= 5 else { throw CLIError("--export-part-mib must be at least 5 (S3's smallest part)") }
        guard let key = environment("FERRIS_S3_ACCESS_KEY_ID") ?? environment("AWS_ACCESS_KEY_ID"),
              let secret = environment("FERRIS_S3_SECRET_ACCESS_KEY") ?? environment("AWS_SECRET_ACCESS_KEY") else {
            throw CLIError("no S3 credentials: set FERRIS_S3_ACCESS_KEY_ID and FERRIS_S3_SECRET_ACCESS_KEY (e.g. from a Secret)")
        }
        let credentials = S3Credentials(accessKeyID: key, secretAccessKey: secret,
                                        sessionToken: environment("FERRIS_S3_SESSION_TOKEN") ?? environment("AWS_SESSION_TOKEN"))
        let s3 = S3Configuration(endpoint: s3Endpoint ?? "https://s3.\(region).amazonaws.com",
                                 region: region, bucket: location.bucket, pathStyle: addressing == .path, credentials: credentials,
                                 caFile: s3CAFile)
        return ExportConfiguration(
            databaseURL: databaseURL, table: topology.sinks.table, destination: location, s3: s3,
            closing: ClosingRule(graceMilliseconds: topology.window.graceMilliseconds, idleMilliseconds: topology.window.idleMilliseconds ?? 0),
            prices: try prices(connection: connection), partSize: exportPartMib << 20,
            recheckMilliseconds: topology.policy.maxEventAgeMilliseconds + topology.window.graceMilliseconds + 86_400_000)
    }
}
