import Foundation
import UsagePricing
import UsageStandard
import YAMLFiles
import Yams

/// A budgets file that cannot be used, with every problem found in it.
public struct BudgetFileError: Error, Sendable, CustomStringConvertible {
    /// The problems, in file order.
    public var problems: [FileProblem]

    /// Creates the error.
    public init(problems: [FileProblem]) { self.problems = problems }

    public var description: String { problems.map(\.description).joined(separator: "\n") }
}

/// One thing wrong with a budget: the field (empty for the budget as a whole) and what.
public struct BudgetIssue: Sendable, Equatable {
    public var field: String
    public var message: String

    init(_ field: String, _ message: String) {
        self.field = field
        self.message = message
    }
}

extension Budget {
    /// The highest threshold a budget may name, in percent.
    public static let maximumThreshold = ExactDecimal(1000)

    /// Parses and checks a budgets file, YAML or JSON (`docs/schemas/budget.v1.schema.json`): one budget, or
    /// `budgets:` with a list of them. Every problem is reported with its line and column.
    public static func parse(_ text: String, file: String) throws(BudgetFileError) -> [Budget] {
        var reader = YAMLReader(file: file)
        guard let root = reader.compose(text, emptyMessage: "the file is empty; give a budget (budget, revision, tenant, period, limit) or budgets: [...]") else {
            throw BudgetFileError(problems: reader.problems)
        }
        var budgets: [Budget] = []
        if let mapping = root.mapping, mapping.keys.contains(where: { $0.scalar?.string == "budgets" }) {
            reader.forEach(root, in: "the budgets file", keys: ["budgets"], required: ["budgets"]) { reader, _, value in
                budgets = reader.sequence(value, "budgets").compactMap { reader.budget($0) }
            }
        } else if let budget = reader.budget(root) {
            budgets = [budget]
        }
        var seen: Set<String> = []
        for budget in budgets where !seen.insert(budget.id).inserted {
            reader.problem(budget.location, "budget '\(budget.id)' appears twice; budget ids are unique")
        }
        for budget in budgets {
            for issue in budget.issues() {
                reader.problem(budget.fieldLocations[issue.field] ?? budget.location, "budget '\(budget.id)': \(issue.message)")
            }
        }
        guard reader.problems.isEmpty else {
            let sorted = reader.problems.enumerated().sorted { ($0.element.line, $0.element.column, $0.offset) < ($1.element.line, $1.element.column, $1.offset) }
            throw BudgetFileError(problems: sorted.map(\.element))
        }
        return budgets
    }

    /// What is wrong with the budget beyond its file's shape (empty when it can be tracked).
    public func issues() -> [BudgetIssue] {
        var issues: [BudgetIssue] = []
        func add(_ field: String, _ message: String) { issues.append(BudgetIssue(field, message)) }
        if !Identifier.isID(id) { add("budget", "the id must be lower-case letters, digits, '.', '_' or '-', starting and ending with a letter or digit") }
        if revision < 0 { add("revision", "revision must be 0 or more") }
        if !Identifier.isID(tenant) { add("tenant", "tenant '\(tenant)' is not a tenant id") }
        if let instance = scope.instance, !Identifier.isID(instance) { add("scope", "scope.instance '\(instance)' is not an instance id") }
        if let component = scope.component, !Identifier.isName(component) {
            add("scope", "scope.component '\(component)' is not a component name (lower-case letters, digits and '-')")
        }
        if let metric = scope.metric, MetricRegistry.v1[metric] == nil {
            add("scope", "scope.metric '\(metric)' is not in the metric registry (\(MetricRegistry.v1.metrics.keys.sorted().joined(separator: ", ")))")
        }
        if BudgetPeriod.calendar(timeZone: timeZone) == nil {
            add("timeZone", "timeZone '\(timeZone)' is not an IANA time zone (e.g. UTC, Europe/Berlin, America/New_York)")
        }
        switch limit {
        case .quantity(let amount, _):
            if scope.metric == nil { add("limit", "a quantity limit needs scope.metric (quantities of different metrics do not add up)") }
            if !(amount > .zero) { add("limit", "the limit must be above 0") }
        case .cost(let money):
            if !(money.amount > .zero) { add("limit", "the limit must be above 0") }
            if money.amount.hasMoreDecimals(than: money.currency.minorUnit) {
                add("limit", "the limit \(money.amount) has more decimals than \(money.currency.code) has (\(money.currency.minorUnit))")
            }
        }
        if thresholds.isEmpty && !forecast { add("thresholds", "give at least one threshold, or forecast: true") }
        for (index, threshold) in thresholds.enumerated() {
            if !(threshold > .zero) || threshold > Self.maximumThreshold || threshold.hasMoreDecimals(than: 2) {
                add("thresholds", "threshold \(threshold) must be a percentage above 0 and at most \(Self.maximumThreshold), with at most 2 decimals")
            }
            if index > 0, !(thresholds[index - 1] < threshold) { add("thresholds", "thresholds must be ascending, each once (\(threshold) follows \(thresholds[index - 1]))") }
        }
        if let webhook {
            let url = URL(string: webhook.url)
            if !["http", "https"].contains(url?.scheme?.lowercased() ?? "") || (url?.host ?? "").isEmpty {
                add("webhook", "webhook.url '\(webhook.url)' must be an http or https URL with a host")
            }
            if !Identifier.isName(webhook.secret) {
                add("webhook", "webhook.secret '\(webhook.secret)' must name a secret: lower-case letters, digits and '-' (read from FERRIS_WEBHOOK_SECRET_<NAME>)")
            }
        }
        return issues
    }
}

