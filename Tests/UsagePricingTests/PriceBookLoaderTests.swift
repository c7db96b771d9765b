import Testing
import UsageStandard
import UsagePricing

/// A book's first lines; the cases add versions.
let header = """
    priceBook: test
    revision: 1
    currency: EUR
    versions:

    """

/// Expects exactly one problem, at `line`, whose message contains `text`.
func expectProblem(_ yaml: String, line: Int, _ text: String, sourceLocation: Testing.SourceLocation = #_sourceLocation) {
    let found = problems(yaml)
    #expect(found.count == 1, "\(found)", sourceLocation: sourceLocation)
    #expect(found.first?.line == line, "\(found)", sourceLocation: sourceLocation)
    #expect(found.first?.message.contains(text) == true, "\(found)", sourceLocation: sourceLocation)
    #expect(found.first?.description.hasPrefix("bad.yaml:\(line):") == true, sourceLocation: sourceLocation)
}

@Suite struct PriceBookValidationErrors {
    @Test func aValidBookLoads() throws {
        let loaded = try book(header + """
              - id: v1
                effectiveFrom: "2026-11-01T00:00:00Z"
                prices:
                  - {component: kafka, metric: cpu_core_seconds, unit: Core-Seconds, unitPrice: 0.000014}
            """)
        #expect(loaded.versions.first?.prices.first?.tiers.first?.unitPrice == dec("0.000014"))
        #expect(loaded.currency.code == "EUR" && loaded.revision == 1)
    }

    @Test func jsonIsReadToo() throws {
        let loaded = try book("""
            {"priceBook": "test", "revision": 2, "currency": "USD",
             "versions": [{"id": "v1", "effectiveFrom": "2026-11-01T00:00:00Z",
                           "prices": [{"component": "*", "metric": "requests", "unit": "Requests", "unitPrice": 0.0000015}]}]}
            """)
        #expect(loaded.currency.code == "USD")
        #expect(loaded.versions.first?.prices.first?.tiers.first?.unitPrice == dec("0.0000015"))
    }

    @Test func overlappingEffectiveRanges() {
        expectProblem(header + """
              - id: v1
                effectiveFrom: "2026-11-01T00:00:00Z"
                prices:
                  - {component: kafka, metric: cpu_core_seconds, unit: Core-Seconds, unitPrice: "0.000014"}
              - id: v2
                effectiveFrom: "2026-11-16T00:00:00Z"
                prices:
                  - {component: kafka, metric: cpu_core_seconds, unit: Core-Seconds, unitPrice: "0.000013"}
            """, line: 12, "overlapping effective ranges: version 'v1'")
    }

    @Test func adjacentVersionsDoNotOverlap() throws {
        _ = try book(header + """
              - id: v1
                effectiveFrom: "2026-11-01T00:00:00Z"
                effectiveTo: "2026-11-16T00:00:00Z"
                prices:
                  - {component: kafka, metric: cpu_core_seconds, unit: Core-Seconds, unitPrice: "0.000014"}
              - id: v2
                effectiveFrom: "2026-11-16T00:00:00Z"
                prices:
                  - {component: kafka, metric: cpu_core_seconds, unit: Core-Seconds, unitPrice: "0.000013"}
            """)
    }

    @Test func negativePrice() {
        expectProblem(header + """
              - id: v1
                effectiveFrom: "2026-11-01T00:00:00Z"
                prices:
                  - {component: kafka, metric: cpu_core_seconds, unit: Core-Seconds, unitPrice: "-0.000014"}
            """, line: 8, "negative price -0.000014")
    }

    @Test func unknownCurrency() {
        expectProblem("""
            priceBook: test
            revision: 1
            currency: EUX
            versions: []
            """, line: 3, "'EUX' is not an active ISO 4217 currency code")
    }

    @Test func mixedCurrencies() {
        expectProblem(header + """
              - id: v1
                currency: USD
                effectiveFrom: "2026-11-01T00:00:00Z"
                prices:
                  - {component: kafka, metric: cpu_core_seconds, unit: Core-Seconds, unitPrice: "0.000014"}
            """, line: 5, "mixed currencies")
    }

    func tiered(_ tiers: String) -> String {
        header + """
              - id: v1
                effectiveFrom: "2026-11-01T00:00:00Z"
                prices:
                  - component: "*"
                    metric: requests
                    unit: Requests
                    tiers:
            \(tiers)
            """
    }

    @Test func tierTableWithAGap() {
        expectProblem(tiered("""
                      - {from: 0, upTo: 100, unitPrice: "0"}
                      - {from: 150, unitPrice: "0.01"}
            """), line: 13, "the tier table has a gap: this tier starts at 150 but the previous one ends at 100")
    }

