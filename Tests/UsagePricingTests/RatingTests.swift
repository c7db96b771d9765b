import Testing
import UsageStandard
import UsagePricing

/// GCP CPU at 0.000014 EUR per Core-Second until 2026-11-16T12:00Z (the middle of a day), 0.000013 after.
let midDayChange = """
    priceBook: test
    revision: 1
    currency: EUR
    versions:
      - id: morning
        effectiveFrom: "2026-11-01T00:00:00Z"
        effectiveTo: "2026-11-16T12:00:00Z"
        prices:
          - {component: "*", metric: cpu_core_seconds, provider: gcp, unit: Core-Seconds, unitPrice: "0.000014"}
      - id: afternoon
        effectiveFrom: "2026-11-16T12:00:00Z"
        prices:
          - {component: "*", metric: cpu_core_seconds, provider: gcp, unit: Core-Seconds, unitPrice: "0.000013"}
    """

/// Requests: the first 100 of a tenant's month free, then 0.01 EUR up to 1,000, then 0.005 EUR.
let tieredRequests = """
    priceBook: test
    revision: 1
    currency: EUR
    versions:
      - id: v1
        effectiveFrom: "2026-01-01T00:00:00Z"
        prices:
          - component: "*"
            metric: requests
            unit: Requests
            tiers:
              - {from: 0, upTo: 100, unitPrice: "0"}
              - {from: 100, upTo: 1000, unitPrice: "0.01"}
              - {from: 1000, unitPrice: "0.005"}
    """

func request(_ instance: String, _ hour: String, _ quantity: String) -> UsageTotal {
    total(instance: instance, component: "ferris-ui", metric: "requests", hour: hour, quantity: quantity, unit: "Requests")
}

@Suite struct GoldenRating {
    @Test func aPriceChangeInTheMiddleOfADay() throws {
        let rater = try Rater(book: book(midDayChange))
        let result = try rater.rate([
            total(hour: "2026-11-16T12:00:00Z", quantity: "3600"),
            total(hour: "2026-11-16T11:00:00Z", quantity: "3600"),
        ])
        // 11:00 starts before the change: 3600 x 0.000014 = 0.0504 (line so far 0.0504 -> 0.05).
        // 12:00 starts at the change:     3600 x 0.000013 = 0.0468 (line 0.0972 -> 0.10, so this row 0.10 - 0.05 = 0.05).
        let rows = result.rated
        #expect(rows.map(\.total.windowStart) == [at("2026-11-16T11:00:00Z"), at("2026-11-16T12:00:00Z")])
        #expect(rows.map { $0.charges.first?.priceVersion } == ["morning", "afternoon"])
        #expect(rows.map { $0.charges.first?.exactListCost } == [dec("0.0504"), dec("0.0468")])
        #expect(rows.map(costs) == [["0.05/0.05"], ["0.05/0.05"]])
        #expect(rows.first?.charges.first?.skuPriceID == "test:morning:*/cpu_core_seconds/provider=gcp")
        #expect(rows.first?.charges.first?.skuID == "*/cpu_core_seconds/provider=gcp")
        #expect(result.lines.map(\.listCost.text) == ["0.10"])
        #expect(result.lines.first?.exactListCost == dec("0.0972"))
    }

