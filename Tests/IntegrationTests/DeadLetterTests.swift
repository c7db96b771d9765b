import Foundation
import Kafka
import ProcessSupport
import TestSupport
import Testing
import UsageService
import UsageSimulation
import UsageStandard

@Suite("Dead-letter path against a real broker and PostgreSQL")
struct DeadLetterTests {
    struct Rejected: Equatable {
        var reason: String
        var offset: Int64
    }

    @Test("a mixed stream: valid events counted exactly, every invalid one dead-lettered unchanged with its reason, offsets committed past them")
    func mixedStream() async throws {
        let world = World()
        let topic = world.topic("mixed")
        try await world.createTopics([topic], partitions: 2)
        let now = WallClock.milliseconds()
        func event(_ tenant: String, _ id: String, at ms: Int64, metric: String = "requests", quantity: Int64 = 1_000_000,
                   unit: String? = nil) -> UsageEvent {
            UsageEvent(id: id, source: "/ferris/mixed/vault", time: Timestamp(milliseconds: ms), tenant: tenant,
                       instance: "mixed", component: "vault", metric: metric, quantity: Quantity(micros: quantity),
                       unit: unit ?? MetricRegistry.v1[metric]?.unit ?? "?")
        }
        func record(_ event: UsageEvent, _ mode: CloudEventMode = .binary, key: String? = nil) -> KafkaOutgoingRecord {
            var outgoing = SimulatedRecord(topic: topic, key: event.tenant, event: event, mode: mode).outgoing()
            if let key { outgoing.key = Array(key.utf8) }
            return outgoing
        }
        var valid: [SimulatedRecord] = []
        var records: [(KafkaOutgoingRecord, expectedReason: String?)] = []
        func add(_ event: UsageEvent, _ mode: CloudEventMode = .binary) {
            valid.append(SimulatedRecord(topic: topic, key: event.tenant, event: event, mode: mode))
            records.append((record(event, mode), nil))
        }
        // Both tenants report in time order (they may share a partition, and with it a watermark).
        for minute in stride(from: 0, to: 180, by: 7) {
            for (index, tenant) in ["acme", "globex"].enumerated() {
                add(event(tenant, "\(tenant)-\(minute)", at: h13 + Int64(minute) * 60_000, quantity: Int64(minute + index) * 1_000),
                    minute % 2 == 0 ? .binary : .structured)
            }
        }
        for tenant in ["acme", "globex"] {
            let base = record(event(tenant, "\(tenant)-x", at: h13 + 170 * 60_000))
            let recent = h13 + 170 * 60_000
            records += [
                (KafkaOutgoingRecord(topic: topic, key: base.key, value: Array("{not json".utf8), headers: base.headers), "malformed-json"),
                (KafkaOutgoingRecord(topic: topic, key: base.key, value: nil, headers: base.headers), "missing-data"),
                (KafkaOutgoingRecord(topic: topic, key: base.key, value: base.value,
                                     headers: base.headers.filter { $0.name != "ce_tenant" } + [KafkaHeader(name: "ce_tenant", string: "")]),
                 "missing-attribute"),
                (record(event(tenant, "\(tenant)-metric", at: recent, metric: "gpu_hours", unit: "Hours")), "unknown-metric"),
                (record(event(tenant, "\(tenant)-unit", at: recent, unit: "Calls")), "unit-mismatch"),
                (record(event(tenant, "\(tenant)-neg", at: recent, quantity: -5_000_000)), "negative-quantity"),
                (record(event(tenant, "\(tenant)-old", at: now - 40 * 86_400_000)), "too-old"),
                (record(event(tenant, "\(tenant)-future", at: now + 2 * hourMs)), "in-future"),
                (KafkaOutgoingRecord(topic: topic, key: base.key, value: base.value,
                                     headers: base.headers + [KafkaHeader(name: "ce_Region", string: "x")]), "invalid-extension-name"),
                // Terminal escape sequences in a value and in a header name: refused, and quoted escaped in the headers.
                (KafkaOutgoingRecord(topic: topic, key: base.key, value: base.value,
                                     headers: base.headers.filter { $0.name != "ce_tenant" }
                                         + [KafkaHeader(name: "ce_tenant", string: "\u{1B}[31m\(tenant)\u{1B}[0m")]), "invalid-attribute"),
                (KafkaOutgoingRecord(topic: topic, key: base.key, value: base.value,
                                     headers: base.headers + [KafkaHeader(name: "ce_x\u{1B}]0;owned\u{07}\n", string: "y")]),
                 "invalid-extension-name"),
                // The watermark is at h13 + 2h53m by now, so the hour h13 (end + 1 h grace) has closed.
                (record(event(tenant, "\(tenant)-late", at: h13 + 5 * 60_000)), "late"),
            ]
        }
        // A record keyed by something other than its tenant.
        records.append((record(event("acme", "acme-key", at: h13), key: "not-the-tenant"), "partition-key-mismatch"))
        try await world.produce(records.map(\.0))

        let counters = try await world.account(partitions: 2)
        let expectedRejections = records.compactMap(\.expectedReason)
        #expect(counters.eventsCounted == valid.count)
        #expect(counters.rejectedTotal == expectedRejections.count)
        #expect(counters.late == 2)
        #expect(counters.rejected == Dictionary(expectedRejections.map { ($0, 1) }, uniquingKeysWith: +))

        // Totals: exactly the valid events.
        let (kafka, postgres) = try await world.totals()
        let expected = ExpectedTotals(records: valid)
        #expect(expected.differences(from: kafka) == [])
        #expect(expected.differences(from: postgres) == [])

        // The dead-letter topic holds every rejected record unchanged, with reason and origin.
        let config = try world.configuration()
        let kafkaConfig = config.kafka
        let deadLetters: [(reason: String, headers: [KafkaHeader], key: [UInt8]?, value: [UInt8]?)] = try await TestServices.blocking {
            var result: [(String, [KafkaHeader], [UInt8]?, [UInt8]?)] = []
            try KafkaTopicReader.readAll(kafkaConfig, topic: config.deadLetterTopic, logger: TestServices.logger) { record in
                let headers = record.headers
                let reason = headers.first { $0.name == DeadLetter.reason }?.value.map { String(decoding: $0, as: UTF8.self) } ?? "?"
                result.append((reason, headers, record.key.map { Array($0) }, record.value.map { Array($0) }))
            }
            return result
        }
        #expect(deadLetters.map(\.reason).sorted() == expectedRejections.sorted())
        for letter in deadLetters {
            func header(_ name: String) -> String? {
                letter.headers.first { $0.name == name }?.value.map { String(decoding: $0, as: UTF8.self) }
            }
            #expect(header(DeadLetter.topic) == topic)
            #expect(header(DeadLetter.message)?.isEmpty == false)
            for text in [header(DeadLetter.attribute), header(DeadLetter.message)] {
                #expect(text?.unicodeScalars.contains { $0.properties.generalCategory == .control } == false, "\(letter.reason): \(text ?? "")")
            }
            #expect(header(DeadLetter.partition).flatMap(Int32.init) != nil)
            #expect(header(DeadLetter.offset).flatMap(Int64.init) != nil)
            // Unchanged: some produced invalid record has the same key, value and original headers.
            let original = letter.headers.filter { !$0.name.hasPrefix("ferris-dlq-") }
            #expect(records.contains { $0.expectedReason == letter.reason && $0.0.key == letter.key && $0.0.value == letter.value
                && $0.0.headers == original }, "dead letter \(letter.reason) differs from what was produced")
        }

        // Offsets are committed past everything, rejected records included.
        let group = config.groupID
        let committed: [Int64] = try await TestServices.blocking {
            var groupConfig = kafkaConfig
            groupConfig["group.id"] = group
            let consumer = try KafkaConsumer(configuration: groupConfig, logger: TestServices.logger) { _, _ in [:] }
            defer { consumer.close() }
            return try consumer.committed([0, 1].map { KafkaTopicPartition(topic: topic, partition: $0) }).map(\.offset)
        }
        var perPartition: [Int32: Int64] = [:]
        let partitionsRead: [Int32: Int64] = try await TestServices.blocking {
            var ends: [Int32: Int64] = [:]
            try KafkaTopicReader.readAll(kafkaConfig, topic: topic, logger: TestServices.logger) { ends[$0.partition] = $0.offset + 1 }
            return ends
        }
        perPartition = partitionsRead
        #expect(!perPartition.isEmpty)
        for partition: Int32 in [0, 1] {
            // Committed = last record + 1 where there are records; nothing committed on an empty partition.
            #expect(committed[Int(partition)] == perPartition[partition] ?? -1001, "partition \(partition)")
        }
    }
}