    @Test func tierTableWithAnOverlap() {
        expectProblem(tiered("""
                      - {from: 0, upTo: 100, unitPrice: "0"}
                      - {from: 90, unitPrice: "0.01"}
            """), line: 13, "the tier table has an overlap")
    }

    @Test func tierTableNotFromZero() {
        expectProblem(tiered("""
                      - {from: 10, unitPrice: "0.01"}
            """), line: 12, "has a gap: this tier starts at 10 but the previous one ends at 0")
    }

    @Test func unboundedTierNotLast() {
        let found = problems(tiered("""
                      - {from: 0, unitPrice: "0"}
                      - {from: 100, unitPrice: "0.01"}
            """))
        #expect(found.contains { $0.line == 12 && $0.message.contains("an unbounded tier (no upTo) must be the last one") }, "\(found)")
    }

    @Test func boundedLastTier() {
        expectProblem(tiered("""
                      - {from: 0, upTo: 100, unitPrice: "0"}
            """), line: 12, "the last tier must have no upTo")
    }

    @Test func skuForAnUnknownMetric() {
        expectProblem(header + """
              - id: v1
                effectiveFrom: "2026-11-01T00:00:00Z"
                prices:
                  - {component: kafka, metric: gpu_seconds, unit: Seconds, unitPrice: "0.01"}
            """, line: 8, "'gpu_seconds' is not in the metric registry")
    }

    @Test func unitOfAnotherMetric() {
        expectProblem(header + """
              - id: v1
                effectiveFrom: "2026-11-01T00:00:00Z"
                prices:
                  - {component: kafka, metric: cpu_core_seconds, unit: Core-Hours, unitPrice: "0.05"}
            """, line: 8, "unit 'Core-Hours' is not the unit of cpu_core_seconds, which is 'Core-Seconds'")
    }

    @Test func duplicateSku() {
        expectProblem(header + """
              - id: v1
                effectiveFrom: "2026-11-01T00:00:00Z"
                prices:
                  - {component: kafka, metric: cpu_core_seconds, provider: gcp, unit: Core-Seconds, unitPrice: "0.01"}
                  - {component: kafka, metric: cpu_core_seconds, provider: gcp, unit: Core-Seconds, unitPrice: "0.02"}
            """, line: 9, "duplicate SKU: the version already prices kafka/cpu_core_seconds/provider=gcp")
    }

    @Test func effectiveTimesOnTheHour() {
        expectProblem(header + """
              - id: v1
                effectiveFrom: "2026-11-01T00:30:00Z"
                prices:
                  - {component: kafka, metric: cpu_core_seconds, unit: Core-Seconds, unitPrice: "0.01"}
            """, line: 5, "is not a whole UTC hour")
    }

    @Test func contractsNameListedSkusAndSaneDiscounts() {
        let found = problems(header + """
              - id: v1
                effectiveFrom: "2026-11-01T00:00:00Z"
                prices:
                  - {component: kafka, metric: cpu_core_seconds, unit: Core-Seconds, unitPrice: "0.01"}
                contracts:
                  - tenant: acme
                    discountPercent: 120
                    prices:
                      - {component: minio, metric: cpu_core_seconds, unitPrice: "0.005"}
            """)
        #expect(found.map(\.line) == [10, 13], "\(found)")
        #expect(found.first?.message.contains("discountPercent 120 must be between 0 and 100") == true)
        #expect(found.last?.message.contains("the version has no list price for this SKU") == true)
    }

    @Test func shapeProblemsAreAllReported() {
        let found = problems(header + """
              - id: v1
                effectiveFrom: "2026-11-01"
                prices:
                  - {component: kafka, metric: cpu_core_seconds, unit: Core-Seconds, unitPrice: 1e-5}
                  - {component: kafka, metric: memory_gib_hours, unit: GiB-Hours, unitPrice: "1", tiers: []}
                  - {component: kafka, metric: requests, unit: Requests, price: "1"}
            """)
        #expect(found.map(\.line) == [6, 8, 9, 10, 10], "\(found)")
        #expect(found[0].message.contains("not an RFC 3339 date-time"))
        #expect(found[1].message.contains("'1e-5' is not a plain decimal number"))
        #expect(found[2].message.contains("exactly one of unitPrice (a flat price) or tiers"))
        #expect(found[3].message.contains("unknown key 'price'"))
    }

    @Test func yamlSyntaxErrorsHaveALine() {
        let found = problems("priceBook: test\nrevision: [1\ncurrency: EUR\n")
        #expect(found.count == 1 && found[0].line > 1 && found[0].message.hasPrefix("not valid YAML or JSON"), "\(found)")
    }
}
