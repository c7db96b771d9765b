import Foundation
import Testing
import UsagePricing
import UsageStandard

/// The repository's root (for the example files).
let repositoryRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

/// An exact decimal from its text; a test bug when the text is not one.
func dec(_ text: String) -> ExactDecimal {
    guard let value = ExactDecimal.parse(text) else { preconditionFailure("not a decimal: \(text)") }
    return value
}

/// A timestamp from RFC 3339 text.
func at(_ text: String) -> Timestamp {
    guard let time = Timestamp.parse(text) else { preconditionFailure("not a time: \(text)") }
    return time
}

let eur = Currency(code: "EUR")!

/// A final total of one hour.
func total(tenant: String = "acme", instance: String = "acme-gcp", component: String = "kafka",
           metric: String = "cpu_core_seconds", hour: String, quantity: String, unit: String = "Core-Seconds",
           provider: String? = "gcp") -> UsageTotal {
    guard case .success(let amount) = Quantity.parse(quantity) else { preconditionFailure("not a quantity: \(quantity)") }
    let start = at(hour)
    return UsageTotal(key: UsageKey(tenant: tenant, instance: instance, component: component, metric: metric),
                      windowStart: start, windowEnd: Timestamp(milliseconds: start.milliseconds + 3_600_000),
                      quantity: amount, unit: unit, eventCount: 1, status: .final, sourcePartition: "t:0", lastOffset: 1,
                      provider: provider)
}

/// Parses a price book, failing the test with its problems.
func book(_ yaml: String, sourceLocation: Testing.SourceLocation = #_sourceLocation) throws -> PriceBook {
    do {
        return try PriceBook.parse(yaml, file: "test.yaml")
    } catch {
        Issue.record("the price book has problems:\n\(error)", sourceLocation: sourceLocation)
        throw error
    }
}

/// The problems of a price book that must not load.
func problems(_ yaml: String) -> [PriceBookProblem] {
    do {
        _ = try PriceBook.parse(yaml, file: "bad.yaml")
        return []
    } catch {
        return error.problems
    }
}

/// The rounded (list, contracted) costs of a rated total's charges, as text.
func costs(_ rated: RatedTotal) -> [String] {
    rated.charges.map { "\($0.listCost.text)/\($0.contractedCost.text)" }
}
