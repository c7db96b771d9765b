import Foundation
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif
import Kafka
import ServiceLifecycle
import TestSupport
import Testing
import UsageEndpoints
import UsageService
import UsageSimulation
import UsageStandard

@Suite("HTTP endpoints of a running pipeline: /metrics, /healthz, /readyz")
struct EndpointTests {
    @Test("the metrics exposition parses, names what docs/openapi.yaml lists, and moves with traffic; /readyz turns ready")
    func metricsMoveWithTraffic() async throws {
        let world = World()
        let records = world.records(UsageSimulator(seed: 17, start: Timestamp(milliseconds: h13), hours: 2), [Scenario.singleUserGCP])
        try await world.createTopics([world.topic("solo-gcp")], partitions: 2)
        try await world.produce(records.prefix(records.count / 2).map { $0.outgoing() })
        try await withRunningPipeline(try world.configuration()) { port, _ in
            try await Self.waitFor("ready", port: port) { status, _ in status == 200 }
            #expect(try await Self.get("healthz", port: port).status == 200)
            try await Self.waitFor("half the records counted", port: port) { _, _ in
                (try? await Self.metrics(port: port)["ferris_usage_records_read_total"]) == Double(records.count / 2)
            }
            let before = try await Self.metrics(port: port)
            try await world.produce(records.dropFirst(records.count / 2).map { $0.outgoing() })
            try await Self.waitFor("all records counted and committed", port: port) { _, _ in
                guard let now = try? await Self.metrics(port: port) else { return false }
                return now["ferris_usage_records_read_total"] == Double(records.count)
                    && now["ferris_usage_transactions_total"] ?? 0 > before["ferris_usage_transactions_total"] ?? 0
            }
            let after = try await Self.metrics(port: port)
            #expect(after["ferris_usage_events_counted_total"] ?? 0 > before["ferris_usage_events_counted_total"] ?? 0)
            #expect(after["ferris_usage_transactions_total"] ?? 0 > before["ferris_usage_transactions_total"] ?? 0)
            #expect(after["ferris_usage_ready"] == 1)
            #expect(after["ferris_usage_transaction_commit_seconds_count"] ?? 0 > 0)
            #expect(after.keys.contains { $0.hasPrefix("ferris_usage_consumer_lag{topic=\"\(world.topic("solo-gcp"))\"") })
            // The document and the service name the same metrics.
            let documented = try Self.documentedMetricNames()
            let exposed = Set(after.keys.map { key in
                let name = String(key.prefix { $0 != "{" })
                return name.hasPrefix("ferris_usage_transaction_commit_seconds") ? "ferris_usage_transaction_commit_seconds" : name
            })
            let missing = documented.subtracting(exposed).subtracting(["ferris_usage_events_out_of_scope_total",
                                                                       "ferris_usage_records_rejected_total"])
                .filter { !$0.hasPrefix("ferris_usage_export_") }  // only with the export schedule on (ExportScheduleTests)
            #expect(missing == [], "documented but not exposed")
            #expect(exposed.subtracting(documented) == [], "exposed but not documented in docs/openapi.yaml")
        }
    }

