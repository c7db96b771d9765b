import AsyncHTTPClient
import Foundation
import Kafka
import Logging
import NIOCore
import Testing
import UsageCollector
import UsageRegistry
import UsageService
import UsageStandard

/// The real servers the collector tests use, started by `scripts/test.sh`: the broker (FERRIS_BROKERS) and the local
/// Prometheus of `scripts/prometheus.sh` (FERRIS_PROMETHEUS_URL, FERRIS_PROMETHEUS_DIR) with its exporters, whose
/// series are relabelled as pods of the seed scenarios' namespaces.
enum Environment {
    static func variable(_ name: String) throws -> String {
        guard let value = ProcessInfo.processInfo.environment[name], !value.isEmpty else {
            throw SetupError("\(name) is not set: run the tests with scripts/test.sh, which starts the broker and Prometheus")
        }
        return value
    }

    static var kafka: KafkaConfiguration { get throws { KafkaConfiguration(["bootstrap.servers": try variable("FERRIS_BROKERS")]) } }
    static var prometheusURL: String { get throws { try variable("FERRIS_PROMETHEUS_URL") } }
    static var prometheusDirectory: String { get throws { try variable("FERRIS_PROMETHEUS_DIR") } }

    static let logger: Logger = {
        var logger = Logger(label: "collector-it")
        logger.logLevel = .warning
        return logger
    }()

    static let repository = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("../..").standardized

    /// The `ferris-usage` executable built next to the test bundle.
    static var executable: String {
        get throws {
            let path = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent().appendingPathComponent("ferris-usage").path
            guard FileManager.default.isExecutableFile(atPath: path) else {
                throw SetupError("\(path) is missing: build it with 'swift build' before the tests (scripts/test.sh does)")
            }
            return path
        }
    }

    /// Runs `scripts/prometheus.sh COMMAND DIR` (e.g. `stop-server` for an outage) to completion. (posix_spawn and
    /// waitpid: the server it starts keeps descriptors that would keep Foundation's Process from noticing the exit.)
    static func prometheus(_ command: String) throws {
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        posix_spawn_file_actions_addopen(&actions, 1, "/dev/null", O_WRONLY, 0)
        let argv = [repository.appendingPathComponent("scripts/prometheus.sh").path, command, try prometheusDirectory]
        var cArguments = argv.map { strdup($0) } + [nil]
        defer { for argument in cArguments { free(argument) } }
        var pid: pid_t = 0
        guard posix_spawn(&pid, argv[0], &actions, nil, &cArguments, environ) == 0 else {
            throw SetupError("could not start \(argv[0])")
        }
        var status: Int32 = 0
        while waitpid(pid, &status, 0) < 0 && errno == EINTR {}
        guard status == 0 else { throw SetupError("scripts/prometheus.sh \(command) failed (status \(status))") }
    }

    /// Runs blocking client code off the cooperative pool.
    static func blocking<T: Sendable>(_ body: @escaping @Sendable () throws -> T) async throws -> T {
        try await DedicatedThread.run(name: "collector-test", body)
    }

    /// A free loopback TCP port.
    static func freePort() throws -> Int {
        let socket = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        defer { close(socket) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let bound = withUnsafeMutablePointer(to: &address) { pointer in
            pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(socket, $0, length) == 0 && getsockname(socket, $0, &length) == 0 }
        }
        guard bound else { throw SetupError("no free port") }
        return Int(UInt16(bigEndian: address.sin_port))
    }
}

struct SetupError: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}

/// One test's own names: instances (hence event topics), tenants, registry, cursor, totals and dead-letter topics, so
/// that tests never see each other's records. The instances are the seed scenarios', in the namespaces whose series
/// `scripts/prometheus.sh` makes up.
struct CollectorWorld {
    let id = "c\(UInt32.random(in: 0...UInt32.max))x\(getpid())"
    /// Interval and timing of the test mapping: short intervals, so that a test sees many of them.
    static let interval: Int64 = 10_000
    static let lookback: Int64 = 15 * 60_000
    static let stale: Int64 = 5 * 60_000

    var registryTopic: String { "\(id).instances" }
    var cursorTopic: String { "\(id).cursors" }
    var totalsTopic: String { "\(id).totals" }
    var deadLetterTopic: String { "\(id).deadletter" }

