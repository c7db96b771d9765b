import Foundation
import Kafka
import TestSupport
import Testing
import UsageRegistry
import UsageService
import UsageSimulation
import UsageStages
import UsageStandard

/// The accounting service and the instance registry (standard section 11), against the real broker and PostgreSQL.
@Suite("The service follows the instance registry", .serialized)
struct RegistryServiceTests {
    /// A world whose instances are announced on its own registry topic; their event topics are the standard's
    /// `ferris.events.<instance>`, the instance ids unique to the world.
    struct Registry {
        let world = World()
        var topic: String { "\(world.id).instances" }
        var instance: String { "\(world.id)-team" }
        var eventTopic: String { UsageStandard.eventTopic(instance: instance) }

        func configuration() throws -> UsagePipelineConfiguration {
            var configuration = try world.configuration()
            configuration.topology.source.topics = "^ferris\\.events\\.\(world.id)-.+"
            configuration.instanceTopic = topic
            return configuration
        }

        /// The team scenario's instance: its Azure Databricks link is not accounted unless `accounted`.
        func team(accounted: Bool = false) -> InstanceDescription {
            InstanceDescription(id: instance, tenant: "team-analytics", provider: "gcp", cluster: "gke-europe-west1",
                                namespaces: ["ferris-team"], components: ["kafka", "keycloak"],
                                links: [LinkedSystem(name: "analytics-dbx", component: "databricks-link", provider: "azure",
                                                     accounted: accounted)])
        }

        func publish(_ events: [InstanceEvent]) async throws {
            let (kafka, topic) = (try TestServices.kafka, self.topic)
            try await TestServices.blocking { try InstanceRegistryTopic.publish(events, kafka: kafka, topic: topic, logger: TestServices.logger) }
        }

        /// Usage of the instance in the hour starting `h13`: `count` events each of kafka and databricks-link (untagged).
        func usage(count: Int, from first: Int = 0) -> [SimulatedRecord] {
            (first..<(first + count)).flatMap { index in
                ["kafka", "databricks-link"].map { component in
                    SimulatedRecord(topic: eventTopic, key: "team-analytics", event: UsageEvent(
                        id: "\(component)-\(index)", source: "/ferris/gcp/\(instance)/\(component)",
                        time: Timestamp(milliseconds: h13 + Int64(index) * 10_000), tenant: "team-analytics",
                        instance: instance, component: component, metric: "cpu_core_seconds",
                        quantity: Quantity(micros: 2_000_000), unit: "Core-Seconds"), mode: .binary)
                }
            }
        }
    }

