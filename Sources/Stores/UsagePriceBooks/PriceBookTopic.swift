import Kafka
import Logging
import UsagePricing
import UsageStandard

/// What the prices topic holds: the history of every book, and every record that changed nothing, with why.
public struct PriceBookTopicContents: Sendable {
    /// Every revision of every book still on the topic, the highest current.
    public var history = PriceBookHistory()
    /// Records refused (not a valid price book event) or superseded (revision not higher), in topic order.
    public var skipped: [PriceBookSkippedRecord] = []
    /// Records read.
    public var recordsRead = 0
}

/// What `PriceBookTopic.publish` did.
public enum PriceBookPublication: Sendable, Equatable {
    /// The event was sent and the broker has it; `replacing` is the book's previous highest revision (nil for a new book).
    case published(PriceBookEvent, replacing: Int64?)
    /// The same revision with the same content is the highest on the topic already: nothing was sent.
    case alreadyPublished(PriceBookHistory.Revision)
}

/// Why `PriceBookTopic.publish` published nothing.
public enum PriceBookTopicError: Error, Sendable, CustomStringConvertible {
    /// The book breaks the rules, or the publication rule against the topic's history (`PriceBookPublicationRule`).
    case refused(PriceBookRefusal)
    /// The broker could not be reached, or it refused a request.
    case kafka(KafkaError)

    public var description: String {
        switch self {
        case .refused(let refusal): "\(refusal)"
        case .kafka(let error): "\(error) (check the brokers and the client's access to the prices topic)"
        }
    }
}

/// The prices topic on Kafka (standard, section 14): creating it, reading it whole into the books' history, and
/// publishing a revision. Like the instance registry's topic: compacted, one partition, key = book id, read from the
/// beginning outside any consumer group. Blocking: call from a dedicated thread.
public enum PriceBookTopic {
    /// The standard's prices topic.
    public static let defaultTopic = "ferris.usage.prices"
    /// The topic's configuration: compacted (the latest revision per book stays), and superseded revisions are kept
    /// for 35 days (`min.compaction.lag.ms`, the replay horizon) so that a past rating can be reproduced. Given
    /// explicitly at creation, so that the topic does not depend on the broker's defaults.
    public static let configs = [
        "cleanup.policy": "compact",
        "min.compaction.lag.ms": "\(35 * 86_400_000)",
        "delete.retention.ms": "\(35 * 86_400_000)",
    ]

    /// Creates `topic` with `configs` (one partition: books are few and read whole) unless it exists.
    public static func create(kafka: KafkaConfiguration, topic: String = defaultTopic, logger: Logger) throws(KafkaError) {
        try KafkaAdmin(configuration: kafka, logger: logger)
            .createTopics([KafkaNewTopic(name: topic, partitions: 1, configs: configs)])
    }

    /// Decodes one record of the prices topic.
    public static func decode(_ record: KafkaRecord) -> Result<PriceBookRecord, PriceBookEventError> {
        PriceBookEventDecoder.decode(key: record.key.map { Array($0) }, value: record.value.map { Array($0) },
                                     headers: record.headers.map { (name: $0.name, value: $0.value) })
    }