    /// The seed scenarios' instances (component lists as the wizard would give them).
    func instances() -> [InstanceDescription] {
        let base = ["argocd", "consul", "kafka", "minio", "postgresql", "vault", "keycloak", "ferris-ui"]
        return [
            InstanceDescription(id: "\(id)-solo-gcp", tenant: "\(id)-solo", provider: "gcp", cluster: "test",
                                namespaces: ["ferris-solo"], components: base),
            InstanceDescription(id: "\(id)-team-gcp", tenant: "\(id)-team", provider: "gcp", cluster: "test",
                                namespaces: ["ferris-team"], components: base,
                                links: [LinkedSystem(name: "analytics-dbx", component: "databricks-link", provider: "azure", accounted: false)]),
            InstanceDescription(id: "\(id)-hybrid-onprem", tenant: "\(id)-hybrid", provider: "onprem", cluster: "test",
                                namespaces: ["ferris-hybrid-onprem"], components: base + ["theia-ide"]),
            InstanceDescription(id: "\(id)-hybrid-gcp", tenant: "\(id)-hybrid", provider: "gcp", cluster: "test",
                                namespaces: ["ferris-hybrid-gcp"], components: base + ["jupyterhub", "presto"]),
        ]
    }

    /// Announces the instances on the registry topic as created at `time`.
    func register(_ instances: [InstanceDescription], at time: Int64) async throws {
        let events = instances.map { InstanceEvent(id: "\($0.id)-created", source: "/ferris/wizard", time: Timestamp(milliseconds: time),
                                                   change: .created, instance: $0) }
        let (kafka, topic) = (try Environment.kafka, registryTopic)
        try await Environment.blocking { try InstanceRegistryTopic.publish(events, kafka: kafka, topic: topic, logger: Environment.logger) }
    }

    /// The built-in mapping with the test's timing: 10 s intervals collected 8 s after their end (the local
    /// Prometheus scrapes every 2 s; the margin is for a loaded machine).
    func mappingFile() throws -> String {
        let text = CollectorConfiguration.standardText
            .replacingOccurrences(of: "\ninterval: 60s\n", with: "\ninterval: 10s\n")
            .replacingOccurrences(of: "\ndelay: 30s\n", with: "\ndelay: 8s\n")
        let mapping = try CollectorConfiguration.parse(yaml: text, file: "test mapping")
        guard mapping.intervalMilliseconds == Self.interval, mapping.lookbackMilliseconds == Self.lookback,
              mapping.staleMilliseconds == Self.stale else { throw SetupError("the test mapping's timing is not the expected one") }
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("\(id)-mapping.yaml").path
        try text.write(toFile: path, atomically: true, encoding: .utf8)
        return path
    }

    var logFile: URL { FileManager.default.temporaryDirectory.appendingPathComponent("\(id).log") }

