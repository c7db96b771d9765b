import Foundation
import Kafka
import PostgreSQL
import ProcessSupport
import TestSupport
import Testing
@testable import UsageAPI
import UsagePostgres
import UsagePriceBooks
import UsagePricing
import UsageStandard

/// Costs in `/v1/usage`, `/v1/prices` and the page, against a handful of totals written to a table of their own and
/// two small price books published on a prices topic of their own; every expected cost is computed by hand.
///
/// The books (October 2026): `eur` (default book) prices cpu_core_seconds flat at 0.00001 EUR and requests in two
/// tiers over the month (the first 1000 free, then 0.0015 EUR), and nothing for memory_gib_hours; `usd` rates the
/// tenant beta, cpu_core_seconds at 0.00002 USD.
///
/// Totals of alpha (instance a1, kafka, gcp): requests 600 on Oct 1 00:00, 700 on Oct 2 00:00 and 100 at 01:00;
/// cpu_core_seconds 3600 at Oct 2 00:00 and 01:00; memory_gib_hours 10 at Oct 2 00:00. Of beta (b1, kafka):
/// cpu_core_seconds 1000 at Oct 2 00:00.
///
/// By hand: requests on Oct 2 00:00 cross the tier (600 + 700): 400 free + 300 x 0.0015 = 0.45 EUR; at 01:00 100 x
/// 0.0015 = 0.15 EUR; the day 0.60 EUR (the 600 of Oct 1 count although the query starts on Oct 2). cpu: 3600 x
/// 0.00001 = 0.036, rounded 0.04; then 0.072 in all, rounded 0.07, so the second hour is 0.03; the day 0.07 EUR.
/// beta: 1000 x 0.00002 = 0.02 USD.
@Suite("Costs in the usage API", .serialized)
struct CostTests {
    struct Setup: Sendable {
        /// An API with the books.
        let priced: String
        /// An API over the same totals without brokers.
        let unpriced: String
    }

    static let shared = Task { try await make() }

    static let books = [
        """
        priceBook: eur
        revision: 1
        currency: EUR
        versions:
          - id: oct
            effectiveFrom: "2026-10-01T00:00:00Z"
            prices:
              - {component: "*", metric: cpu_core_seconds, unit: Core-Seconds, unitPrice: "0.00001"}
              - component: "*"
                metric: requests
                unit: Requests
                tiers:
                  - {from: 0, upTo: 1000, unitPrice: "0"}
                  - {from: 1000, unitPrice: "0.0015"}
        """,
        """
        priceBook: usd
        revision: 1
        currency: USD
        tenants: [beta]
        versions:
          - id: oct
            effectiveFrom: "2026-10-01T00:00:00Z"
            prices:
              - {component: "*", metric: cpu_core_seconds, unit: Core-Seconds, unitPrice: "0.00002"}
        """,
    ]

