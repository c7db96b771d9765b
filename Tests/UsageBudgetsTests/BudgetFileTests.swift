import Foundation
import Testing
import UsageBudgets
import UsagePricing
import UsageStandard

func problems(_ yaml: String) -> [String] {
    do {
        _ = try Budget.parse(yaml, file: "b.yaml")
        return []
    } catch {
        return error.problems.map(\.description)
    }
}

@Suite struct BudgetFiles {
    @Test func theExampleFileLoads() throws {
        let path = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().appendingPathComponent("examples/budgets.yaml").path
        let budgets = try Budget.parse(try String(contentsOfFile: path, encoding: .utf8), file: path)
        #expect(budgets.count >= 2)
        #expect(budgets.allSatisfy { $0.issues().isEmpty })
    }

    @Test func defaultsAndBothLimits() throws {
        let budgets = try Budget.parse("""
            budgets:
              - budget: acme-monthly
                revision: 3
                tenant: acme
                period: month
                limit: {cost: "250.00", currency: EUR}
              - budget: acme-presto-daily
                revision: 1
                tenant: acme
                scope: {component: presto, metric: scanned_gib}
                period: day
                timeZone: Europe/Berlin
                limit: {quantity: "500"}
                thresholds: [80, 100, 150]
                forecast: false
                webhook: {url: "https://hooks.example.com/ferris", secret: acme-hooks}
            """, file: "b.yaml")
        #expect(budgets.map(\.id) == ["acme-monthly", "acme-presto-daily"])
        #expect(budgets[0].thresholds == Budget.defaultThresholds && budgets[0].forecast && budgets[0].timeZone == "UTC")
        #expect(budgets[0].limit == .cost(Money(decimal("250"), try #require(Currency(code: "EUR")))))
        #expect(budgets[1].limit == .quantity(decimal("500"), unit: "GiB"))
        #expect(budgets[1].thresholds == [decimal("80"), decimal("100"), decimal("150")])
        #expect(budgets[1].webhook == BudgetWebhook(url: "https://hooks.example.com/ferris", secret: "acme-hooks"))
        // A single budget is a file too.
        #expect(try Budget.parse("{budget: b, revision: 0, tenant: t, period: day, limit: {cost: 1, currency: CHF}}", file: "b.json").count == 1)
    }

    @Test func badInputIsRefusedWithWhereAndWhat() {
        let found = problems("""
            budget: Bad Id
            revision: 1
            tenant: "ACME!"
            scope: {metric: gpu_seconds}
            period: week
            timeZone: Mars/Olympus
            limit: {quantity: "10"}
            thresholds: [50, 1200]
            webhook: {url: "ftp://example.com", secret: s}
            """)
        #expect(found.contains { $0.hasPrefix("b.yaml:5:") && $0.contains("period must be day or month") }, "\(found)")
        let valid = problems("""
            budget: Bad Id
            revision: 1
            tenant: "ACME!"
            scope: {metric: gpu_seconds}
            period: day
            timeZone: Mars/Olympus
            limit: {quantity: "10"}
            thresholds: [50, 1200]
            webhook: {url: "ftp://example.com", secret: s}
            """)
        for expected in ["the id must be lower-case", "tenant 'ACME!' is not a tenant id", "'gpu_seconds' is not in the metric registry",
                         "'Mars/Olympus' is not an IANA time zone", "threshold 1200 must be a percentage above 0 and at most 1000",
                         "webhook.url 'ftp://example.com' must be an http or https URL"] {
            #expect(valid.contains { $0.contains(expected) }, "\(expected) in \(valid)")
        }
        // Each problem points at its field.
        #expect(valid.contains { $0.hasPrefix("b.yaml:6:11:") && $0.contains("Mars/Olympus") }, "\(valid)")
        #expect(valid.contains { $0.hasPrefix("b.yaml:8:13:") && $0.contains("1200") }, "\(valid)")
    }

    @Test func limitsAndThresholdsMustMakeSense() {
        #expect(problems("{budget: b, revision: 0, tenant: t, period: day, limit: {quantity: 5}}").contains { $0.contains("needs scope.metric") })
        #expect(problems("{budget: b, revision: 0, tenant: t, period: day, limit: {cost: 5}}").contains { $0.contains("needs its currency") })
        #expect(problems("{budget: b, revision: 0, tenant: t, period: day, limit: {cost: 5, currency: XXX}}").contains { $0.contains("not an active ISO 4217") })
        #expect(problems("{budget: b, revision: 0, tenant: t, period: day, limit: {cost: 5.001, currency: EUR}}").contains { $0.contains("more decimals than EUR") })
        #expect(problems("{budget: b, revision: 0, tenant: t, period: day, limit: {cost: 0, currency: EUR}}").contains { $0.contains("above 0") })
        #expect(problems("{budget: b, revision: 0, tenant: t, period: day, limit: {cost: 5, currency: EUR}, thresholds: [80, 50]}").contains { $0.contains("ascending") })
        #expect(problems("{budget: b, revision: 0, tenant: t, period: day, limit: {cost: 5, currency: EUR, quantity: 3}}").contains { $0.contains("exactly one of") })
        #expect(problems("budgets: [{budget: b, revision: 0, tenant: t, period: day, limit: {cost: 5, currency: EUR}}, {budget: b, revision: 0, tenant: u, period: day, limit: {cost: 5, currency: EUR}}]")
            .contains { $0.contains("appears twice") })
    }
}