    /// Starts `ferris-usage ARGUMENTS` with the broker in its environment, output appended to the world's log file.
    func start(_ arguments: [String]) throws -> Process {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: try Environment.executable)
        process.arguments = arguments
        var environment = ProcessInfo.processInfo.environment
        environment["FERRIS_BROKERS"] = try Environment.variable("FERRIS_BROKERS")
        process.environment = environment
        let descriptor = open(logFile.path, O_WRONLY | O_APPEND | O_CREAT, 0o644)
        guard descriptor >= 0 else { throw SetupError("cannot open \(logFile.path)") }
        let handle = FileHandle(fileDescriptor: descriptor, closeOnDealloc: true)
        process.standardOutput = handle
        process.standardError = handle
        try process.run()
        return process
    }

    /// Starts the collector on this world's registry and cursor topics.
    func startCollector(mapping: String, httpPort: Int = 0) throws -> Process {
        try start(["collect", "--prometheus-url", try Environment.prometheusURL, "--mapping", mapping,
                   "--instance-topic", registryTopic, "--cursor-topic", cursorTopic, "--http-port", "\(httpPort)",
                   "--http-host", "127.0.0.1", "--log-format", "json", "--log-level", "info"])
    }

    /// Creates the instances' event topics, as the accounting service does when it reads the registry.
    func createEventTopics(_ instances: [InstanceDescription]) async throws {
        let kafka = try Environment.kafka
        try await Environment.blocking {
            try InstanceEventTopics.create(for: instances.map(\.id), kafka: kafka, logger: Environment.logger)
        }
    }

    /// Starts the accounting service on this world's instances' event topics (Kafka totals only).
    func startService() throws -> Process {
        let topology = FileManager.default.temporaryDirectory.appendingPathComponent("\(id)-topology.yaml")
        try """
            name: collector-test
            source:
              topics: '^ferris\\.events\\.\(id)-.+'
              group: \(id)-group
            sinks:
              totals: \(totalsTopic)
              table: unused
              deadLetter: \(deadLetterTopic)
            """.write(to: topology, atomically: true, encoding: .utf8)
        return try start(["run", "--topology", topology.path, "--without-postgres", "--commit-interval-ms", "200",
                          "--instance-topic", registryTopic, "--http-port", "0", "--log-level", "warning"])
    }

    /// Stops a process with SIGTERM and waits for it; true if it exited with status 0.
    static func stop(_ process: Process) -> Bool {
        guard process.isRunning else { return process.terminationStatus == 0 }
        kill(process.processIdentifier, SIGTERM)
        process.waitUntilExit()
        return process.terminationReason == .exit && process.terminationStatus == 0
    }

    /// The collector's cursors (instance -> collected until), as stored.
    func cursors() async throws -> [String: Int64] {
        let (kafka, topic) = (try Environment.kafka, cursorTopic)
        return try await Environment.blocking {
            var cursors: [String: Int64] = [:]
            try KafkaTopicReader.readAll(kafka, topic: topic, logger: Environment.logger) { record in
                guard let key = record.key.map({ String(decoding: $0, as: UTF8.self) }), let value = record.value,
                      case .success(let json) = JSONValue.parse(Array(value)),
                      let until = json["collectedUntil"]?.string.flatMap(Timestamp.parse) else { return }
                cursors[key] = until.milliseconds
            }
            return cursors
        }
    }

    /// Overwrites the cursor of `instance` (as a crash between sending an interval and storing its cursor would leave it).
    func storeCursor(_ instance: String, collectedUntil: Int64) async throws {
        let (kafka, topic) = (try Environment.kafka, cursorTopic)
        let value = JSONValue.object([("instance", .string(instance)),
                                      ("collectedUntil", .string(Timestamp(milliseconds: collectedUntil).rfc3339))]).bytes
        try await Environment.blocking {
            let producer = try KafkaProducer(configuration: kafka, logger: Environment.logger)
            try producer.send(topic: topic, key: Array(instance.utf8), value: value)
            try producer.awaitDeliveries()
        }
    }

    /// Waits until every instance's cursor has reached `time` (or fails after `seconds`).
    func waitForCursors(_ instances: [InstanceDescription], atLeast time: Int64, seconds: Int = 120) async throws {
        let deadline = ContinuousClock.now + .seconds(seconds)
        while true {
            let cursors = try await cursors()
            if instances.allSatisfy({ (cursors[$0.id] ?? 0) >= time }) { return }
            guard ContinuousClock.now < deadline else {
                throw SetupError("the collector did not reach \(Timestamp(milliseconds: time)) within \(seconds) s; cursors: \(cursors); log: \(logFile.path)")
            }
            try await Task.sleep(for: .seconds(1))
        }
    }

    /// The usage events on an instance's topic: (record key, id, scope header or nil) in topic order.
    func events(of instance: String) async throws -> [(key: String, id: String, scope: String?)] {
        let kafka = try Environment.kafka
        return try await Environment.blocking {
            var events: [(key: String, id: String, scope: String?)] = []
            try KafkaTopicReader.readAll(kafka, topic: UsageStandard.eventTopic(instance: instance), logger: Environment.logger) { record in
                let headers = Dictionary(record.headers.map { ($0.name, String(decoding: $0.value ?? [], as: UTF8.self)) }) { first, _ in first }
                events.append((record.key.map { String(decoding: $0, as: UTF8.self) } ?? "", headers["ce_id"] ?? "", headers["ce_scope"]))
            }
            return events
        }
    }

    /// The current totals on the world's totals topic, by `instance/component/metric/hour start` (micro-units).
    func totals() async throws -> [String: Int64] {
        let (kafka, topic) = (try Environment.kafka, totalsTopic)
        let totals = try await Environment.blocking { try TotalsReader.fromKafka(kafka, topic: topic, logger: Environment.logger) }
        var result: [String: Int64] = [:]
        for total in totals {
            result["\(total.key.instance)/\(total.key.component)/\(total.key.metric)/\(total.windowStart.rfc3339)", default: 0] += total.quantity.micros
        }
        return result
    }

    /// Waits until the service's non-zero totals equal `expected` (or `seconds` pass) and returns the last read.
    func waitForTotals(_ expected: [String: Int64], seconds: Int = 90) async throws -> [String: Int64] {
        let deadline = ContinuousClock.now + .seconds(seconds)
        var totals: [String: Int64] = [:]
        while ContinuousClock.now < deadline {
            totals = try await self.totals().filter { $0.value != 0 }
            if totals == expected { break }
            try await Task.sleep(for: .seconds(1))
        }
        return totals
    }

    /// Whether the collector's `/readyz` on `port` answers 200.
    static func isReady(port: Int) async -> Bool {
        var request = HTTPClientRequest(url: "http://127.0.0.1:\(port)/readyz")
        request.method = .GET
        guard let response = try? await HTTPClient.shared.execute(request, timeout: .seconds(5)) else { return false }
        return response.status == .ok
    }
}

/// Describes how `expected` and `actual` totals differ (empty when equal).
func differences(_ expected: [String: Int64], _ actual: [String: Int64]) -> [String] {
    Set(expected.keys).union(actual.keys).sorted().compactMap { key in
        expected[key] == actual[key] ? nil : "\(key): expected \(expected[key].map(String.init) ?? "none"), got \(actual[key].map(String.init) ?? "none")"
    }
}