extension YAMLReader {
    mutating func budget(_ node: Node) -> Budget? {
        var id = "", tenant = "", summary = "", timeZone = "UTC"
        var revision: Int64 = 0
        var scope = BudgetScope()
        var period: BudgetPeriod.Kind?
        var limitNode: Node?
        var thresholds = Budget.defaultThresholds
        var forecast = true
        var webhook: BudgetWebhook?
        var fieldLocations: [String: FilePosition] = [:]
        forEach(node, in: "a budget", keys: ["budget", "revision", "tenant", "description", "scope", "period", "timeZone",
                                             "limit", "thresholds", "forecast", "webhook"],
                required: ["budget", "revision", "tenant", "period", "limit"]) { reader, key, value in
            fieldLocations[key] = reader.location(value)
            switch key {
            case "budget": id = reader.name(value, "budget") ?? ""
            case "revision":
                guard let text = reader.string(value, "revision"), let number = Int64(text), number >= 0 else {
                    reader.problem(value, "revision must be a whole number, 0 or more, raised with every publication")
                    return
                }
                revision = number
            case "tenant": tenant = reader.name(value, "tenant") ?? ""
            case "description": summary = reader.string(value, "description") ?? ""
            case "scope":
                reader.forEach(value, in: "scope", keys: ["instance", "component", "metric"]) { reader, key, value in
                    let text = reader.name(value, "scope.\(key)")
                    switch key {
                    case "instance": scope.instance = text
                    case "component": scope.component = text
                    default: scope.metric = text
                    }
                }
            case "period":
                guard let text = reader.string(value, "period"), let kind = BudgetPeriod.Kind(rawValue: text) else {
                    reader.problem(value, "period must be day or month")
                    return
                }
                period = kind
            case "timeZone": timeZone = reader.name(value, "timeZone") ?? "UTC"
            case "limit": limitNode = value
            case "thresholds": thresholds = reader.sequence(value, "thresholds").compactMap { reader.decimal($0, "a threshold") }
            case "forecast":
                guard let flag = value.bool else {
                    reader.problem(value, "forecast must be true or false")
                    return
                }
                forecast = flag
            default:
                var url: String?, secret: String?
                reader.forEach(value, in: "webhook", keys: ["url", "secret"], required: ["url", "secret"]) { reader, key, value in
                    if key == "url" { url = reader.name(value, "webhook.url") } else { secret = reader.name(value, "webhook.secret") }
                }
                if let url, let secret { webhook = BudgetWebhook(url: url, secret: secret) }
            }
        }
        guard let period, let limitNode, let limit = budgetLimit(limitNode, metric: scope.metric) else { return nil }
        var budget = Budget(id: id, revision: revision, tenant: tenant, scope: scope, period: period, timeZone: timeZone, limit: limit,
                            thresholds: thresholds, forecast: forecast, webhook: webhook, summary: summary, location: location(node))
        budget.fieldLocations = fieldLocations
        return budget
    }

    /// `{cost: "400", currency: EUR}` or `{quantity: "720"}` (in the unit of the scope's metric).
    mutating func budgetLimit(_ node: Node, metric: String?) -> BudgetLimit? {
        var cost: ExactDecimal?, quantity: ExactDecimal?, currency: Currency?
        forEach(node, in: "limit", keys: ["cost", "currency", "quantity"]) { reader, key, value in
            switch key {
            case "cost": cost = reader.decimal(value, "limit.cost")
            case "quantity": quantity = reader.decimal(value, "limit.quantity")
            default:
                guard let code = reader.string(value, "limit.currency") else { return }
                currency = Currency(code: code)
                if currency == nil { reader.problem(value, "limit.currency '\(code)' is not an active ISO 4217 currency code (e.g. EUR, USD, CHF)") }
            }
        }
        let hasCost = node.mapping?.keys.contains { $0.scalar?.string == "cost" } ?? false
        let hasQuantity = node.mapping?.keys.contains { $0.scalar?.string == "quantity" } ?? false
        guard hasCost != hasQuantity else {
            problem(node, "limit needs exactly one of cost (with currency) or quantity")
            return nil
        }
        if let cost {
            guard let currency else {
                if node.mapping?.keys.contains(where: { $0.scalar?.string == "currency" }) != true {
                    problem(node, "a cost limit needs its currency")
                }
                return nil
            }
            return .cost(Money(cost, currency))
        }
        guard let quantity else { return nil }
        return .quantity(quantity, unit: metric.flatMap { MetricRegistry.v1[$0]?.unit } ?? "")
    }
}
