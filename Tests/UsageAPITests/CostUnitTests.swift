import Foundation
import Logging
import Testing
@testable import UsageAPI
import UsagePricing
import UsageStandard

/// The pure parts of costs: which row a figure belongs to, adding up a row's charges, the page's sums, the books held
/// while the topic changes, and what a tenant may see of a book.
@Suite("Costs of usage rows (no I/O)")
struct CostUnitTests {
    static let book = """
        priceBook: eur
        revision: 1
        currency: EUR
        versions:
          - id: nov
            effectiveFrom: "2026-11-01T00:00:00Z"
            prices:
              - {component: "*", metric: cpu_core_seconds, provider: gcp, unit: Core-Seconds, unitPrice: "0.00001"}
            contracts:
              - {tenant: acme, discountPercent: "10"}
              - {tenant: other, discountPercent: "20"}
        """

    static func total(_ tenant: String, _ hour: String, _ quantity: Int64, provider: String? = "gcp",
                      status: TotalStatus = .final) -> UsageTotal {
        let start = Timestamp.parse(hour) ?? Timestamp(milliseconds: 0)
        return UsageTotal(key: UsageKey(tenant: tenant, instance: "i1", component: "kafka", metric: "cpu_core_seconds"),
                          windowStart: start, windowEnd: Timestamp(milliseconds: start.milliseconds + 3_600_000),
                          quantity: Quantity(micros: quantity * 1_000_000), unit: "Core-Seconds", eventCount: 1,
                          status: status, sourcePartition: "", lastOffset: 0, provider: provider)
    }

    static func row(_ start: String, _ end: String, tenant: String? = nil, metric: String = "cpu_core_seconds") -> UsageRow {
        UsageRow(windowStart: start, windowEnd: end, tenant: tenant, metric: metric, unit: "Core-Seconds", quantity: "1",
                 eventCount: 1, status: "final", sortKey: [])
    }