    /// Reads `topic` from its beginning to its current end (`KafkaTopicReader`, the package's one "read to the end"
    /// rule) into the books' history. A record that is not a valid price book event, or whose revision is not higher
    /// than its book's, changes nothing: it is logged (a warning with its offset and the problem) and listed in
    /// `skipped`. A missing topic reads as empty.
    public static func read(kafka: KafkaConfiguration, topic: String = defaultTopic, logger: Logger,
                            timeoutSeconds: Int = 60) throws(KafkaError) -> PriceBookTopicContents {
        var contents = PriceBookTopicContents()
        var config = kafka
        config["isolation.level"] = "read_committed"
        do {
            try KafkaTopicReader.readAll(config, topic: topic, logger: logger, timeoutSeconds: timeoutSeconds) { record in
                contents.recordsRead += 1
                let key = record.key.map { String(decoding: $0, as: UTF8.self).escapingControlCharacters }
                let cause: PriceBookSkippedRecord.Cause
                switch decode(record) {
                case .failure(let error):
                    cause = .refused(error)
                case .success(let decoded):
                    switch contents.history.apply(decoded, partition: record.partition, offset: record.offset) {
                    case .published(let id, let revision):
                        logger.debug("price book revision read", metadata: [
                            "book": "\(id)", "revision": "\(revision)", "offset": "\(record.offset)"])
                        return
                    case .withdrawn(let id):
                        logger.info("price book withdrawn", metadata: ["book": "\(id.escapingControlCharacters)", "offset": "\(record.offset)"])
                        return
                    case .superseded(_, let revision, let highest):
                        cause = .superseded(revision: revision, highest: highest)
                    }
                }
                let skipped = PriceBookSkippedRecord(topic: topic, partition: record.partition, offset: record.offset, key: key, cause: cause)
                contents.skipped.append(skipped)
                logger.warning("price book record skipped", metadata: [
                    "topic": "\(topic)", "partition": "\(record.partition)", "offset": "\(record.offset)", "problem": "\(skipped)"])
            }
        } catch let error as KafkaError {
            throw error
        } catch {
            throw KafkaError(.operation, "reading \(topic): \(error)")
        }
        return contents
    }

    /// Publishes `book` as a new revision at `time`: creates the topic if it is missing, reads it to its end, checks
    /// the book (`issues()`) and the publication rule against the book's highest revision there
    /// (`PriceBookPublicationRule`, with `corrections` naming the versions whose past is deliberately corrected) and
    /// that the current books with it still give each tenant one book (`PriceBookSet`), then sends the event with an idempotent producer and waits until the broker has it. Nothing is sent when the book is
    /// refused or already published.
    public static func publish(_ book: PriceBook, corrections: Set<String> = [], kafka: KafkaConfiguration,
                               topic: String = defaultTopic, source: String = PriceBookEvent.defaultSource, time: Timestamp,
                               logger: Logger) throws(PriceBookTopicError) -> PriceBookPublication {
        let issues = book.issues()
        guard issues.isEmpty else {
            throw .refused(PriceBookRefusal(bookID: book.id, revision: book.revision, problems: issues.map(\.message)))
        }
        do {
            try create(kafka: kafka, topic: topic, logger: logger)
            let history = try read(kafka: kafka, topic: topic, logger: logger).history
            let latest = history.books[book.id]?.latest
            let verdict = PriceBookPublicationRule.check(book, over: latest?.book, at: time, corrections: corrections)
            if case .failure(let refusal) = verdict { throw PriceBookTopicError.refused(refusal) }
            do {
                _ = try PriceBookSet(history.currentBooks).replacing(book)
            } catch {
                throw PriceBookTopicError.refused(PriceBookRefusal(bookID: book.id, revision: book.revision, problems: [error.message]))
            }
            if case .success(.alreadyPublished) = verdict, let latest { return .alreadyPublished(latest) }
            let event = PriceBookEvent(book: book, source: source, time: time)
            let encoded = PriceBookEventEncoder.encode(event)
            let producer = try KafkaProducer(configuration: kafka, logger: logger)
            try producer.send(topic: topic, key: encoded.key, value: encoded.value,
                              headers: encoded.headers.map { KafkaHeader(name: $0.name, string: $0.value) },
                              timestampMilliseconds: time.milliseconds)
            try producer.awaitDeliveries()
            logger.info("price book published", metadata: [
                "book": "\(book.id)", "revision": "\(book.revision)", "topic": "\(topic)", "id": "\(event.id)"])
            return .published(event, replacing: latest?.book.revision)
        } catch let error as PriceBookTopicError {
            throw error
        } catch let error as KafkaError {
            throw .kafka(error)
        } catch {
            throw .kafka(KafkaError(.operation, "publishing on \(topic): \(error)"))
        }
    }
}
