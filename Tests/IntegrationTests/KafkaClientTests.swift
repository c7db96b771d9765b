import Kafka
import TestSupport
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

extension KafkaClientTests {
    @Test("transactions: committed records and offsets are visible together; aborted ones never")
    func transactions() async throws {
        let kafka = try TestServices.kafka
        let topic = TestServices.unique("it.txn")
        let input = TestServices.unique("it.txn.input")
        let group = TestServices.unique("it-txn-group")
        let result = try await TestServices.blocking {
            try KafkaAdmin(configuration: kafka, logger: TestServices.logger).createTopics([
                KafkaNewTopic(name: topic, partitions: 1), KafkaNewTopic(name: input, partitions: 1)])
            var producerConfig = kafka
            producerConfig["transactional.id"] = TestServices.unique("it-txn")
            let producer = try KafkaProducer(configuration: producerConfig, logger: TestServices.logger)
            try producer.initTransactions()
            var groupConfig = kafka
            groupConfig["group.id"] = group
            let consumer = try KafkaConsumer(configuration: groupConfig, logger: TestServices.logger) { _, _ in [:] }
            defer { consumer.close() }
            let inputPartition = KafkaTopicPartition(topic: input, partition: 0)

            try producer.beginTransaction()
            for value in ["a", "b", "c"] { try producer.send(topic: topic, key: nil, value: Array(value.utf8)) }
            try producer.commitTransaction()

            try producer.beginTransaction()
            for value in ["aborted-1", "aborted-2"] { try producer.send(topic: topic, key: nil, value: Array(value.utf8)) }
            try producer.sendOffsetsToTransaction([KafkaCommittedOffset(inputPartition, offset: 99)], consumer: consumer)
            try producer.abortTransaction()

            try producer.beginTransaction()
            try producer.send(topic: topic, key: nil, value: Array("d".utf8))
            try producer.sendOffsetsToTransaction([KafkaCommittedOffset(inputPartition, offset: 7)], consumer: consumer)
            try producer.commitTransaction()

            var seen: [String] = []
            var readConfig = kafka
            readConfig["isolation.level"] = "read_committed"
            try KafkaTopicReader.readAll(readConfig, topic: topic, logger: TestServices.logger) { record in
                seen.append(record.value.map { String(decoding: $0, as: UTF8.self) } ?? "")
            }
            return (seen, try consumer.committed([inputPartition]).map(\.offset))
        }
        // Committed records are all there, in order, and the committed transaction's offsets (not the aborted one's).
        #expect(result.0.filter { !$0.hasPrefix("aborted") } == ["a", "b", "c", "d"])
        #expect(result.1 == [7])
        // Tansu 0.6.0 (the test broker) sometimes serves aborted records to read_committed consumers when other
        // clients are busy (seen in about 1 run in 10 under load); Apache Kafka does not.
        withKnownIssue("Tansu 0.6.0 intermittently shows aborted records to read_committed consumers", isIntermittent: true) {
            #expect(result.0 == ["a", "b", "c", "d"])
        }
    }
}

