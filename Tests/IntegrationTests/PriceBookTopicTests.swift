import Foundation
import Kafka
import TestSupport
import Testing
import UsagePriceBooks
import UsagePricing
import UsageStandard

/// Price books on their compacted topic (standard, section 14), against the real broker: each test publishes on a
/// topic of its own.
@Suite("Price books on the prices topic")
struct PriceBookTopicTests {
    /// The publication time of the tests: both versions of the example book have been in effect.
    let now = Timestamp(milliseconds: 1_796_117_400_000)  // 2026-12-01T09:30:00Z
    let topic = TestServices.unique("it.prices")
    let book: PriceBook

    init() throws {
        let path = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().appendingPathComponent("examples/price-book.yaml").path
        book = try PriceBook.parse(try String(contentsOfFile: path, encoding: .utf8), file: path)
    }

    func publish(_ book: PriceBook, corrections: Set<String> = []) async throws -> PriceBookPublication {
        let (kafka, topic, now) = (try TestServices.kafka, topic, now)
        return try await TestServices.blocking {
            try PriceBookTopic.publish(book, corrections: corrections, kafka: kafka, topic: topic, time: now, logger: TestServices.logger)
        }
    }

    /// The problems of a publication that must be refused (a test failure when it is not).
    func refusal(_ book: PriceBook, sourceLocation: Testing.SourceLocation = #_sourceLocation) async throws -> [String] {
        do {
            let outcome = try await publish(book)
            Issue.record("published: \(outcome)", sourceLocation: sourceLocation)
            return []
        } catch let error as PriceBookTopicError {
            guard case .refused(let refusal) = error else { throw error }
            return refusal.problems
        }
    }

    func read() async throws -> PriceBookTopicContents {
        let (kafka, topic) = (try TestServices.kafka, topic)
        return try await TestServices.blocking { try PriceBookTopic.read(kafka: kafka, topic: topic, logger: TestServices.logger) }
    }

    /// The example book as `revision`, with January's prices: 2026-11b ends at the new year, where 2027-01 begins.
    func january(revision: Int64) -> PriceBook {
        var next = book
        next.revision = revision
        guard let open = next.versions.firstIndex(where: { $0.id == "2026-11b" }) else { return next }
        next.versions[open].effectiveTo = Timestamp(milliseconds: 1_798_761_600_000)  // 2027-01-01T00:00:00Z
        var version = next.versions[open]
        version.id = "2027-01"
        version.effectiveFrom = Timestamp(milliseconds: 1_798_761_600_000)
        version.effectiveTo = nil
        next.versions.append(version)
        return next
    }

    @Test("the example book is published on a new compacted topic and read back equal; the same revision again sends nothing")
    func publishAndReadBack() async throws {
        let outcome = try await publish(book)
        #expect(outcome == .published(PriceBookEvent(book: book, time: now), replacing: nil))
        let contents = try await read()
        #expect(contents.recordsRead == 1 && contents.skipped.isEmpty)
        #expect(contents.history.current(book.id) == book.withoutPositions)
        let revision = contents.history.books[book.id]?.latest
        #expect(revision?.event.id == "ferris-list-eur#1" && revision?.event.time == now && revision?.offset == 0)
        let kafka = try TestServices.kafka
        let topics = try await TestServices.blocking { try KafkaAdmin(configuration: kafka, logger: TestServices.logger).topics() }
        #expect(topics[topic] == 1, "one partition")
        guard case .alreadyPublished(let existing) = try await publish(book) else {
            Issue.record("the same revision was sent again")
            return
        }
        #expect(existing.offset == 0)
        #expect(try await read().recordsRead == 1)
    }

    @Test("a second revision becomes current and both are kept; a lower or equal revision is refused")
    func secondRevision() async throws {
        _ = try await publish(book)
        let second = january(revision: 2)
        #expect(try await publish(second) == .published(PriceBookEvent(book: second, time: now), replacing: 1))
        let contents = try await read()
        #expect(contents.history.books[book.id]?.revisions.map(\.book.revision) == [1, 2])
        #expect(contents.history.books[book.id]?.revisions.first?.book == book.withoutPositions)
        #expect(contents.history.current(book.id) == second.withoutPositions)

        var lower = january(revision: 1)
        lower.summary = "revision 1 again, changed"
        let lowerProblems = try await refusal(lower)
        #expect(lowerProblems.first?.contains("revision 1 is not higher than revision 2, the highest on the topic: raise revision to 3") == true,
                "\(lowerProblems)")
        var equal = second
        equal.summary = "revision 2 again, changed"
        #expect(try await refusal(equal).first?.contains("revision 2 is not higher than revision 2") == true)
        #expect(try await read().recordsRead == 2, "nothing was sent")
    }

    @Test("a revision dropping a version that has been in effect is refused")
    func droppedVersion() async throws {
        _ = try await publish(book)
        var dropped = book
        dropped.revision = 2
        dropped.versions.removeAll { $0.id == "2026-11a" }
        let problems = try await refusal(dropped)
        #expect(problems.count == 1 && problems.first?.contains("version '2026-11a' has been in effect since 2026-11-01T00:00:00.000Z and is missing") == true,
                "\(problems)")
        #expect(try await read().history.current(book.id)?.revision == 1)
    }

    @Test("an invalid book is refused before anything is sent")
    func invalidBook() async throws {
        var invalid = book
        invalid.versions[0].effectiveTo = Timestamp(milliseconds: invalid.versions[0].effectiveFrom.milliseconds + 1_800_000)
        let problems = try await refusal(invalid)
        #expect(problems.contains { $0.contains("is not a whole UTC hour") }, "\(problems)")
        #expect(try await read().recordsRead == 0)
    }

    @Test("a garbage record on the topic is skipped and reported with its offset; the books around it are read")
    func garbageRecord() async throws {
        _ = try await publish(book)
        let (kafka, topic) = (try TestServices.kafka, topic)
        try await TestServices.blocking {
            let producer = try KafkaProducer(configuration: kafka, logger: TestServices.logger)
            try producer.send(topic: topic, key: Array("ferris-list-eur".utf8), value: Array("{not json".utf8),
                              headers: [KafkaHeader(name: "content-type", string: "application/cloudevents+json")])
            try producer.send(topic: topic, key: nil, value: Array("{}".utf8))
            try producer.awaitDeliveries()
        }
        #expect(try await publish(january(revision: 2)) == .published(PriceBookEvent(book: january(revision: 2), time: now), replacing: 1))
        let contents = try await read()
        #expect(contents.recordsRead == 4)
        #expect(contents.skipped.map(\.offset) == [1, 2])
        #expect(contents.skipped.map(\.cause) == [
            .refused(PriceBookEventError(.malformedJSON, "value", "not JSON: \(notJSON("{not json"))")),
            .refused(PriceBookEventError(.missingKey, "key", "the record has no UTF-8 key; the key must be the price book id")),
        ])
        #expect(contents.skipped.first?.description.hasPrefix("\(topic)[0] offset 1 (key 'ferris-list-eur'): refused (malformed-json): value: not JSON") == true,
                "\(contents.skipped.first?.description ?? "")")
        #expect(contents.history.books[book.id]?.revisions.map(\.offset) == [0, 3])
    }

    /// The JSON parser's message for `text`.
    func notJSON(_ text: String) -> String {
        if case .failure(let error) = JSONValue.parse(Array(text.utf8)) { return error.message }
        return "(valid JSON)"
    }
}
