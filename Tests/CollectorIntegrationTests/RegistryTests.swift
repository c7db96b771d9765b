import Foundation
import Kafka
import ProcessSupport
import Synchronization
import TestSupport
import Testing
import UsageRegistry
import UsageStandard

/// The instance registry on the real broker: read to its end, followed, refused records reported with their reason.
@Suite struct RegistryTests {
    @Test func theFollowerReadsTheTopicToItsEndThenFollowsIt() async throws {
        let world = CollectorWorld()
        let kafka = try TestServices.kafka
        let topic = world.registryTopic
        let instances = world.instances()
        let t0 = WallClock.milliseconds() - 60_000
        try await world.register(Array(instances.prefix(3)), at: t0)
        // A malformed record, a record keyed by another id, and the deletion of the third instance (a tombstone).
        try await TestServices.blocking {
            let producer = try KafkaProducer(configuration: kafka, logger: TestServices.logger)
            try producer.send(topic: topic, key: Array("broken".utf8), value: Array(#"{"specversion":"1.0""#.utf8),
                              headers: [KafkaHeader(name: "content-type", string: UsageStandard.structuredContentType)])
            let encoded = InstanceEventEncoder.encode(InstanceEvent(id: "x", source: "/t", time: Timestamp(milliseconds: t0),
                                                                    change: .updated, instance: instances[0]))
            try producer.send(topic: topic, key: Array("someone-else".utf8), value: encoded.value,
                              headers: encoded.headers.map { KafkaHeader(name: $0.name, string: $0.value) })
            try producer.send(topic: topic, key: Array(instances[2].id.utf8), value: nil)
            try producer.awaitDeliveries()
        }
        let follower = InstanceRegistryFollower(kafka: kafka, topic: topic, logger: TestServices.logger)
        let stop = Locked(false)
        let refused = Locked<[String]>([])
        let versionAtCatchUp = Locked(0)
        let running = Task {
            try await TestServices.blocking {
                try follower.run(shouldStop: { stop.value }, onRecord: { _, outcome in
                    if case .failure(let error) = outcome { refused.value.append(error.reason.rawValue) }
                }, onCaughtUp: { versionAtCatchUp.value = follower.version })
            }
        }
        defer { stop.value = true }
        try await waitUntil("caught up") { follower.isCaughtUp }
        var registry = follower.registry
        #expect(registry.instances.keys.sorted() == [instances[0].id, instances[1].id].sorted())
        #expect(registry.deletionTime(instances[2].id) != nil)
        #expect(refused.value == ["malformed-json", "partition-key-mismatch"])
        #expect(registry[instances[1].id]?.scope(of: "databricks-link") == .outOfScope)

        // Following: a new instance appears without a restart.
        try await world.register([instances[3]], at: t0 + 30_000)
        try await waitUntil("the new instance") { follower.registry[instances[3].id] != nil }
        registry = follower.registry
        #expect(registry.instance(instances[3].id, at: Timestamp(milliseconds: t0 + 30_000)) == instances[3])
        #expect(follower.version > versionAtCatchUp.value)
        stop.value = true
        try await running.value
    }

    @Test func theWizardMessageIsPublishedAsTheTeamInstance() async throws {
        let world = CollectorWorld()
        let message = TestServices.repository.appendingPathComponent("docs/examples/team-databricks.wizard.json").path
        let process = try world.start(["registry", "publish", "--from-wizard", message, "--instance-topic", world.registryTopic])
        process.waitUntilExit()
        #expect(process.terminationStatus == 0, "log: \(world.logFile.path)")
        let (kafka, topic) = (try TestServices.kafka, world.registryTopic)
        let registry = try await TestServices.blocking { try InstanceRegistryFollower.read(kafka: kafka, topic: topic, logger: TestServices.logger) }
        let documented = try String(contentsOf: TestServices.repository.appendingPathComponent("docs/examples/team-databricks.instances.jsonl"),
                                    encoding: .utf8)
        let decoded = InstanceEventDecoder.decode(key: Array("team-gcp".utf8), value: Array(documented.utf8.dropLast()),
                                                  headers: [("content-type", Array(UsageStandard.structuredContentType.utf8))])
        guard case .success(.event(let event)) = decoded else { Issue.record("the documented example does not decode: \(decoded)"); return }
        #expect(registry["team-gcp"] == event.instance)
    }
}

/// Polls `condition` every 100 ms for up to 30 s.
func waitUntil(_ what: String, _ condition: () -> Bool) async throws {
    let deadline = ContinuousClock.now + .seconds(30)
    while !condition() {
        guard ContinuousClock.now < deadline else { throw TestSetupError("timed out waiting for \(what)") }
        try await Task.sleep(for: .milliseconds(100))
    }
}

/// A value shared between the test and a client thread.
final class Locked<Value: Sendable>: Sendable {
    private let mutex: Mutex<Value>
    init(_ value: Value) { mutex = Mutex(value) }
    var value: Value {
        get { mutex.withLock { $0 } }
        set { mutex.withLock { $0 = newValue } }
    }
}
