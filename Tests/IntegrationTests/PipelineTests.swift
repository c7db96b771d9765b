import Foundation
import Kafka
import PostgreSQL
import ProcessSupport
import TestSupport
import Testing
import UsagePostgres
import UsageService
import UsageSimulation
import UsageStandard
import UsageTopology

/// An isolated set of topics, table and group for one test.
struct World {
    let id = TestServices.unique("it")
    var pattern: String { "^\(id)\\.events\\..+" }
    var totalsTopic: String { "\(id).totals" }
    var deadLetterTopic: String { "\(id).deadletter" }
    var table: String { "\(id)_totals" }
    func topic(_ instance: String) -> String { "\(id).events.\(instance)" }

    func configuration(topology: Topology = .standard) throws -> UsagePipelineConfiguration {
        UsagePipelineConfiguration(brokers: try TestServices.brokers, databaseURL: try TestServices.databaseURL,
                                   topology: topology, groupID: "\(id)-group", topicPattern: pattern, totalsTopic: totalsTopic,
                                   deadLetterTopic: deadLetterTopic,
                                   totalsTable: table, commitIntervalMilliseconds: 200)
    }

    /// `simulator`'s records for `scenarios`, moved onto this world's instance topics.
    func records(_ simulator: UsageSimulator, _ scenarios: [Scenario]) -> [SimulatedRecord] {
        simulator.records(for: scenarios).map { record in
            var moved = record
            moved.topic = topic(record.event.instance)
            return moved
        }
    }

    func createTopics(_ names: [String], partitions: Int32) async throws {
        let kafka = try TestServices.kafka
        try await TestServices.blocking {
            try KafkaAdmin(configuration: kafka, logger: TestServices.logger)
                .createTopics(names.map { KafkaNewTopic(name: $0, partitions: partitions) })
        }
    }

    func produce(_ records: [KafkaOutgoingRecord]) async throws {
        let kafka = try TestServices.kafka
        try await TestServices.blocking {
            let producer = try KafkaProducer(configuration: kafka, logger: TestServices.logger)
            for record in records { try producer.send(record) }
            try producer.awaitDeliveries()
        }
    }

    /// Runs a pipeline of this world's group until it has read every partition to its end.
    func account(partitions: Int) async throws -> PipelineCounters.Snapshot {
        let pipeline = UsagePipeline(configuration: try configuration(), mode: .untilCaughtUp(partitions: partitions),
                                     logger: TestServices.logger)
        try await TestServices.runUntilCaughtUp(pipeline)
        return pipeline.counters.snapshot
    }

    /// The current totals in both sinks, once PostgreSQL has caught up with the totals topic (the sink copies
    /// it asynchronously); after `seconds` the last reading is returned as it is.
    func totals(databaseURL: String? = nil, seconds: Int = 60) async throws -> (kafka: [UsageTotal], postgres: [UsageTotal]) {
        let kafka = try TestServices.kafka
        let url = try databaseURL ?? TestServices.databaseURL
        let (topic, table) = (totalsTopic, self.table)
        let clock = ContinuousClock()
        let deadline = clock.now + .seconds(seconds)
        while true {
            let (fromKafka, fromPostgres) = try await TestServices.blocking {
                let fromKafka = try TotalsReader.fromKafka(kafka, topic: topic, logger: TestServices.logger)
                // Until the sink has created its tables (or while the database is down), PostgreSQL has nothing.
                do {
                    return (fromKafka, try TotalsReader.fromPostgres(url: url, table: table))
                } catch where clock.now < deadline {
                    return (fromKafka, [])
                }
            }
            let sameRows = fromKafka.sorted { $0.recordKey < $1.recordKey } == fromPostgres.sorted { $0.recordKey < $1.recordKey }
            if sameRows || clock.now >= deadline { return (fromKafka, fromPostgres) }
            try await Task.sleep(for: .milliseconds(200))
        }
    }