    private static func make() async throws -> Setup {
        let brokers = try TestServices.brokers
        let databaseURL = try TestServices.databaseURL
        let id = "cost_\(UInt32.random(in: 0...UInt32.max))_\(getpid())"
        let table = "\(id)_totals"
        func total(_ tenant: String, _ instance: String, _ metric: String, _ unit: String, _ hour: String,
                   _ quantity: String) throws -> UsageTotal {
            let start = try #require(Timestamp.parse(hour))
            guard case .success(let amount) = Quantity.parse(quantity) else { throw TestSetupError("bad quantity \(quantity)") }
            return UsageTotal(key: UsageKey(tenant: tenant, instance: instance, component: "kafka", metric: metric),
                              windowStart: start, windowEnd: Timestamp(milliseconds: start.milliseconds + 3_600_000),
                              quantity: amount, unit: unit, eventCount: 1, status: .final, sourcePartition: "t-0",
                              lastOffset: 1, provider: "gcp")
        }
        let totals = [
            try total("alpha", "a1", "requests", "Requests", "2026-10-01T00:00:00Z", "600"),
            try total("alpha", "a1", "requests", "Requests", "2026-10-02T00:00:00Z", "700"),
            try total("alpha", "a1", "requests", "Requests", "2026-10-02T01:00:00Z", "100"),
            try total("alpha", "a1", "cpu_core_seconds", "Core-Seconds", "2026-10-02T00:00:00Z", "3600"),
            try total("alpha", "a1", "cpu_core_seconds", "Core-Seconds", "2026-10-02T01:00:00Z", "3600"),
            try total("alpha", "a1", "memory_gib_hours", "GiB-Hours", "2026-10-02T00:00:00Z", "10"),
            try total("beta", "b1", "cpu_core_seconds", "Core-Seconds", "2026-10-02T00:00:00Z", "1000"),
        ]
        let books = try Self.books.map { try PriceBook.parse($0, file: "test.yaml") }
        let kafka = KafkaConfiguration(["bootstrap.servers": brokers])
        let topic = "\(id).prices"
        try await DedicatedThread.run(name: "cost-setup") {
            try TotalsTable(url: databaseURL, table: table).write(totals)
            for book in books {
                _ = try PriceBookTopic.publish(book, kafka: kafka, topic: topic, time: Timestamp(milliseconds: WallClock.milliseconds()),
                                               logger: Fixture.logger)
            }
        }
        var source = PriceBookSource(kafka: kafka)
        source.topic = topic
        source.refreshInterval = .seconds(1)
        let priced = try await Fixture.startAPI(realm: nil, databaseURL: databaseURL, table: table, prices: source)
        let unpriced = try await Fixture.startAPI(realm: nil, databaseURL: databaseURL, table: table)
        let deadline = ContinuousClock.now + .seconds(60)
        while try await HTTP.get(priced + "/v1/prices").status != 200 {
            guard ContinuousClock.now < deadline else { throw TestSetupError("the API did not read the price books within 60 s") }
            try await Task.sleep(for: .milliseconds(200))
        }
        return Setup(priced: priced, unpriced: unpriced)
    }

    /// The rows of `/v1/usage?query` (auth none), by metric (and tenant when grouped by it).
    static func rows(_ base: String, _ query: String) async throws -> [[String: Any]] {
        let reply = try await HTTP.get(base + "/v1/usage?" + query)
        #expect(reply.status == 200, "\(reply.text)")
        return reply.json["rows"] as? [[String: Any]] ?? []
    }

    static func row(_ rows: [[String: Any]], _ matches: [String: String]) throws -> [String: Any] {
        try #require(rows.first { row in matches.allSatisfy { row[$0.key] as? String == $0.value } }, "no row \(matches) in \(rows)")
    }

    static let oct2 = "from=2026-10-02T00:00:00Z&to=2026-10-03T00:00:00Z"