    @Test func tiersCrossedWithinAMonthWhateverTheOrder() throws {
        let rater = try Rater(book: book(tieredRequests))
        let totals = [
            request("acme-gcp", "2026-11-01T00:00:00Z", "60"),
            request("acme-gcp", "2026-11-01T01:00:00Z", "60"),
            request("acme-onprem", "2026-11-01T01:00:00Z", "50"),
            request("acme-gcp", "2026-11-02T00:00:00Z", "1000"),
            request("acme-gcp", "2026-12-01T00:00:00Z", "60"),
        ]
        let result = try rater.rate(totals)
        // Rating order: window start, then key (acme-gcp before acme-onprem); the tenant's month counts from 0.
        //   Nov 1 00:00 acme-gcp    60: [0, 60) free                                        -> 0
        //   Nov 1 01:00 acme-gcp    60: [60, 100) free, [100, 120) 20 x 0.01 = 0.20          -> 0 + 0.20
        //   Nov 1 01:00 acme-onprem 50: [120, 170) 50 x 0.01 = 0.50 (same tenant and SKU)    -> 0.50
        //   Nov 2 00:00 acme-gcp  1000: [170, 1000) 830 x 0.01 = 8.30, [1000, 1170) 170 x 0.005 = 0.85
        //   Dec 1 00:00 acme-gcp    60: a new month: [0, 60) free                           -> 0
        #expect(result.rated.map(costs) == [["0.00/0.00"], ["0.00/0.00", "0.20/0.20"], ["0.50/0.50"],
                                            ["8.30/8.30", "0.85/0.85"], ["0.00/0.00"]])
        #expect(result.rated[3].charges.map(\.pricingQuantity) == [dec("830"), dec("170")])
        #expect(result.rated[3].charges.map(\.tier) == [2, 3])
        #expect(result.rated[3].charges.map(\.skuPriceID) == ["test:v1:*/requests:tier=2", "test:v1:*/requests:tier=3"])
        // Invoice lines: acme-gcp in November 0.20 + 8.30 + 0.85 = 9.35; acme-onprem 0.50; acme-gcp in December 0.
        #expect(result.lines.map { "\($0.period) \($0.key.instance) \($0.quantity) \($0.listCost.text)" }
                == ["2026-11 acme-gcp 1120 9.35", "2026-11 acme-onprem 50 0.50", "2026-12 acme-gcp 60 0.00"])
        var generator = SeededGenerator(seed: 23)
        for _ in 0..<20 {
            #expect(try rater.rate(totals.shuffled(using: &generator)) == result)
        }
    }

    @Test func aFreeAllowanceIsPricedAtZeroNotUnpriced() throws {
        let result = try Rater(book: book(tieredRequests)).rate([request("acme-gcp", "2026-11-03T00:00:00Z", "99.5")])
        let charge = try #require(result.rated.first?.charges.first)
        #expect(result.unpriced.isEmpty)
        #expect(charge.tier == 1 && charge.listUnitPrice == .zero && charge.listCost.text == "0.00")
    }

    @Test func aContractedTenant() throws {
        let rater = try Rater(book: book("""
            priceBook: test
            revision: 1
            currency: EUR
            versions:
              - id: v1
                effectiveFrom: "2026-11-01T00:00:00Z"
                prices:
                  - {component: "*", metric: cpu_core_seconds, unit: Core-Seconds, unitPrice: "0.000014"}
                  - {component: jupyterhub, metric: session_hours, unit: Hours, unitPrice: "0.09"}
                contracts:
                  - tenant: hybrid-corp
                    discountPercent: "12.5"
                    prices:
                      - {component: jupyterhub, metric: session_hours, unitPrice: "0.07"}
            """))
        let result = try rater.rate([
            total(tenant: "hybrid-corp", hour: "2026-11-20T10:00:00Z", quantity: "10000"),
            total(tenant: "hybrid-corp", component: "jupyterhub", metric: "session_hours", hour: "2026-11-20T10:00:00Z",
                  quantity: "10", unit: "Hours"),
            total(tenant: "solo", hour: "2026-11-20T10:00:00Z", quantity: "10000"),
        ])
        // hybrid-corp CPU: list 10000 x 0.000014 = 0.14; contracted 0.000014 x (100 - 12.5) / 100 = 0.00001225,
        //   x 10000 = 0.1225 -> 0.12 (half to even).
        // hybrid-corp JupyterHub: list 10 x 0.09 = 0.90; contracted price 0.07 replaces it: 0.70.
        // solo has no contract: contracted = list = 0.14.
        let byKey = Dictionary(uniqueKeysWithValues: result.rated.map { ("\($0.total.key.tenant)/\($0.total.key.component)", $0) })
        let cpu = try #require(byKey["hybrid-corp/kafka"]?.charges.first)
        #expect(cpu.contractedUnitPrice == dec("0.00001225") && cpu.listUnitPrice == dec("0.000014"))
        #expect(cpu.exactContractedCost == dec("0.1225"))
        #expect(costs(try #require(byKey["hybrid-corp/kafka"])) == ["0.14/0.12"])
        #expect(costs(try #require(byKey["hybrid-corp/jupyterhub"])) == ["0.90/0.70"])
        #expect(byKey["hybrid-corp/jupyterhub"]?.charges.first?.contractedUnitPrice == dec("0.07"))
        #expect(costs(try #require(byKey["solo/kafka"])) == ["0.14/0.14"])
        #expect(cpu.billedCost == cpu.contractedCost && cpu.effectiveCost == cpu.contractedCost)
    }

    @Test func currencyRoundingAtTheEdge() throws {
        let rater = try Rater(book: book("""
            priceBook: test
            revision: 1
            currency: EUR
            versions:
              - id: v1
                effectiveFrom: "2026-11-01T00:00:00Z"
                prices:
                  - {component: "*", metric: cpu_core_seconds, unit: Core-Seconds, unitPrice: "0.000001"}
            """))
        // Exactly half a cent: 5000 x 0.000001 = 0.005 -> 0.00 (half to even), then 10000 more: the line is 0.015
        // -> 0.02, so the second row carries 0.02 (0.01 of its own 0.010 plus the half cent carried from the first).
        let halves = try rater.rate([total(hour: "2026-11-01T00:00:00Z", quantity: "5000"),
                                     total(hour: "2026-11-01T01:00:00Z", quantity: "10000")])
        #expect(halves.rated.map(costs) == [["0.00/0.00"], ["0.02/0.02"]])
        #expect(halves.lines.first?.listCost.text == "0.02")
        // Three hours of 0.004 EUR: rounding each row would bill 0.00 three times; the cumulative rule bills
        // 0.00, 0.01 (line 0.008 -> 0.01), 0.00 (line 0.012 -> 0.01): the rows add up to the line, 0.01.
        let small = try rater.rate((0..<3).map { total(hour: "2026-11-02T0\($0):00:00Z", quantity: "4000") })
        #expect(small.rated.map(costs) == [["0.00/0.00"], ["0.01/0.01"], ["0.00/0.00"]])
        #expect(small.lines.first?.listCost.text == "0.01")
        // Yen have no minor unit: 2500 x 0.000001 = 0.0025 JPY -> 0.
        let yen = try Rater(book: book(midDayChange.replacingOccurrences(of: "currency: EUR", with: "currency: JPY")))
            .rate([total(hour: "2026-11-20T00:00:00Z", quantity: "2500")])
        #expect(yen.rated.first?.charges.first?.listCost.text == "0")
    }

    @Test func aReRateAfterAPriceCorrection() throws {
        // Revision 1 priced the first half of November at 0.000014; revision 2 corrects it to 0.000012.
        let billed = try Rater(book: book(midDayChange)).rate([
            total(hour: "2026-11-10T00:00:00Z", quantity: "3600"), total(hour: "2026-11-20T00:00:00Z", quantity: "3600"),
        ])
        let corrected = midDayChange.replacingOccurrences(of: "revision: 1", with: "revision: 2")
            .replacingOccurrences(of: "unitPrice: \"0.000014\"", with: "unitPrice: \"0.000012\"")
        let rerated = try Rater(book: book(corrected)).rate(billed.rated.map(\.total))
        // Billed:  0.0504 -> 0.05, then line 0.0972 -> 0.10: rows 0.05, 0.05.
        // Re-rated: 0.0432 -> 0.04, then line 0.09 -> 0.09: rows 0.04, 0.05. The correction is -0.01 on Nov 10.
        #expect(billed.rated.map(costs) == [["0.05/0.05"], ["0.05/0.05"]])
        #expect(rerated.rated.map(costs) == [["0.04/0.04"], ["0.05/0.05"]])
        #expect(rerated.revision == 2)
        let corrections = try rerated.corrections(from: billed)
        #expect(corrections.map { "\($0.windowStart) \($0.listCost.text) \($0.contractedCost.text)" }
                == ["2026-11-10T00:00:00.000Z -0.01 -0.01"])
        #expect(try rerated.corrections(from: rerated).isEmpty)
    }
}