    @Test("a figure belongs to the row of its window bucket and group values, and only when the query's filters select it")
    func keys() {
        var query = UsageQuery()
        query.window = .day
        query.groupBy = [.tenant, .provider]
        query.from = Timestamp.parse("2026-11-25T00:00:00Z")?.milliseconds
        let figure = Self.total("acme", "2026-11-25T13:00:00Z", 5)
        let key = UsageCosts.key(of: figure, query: query)
        #expect(key == CostKey(window: Timestamp.parse("2026-11-25T00:00:00Z")?.milliseconds, groups: ["acme", "gcp"],
                               metric: "cpu_core_seconds", unit: "Core-Seconds"))
        #expect(key == UsageCosts.key(of: Self.row("2026-11-25T00:00:00Z", "2026-11-26T00:00:00Z", tenant: "acme").withProvider("gcp"), query: query))
        #expect(UsageCosts.key(of: Self.total("acme", "2026-11-24T23:00:00Z", 5), query: query) == nil, "before from")
        query.provider = "onprem"
        #expect(UsageCosts.key(of: figure, query: query) == nil, "another provider")
        query.provider = nil
        query.status = "provisional"
        #expect(UsageCosts.key(of: figure, query: query) == nil, "another status")
        query.status = nil
        query.window = .month
        #expect(UsageCosts.key(of: figure, query: query)?.window == Timestamp.parse("2026-11-01T00:00:00Z")?.milliseconds)
        query.window = .total
        #expect(UsageCosts.key(of: figure, query: query)?.window == nil)
    }

    @Test("the figures to rate start at the month of the page's first hour (tiers count the month) and end with its last")
    func ratingRange() {
        var query = UsageQuery()
        query.to = Timestamp.parse("2026-11-26T00:00:00Z")?.milliseconds
        let rows = [Self.row("2026-11-25T13:00:00Z", "2026-11-25T14:00:00Z"), Self.row("2026-11-25T10:00:00Z", "2026-11-25T11:00:00Z")]
        let range = UsageCosts.ratingRange(of: rows, query: query)
        #expect(range?.start == Timestamp.parse("2026-11-01T00:00:00Z") && range?.end == Timestamp.parse("2026-11-25T14:00:00Z"))
        #expect(UsageCosts.ratingRange(of: [], query: query) == nil)
        query.groupBy = [.tenant]
        #expect(UsageCosts.tenant(of: [Self.row("a", "b", tenant: "acme")], query: query) == "acme")
        #expect(UsageCosts.tenant(of: [Self.row("a", "b", tenant: "acme"), Self.row("a", "b", tenant: "bcme")], query: query) == nil)
    }

    @Test("figures of other metrics (when the query names one) and of tenants no row shows (grouped by tenant) are not read")
    func relevance() {
        var query = UsageQuery()
        query.metric = "requests"
        query.groupBy = [.tenant]
        let relevant = UsageCosts.relevance(of: [Self.row("a", "b", tenant: "acme", metric: "requests")], query: query)
        #expect(relevant("acme", "requests") && !relevant("acme", "cpu_core_seconds") && !relevant("bcme", "requests"))
        let all = UsageCosts.relevance(of: [Self.row("a", "b")], query: UsageQuery())
        #expect(all("acme", "requests") && all("bcme", "cpu_core_seconds"))
    }

    @Test("rows from rated figures: priced (cumulative rounding adds up), partly priced, unpriced, mixed currencies")
    func rowCosts() throws {
        let eur = try PriceBook.parse(Self.book, file: "eur.yaml")
        var usd = eur
        usd.id = "usd"
        usd.currency = try #require(Currency(code: "USD"))
        usd.tenants = ["bcme"]
        let set = try PriceBookSet([eur, usd])
        var query = UsageQuery()
        query.window = .day
        let figures = [Self.total("acme", "2026-11-25T00:00:00Z", 3600), Self.total("acme", "2026-11-25T01:00:00Z", 3600),
                       Self.total("acme", "2026-11-25T02:00:00Z", 100, provider: nil)]
        let day = Self.row("2026-11-25T00:00:00Z", "2026-11-26T00:00:00Z")
        // 3600 x 0.00001 x 0.9 = 0.0324 -> 0.03; 0.0648 in all -> 0.06, so 0.03 + 0.03; the third has no provider: no SKU.
        let costs = try UsageCosts.costs(of: [day], query: query, rated: try set.rate(figures))
        let expected = RowCost(status: .partlyPriced, billed: Money(ExactDecimal(units: 6, scale: 2), eur.currency),
                               list: Money(ExactDecimal(units: 7, scale: 2), eur.currency), unpricedReasons: ["no-price"])
        #expect(costs == [expected])
        #expect(costs.first?.billed?.text == "0.06" && costs.first?.list?.text == "0.07")
        let priced = try UsageCosts.costs(of: [day], query: query, rated: try set.rate(Array(figures.prefix(2))))
        #expect(priced.first?.status == .priced && priced.first?.unpricedReasons == [])
        let unpriced = try UsageCosts.costs(of: [day], query: query, rated: try set.rate([figures[2]]))
        #expect(unpriced.first == RowCost(status: .unpriced, unpricedReasons: ["no-price"]))
        let mixed = try UsageCosts.costs(of: [day], query: query,
                                         rated: try set.rate([figures[0], Self.total("bcme", "2026-11-25T00:00:00Z", 3600)]))
        #expect(mixed.first == RowCost(status: .mixedCurrencies))
        let nobody = try UsageCosts.costs(of: [day], query: query, rated: try set.rate([]))
        #expect(nobody.first?.status == .unpriced, "a row without figures is never free")
    }

    @Test("the page's sums: the priced part in the currency, unpriced usage flagged, currencies never added")
    func pageSums() {
        let eur = Currency(code: "EUR")!
        var a = Self.row("a", "b"), b = Self.row("a", "b"), c = Self.row("a", "b")
        a.cost = RowCost(status: .priced, billed: Money(ExactDecimal(units: 7, scale: 2), eur), list: nil)
        b.cost = RowCost(status: .partlyPriced, billed: Money(ExactDecimal(units: 60, scale: 2), eur), list: nil, unpricedReasons: ["no-price"])
        c.cost = RowCost(status: .unpriced, unpricedReasons: ["no-price"])
        #expect(UsagePage.costSum([a]) == UsagePage.CostSum(amount: Money(ExactDecimal(units: 7, scale: 2), eur), hasUnpriced: false, mixedCurrencies: false))
        let sum = UsagePage.costSum([a, b, c])
        #expect(sum.amount?.description == "0.67 EUR" && sum.hasUnpriced && !sum.mixedCurrencies)
        var d = Self.row("a", "b")
        d.cost = RowCost(status: .priced, billed: Money(ExactDecimal(units: 1, scale: 2), Currency(code: "USD")!), list: nil)
        #expect(UsagePage.costSum([a, d]).mixedCurrencies && UsagePage.costSum([a, d]).amount == nil)
        #expect(UsagePage.costSum([Self.row("a", "b")]).hasUnpriced, "no cost known is not free")
    }

    @Test("conflicting books keep the last good set; a failed read keeps it too; before any, prices are unavailable")
    func heldBooks() throws {
        let books = PriceBooks(unavailable: "not read yet", logger: Logger(label: "test"))
        #expect(books.set == nil)
        books.readFailed(TestError(), topic: "prices")
        guard case .unavailable(let reason) = books.current else { Issue.record("prices available"); return }
        #expect(reason.contains("prices could not be read"))
        let eur = try PriceBook.parse(Self.book, file: "eur.yaml")
        #expect(books.update([eur], at: Timestamp(milliseconds: 1)))
        var second = eur
        second.id = "eur2"
        #expect(!books.update([eur, second], at: Timestamp(milliseconds: 2)), "two default books conflict")
        let kept = PriceBooks.State.ready(try PriceBookSet([eur]), readAt: Timestamp(milliseconds: 1))
        #expect(books.current == kept)
        books.readFailed(TestError(), topic: "prices")
        let good = try PriceBookSet([eur])
        #expect(books.set == good)
    }

    @Test("a tenant's token sees only its own contracts and tenants of a book")
    func visibleBook() throws {
        var book = try PriceBook.parse(Self.book, file: "eur.yaml")
        book.tenants = ["acme", "other"]
        let visible = UsageHandler.visible(book, to: "acme")
        #expect(visible.tenants == ["acme"])
        #expect(visible.versions.first?.contracts.map { $0.tenant } == ["acme"])
        let json = try UsageHandler.priceBook(visible)
        #expect(json.priceBook == "eur" && json.revision == 1 && json.currency == "EUR" && json.versions.count == 1)
    }

    struct TestError: Error, CustomStringConvertible {
        var description: String { "broker down" }
    }
}

extension UsageRow {
    func withProvider(_ provider: String) -> UsageRow {
        var row = self
        row.provider = provider
        return row
    }
}
