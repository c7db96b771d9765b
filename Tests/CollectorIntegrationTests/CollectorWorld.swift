import AsyncHTTPClient
import Foundation
import Kafka
import Logging
import NIOCore
import TestSupport
import Testing
import UsageCollector
import UsageRegistry
import UsageService
import UsageStandard

/// The local Prometheus of `scripts/prometheus.sh` (FERRIS_PROMETHEUS_URL, FERRIS_PROMETHEUS_DIR) the collector tests
/// read, with its exporters, whose series are relabelled as pods of the seed scenarios' namespaces; the broker and the
/// rest come from `TestServices`.
enum Environment {
    static var prometheusURL: String { get throws { try TestServices.variable("FERRIS_PROMETHEUS_URL") } }
    static var prometheusDirectory: String { get throws { try TestServices.variable("FERRIS_PROMETHEUS_DIR") } }

    /// Runs `scripts/prometheus.sh COMMAND DIR` (e.g. `stop-server` for an outage) to completion.
    static func prometheus(_ command: String) throws {
        let script = TestServices.repository.appendingPathComponent("scripts/prometheus.sh").path
        let (status, output) = try TestServices.run([script, command, try prometheusDirectory])
        guard status == 0 else { throw TestSetupError("scripts/prometheus.sh \(command) failed (status \(status)): \(output)") }
    }
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
        let (kafka, topic) = (try TestServices.kafka, registryTopic)
        try await TestServices.blocking { try InstanceRegistryTopic.publish(events, kafka: kafka, topic: topic, logger: TestServices.logger) }
    }

    /// The built-in mapping with the test's timing: 10 s intervals collected 8 s after their end (the local
    /// Prometheus scrapes every 2 s; the margin is for a loaded machine).
    func mappingFile() throws -> String {
        let text = CollectorConfiguration.standardText
            .replacingOccurrences(of: "\ninterval: 60s\n", with: "\ninterval: 10s\n")
            .replacingOccurrences(of: "\ndelay: 30s\n", with: "\ndelay: 8s\n")
        let mapping = try CollectorConfiguration.parse(yaml: text, file: "test mapping")
        guard mapping.intervalMilliseconds == Self.interval, mapping.lookbackMilliseconds == Self.lookback,
              mapping.staleMilliseconds == Self.stale else { throw TestSetupError("the test mapping's timing is not the expected one") }
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("\(id)-mapping.yaml").path
        try text.write(toFile: path, atomically: true, encoding: .utf8)
        return path
    }

    var logFile: URL { FileManager.default.temporaryDirectory.appendingPathComponent("\(id).log") }

    /// Starts `ferris-usage ARGUMENTS` with the broker in its environment, output appended to the world's log file.
    func start(_ arguments: [String]) throws -> Process {
        try TestServices.launch(arguments, environment: ["FERRIS_BROKERS": try TestServices.brokers], logFile: logFile)
    }

    /// Starts the collector on this world's registry and cursor topics.
    func startCollector(mapping: String, httpPort: Int = 0) throws -> Process {
        try start(["collect", "--prometheus-url", try Environment.prometheusURL, "--mapping", mapping,
                   "--instance-topic", registryTopic, "--cursor-topic", cursorTopic, "--http-port", "\(httpPort)",
                   "--http-host", "127.0.0.1", "--log-format", "json", "--log-level", "info"])
    }

    /// Creates the instances' event topics, as the accounting service does when it reads the registry.
    func createEventTopics(_ instances: [InstanceDescription]) async throws {
        let kafka = try TestServices.kafka
        try await TestServices.blocking {
            try InstanceEventTopics.create(for: instances.map(\.id), kafka: kafka, logger: TestServices.logger)
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
        let (kafka, topic) = (try TestServices.kafka, cursorTopic)
        return try await TestServices.blocking {
            var cursors: [String: Int64] = [:]
            try KafkaTopicReader.readAll(kafka, topic: topic, logger: TestServices.logger) { record in
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
        let (kafka, topic) = (try TestServices.kafka, cursorTopic)
        let value = JSONValue.object([("instance", .string(instance)),
                                      ("collectedUntil", .string(Timestamp(milliseconds: collectedUntil).rfc3339))]).bytes
        try await TestServices.blocking {
            let producer = try KafkaProducer(configuration: kafka, logger: TestServices.logger)
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
                throw TestSetupError("the collector did not reach \(Timestamp(milliseconds: time)) within \(seconds) s; cursors: \(cursors); log: \(logFile.path)")
            }
            try await Task.sleep(for: .seconds(1))
        }
    }

    /// The usage events on an instance's topic: (record key, id, scope header or nil) in topic order.
    func events(of instance: String) async throws -> [(key: String, id: String, scope: String?)] {
        let kafka = try TestServices.kafka
        return try await TestServices.blocking {
            var events: [(key: String, id: String, scope: String?)] = []
            try KafkaTopicReader.readAll(kafka, topic: UsageStandard.eventTopic(instance: instance), logger: TestServices.logger) { record in
                let headers = Dictionary(record.headers.map { ($0.name, String(decoding: $0.value ?? [], as: UTF8.self)) }) { first, _ in first }
                events.append((record.key.map { String(decoding: $0, as: UTF8.self) } ?? "", headers["ce_id"] ?? "", headers["ce_scope"]))
            }
            return events
        }
    }

    /// The current totals on the world's totals topic, by `instance/component/metric/hour start` (micro-units).
    func totals() async throws -> [String: Int64] {
        let (kafka, topic) = (try TestServices.kafka, totalsTopic)
        let totals = try await TestServices.blocking { try TotalsReader.fromKafka(kafka, topic: topic, logger: TestServices.logger) }
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