@Suite struct SkuMatching {
    let rater: Rater

    init() throws {
        rater = try Rater(book: book("""
            priceBook: test
            revision: 1
            currency: EUR
            versions:
              - id: v1
                effectiveFrom: "2026-11-01T00:00:00Z"
                prices:
                  - {component: "*", metric: cpu_core_seconds, unit: Core-Seconds, unitPrice: "4"}
                  - {component: "*", metric: cpu_core_seconds, provider: gcp, unit: Core-Seconds, unitPrice: "3"}
                  - {component: kafka, metric: cpu_core_seconds, provider: gcp, unit: Core-Seconds, unitPrice: "2"}
                  - {component: "*", metric: cpu_core_seconds, instance: special, unit: Core-Seconds, unitPrice: "1"}
                  - {component: kafka, metric: memory_gib_hours, provider: gcp, unit: GiB-Hours, unitPrice: "1"}
            """))
    }

    @Test func theMostSpecificSkuWins() throws {
        let result = try rater.rate([
            total(instance: "special", component: "kafka", hour: "2026-11-02T00:00:00Z", quantity: "1"),
            total(instance: "a", component: "kafka", hour: "2026-11-02T00:00:00Z", quantity: "1"),
            total(instance: "a", component: "minio", hour: "2026-11-02T00:00:00Z", quantity: "1"),
            total(instance: "b", component: "minio", hour: "2026-11-02T00:00:00Z", quantity: "1", provider: nil),
        ])
        let prices = result.rated.map { "\($0.total.key.instance)/\($0.total.key.component): \($0.charges.first?.listUnitPrice.text() ?? "-")" }
        #expect(prices == ["a/kafka: 2", "a/minio: 3", "b/minio: 4", "special/kafka: 1"])
    }

