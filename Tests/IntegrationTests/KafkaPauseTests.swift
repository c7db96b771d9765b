import Foundation
import Kafka
import TestSupport
import Testing

/// Pausing and resuming, as the PostgreSQL sink does while the database is away, against the real broker.
@Suite("Kafka consumer pause and resume against a real broker")
struct KafkaPauseTests {
    @Test("pausing and resuming at any moment (also before a partition delivered anything) neither skips nor repeats a record")
    func pauseAndResumeKeepThePosition() async throws {
        try await TestServices.blocking {
            let count = 2_000
            let topic = try KafkaRebalanceTests.createTopic(partitions: 3)
            let producer = try KafkaProducer(configuration: try TestServices.kafka, logger: TestServices.logger)
            for index in 0..<count {
                try producer.send(topic: topic, key: Array("key-\(index % 11)".utf8), value: Array("\(index)".utf8))
            }
            try producer.awaitDeliveries()

            // The sink's consumer settings: read_committed, large fetches, a deep prefetch queue.
            var config = try TestServices.kafka
            config["group.id"] = TestServices.unique("it-pause")
            config["isolation.level"] = "read_committed"
            config["max.partition.fetch.bytes"] = "10485760"
            config["queued.min.messages"] = "1000000"
            // Small batches: many polls, so that pauses fall between deliveries of one fetch.
            let consumer = try KafkaConsumer(configuration: config, logger: TestServices.logger, maxBatch: 50) { _, _ in [:] }
            defer { consumer.close() }
            try consumer.subscribe([topic])

            var next: [Int32: Int64] = [:]
            var problems: [String] = []
            var (read, pauses, paused) = (0, 0, false)
            var lastRecordAt: ContinuousClock.Instant?
            let clock = ContinuousClock()
            let deadline = clock.now + .seconds(120)
            while read < count && clock.now < deadline && problems.count < 20 {
                // Toggled about every sixth poll: right after the assignment, with records fetched but not delivered,
                // and between deliveries.
                if !consumer.assignment.isEmpty && !paused && Int.random(in: 0..<10) == 0 {
                    // Paused and resumed at once, as the sink does when a full batch is written at the first try.
                    pauses += 1
                    try consumer.pause(Array(consumer.assignment))
                    try consumer.resume(Array(consumer.assignment))
                } else if !consumer.assignment.isEmpty && Int.random(in: 0..<6) == 0 {
                    paused.toggle()
                    if paused {
                        pauses += 1
                        try consumer.pause(Array(consumer.assignment))
                    } else {
                        try consumer.resume(Array(consumer.assignment))
                    }
                }
                try consumer.poll(timeoutMilliseconds: 10) { record in
                    let expected = next[record.partition] ?? 0
                    if record.offset != expected {
                        problems.append("partition \(record.partition): offset \(record.offset) delivered where \(expected) was next")
                    }
                    next[record.partition] = record.offset + 1
                    read += 1
                    lastRecordAt = clock.now
                }
            }
            #expect(pauses > 10, "the test paused only \(pauses) times")
            #expect(problems == [])
            #expect(read == count, "read \(read) of \(count) records; next offsets \(next.sorted { $0.key < $1.key }), \(pauses) pauses, paused at the end: \(paused), \(lastRecordAt.map { "last record \(clock.now - $0) before the end" } ?? "no record")")
        }
    }
}
