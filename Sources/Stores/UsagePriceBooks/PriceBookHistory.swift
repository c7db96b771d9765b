import UsagePricing
import UsageStandard

/// Every revision of every price book still on the prices topic, as a reader applies its records in order
/// (standard, section 14): per book the revisions in ascending order, the highest being the current book unless a
/// tombstone withdrew it. A record whose revision is not higher than the book's highest is ignored (a repeat or a
/// late, superseded publication), so the history is the same whatever was re-sent.
public struct PriceBookHistory: Sendable {
    /// One revision as it was published: the event and where it stands on the topic.
    public struct Revision: Sendable, Equatable {
        /// The publication (book, source, time).
        public var event: PriceBookEvent
        /// The record's partition.
        public var partition: Int32
        /// The record's offset.
        public var offset: Int64

        /// The book of this revision.
        public var book: PriceBook { event.book }
    }

    /// One book's history.
    public struct Book: Sendable, Equatable {
        /// Its revisions on the topic, lowest first (compaction may have removed those older than the replay horizon).
        public var revisions: [Revision] = []
        /// Whether a tombstone after the highest revision withdrew the book.
        public var isWithdrawn = false

        /// The highest revision, withdrawn or not: the one a new publication must exceed and keep the past of.
        public var latest: Revision? { revisions.last }
        /// The book in force: the highest revision, unless withdrawn.
        public var current: PriceBook? { isWithdrawn ? nil : revisions.last?.book }
    }

    /// What applying one record did.
    public enum Change: Sendable, Equatable {
        /// A new highest revision of the book.
        case published(bookID: String, revision: Int64)
        /// A tombstone withdrew the book.
        case withdrawn(bookID: String)
        /// The record's revision is not higher than the book's highest: ignored.
        case superseded(bookID: String, revision: Int64, highest: Int64)
    }

    /// The books by id.
    public private(set) var books: [String: Book] = [:]

    /// An empty history.
    public init() {}

    /// The book in force with id `id` (its highest revision), or nil when unknown or withdrawn.
    public func current(_ id: String) -> PriceBook? { books[id]?.current }

    /// The books in force, by id.
    public var currentBooks: [PriceBook] { books.keys.sorted().compactMap { current($0) } }

    /// Applies one decoded record read at `partition`/`offset`.
    public mutating func apply(_ record: PriceBookRecord, partition: Int32, offset: Int64) -> Change {
        switch record {
        case .tombstone(let id):
            books[id, default: Book()].isWithdrawn = true
            return .withdrawn(bookID: id)
        case .publication(let event):
            let id = event.book.id
            var entry = books[id] ?? Book()
            if let highest = entry.latest?.book.revision, event.book.revision <= highest {
                return .superseded(bookID: id, revision: event.book.revision, highest: highest)
            }
            entry.revisions.append(Revision(event: event, partition: partition, offset: offset))
            entry.isWithdrawn = false
            books[id] = entry
            return .published(bookID: id, revision: event.book.revision)
        }
    }
}

/// A record of the prices topic that changed nothing, and why: refused (it is not a valid price book event) or
/// superseded (its revision is not higher than the book's highest). Never dropped silently: readers log and count it.
public struct PriceBookSkippedRecord: Sendable, Equatable, CustomStringConvertible {
    /// Why the record changed nothing.
    public enum Cause: Sendable, Equatable {
        /// The record is not a valid price book event.
        case refused(PriceBookEventError)
        /// Revision `revision` is not higher than `highest`, the book's highest on the topic.
        case superseded(revision: Int64, highest: Int64)
    }

    /// The topic.
    public var topic: String
    /// The record's partition.
    public var partition: Int32
    /// The record's offset.
    public var offset: Int64
    /// The record key as text (control characters escaped), or nil without a key.
    public var key: String?
    /// Why it changed nothing.
    public var cause: Cause

    public var description: String {
        let place = "\(topic)[\(partition)] offset \(offset)" + (key.map { " (key '\($0)')" } ?? " (no key)")
        switch cause {
        case .refused(let error):
            return "\(place): refused (\(error.reason.rawValue)): \(error)"
        case .superseded(let revision, let highest):
            return "\(place): revision \(revision) ignored: not higher than revision \(highest), already read"
        }
    }
}