    @Test("/readyz turns not ready while the broker is frozen with records to read, and ready again after")
    func readinessFollowsStall() async throws {
        // A broker of its own, so that freezing it disturbs no other test.
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent(TestServices.unique("stall"))
        try TestServices.services(["start", "--dir", directory.path])
        defer {
            try? TestServices.services(["stop", "--dir", directory.path])
            try? FileManager.default.removeItem(at: directory)
        }
        let env = try String(contentsOf: directory.appendingPathComponent("env"), encoding: .utf8)
        func value(_ name: String) -> String? {
            env.split(separator: "\n").first { $0.hasPrefix(name + "=") }.map { String($0.dropFirst(name.count + 1)) }
        }
        guard let brokers = value("FERRIS_BROKERS"), let database = value("FERRIS_DATABASE_URL"),
              let pid = Int32(try String(contentsOf: directory.appendingPathComponent("tansu.pid"), encoding: .utf8)) else {
            throw TestSetupError("no broker in \(directory.path)")
        }
        let world = World()
        let kafka = KafkaConfiguration(["bootstrap.servers": brokers])
        // A backlog the pipeline cannot have read, accounted and committed by the time it turns ready.
        let records = world.records(UsageSimulator(seed: 23, start: Timestamp(milliseconds: h13 - 24 * hourMs), hours: 48),
                                    Scenario.all)
        try await TestServices.blocking {
            try KafkaAdmin(configuration: kafka, logger: TestServices.logger)
                .createTopics(Set(records.map(\.topic)).map { KafkaNewTopic(name: $0, partitions: 1) })
            let producer = try KafkaProducer(configuration: kafka, logger: TestServices.logger)
            for record in records { try producer.send(record.outgoing()) }
            try producer.awaitDeliveries()
        }
        let base = try world.configuration()
        let configuration = UsagePipelineConfiguration(brokers: brokers, databaseURL: database, topology: base.topology,
                                                       commitIntervalMilliseconds: 200)
        try await withRunningPipeline(configuration, stallAfter: .seconds(2)) { port, _ in
            try await Self.waitFor("ready", port: port, seconds: 60) { status, _ in status == 200 }
            kill(pid, SIGSTOP)
            defer { kill(pid, SIGCONT) }
            try await Self.waitFor("not ready while the broker is frozen", port: port, seconds: 30) { status, body in
                status == 503 && body.hasPrefix("not ready")
            }
            kill(pid, SIGCONT)
            try await Self.waitFor("ready again", port: port, seconds: 60) { status, _ in status == 200 }
        }
    }

    // MARK: Helpers

    /// Runs the pipeline and its endpoints on a free port until `body` returns.
    func withRunningPipeline(_ configuration: UsagePipelineConfiguration, stallAfter: Duration = .seconds(30),
                             _ body: (Int, UsagePipeline) async throws -> Void) async throws {
        let pipeline = UsagePipeline(configuration: configuration, logger: TestServices.logger)
        let port = try TestServices.freePort()
        let server = OperationsServer.make(pipeline: pipeline, host: "127.0.0.1", port: port, stallAfter: stallAfter,
                                           logger: TestServices.logger)
        let group = ServiceGroup(configuration: .init(services: [pipeline, server], logger: TestServices.logger))
        try await withThrowingTaskGroup(of: Void.self) { tasks in
            tasks.addTask { try await group.run() }
            do {
                try await body(port, pipeline)
            } catch {
                await group.triggerGracefulShutdown()
                throw error
            }
            await group.triggerGracefulShutdown()
            try await tasks.waitForAll()
        }
    }

    static func get(_ path: String, port: Int) async throws -> (status: Int, body: String) {
        guard let url = URL(string: "http://127.0.0.1:\(port)/\(path)") else { throw TestSetupError("bad URL") }
        let (data, response) = try await URLSession.shared.data(from: url)
        return ((response as? HTTPURLResponse)?.statusCode ?? 0, String(decoding: data, as: UTF8.self))
    }

    /// The exposition as `name{labels}` -> value; fails on a line that is not a comment or a sample.
    static func metrics(port: Int) async throws -> [String: Double] {
        let (status, body) = try await get("metrics", port: port)
        guard status == 200 else { throw TestSetupError("/metrics answered \(status)") }
        var samples: [String: Double] = [:]
        for line in body.split(separator: "\n") where !line.hasPrefix("#") {
            guard let space = line.lastIndex(of: " "), let value = Double(line[line.index(after: space)...]),
                  line.first.map({ $0.isLetter || $0 == "_" }) == true else {
                throw TestSetupError("not a Prometheus sample line: \(line)")
            }
            samples[String(line[..<space])] = value
        }
        return samples
    }

    static func waitFor(_ what: String, port: Int, seconds: Int = 60,
                        _ condition: (Int, String) async throws -> Bool) async throws {
        let clock = ContinuousClock()
        let deadline = clock.now + .seconds(seconds)
        while true {
            let (status, body) = (try? await get("readyz", port: port)) ?? (0, "")
            if try await condition(status, body) { return }
            guard clock.now < deadline else { throw TestSetupError("timed out waiting until \(what) (/readyz: \(status) \(body))") }
            try await Task.sleep(for: .milliseconds(200))
        }
    }

    static func documentedMetricNames() throws -> Set<String> {
        let text = try String(contentsOf: TestServices.repository.appendingPathComponent("docs/openapi.yaml"), encoding: .utf8)
        let regex = /ferris_usage_[a-z_]+/
        return Set(text.matches(of: regex).map { String($0.output) })
    }

}
