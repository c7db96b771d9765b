import Kafka
import Testing

@Suite("Kafka wrapper against a real broker")
struct KafkaClientTests {
    @Test("the loaded librdkafka is >= 2.3 (2.0.2 cannot talk to current brokers)")
    func version() {
        #expect(librdkafkaVersionNumber >= 0x0203_0000, "loaded librdkafka \(librdkafkaVersion)")
    }

    @Test("a bad property is an error that names it")
    func badProperty() throws {
        var config = try TestServices.kafka
        config["no.such.property"] = "1"
        do {
            _ = try KafkaProducer(configuration: config, logger: TestServices.logger)
            Issue.record("a producer was created with a bad property")
        } catch {
            #expect(error.kind == .configuration)
            #expect(error.message.contains("no.such.property"))
        }
    }

    @Test("records round-trip with headers, null keys and tombstones; offsets commit")
    func roundTrip() async throws {
        let kafka = try TestServices.kafka
        let topic = TestServices.unique("it.kafka")
        let result = try await TestServices.blocking {
            let admin = try KafkaAdmin(configuration: kafka, logger: TestServices.logger)
            let compacted = KafkaNewTopic(name: topic, partitions: 1, configs: ["cleanup.policy": "compact"])
            try admin.createTopics([compacted])
            try admin.createTopics([compacted]) // idempotent
            #expect(try admin.topics()[topic] == 1)

            let producer = try KafkaProducer(configuration: kafka, logger: TestServices.logger)
            try producer.send(topic: topic, key: Array("k1".utf8), value: Array("v1".utf8),
                              headers: [KafkaHeader(name: "ce_id", string: "1"), KafkaHeader(name: "empty", value: nil)])
            try producer.send(topic: topic, key: Array("k1".utf8), value: nil)
            try producer.send(topic: topic, key: nil, value: Array("v3".utf8))
            try producer.awaitDeliveries()
            #expect(producer.pendingDeliveries == 0)

            var config = kafka
            config["group.id"] = TestServices.unique("it-group")
            let consumer = try KafkaConsumer(configuration: config, logger: TestServices.logger) { _, _ in [:] }
            let tp = KafkaTopicPartition(topic: topic, partition: 0)
            try consumer.assign([tp: KafkaOffset.beginning])
            var seen: [(key: String?, value: String?, headers: [KafkaHeader])] = []
            for _ in 0..<100 where seen.count < 3 {
                try consumer.poll(timeoutMilliseconds: 100) { record in
                    seen.append((record.key.map { String(decoding: $0, as: UTF8.self) },
                                 record.value.map { String(decoding: $0, as: UTF8.self) }, record.headers))
                    #expect(record.topic == topic)
                }
            }
            #expect(seen.count == 3)
            #expect(seen.first?.headers == [KafkaHeader(name: "ce_id", string: "1"), KafkaHeader(name: "empty", value: nil)])
            #expect(seen.map(\.key) == ["k1", "k1", nil])
            #expect(seen.map(\.value) == ["v1", nil, "v3"])

            try consumer.commit([KafkaCommittedOffset(tp, offset: 2)])
            return (try consumer.committed([tp]).map(\.offset), consumer.cachedWatermarks(tp)?.high)
        }
        #expect(result.0 == [2])
        #expect(result.1 == 3)
    }
}