    @Test("a day's costs by hand: a flat price rounded by the cumulative rule, a tier crossed within the month (earlier usage counts), an unpriced metric")
    func dayCosts() async throws {
        let setup = try await Self.shared.value
        let rows = try await Self.rows(setup.priced, "tenant=alpha&\(Self.oct2)&window=day&groupBy=component")
        #expect(rows.count == 3)
        let cpu = try Self.row(rows, ["metric": "cpu_core_seconds"])
        #expect(cpu["quantity"] as? String == "7200")
        #expect(cpu["currency"] as? String == "EUR" && cpu["cost"] as? String == "0.07" && cpu["listCost"] as? String == "0.07")
        #expect(cpu["costStatus"] as? String == "priced" && cpu["unpricedReasons"] == nil)
        let requests = try Self.row(rows, ["metric": "requests"])
        #expect(requests["quantity"] as? String == "800")
        #expect(requests["cost"] as? String == "0.60" && requests["costStatus"] as? String == "priced")
        let memory = try Self.row(rows, ["metric": "memory_gib_hours"])
        #expect(memory["costStatus"] as? String == "unpriced" && memory["cost"] == nil && memory["currency"] == nil)
        #expect(memory["unpricedReasons"] as? [String] == ["no-price"])

        let hours = try await Self.rows(setup.priced, "tenant=alpha&\(Self.oct2)&window=hour&metric=requests")
        #expect(hours.map { $0["cost"] as? String } == ["0.45", "0.15"])
        let cpuHours = try await Self.rows(setup.priced, "tenant=alpha&\(Self.oct2)&window=hour&metric=cpu_core_seconds")
        #expect(cpuHours.map { $0["cost"] as? String } == ["0.04", "0.03"])
        // The same month from its start: the first day's requests are free.
        let month = try await Self.rows(setup.priced, "tenant=alpha&from=2026-10-01T00:00:00Z&to=2026-11-01T00:00:00Z&window=month&metric=requests")
        #expect(month.count == 1 && month.first?["quantity"] as? String == "1400" && month.first?["cost"] as? String == "0.60")

        let csv = try await HTTP.get(setup.priced + "/v1/usage?tenant=alpha&\(Self.oct2)&window=day&groupBy=component",
                                     headers: ["Accept": "text/csv"])
        let lines = csv.text.split(separator: "\r\n").map(String.init)
        #expect(lines.first?.hasSuffix("status,currency,cost,list_cost,cost_status,unpriced_reasons") == true)
        #expect(lines.contains("2026-10-02T00:00:00Z,2026-10-03T00:00:00Z,kafka,requests,800,Requests,2,final,EUR,0.60,0.60,priced,"), "\(lines)")
        #expect(lines.contains("2026-10-02T00:00:00Z,2026-10-03T00:00:00Z,kafka,memory_gib_hours,10,GiB-Hours,1,final,,,,unpriced,no-price"), "\(lines)")
    }

    @Test("tenants billed in different currencies: a row mixing them has no cost (mixed-currencies); grouped by tenant each has its own")
    func mixedCurrencies() async throws {
        let setup = try await Self.shared.value
        let mixed = try await Self.rows(setup.priced, "\(Self.oct2)&window=day&metric=cpu_core_seconds")
        #expect(mixed.count == 1)
        #expect(mixed.first?["costStatus"] as? String == "mixed-currencies" && mixed.first?["cost"] == nil && mixed.first?["currency"] == nil)
        let split = try await Self.rows(setup.priced, "\(Self.oct2)&window=day&metric=cpu_core_seconds&groupBy=tenant")
        let beta = try Self.row(split, ["tenant": "beta"])
        #expect(beta["currency"] as? String == "USD" && beta["cost"] as? String == "0.02" && beta["costStatus"] as? String == "priced")
        let alpha = try Self.row(split, ["tenant": "alpha"])
        #expect(alpha["currency"] as? String == "EUR" && alpha["cost"] as? String == "0.07")
    }

    @Test("/v1/prices lists the current books in their JSON form, decimals as exact strings")
    func prices() async throws {
        let setup = try await Self.shared.value
        let reply = try await HTTP.get(setup.priced + "/v1/prices")
        #expect(reply.status == 200)
        let books = try #require(reply.json["books"] as? [[String: Any]])
        #expect(books.map { $0["priceBook"] as? String } == ["eur", "usd"])
        #expect(books.map { $0["currency"] as? String } == ["EUR", "USD"])
        #expect(books.map { $0["revision"] as? Int } == [1, 1])
        #expect(books[1]["tenants"] as? [String] == ["beta"] && books[0]["tenants"] == nil)
        let version = try #require((books[0]["versions"] as? [[String: Any]])?.first)
        #expect(version["id"] as? String == "oct")
        #expect((version["effectiveFrom"] as? String).flatMap(Timestamp.parse) == Timestamp.parse("2026-10-01T00:00:00Z"))
        let prices = try #require(version["prices"] as? [[String: Any]])
        #expect(prices.first?["unitPrice"] as? String == "0.00001")
        let tiers = try #require(prices.last?["tiers"] as? [[String: Any]])
        #expect(tiers.map { $0["unitPrice"] as? String } == ["0", "0.0015"])
        #expect(tiers.first?["upTo"] as? String == "1000")
        #expect(reply.json["readAt"] is String)
    }