    /// Expects both sinks to hold exactly the totals `expected` (PostgreSQL once it has caught up); returns how many
    /// totals differ in each, for the test's summary line.
    @discardableResult
    func expectExact(_ expected: ExpectedTotals, databaseURL: String? = nil,
                     sourceLocation: SourceLocation = #_sourceLocation) async throws -> (kafka: Int, postgres: Int) {
        let (kafka, postgres) = try await totals(databaseURL: databaseURL)
        let (inKafka, inPostgres) = (expected.differences(from: kafka), expected.differences(from: postgres))
        #expect(inKafka == [], "Kafka totals", sourceLocation: sourceLocation)
        #expect(inPostgres == [], "PostgreSQL totals", sourceLocation: sourceLocation)
        return (inKafka.count, inPostgres.count)
    }

    /// For a comparison that failed: every version of the differing totals (`differences` lines start with
    /// tenant/instance/component/metric) on the totals topic, aborted ones included (read_uncommitted), and every
    /// row of theirs in PostgreSQL's revisions table, one line each: where a total was lost or refused shows there.
    func explain(_ differences: [String], databaseURL: String? = nil) async throws -> String {
        let keys = Set(differences.compactMap { $0.split(separator: " ").first.map(String.init) })
        guard !keys.isEmpty else { return "" }
        var uncommitted = try TestServices.kafka
        uncommitted["isolation.level"] = "read_uncommitted"
        let kafka = uncommitted
        let url = try databaseURL ?? TestServices.databaseURL
        let (topic, revisions) = (totalsTopic, table + "_revisions")
        return try await TestServices.blocking {
            func name(_ key: UsageKey) -> String { "\(key.tenant)/\(key.instance)/\(key.component)/\(key.metric)" }
            var lines: [String] = []
            try KafkaTopicReader.readAll(kafka, topic: topic, logger: TestServices.logger) { record in
                guard let value = record.value, case .success(let total) = UsageTotalCodec.decode(Array(value)),
                      keys.contains(name(total.key)) else { return }
                lines.append("kafka \(record.partition)@\(record.offset): \(name(total.key)) \(total.windowStart.rfc3339) part \(total.sourcePartition) last_offset \(total.lastOffset) \(total.status.rawValue) \(total.eventCount) events \(total.quantity)")
            }
            let rows = try PostgresConnection(url: url).query("""
                SELECT tenant || '/' || instance || '/' || component || '/' || metric, window_start::text, source_partition,
                       last_offset::text, status, event_count::text, quantity::text, revision::text, updated_at::text
                FROM \(revisions) ORDER BY 1, 2, 3
                """)
            for row in rows where keys.contains(row[0] ?? "") {
                lines.append("postgres: " + (0..<9).map { row[$0] ?? "null" }.joined(separator: " "))
            }
            return lines.joined(separator: "\n")
        }
    }

    /// The current totals on the totals topic.
    func kafkaTotals() async throws -> [UsageTotal] {
        let kafka = try TestServices.kafka
        let topic = totalsTopic
        return try await TestServices.blocking { try TotalsReader.fromKafka(kafka, topic: topic, logger: TestServices.logger) }
    }

    /// The sum of the group's committed offsets over this world's event topics: how many records are accounted.
    func committedRecords() async throws -> Int64 {
        let kafka = try TestServices.kafka
        let (prefix, group) = ("\(id).events.", "\(id)-group")
        return try await TestServices.blocking {
            let topics = try KafkaAdmin(configuration: kafka, logger: TestServices.logger).topics().filter { $0.key.hasPrefix(prefix) }
            var config = kafka
            config["group.id"] = group
            let consumer = try KafkaConsumer(configuration: config, logger: TestServices.logger) { _, _ in [:] }
            defer { consumer.close() }
            let partitions = topics.flatMap { topic, count in (0..<count).map { KafkaTopicPartition(topic: topic, partition: $0) } }
            return try consumer.committed(partitions).reduce(0) { $0 + max(0, $1.offset) }
        }
    }
}

