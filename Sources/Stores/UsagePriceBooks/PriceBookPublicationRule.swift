import UsagePricing
import UsageStandard

/// Why a price book was not published: every problem, each saying what to change.
public struct PriceBookRefusal: Error, Sendable, Equatable, CustomStringConvertible {
    /// The book's id.
    public var bookID: String
    /// The revision that was refused.
    public var revision: Int64
    /// What is wrong, one sentence each.
    public var problems: [String]

    /// Creates a refusal.
    public init(bookID: String, revision: Int64, problems: [String]) {
        self.bookID = bookID
        self.revision = revision
        self.problems = problems
    }

    public var description: String {
        "price book '\(bookID)' revision \(revision) not published:\n" + problems.map { "  - \($0)" }.joined(separator: "\n")
    }
}

/// What a new revision must keep of the book's highest revision on the topic (standard, section 14, "history").
///
/// The latest revision alone says what every hour cost, so publishing it must not rewrite the past by accident:
/// - its revision is higher than the highest on the topic (the same book again at the same revision is recognised
///   as already published);
/// - every version in effect before the publication (`effectiveFrom` before `now`) is kept, under its id: an hour
///   may have been rated with it, so it is never dropped;
/// - such a version's past (its start, its prices and contracts, and its range up to `now`) is unchanged, and no
///   version starts before `now` that the highest revision did not already have there, unless the publisher names
///   the version as a correction (`corrections`; re-rating then yields correction charges). Ending an open version
///   at `now` or later, and changing or dropping versions that have not started, are ordinary changes;
/// - the currency stays while any version has been in effect (prices in another currency are another book).
///
/// Pure: the caller reads the topic and passes the book's highest revision and the publication time.
public enum PriceBookPublicationRule {
    /// What to do with a book that keeps the rule.
    public enum Verdict: Sendable, Equatable {
        /// Publish it.
        case publish
        /// The same revision with the same content is the highest on the topic already: nothing to send.
        case alreadyPublished
    }

    /// Checks `book` against `latest`, the book's highest revision on the topic (nil for a new book), at `now`.
    /// `corrections` are the ids of versions whose past the publisher means to correct.
    public static func check(_ book: PriceBook, over latest: PriceBook?, at now: Timestamp,
                             corrections: Set<String> = []) -> Result<Verdict, PriceBookRefusal> {
        let book = book.withoutPositions
        var problems: [String] = []
        let ids = Set(book.versions.map(\.id))
        for id in corrections.sorted() where !ids.contains(id) {
            problems.append("the correction '\(id)' names no version of the book (its versions: \(book.versions.map(\.id).joined(separator: ", ")))")
        }
        guard let latest = latest?.withoutPositions else {
            return problems.isEmpty ? .success(.publish) : .failure(refusal(book, problems))
        }
        if book.revision <= latest.revision {
            if book == latest, problems.isEmpty { return .success(.alreadyPublished) }
            problems.append("revision \(book.revision) is not higher than revision \(latest.revision), the highest on the topic: "
                            + "raise revision to \(latest.revision + 1) (every publication raises it)")
        }
        let started = latest.versions.filter { $0.effectiveFrom < now }
        if book.currency != latest.currency, !started.isEmpty {
            problems.append("the currency changes from \(latest.currency.code) to \(book.currency.code), but versions have been in effect "
                            + "(\(started.map(\.id).joined(separator: ", "))): a book keeps its currency; publish the \(book.currency.code) prices as another book")
        }
        let previous = Dictionary(latest.versions.map { ($0.id, $0) }, uniquingKeysWith: { first, _ in first })
        for old in started where !ids.contains(old.id) {
            problems.append("version '\(old.id)' has been in effect since \(old.effectiveFrom) and is missing: a version hours may have been rated "
                            + "with is never dropped; keep it (if its prices were wrong, correct them and pass --correct \(old.id))")
        }
        for version in book.versions where version.effectiveFrom < now && !corrections.contains(version.id) {
            if let old = previous[version.id], old.effectiveFrom < now {
                let changes = pastChanges(from: old, to: version, before: now)
                guard !changes.isEmpty else { continue }
                problems.append("version '\(version.id)' has been in effect since \(old.effectiveFrom) and this revision changes its past ("
                                + changes.joined(separator: "; ") + "): to correct past prices, pass --correct \(version.id) "
                                + "(re-rating then yields correction charges); otherwise keep its past and start a new version at the next whole hour")
            } else {
                problems.append("version '\(version.id)' starts at \(version.effectiveFrom), before the publication (\(now)), and revision "
                                + "\(latest.revision) did not have it in effect then: it would re-price hours already rated; start it at \(nextHour(after: now)) "
                                + "or later, or pass --correct \(version.id)")
            }
        }
        return problems.isEmpty ? .success(.publish) : .failure(refusal(book, problems))
    }

    private static func refusal(_ book: PriceBook, _ problems: [String]) -> PriceBookRefusal {
        PriceBookRefusal(bookID: book.id, revision: book.revision, problems: problems)
    }

    /// The first whole UTC hour at or after `time`.
    static func nextHour(after time: Timestamp) -> Timestamp {
        let hour: Int64 = 3_600_000
        let intoHour = ((time.milliseconds % hour) + hour) % hour
        return Timestamp(milliseconds: intoHour == 0 ? time.milliseconds : time.milliseconds - intoHour + hour)
    }

    /// What differs between two versions over the hours before `now` (both started before it), for people.
    static func pastChanges(from old: PriceVersion, to new: PriceVersion, before now: Timestamp) -> [String] {
        var changes: [String] = []
        if old.effectiveFrom != new.effectiveFrom {
            changes.append("effectiveFrom \(old.effectiveFrom) becomes \(new.effectiveFrom)")
        }
        let oldEnd = min(old.effectiveTo ?? now, now)
        let newEnd = min(new.effectiveTo ?? now, now)
        if oldEnd != newEnd {
            changes.append("effectiveTo \(old.effectiveTo?.description ?? "(open)") becomes \(new.effectiveTo?.description ?? "(open)")")
        }
        let oldPrices = Dictionary(old.prices.map { ($0.sku, $0) }, uniquingKeysWith: { first, _ in first })
        let newPrices = Dictionary(new.prices.map { ($0.sku, $0) }, uniquingKeysWith: { first, _ in first })
        let skus = Set(oldPrices.keys).union(newPrices.keys).filter { oldPrices[$0] != newPrices[$0] }.sorted()
        if !skus.isEmpty { changes.append("the prices of \(skus.map(\.id).joined(separator: ", "))") }
        let oldContracts = Dictionary(old.contracts.map { ($0.tenant, normalized($0)) }, uniquingKeysWith: { first, _ in first })
        let newContracts = Dictionary(new.contracts.map { ($0.tenant, normalized($0)) }, uniquingKeysWith: { first, _ in first })
        let tenants = Set(oldContracts.keys).union(newContracts.keys).filter { oldContracts[$0] != newContracts[$0] }.sorted()
        if !tenants.isEmpty { changes.append("the contracts of \(tenants.joined(separator: ", "))") }
        return changes
    }

    /// A contract with its prices in SKU order, so that reordering them is no change.
    private static func normalized(_ contract: Contract) -> Contract {
        var contract = contract
        contract.prices.sort { $0.sku < $1.sku }
        return contract
    }
}