    @Test("an instance announced on the registry gets its event topic and its usage with no other step; its Databricks link is not accounted; a malformed instance event is dead-lettered once")
    func newInstance() async throws {
        let registry = Registry()
        let pipeline = UsagePipeline(configuration: try registry.configuration(), logger: TestServices.logger)
        let running = Task { try await pipeline.run() }
        defer { pipeline.requestStop() }
        // Created a day ago: the usage below is judged by this registration.
        try await registry.publish([InstanceEvent(id: "wizard-1", source: "/ferris/wizard", time: Timestamp(milliseconds: h13 - 86_400_000),
                                                  change: .created, instance: registry.team())])
        let kafka = try TestServices.kafka
        let eventTopic = registry.eventTopic
        try await PipelineTests().waitUntil("the instance's event topic exists", seconds: 60) {
            ((try? KafkaAdmin(configuration: kafka, logger: TestServices.logger).topics()[eventTopic]) ?? nil) != nil
        }
        // A malformed instance event (not JSON) on the registry.
        try await registry.world.produce([KafkaOutgoingRecord(topic: registry.topic, key: Array("broken".utf8), value: Array("{not json".utf8),
                                                              headers: [KafkaHeader(name: "content-type", string: "application/cloudevents+json")])])
        let records = registry.usage(count: 50)
        try await registry.world.produce(records.map { $0.outgoing() })
        try await PipelineTests().waitUntil("every event is read", seconds: 90) { pipeline.counters.snapshot.recordsRead >= 100 }
        let counters = pipeline.counters.snapshot
        #expect(counters.eventsCounted == 50)
        #expect(counters.outOfScopeByRule[InstanceScopeFilter.rule] == 50, "the Databricks link's usage is dropped by the registry")
        let key = UsageKey(tenant: "team-analytics", instance: registry.instance, component: "kafka", metric: "cpu_core_seconds")
        try await registry.world.expectExact(ExpectedTotals(entries: [
            .init(key: key, windowStart: Timestamp(milliseconds: h13)): .init(quantity: Quantity(micros: 100_000_000), unit: "Core-Seconds", eventCount: 50),
        ]))
        try await PipelineTests().waitUntil("the malformed instance event is dead-lettered", seconds: 30) {
            pipeline.counters.snapshot.instanceEventsRejected.values.reduce(0, +) == 1
        }
        pipeline.requestStop()
        try await running.value
        // A second process of the group reads the registry again: the refused record is not dead-lettered twice.
        let second = UsagePipeline(configuration: try registry.configuration(), logger: TestServices.logger)
        let again = Task { try await second.run() }
        try await Task.sleep(for: .seconds(12))
        second.requestStop()
        try await again.value
        let reasons = try await PartitionTests().deadLetterReasons(registry.world)
        #expect(reasons == ["malformed-json": 1], "the instance event once, with its reason: \(reasons)")
    }

    @Test("a replay judges scope by the registry as it was when the usage happened")
    func replayUsesRegistryAsItWas() async throws {
        let registry = Registry()
        try await registry.world.createTopics([registry.eventTopic], partitions: 2)
        try await registry.publish([InstanceEvent(id: "wizard-1", source: "/ferris/wizard", time: Timestamp(milliseconds: h13 - 86_400_000),
                                                  change: .created, instance: registry.team())])
        let records = registry.usage(count: 20)
        try await registry.world.produce(records.map { $0.outgoing() })
        let pipeline = UsagePipeline(configuration: try registry.configuration(), mode: .untilCaughtUp(partitions: 2),
                                     logger: TestServices.logger)
        try await TestServices.runUntilCaughtUp(pipeline)
        #expect(pipeline.counters.snapshot.outOfScopeByRule[InstanceScopeFilter.rule] == 20)
        // Later the link becomes accounted: that does not change the past hour.
        try await registry.publish([InstanceEvent(id: "wizard-2", source: "/ferris/wizard", time: Timestamp(milliseconds: h13 + 3 * hourMs),
                                                  change: .updated, instance: registry.team(accounted: true))])
        let replay = Replay(configuration: try registry.configuration(),
                            request: Replay.Request(from: Timestamp(milliseconds: h13), to: Timestamp(milliseconds: h13 + hourMs)),
                            logger: TestServices.logger)
        let unchanged = try await TestServices.blocking { try replay.run() }
        #expect(unchanged.changes.isEmpty, "\(unchanged.changes)")
        // A registration dated before the usage (a corrected record) makes the link accounted for that hour.
        try await registry.publish([InstanceEvent(id: "wizard-3", source: "/ferris/wizard", time: Timestamp(milliseconds: h13 - 3_600_000),
                                                  change: .updated, instance: registry.team(accounted: true))])
        let corrected = Replay(configuration: try registry.configuration(),
                               request: Replay.Request(from: Timestamp(milliseconds: h13), to: Timestamp(milliseconds: h13 + hourMs)),
                               logger: TestServices.logger)
        let outcome = try await TestServices.blocking { try corrected.run() }
        #expect(outcome.changes.map(\.new.key.component) == ["databricks-link"])
        #expect(outcome.changes.first?.new.quantity == Quantity(micros: 40_000_000))
    }
}