let hourMs: Int64 = 3_600_000
/// An hour start about a day ago: event times must lie within the accounting horizon of the record timestamps.
let h13: Int64 = (WallClock.milliseconds() / hourMs - 24) * hourMs

@Suite("Pipeline end to end against a real broker and PostgreSQL")
struct PipelineTests {
    func usage(_ instance: String, _ tenant: String, _ component: String, _ metric: String, at ms: Int64,
               _ micros: Int64, scope: UsageScope = .billable, id: String) -> UsageEvent {
        let unit = MetricRegistry.v1[metric]?.unit ?? "?"
        return UsageEvent(id: id, source: "/ferris/\(instance)/\(component)", time: Timestamp(milliseconds: ms), tenant: tenant,
                   instance: instance, component: component, metric: metric, quantity: Quantity(micros: micros),
                   unit: unit, scope: scope)
    }

    @Test("two instance topics -> hourly totals in the totals topic and PostgreSQL; out-of-scope and malformed records are not counted and do not stop the flow")
    func twoInstances() async throws {
        let world = World()
        let alpha = world.topic("alpha"), beta = world.topic("beta")
        try await world.createTopics([alpha, beta], partitions: 2)
        let events: [(String, UsageEvent, CloudEventMode)] = [
            (alpha, usage("alpha", "t1", "kafka", "cpu_core_seconds", at: h13, 1_500_000, id: "a1"), .binary),
            (alpha, usage("alpha", "t1", "kafka", "cpu_core_seconds", at: h13 + hourMs - 1, 2_000_000, id: "a2"), .structured),
            (alpha, usage("alpha", "t1", "kafka", "cpu_core_seconds", at: h13 + hourMs, 4_000_000, id: "a3"), .binary),
            (beta, usage("beta", "t2", "minio", "storage_gib_hours", at: h13 + 30 * 60_000, 250_000, id: "b1"), .binary),
            (beta, usage("beta", "t2", "minio", "storage_gib_hours", at: h13 + 45 * 60_000, 750_000, id: "b2"), .structured),
            (beta, usage("beta", "t2", "databricks-link", "cpu_core_seconds", at: h13 + 10 * 60_000, 100_000_000, scope: .outOfScope, id: "b3"), .binary),
        ]
        var records = events.map { topic, event, mode in
            SimulatedRecord(topic: topic, key: event.tenant, event: event, mode: mode).outgoing()
        }
        // Malformed records between valid ones: not JSON, a tombstone, and an event without a tenant.
        let valid = records[0]
        records.append(KafkaOutgoingRecord(topic: alpha, key: Array("t1".utf8), value: Array("not json".utf8), headers: valid.headers))
        records.append(KafkaOutgoingRecord(topic: alpha, key: Array("t1".utf8), value: nil, headers: valid.headers))
        records.append(KafkaOutgoingRecord(topic: alpha, key: Array("t1".utf8), value: valid.value,
                                           headers: valid.headers.filter { $0.name != "ce_tenant" }))
        let after = usage("alpha", "t1", "kafka", "cpu_core_seconds", at: h13 + hourMs + 30 * 60_000, 1_000_000, id: "a4")
        records.append(SimulatedRecord(topic: alpha, key: "t1", event: after, mode: .structured).outgoing())
        try await world.produce(records)

        let counters = try await world.account(partitions: 4)
        #expect(counters.recordsRead == 10)
        #expect(counters.eventsCounted == 6)
        #expect(counters.outOfScope == 1)
        #expect(counters.rejected == ["malformed-json": 1, "missing-data": 1, "missing-attribute": 1])

        let key = UsageKey(tenant: "t1", instance: "alpha", component: "kafka", metric: "cpu_core_seconds")
        let storage = UsageKey(tenant: "t2", instance: "beta", component: "minio", metric: "storage_gib_hours")
        let expected = ExpectedTotals(entries: [
            .init(key: key, windowStart: Timestamp(milliseconds: h13)): .init(quantity: Quantity(micros: 3_500_000), unit: "Core-Seconds", eventCount: 2),
            .init(key: key, windowStart: Timestamp(milliseconds: h13 + hourMs)): .init(quantity: Quantity(micros: 5_000_000), unit: "Core-Seconds", eventCount: 2),
            .init(key: storage, windowStart: Timestamp(milliseconds: h13)): .init(quantity: Quantity(micros: 1_000_000), unit: "GiB-Hours", eventCount: 2),
        ])
        let (kafka, postgres) = try await world.totals()
        #expect(expected.differences(from: kafka) == [])
        #expect(expected.differences(from: postgres) == [])
        #expect(kafka.allSatisfy { $0.windowEnd.milliseconds - $0.windowStart.milliseconds == hourMs })
    }