    @Test func unpricedTotalsSayWhy() throws {
        let result = try rater.rate([
            total(hour: "2026-10-31T23:00:00Z", quantity: "1"),
            total(component: "presto", metric: "queries", hour: "2026-11-02T00:00:00Z", quantity: "1", unit: "Queries"),
            total(component: "minio", metric: "memory_gib_hours", hour: "2026-11-02T00:00:00Z", quantity: "1", unit: "GiB-Hours"),
            total(component: "kafka", metric: "memory_gib_hours", hour: "2026-11-02T00:00:00Z", quantity: "1", unit: "GiB"),
            total(hour: "2026-11-03T00:00:00Z", quantity: "-1"),
        ])
        #expect(result.unpriced.count == 5)
        #expect(result.rated.map { if case .unpriced(let reason) = $0.outcome { reason.code } else { "priced" } }
                == ["no-price-version", "unit-mismatch", "no-price", "no-price", "negative-quantity"])
        #expect(result.lines.isEmpty, "an unpriced total is never an invoice line at 0")
    }

    @Test func twoTotalsOfOneHourAreRefused() {
        let one = total(hour: "2026-11-02T00:00:00Z", quantity: "1")
        #expect(throws: RatingError.self) { try rater.rate([one, one]) }
    }

    @Test func anInvalidBookCannotRate() {
        let bad = PriceBook(id: "x", revision: 1, currency: eur, versions: [])
        #expect(throws: RatingError.self) { try Rater(book: bad) }
    }
}

/// A small deterministic generator (SplitMix64), so a shuffle failure can be replayed.
struct SeededGenerator: RandomNumberGenerator {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}
