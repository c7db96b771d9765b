import Foundation
import Kafka
import TestSupport
import Testing
import UsageService
import UsageSimulation
import UsageStandard

/// One tenant's events spread over several partitions of an instance topic.
@Suite("A tenant over several partitions")
struct PartitionTests {
    /// `count` binary-mode events of tenant `acme` in one hour, each 1.5 units.
    func events(_ world: World, count: Int, from first: Int = 0) -> [UsageEvent] {
        (first..<(first + count)).map { index in
            UsageEvent(id: "e\(index)", source: "/ferris/gcp/acme/kafka", time: Timestamp(milliseconds: h13 + Int64(index) * 1_000),
                       tenant: "acme", instance: "acme-gcp", component: "kafka", metric: "cpu_core_seconds",
                       quantity: Quantity(micros: 1_500_000), unit: "Core-Seconds")
        }
    }

    func outgoing(_ event: UsageEvent, topic: String, partition: Int32, keyed: Bool) -> KafkaOutgoingRecord {
        var record = SimulatedRecord(topic: topic, key: event.tenant, event: event, mode: .binary).outgoing()
        if !keyed { record.key = nil }
        record.partition = partition
        return record
    }

    @Test("400 events produced without a key over four partitions: every one is dead-lettered as missing-key, none is summed partially")
    func keylessRecords() async throws {
        let world = World()
        let topic = world.topic("acme-gcp")
        try await world.createTopics([topic], partitions: 4)
        // A keyless record goes wherever the producer's partitioner puts it; here round-robin, as spread as it gets.
        try await world.produce(events(world, count: 400).enumerated().map { index, event in
            outgoing(event, topic: topic, partition: Int32(index % 4), keyed: false)
        })
        let counters = try await world.account(partitions: 4)
        #expect(counters.recordsRead == 400)
        #expect(counters.eventsCounted == 0)
        #expect(counters.rejected == ["missing-key": 400])
        let (kafka, postgres) = try await world.totals()
        #expect(kafka.isEmpty && postgres.isEmpty, "no partial sums: Kafka \(kafka.map(\.quantity)), PostgreSQL \(postgres.map(\.quantity))")
        let reasons = try await deadLetterReasons(world)
        #expect(reasons == ["missing-key": 400])
    }

    @Test("a tenant's events move to another partition mid-hour (as after a partition-count increase): the figure is the sum of both partitions' parts, in Kafka and PostgreSQL")
    func tenantMovesPartition() async throws {
        let world = World()
        let topic = world.topic("acme-gcp")
        // The topic grows from 2 to 4 partitions in the middle of the hour: Kafka's partitioner maps `acme` to
        // partition 1 before and partition 3 after. (The test broker does not implement CreatePartitions, so the
        // topic has its 4 partitions from the start and the producer follows the mapping of each period.) Other
        // tenants' records on partition 3 push its offsets far beyond partition 1's.
        try await world.createTopics([topic], partitions: 4)
        let before = events(world, count: 150)
        let after = events(world, count: 250, from: 150)
        let filler = (0..<300).map { index in
            UsageEvent(id: "f\(index)", source: "/ferris/gcp/other/kafka", time: Timestamp(milliseconds: h13 + 5_000),
                       tenant: "other", instance: "acme-gcp", component: "kafka", metric: "cpu_core_seconds",
                       quantity: Quantity(micros: 1_000_000), unit: "Core-Seconds")
        }
        try await world.produce(filler.map { outgoing($0, topic: topic, partition: 3, keyed: true) }
            + before.map { outgoing($0, topic: topic, partition: 1, keyed: true) })
        let pipeline = UsagePipeline(configuration: try world.configuration(), logger: TestServices.logger)
        let running = Task { try await pipeline.run() }
        defer { running.cancel() }
        try await PipelineTests().waitUntil("the first part is accounted", seconds: 60) { pipeline.counters.snapshot.recordsRead >= 450 }
        // While the service runs, the rest of the hour's events arrive on the tenant's new partition.
        try await world.produce(after.map { outgoing($0, topic: topic, partition: 3, keyed: true) })
        try await PipelineTests().waitUntil("everything is accounted", seconds: 60) { pipeline.counters.snapshot.recordsRead >= 700 }
        let key = UsageKey(tenant: "acme", instance: "acme-gcp", component: "kafka", metric: "cpu_core_seconds")
        let other = UsageKey(tenant: "other", instance: "acme-gcp", component: "kafka", metric: "cpu_core_seconds")
        let expected = ExpectedTotals(entries: [
            .init(key: key, windowStart: Timestamp(milliseconds: h13)): .init(quantity: Quantity(micros: 600_000_000), unit: "Core-Seconds", eventCount: 400),
            .init(key: other, windowStart: Timestamp(milliseconds: h13)): .init(quantity: Quantity(micros: 300_000_000), unit: "Core-Seconds", eventCount: 300),
        ])
        try await world.expectExact(expected)
        let (kafka, postgres) = try await world.totals()
        let parts = "\(topic):1,\(topic):3"
        #expect(kafka.first { $0.key == key }?.sourcePartition == parts)
        #expect(postgres.first { $0.key == key }?.sourcePartition == parts)
        pipeline.requestStop()
        try await running.value
    }

    /// The reason header of every record on the world's dead-letter topic, counted.
    func deadLetterReasons(_ world: World) async throws -> [String: Int] {
        let kafka = try TestServices.kafka
        let topic = world.deadLetterTopic
        return try await TestServices.blocking {
            var reasons: [String: Int] = [:]
            var config = kafka
            config["isolation.level"] = "read_committed"
            try KafkaTopicReader.readAll(config, topic: topic, logger: TestServices.logger) { record in
                let reason = record.headers.first { $0.name == DeadLetter.reason }?.value.map { String(decoding: $0, as: UTF8.self) }
                reasons[reason ?? "none", default: 0] += 1
            }
            return reasons
        }
    }
}