    @Test("a restart in the middle of open windows rebuilds them: totals stay exact in both sinks")
    func restartKeepsTotalsExact() async throws {
        let world = World()
        let records = world.records(UsageSimulator(seed: 11, start: Timestamp(milliseconds: h13), hours: 4, samplesPerHour: 6), Scenario.all)
        let topics = Set(records.map(\.topic)).sorted()
        try await world.createTopics(topics, partitions: 2)
        // The first run sees 60 % of each instance's events, cutting through open windows.
        var first: [KafkaOutgoingRecord] = []
        var second: [KafkaOutgoingRecord] = []
        for topic in topics {
            let own = records.filter { $0.topic == topic }
            first += own.prefix(own.count * 6 / 10).map { $0.outgoing() }
            second += own.dropFirst(own.count * 6 / 10).map { $0.outgoing() }
        }
        try await world.produce(first)
        let run1 = try await world.account(partitions: topics.count * 2)
        #expect(run1.recordsRead == first.count)
        try await world.produce(second)
        let run2 = try await world.account(partitions: topics.count * 2)
        #expect(run2.recordsRead == second.count, "replayed records are not read twice")

        let expected = ExpectedTotals(records: records)
        let (kafka, postgres) = try await world.totals()
        #expect(expected.differences(from: kafka) == [])
        #expect(expected.differences(from: postgres) == [])
        #expect(run1.outOfScope + run2.outOfScope == records.filter { $0.event.scope == .outOfScope }.count)
    }
}

extension PipelineTests {
    @Test("a running service picks up an instance topic created later; the rebalance keeps totals exact")
    func newTopicWhileRunning() async throws {
        let world = World()
        let records = world.records(UsageSimulator(seed: 5, start: Timestamp(milliseconds: h13), hours: 2, samplesPerHour: 4), [Scenario.singleUserGCP, Scenario.teamDatabricks])
        let first = world.topic("solo-gcp"), later = world.topic("team-gcp")
        try await world.createTopics([first], partitions: 2)
        try await world.produce(records.filter { $0.topic == first }.map { $0.outgoing() })
        let pipeline = UsagePipeline(configuration: try world.configuration(), logger: TestServices.logger)
        let counted = records.filter { $0.event.scope == .billable }
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { try await pipeline.run() }
            try await waitUntil("the first topic is accounted") {
                pipeline.counters.snapshot.eventsCounted == counted.filter { $0.topic == first }.count
            }
            try await world.createTopics([later], partitions: 2)
            try await world.produce(records.filter { $0.topic == later }.map { $0.outgoing() })
            try await waitUntil("the new topic is accounted") { pipeline.counters.snapshot.eventsCounted == counted.count }
            // Until PostgreSQL has caught up with the totals topic (a stop gives the sink only a few seconds).
            _ = try await world.totals()
            pipeline.requestStop()
            try await group.waitForAll()
        }
        let expected = ExpectedTotals(records: records)
        let (kafka, postgres) = try await world.totals()
        #expect(expected.differences(from: kafka) == [])
        #expect(expected.differences(from: postgres) == [])
    }

    func waitUntil(_ what: String, seconds: Int = 60, _ condition: () -> Bool) async throws {
        let clock = ContinuousClock()
        let deadline = clock.now + .seconds(seconds)
        while !condition() {
            guard clock.now < deadline else { throw TestSetupError("timed out waiting until \(what)") }
            try await Task.sleep(for: .milliseconds(100))
        }
    }
}

