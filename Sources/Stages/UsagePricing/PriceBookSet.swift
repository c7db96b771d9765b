import UsageStandard

/// The current price books together: which book rates which tenant (standard, section 14).
///
/// A book that lists `tenants` rates those tenants; the one book without `tenants` (the default book) rates every
/// other tenant. Two default books, or a tenant named by two books, would make a tenant's cost depend on which book
/// was read first, so such a set is refused.
public struct PriceBookSet: Sendable, Equatable {
    /// The books, by id order.
    public let books: [PriceBook]
    /// The default book's index in `books`, if there is one.
    private let defaultIndex: Int?
    /// Named tenants and the index of their book.
    private let named: [String: Int]

    /// The books of `books` (e.g. the current revisions on the prices topic); throws with every conflict.
    public init(_ books: [PriceBook]) throws(RatingError) {
        let sorted = books.sorted { $0.id < $1.id }
        var conflicts: [String] = []
        var defaultIndex: Int?
        var named: [String: Int] = [:]
        for (index, book) in sorted.enumerated() {
            if book.tenants.isEmpty {
                if let other = defaultIndex {
                    conflicts.append("\(sorted[other].id) and \(book.id) are both default books (neither lists tenants); give one of them tenants")
                } else {
                    defaultIndex = index
                }
            }
            for tenant in book.tenants {
                if let other = named[tenant], other != index {
                    conflicts.append("the tenant \(tenant) is named by both \(sorted[other].id) and \(book.id); a tenant has one book")
                } else {
                    named[tenant] = index
                }
            }
        }
        guard conflicts.isEmpty else { throw RatingError("the price books conflict: " + conflicts.joined(separator: "; ")) }
        self.books = sorted
        self.defaultIndex = defaultIndex
        self.named = named
    }

    /// The default book (the one without tenants), if any.
    public var defaultBook: PriceBook? { defaultIndex.map { books[$0] } }

    /// Every book as `<id>#<revision>`, by id: what a rating with the set depends on.
    public var revisions: [String] { books.map { "\($0.id)#\($0.revision)" } }

    /// The book that rates `tenant`, or nil when no book names it and there is no default book.
    public func book(for tenant: String) -> PriceBook? {
        guard let index = named[tenant] ?? defaultIndex else { return nil }
        return books[index]
    }

    /// The set after `book` replaces the book of the same id (or joins the set): what a publication would make.
    public func replacing(_ book: PriceBook) throws(RatingError) -> PriceBookSet {
        try PriceBookSet(books.filter { $0.id != book.id } + [book])
    }

    /// Rates `totals` (current figures of any tenants, periods and order), each tenant with its book; tiers and
    /// rounding work within each book as `Rater.rate` describes. Totals of a tenant without a book are unpriced
    /// (`noPriceBook`).
    public func rate(_ totals: [UsageTotal]) throws(RatingError) -> RatedTotals {
        var session = try Session(books: self)
        var rated: [RatedTotals.Entry] = []
        rated.reserveCapacity(totals.count)
        for total in totals.sorted(by: RatingSession.precedes) {
            rated.append(try session.rate(total))
        }
        return RatedTotals(rated: rated, lines: session.lines())
    }

    /// Rates totals one at a time in rating order, each tenant with its book (`RatingSession` per book).
    public struct Session: Sendable {
        /// The books.
        public let books: PriceBookSet
        /// One session per book, by the book's index (created up front so that each is mutated in place).
        private var sessions: [RatingSession]
        private var used: Set<Int> = []
        private var last: UsageTotal?

        /// A session with nothing rated yet; throws when a book cannot rate (`Rater.init`).
        public init(books: PriceBookSet) throws(RatingError) {
            self.books = books
            var sessions: [RatingSession] = []
            for book in books.books { sessions.append(RatingSession(rater: try Rater(book: book))) }
            self.sessions = sessions
        }

        /// Rates the next total (see `RatingSession.rate`); a tenant without a book gets `noPriceBook`.
        public mutating func rate(_ total: UsageTotal) throws(RatingError) -> RatedTotals.Entry {
            if let last, !RatingSession.precedes(last, total) {
                throw RatingError("\(total.subject) in \(total.unit) comes after \(last.subject) in \(last.unit) or repeats it: rate the current figures (one per key, hour and unit) in rating order")
            }
            last = total
            guard let index = books.named[total.key.tenant] ?? books.defaultIndex else {
                let period = BillingPeriod(containing: total.windowStart)
                return RatedTotals.Entry(rated: RatedTotal(total: total, period: period, outcome: .unpriced(.noPriceBook)), book: nil)
            }
            let rated = try sessions[index].rate(total)
            used.insert(index)
            return RatedTotals.Entry(rated: rated, book: books.books[index])
        }

        /// Every book's invoice lines so far, with the book's currency, by book id, then period, key and unit.
        public func lines() -> [InvoiceLine] {
            used.sorted().flatMap { sessions[$0].lines() }
        }
    }
}

/// Totals rated by a `PriceBookSet`, in rating order.
public struct RatedTotals: Sendable, Equatable {
    /// A rated total and the book that rated it.
    public struct Entry: Sendable, Equatable {
        /// The total and its charges, or why it has none.
        public var rated: RatedTotal
        /// The book that rated it (its currency is the charges'); nil when no book rates the tenant.
        public var book: PriceBook?
    }

    /// Every total, in rating order.
    public var rated: [Entry]
    /// The invoice lines of every book, by book id, then period, key and unit (each line's costs are in its book's
    /// currency).
    public var lines: [InvoiceLine]
}
