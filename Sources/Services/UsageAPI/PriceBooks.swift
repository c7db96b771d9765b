import Kafka
import Logging
import ProcessSupport
import ServiceLifecycle
import Synchronization
import UsagePriceBooks
import UsagePricing
import UsageStandard

/// Where the API reads the price books from: the compacted prices topic (standard, section 14).
public struct PriceBookSource: Sendable {
    /// The broker's configuration (`bootstrap.servers` and any security properties).
    public var kafka: KafkaConfiguration
    /// The prices topic.
    public var topic = PriceBookTopic.defaultTopic
    /// How long to wait between two reads of the topic.
    public var refreshInterval: Duration = .seconds(30)

    /// A source on `kafka`.
    public init(kafka: KafkaConfiguration) { self.kafka = kafka }
}

/// The price books the API rates usage with, as the last successful read of the prices topic left them. Until a
/// read succeeds (or without brokers) there are none, and costs are unavailable, never zero. A read whose current
/// books conflict (two default books, a tenant named by two books) keeps the last good set.
final class PriceBooks: Sendable {
    /// What the API can say about prices.
    enum State: Sendable, Equatable {
        /// No books to rate with, and why (what to do).
        case unavailable(String)
        /// The current books, and when they were read.
        case ready(PriceBookSet, readAt: Timestamp)
    }

    private let state: Mutex<State>
    private let logger: Logger

    /// No books yet: `reason` says why.
    init(unavailable reason: String, logger: Logger) {
        state = Mutex(.unavailable(reason))
        self.logger = logger
    }

    /// The current state.
    var current: State { state.withLock { $0 } }

    /// The current set, nil while prices are unavailable.
    var set: PriceBookSet? {
        if case .ready(let set, _) = current { return set }
        return nil
    }

    /// Takes `books` (the topic's current books, read at `time`) unless they conflict; a conflict is logged and the
    /// last good set stays. Returns whether the books were taken.
    @discardableResult
    func update(_ books: [PriceBook], at time: Timestamp) -> Bool {
        do {
            let set = try PriceBookSet(books)
            let previous = state.withLock { state -> PriceBookSet? in
                defer { state = .ready(set, readAt: time) }
                if case .ready(let old, _) = state { return old }
                return nil
            }
            if previous != set {
                logger.info("price books read", metadata: ["books": "\(set.books.map { "\($0.id)#\($0.revision)" })"])
            }
            return true
        } catch {
            let kept = self.set.map { "keeping the books read before (\($0.books.map { "\($0.id)#\($0.revision)" }))" }
                ?? "costs stay unavailable"
            logger.error("the current price books conflict; \(kept): fix the books with a new revision on the prices topic",
                         metadata: ["error": "\(error)"])
            if self.set == nil {
                state.withLock { $0 = .unavailable("the current price books conflict (\(error)); costs are unavailable until a new revision fixes them") }
            }
            return false
        }
    }

    /// A read of the topic failed: the books read before stay in use; without any, prices stay unavailable.
    func readFailed(_ error: any Error, topic: String) {
        logger.warning("reading the price books failed; keeping the books read before, if any",
                       metadata: ["topic": "\(topic)", "error": "\(error)"])
        state.withLock { state in
            if case .unavailable = state {
                state = .unavailable("the prices topic \(topic) could not be read yet (\(error)); costs are unavailable until it can")
            }
        }
    }
}

/// Re-reads the prices topic every `refreshInterval` into `PriceBooks` (each read from the beginning to the end, on
/// a thread of its own: librdkafka blocks), until graceful shutdown.
struct PriceBookRefresh: Service {
    let source: PriceBookSource
    let books: PriceBooks
    let logger: Logger

    func run() async {
        let source = self.source, logger = self.logger
        while !Task.isCancelled && !Task.isShuttingDownGracefully {
            let result = await DedicatedThread.run(name: "price-books") { () -> Result<[PriceBook], KafkaError> in
                do throws(KafkaError) {
                    return .success(try PriceBookTopic.read(kafka: source.kafka, topic: source.topic, logger: logger,
                                                            timeoutSeconds: 20).history.currentBooks)
                } catch {
                    return .failure(error)
                }
            }
            switch result {
            case .success(let current): books.update(current, at: Timestamp(milliseconds: WallClock.milliseconds()))
            case .failure(let error): books.readFailed(error, topic: source.topic)
            }
            try? await cancelWhenGracefulShutdown { try await Task.sleep(for: source.refreshInterval) }
        }
    }
}