    @Test("the page shows each row's cost, the cost per component and the day's total in the tenant's currency, unpriced usage marked")
    func page() async throws {
        let setup = try await Self.shared.value
        let reply = try await HTTP.get(setup.priced + "/?tenant=alpha&day=2026-10-02&metric=cpu_core_seconds")
        #expect(reply.status == 200)
        let html = reply.text
        #expect(html.contains("data-cost-status=\"priced\">0.07 EUR</td>"), "\(html)")
        #expect(html.contains("data-cost-status=\"priced\">0.60 EUR</td>"))
        #expect(html.contains("data-cost-status=\"unpriced\"><span class=\"unpriced\""))
        let total = try #require(html.firstMatch(of: /<tr class="day-total" id="day-total"><td>Day total<\/td><td class="cost">([^<]*)<span class="unpriced"/))
        #expect(total.output.1 == "0.67 EUR ", "0.07 + 0.60, and the unpriced memory marked")
        #expect(html.contains("<tr data-cost-component=\"kafka\"><td>kafka</td><td class=\"cost\">0.67 EUR <span class=\"unpriced\""))
    }

    @Test("the demo day with the seed scenarios' book: every row costed in EUR; a tenant's hourly costs add up exactly to its day's")
    func demoDay() async throws {
        let fixture = try await Fixture.shared.value
        let admin = try await fixture.realm.token(tenant: nil, roles: [TestRealm.adminRole])
        let next = try #require(UsagePageDay.next(fixture.day))
        let range = "from=\(fixture.day)T00:00:00Z&to=\(next)T00:00:00Z&groupBy=tenant,instance,component&pageSize=10000"
        let (hours, _) = try await fixture.allRows("window=hour&" + range, token: admin)
        let (days, _) = try await fixture.allRows("window=day&" + range, token: admin)
        #expect(!days.isEmpty && days.allSatisfy { $0["costStatus"] as? String != "unavailable" })
        var sums: [[String]: ExactDecimal] = [:]
        for row in hours where row["costStatus"] as? String == "priced" {
            #expect(row["currency"] as? String == "EUR")
            let key = ["tenant", "instance", "component", "metric"].map { row[$0] as? String ?? "" }
            let cost = try #require(ExactDecimal.parse(row["cost"] as? String ?? ""))
            sums[key] = try (sums[key] ?? .zero).adding(cost)
        }
        var priced = 0
        for row in days where row["costStatus"] as? String == "priced" {
            let key = ["tenant", "instance", "component", "metric"].map { row[$0] as? String ?? "" }
            #expect(ExactDecimal.parse(row["cost"] as? String ?? "") == sums[key], "\(key)")
            priced += 1
        }
        #expect(priced * 2 > days.count, "most of the demo day is priced by the seed book")
        // A tenant's token sees its own book only.
        let tenant = try await fixture.realm.token(tenant: "hybrid-corp")
        let books = try await HTTP.get(fixture.api + "/v1/prices", token: tenant).json["books"] as? [[String: Any]]
        #expect(books?.map { $0["priceBook"] as? String } == ["ferris-list-eur"])
    }

    @Test("without price books costs are unavailable, not zero; /v1/prices answers 503")
    func unavailable() async throws {
        let setup = try await Self.shared.value
        let rows = try await Self.rows(setup.unpriced, "tenant=alpha&\(Self.oct2)&window=day&groupBy=component")
        #expect(rows.count == 3)
        #expect(rows.allSatisfy { $0["costStatus"] as? String == "unavailable" && $0["cost"] == nil && $0["currency"] == nil })
        let prices = try await HTTP.get(setup.unpriced + "/v1/prices")
        #expect(prices.status == 503)
        #expect(prices.header("Content-Type") == "application/problem+json")
        #expect((prices.json["detail"] as? String)?.contains("--brokers") == true)
        let page = try await HTTP.get(setup.unpriced + "/?tenant=alpha&day=2026-10-02")
        #expect(page.text.contains("id=\"costs-unavailable\""))
        #expect(!page.text.contains("EUR"))
    }
}