extension PipelineTests {
    @Test("PostgreSQL refusing writes: Kafka totals are unaffected, the sink retries and catches up once it accepts them")
    func refusingDatabase() async throws {
        let world = World()
        let records = world.records(UsageSimulator(seed: 3, start: Timestamp(milliseconds: h13), hours: 2, samplesPerHour: 4), [Scenario.singleUserGCP])
        try await world.createTopics([world.topic("solo-gcp")], partitions: 1)
        try await world.produce(records.map { $0.outgoing() })
        // Make every insert fail, as a broken database would.
        let url = try TestServices.databaseURL
        let revisions = world.table + "_revisions"
        try await TestServices.blocking {
            _ = try TotalsTable(url: url, table: world.table)
            let db = try PostgresConnection(url: url)
            try db.query("CREATE FUNCTION \(revisions)_fail() RETURNS trigger AS $$ BEGIN RAISE EXCEPTION 'injected failure'; END $$ LANGUAGE plpgsql")
            try db.query("CREATE TRIGGER \(revisions)_fail BEFORE INSERT ON \(revisions) FOR EACH ROW EXECUTE FUNCTION \(revisions)_fail()")
        }
        let expected = ExpectedTotals(records: records)
        let pipeline = UsagePipeline(configuration: try world.configuration(), logger: TestServices.logger)
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { try await pipeline.run() }
            try await waitUntil("the sink has failed a few times") { pipeline.counters.snapshot.sinkFailures >= 3 }
            let (kafka, postgres) = try await world.totals(seconds: 0)
            #expect(expected.differences(from: kafka) == [], "Kafka totals do not wait for PostgreSQL")
            #expect(postgres.isEmpty)
            #expect(pipeline.counters.sinkLag > 0, "the lag shows the totals not yet written")
            _ = try await TestServices.blocking {
                try PostgresConnection(url: url).query("DROP TRIGGER \(revisions)_fail ON \(revisions)")
            }
            try await waitUntil("the sink caught up") { pipeline.counters.sinkLag == 0 }
            pipeline.requestStop()
            try await group.waitForAll()
        }
        let (kafka, postgres) = try await world.totals()
        #expect(expected.differences(from: kafka) == [])
        #expect(expected.differences(from: postgres) == [])
    }
}

extension PipelineTests {
    @Test("a quiet partition's windows close by wall clock after the idle timeout: every total becomes final")
    func idleClosing() async throws {
        let world = World()
        var topology = Topology.standard
        topology.window.idleMilliseconds = 1_000
        let records = world.records(UsageSimulator(seed: 9, start: Timestamp(milliseconds: h13), hours: 2, samplesPerHour: 4), [Scenario.singleUserGCP])
        try await world.createTopics([world.topic("solo-gcp")], partitions: 1)
        try await world.produce(records.map { $0.outgoing() })
        let expected = ExpectedTotals(records: records)
        let pipeline = UsagePipeline(configuration: try world.configuration(topology: topology), logger: TestServices.logger)
        let url = try TestServices.databaseURL
        let table = world.table
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { try await pipeline.run() }
            try await waitUntil("every total is final") {
                let rows = (try? PostgresConnection(url: url)
                    .query("SELECT count(*) FROM \(table) WHERE status = 'final'")) ?? []
                return rows.first?[0] == String(expected.entries.count)
            }
            pipeline.requestStop()
            try await group.waitForAll()
        }
        let (kafka, postgres) = try await world.totals()
        #expect(expected.differences(from: kafka) == [])
        #expect(expected.differences(from: postgres) == [])
        #expect(kafka.allSatisfy { $0.status == .final })
    }
}
