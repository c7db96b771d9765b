import Testing
import UsagePricing
import UsageStandard

/// A flat book for `tenants` (empty: the default book) pricing GCP CPU at `price` per Core-Second.
func flatBook(_ id: String, currency: String = "EUR", tenants: [String] = [], price: String = "0.00001") throws -> PriceBook {
    let list = tenants.isEmpty ? "" : "tenants: [\(tenants.joined(separator: ", "))]\n"
    return try book("""
        priceBook: \(id)
        revision: 2
        currency: \(currency)
        \(list)versions:
          - id: v1
            effectiveFrom: "2026-11-01T00:00:00Z"
            prices:
              - {component: "*", metric: cpu_core_seconds, unit: Core-Seconds, unitPrice: "\(price)"}
        """)
}

@Suite struct PriceBookSets {
    @Test func aNamedTenantHasItsBookAndTheOthersTheDefault() throws {
        let books = try PriceBookSet([try flatBook("list-usd", currency: "USD", tenants: ["team-analytics"]), try flatBook("list-eur")])
        #expect(books.book(for: "team-analytics")?.id == "list-usd")
        #expect(books.book(for: "acme")?.id == "list-eur")
        #expect(books.defaultBook?.id == "list-eur")
        #expect(books.revisions == ["list-eur#2", "list-usd#2"])
        let rated = try books.rate([total(tenant: "team-analytics", hour: "2026-11-02T00:00:00Z", quantity: "1000"),
                                    total(tenant: "acme", hour: "2026-11-02T00:00:00Z", quantity: "3000")])
        #expect(rated.rated.map { $0.book?.currency.code } == ["EUR", "USD"])
        #expect(rated.rated.map { $0.rated.charges.first?.contractedCost.amount.description } == ["0.03", "0.01"])
        #expect(rated.lines.count == 2)
    }

    @Test func withoutADefaultBookAnUnnamedTenantIsUnpriced() throws {
        let books = try PriceBookSet([try flatBook("list-usd", currency: "USD", tenants: ["team-analytics"])])
        let rated = try books.rate([total(tenant: "acme", hour: "2026-11-02T00:00:00Z", quantity: "1")])
        #expect(rated.rated.first?.book == nil)
        #expect(rated.rated.first?.rated.outcome == .unpriced(.noPriceBook))
        #expect(UnpricedReason.noPriceBook.code == "no-price-book")
        #expect(rated.lines.isEmpty)
    }

    @Test func twoDefaultBooksOrATenantInTwoBooksConflict() throws {
        let twoDefaults = #expect(throws: RatingError.self) { try PriceBookSet([try flatBook("a"), try flatBook("b")]) }
        #expect(twoDefaults?.message.contains("a and b are both default books") == true)
        let twice = #expect(throws: RatingError.self) {
            try PriceBookSet([try flatBook("a", tenants: ["acme"]), try flatBook("b", tenants: ["acme", "globex"])])
        }
        #expect(twice?.message.contains("the tenant acme is named by both a and b") == true)
        // Replacing a book with a new revision of itself is no conflict; a second default is.
        let set = try PriceBookSet([try flatBook("a")])
        #expect(try set.replacing(try flatBook("a", price: "0.00002")).books.count == 1)
        #expect(throws: RatingError.self) { try set.replacing(try flatBook("b")) }
    }

    @Test func aBookNamesEachTenantOnce() throws {
        var twice = try flatBook("a", tenants: ["acme"])
        twice.tenants = ["acme", "acme", "Not A Name"]
        #expect(twice.issues().map(\.message) == ["tenants: 'acme' appears twice",
                                                  "tenants: 'Not A Name' is not a tenant id (lower-case letters, digits, '.', '_' or '-')"])
    }
}

@Suite struct StreamingRating {
    @Test func aSessionGivesTheSameCostsAsTheBatchRater() throws {
        let tiered = try book(tieredRequests)
        var generator = SeededGenerator(seed: 7)
        var totals: [UsageTotal] = []
        for day in 1...28 {
            for instance in ["acme-gcp", "acme-onprem"] {
                let hour = "2026-11-\(day < 10 ? "0" : "")\(day)T0\(day % 10):00:00Z"
                totals.append(request(instance, hour, String(Int.random(in: 0...90, using: &generator))))
            }
        }
        let batch = try Rater(book: tiered).rate(totals.shuffled(using: &generator))
        var session = RatingSession(rater: try Rater(book: tiered))
        var streamed: [RatedTotal] = []
        for total in totals.sorted(by: RatingSession.precedes) { streamed.append(try session.rate(total)) }
        #expect(streamed == batch.rated)
        #expect(session.lines() == batch.lines)
    }

    @Test func aSessionRefusesTotalsOutOfOrderOrTwice() throws {
        var session = RatingSession(rater: try Rater(book: try book(tieredRequests)))
        let later = request("acme-gcp", "2026-11-02T00:00:00Z", "1")
        _ = try session.rate(later)
        let repeated = #expect(throws: RatingError.self) { try session.rate(later) }
        #expect(repeated?.message.contains("two totals for") == true)
        let earlier = #expect(throws: RatingError.self) { try session.rate(request("acme-gcp", "2026-11-01T00:00:00Z", "1")) }
        #expect(earlier?.message.contains("rate totals in rating order") == true)
    }

    @Test func ratingOrderComparesTextByteByByte() {
        // "Z" (0x5A) sorts before "a" (0x61) in UTF-8 bytes, as in PostgreSQL's COLLATE "C".
        let upper = total(tenant: "Zeta", hour: "2026-11-02T00:00:00Z", quantity: "1")
        let lower = total(tenant: "alpha", hour: "2026-11-02T00:00:00Z", quantity: "1")
        #expect(RatingSession.precedes(upper, lower) && !RatingSession.precedes(lower, upper))
        let earlier = total(tenant: "zz", hour: "2026-11-01T00:00:00Z", quantity: "1")
        #expect(RatingSession.precedes(earlier, upper))
        #expect(!RatingSession.precedes(upper, upper))
    }
}