extension KafkaClientTests {
    @Test("a reader that has read up to the end offsets asked after a commit has every record of the transaction, while the ends of earlier fetch responses already said it was at the end")
    func readUpToEndsAskedAfterCommit() async throws {
        let kafka = try TestServices.kafka
        let topic = TestServices.unique("it.ends")
        let result = try await TestServices.blocking {
            let admin = try KafkaAdmin(configuration: kafka, logger: TestServices.logger)
            try admin.createTopics([KafkaNewTopic(name: topic, partitions: 1)])
            let tp = KafkaTopicPartition(topic: topic, partition: 0)
            var producerConfig = kafka
            producerConfig["transactional.id"] = TestServices.unique("it-ends")
            let producer = try KafkaProducer(configuration: producerConfig, logger: TestServices.logger)
            try producer.initTransactions()
            func commit(_ values: [String]) throws {
                try producer.beginTransaction()
                for value in values { try producer.send(topic: topic, key: nil, value: Array(value.utf8)) }
                try producer.commitTransaction()
            }
            let reader = try EndTrackingReader(kafka, isolation: "read_committed")
            let consumer = reader.consumer
            defer { consumer.close() }
            try commit(["a", "b"])
            try consumer.assign([tp: KafkaOffset.beginning])
            try reader.read { consumer.hasReachedEnd(of: [tp]) }
            let before = reader.seen
            try commit(["c", "d", "e"])
            // What the sink's old rule saw: no fetch response since the commit was handed over, so "at the end".
            let staleSaysEnd = consumer.hasReachedEnd(of: [tp])
            let ends = try admin.endOffsets(of: [tp])
            let readBeforePolling = consumer.hasRead(upTo: ends)
            try reader.read { consumer.hasRead(upTo: ends) }
            return (before, staleSaysEnd, ends[tp], readBeforePolling, consumer.hasRead(upTo: ends), reader.seen)
        }
        #expect(result.0 == ["a", "b"])
        #expect(result.1, "precondition: the end reported before the second commit still stands")
        #expect((result.2 ?? 0) >= 5)
        #expect(!result.3)
        #expect(result.4)
        #expect(result.5 == ["a", "b", "c", "d", "e"])
    }
}

extension KafkaClientTests {
    @Test("a partition assigned again is not at its end until read again: an end seen in an earlier assignment does not count")
    func endsAreForgottenOnReassignment() async throws {
        let kafka = try TestServices.kafka
        let topic = TestServices.unique("it.reassign")
        let result = try await TestServices.blocking {
            try KafkaAdmin(configuration: kafka, logger: TestServices.logger).createTopics([KafkaNewTopic(name: topic, partitions: 1)])
            let tp = KafkaTopicPartition(topic: topic, partition: 0)
            let producer = try KafkaProducer(configuration: kafka, logger: TestServices.logger)
            for value in ["a", "b", "c"] { try producer.send(topic: topic, key: nil, value: Array(value.utf8)) }
            try producer.awaitDeliveries()
            let reader = try EndTrackingReader(kafka)
            let consumer = reader.consumer
            defer { consumer.close() }
            try consumer.assign([tp: KafkaOffset.beginning])
            try reader.read { consumer.reachedEnd.contains(tp) }
            // As a new owner does after an aborted transaction: start again at an earlier (committed) offset.
            try consumer.assign([tp: 1])
            let endRightAfter = consumer.hasReachedEnd(of: [tp]) || consumer.hasRead(upTo: [tp: 3])
            try reader.read { consumer.reachedEnd.contains(tp) }
            return (endRightAfter, reader.seen)
        }
        #expect(!result.0, "the end read in the first assignment was taken for the second's")
        #expect(result.1 == ["a", "b", "c", "b", "c"])
    }
}

/// A consumer that reports partition ends (`enable.partition.eof`), for tests that assign partitions themselves, and
/// the values it was handed.
private final class EndTrackingReader {
    let consumer: KafkaConsumer
    private(set) var seen: [String] = []

    init(_ kafka: KafkaConfiguration, isolation: String? = nil) throws {
        var config = kafka
        config["group.id"] = TestServices.unique("it-end-reader")
        config["enable.partition.eof"] = "true"
        if let isolation { config["isolation.level"] = isolation }
        consumer = try KafkaConsumer(configuration: config, logger: TestServices.logger) { _, _ in [:] }
    }

    /// Polls until `done` (at most 30 s).
    func read(until done: () -> Bool) throws {
        let deadline = ContinuousClock.now + .seconds(30)
        while !done() && ContinuousClock.now < deadline {
            try consumer.poll(timeoutMilliseconds: 100) { record in
                seen.append(record.value.map { String(decoding: $0, as: UTF8.self) } ?? "")
            }
        }
    }
}
