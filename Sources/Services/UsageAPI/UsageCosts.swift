import UsagePricing
import UsageStandard

/// The cost of one usage row: the rounded charges of the hourly figures summed into it (standard, section 14).
struct RowCost: Sendable, Equatable {
    /// How much of the row is priced.
    enum Status: String, Sendable {
        /// Every figure of the row is priced, in one currency.
        case priced
        /// No figure of the row is priced (`unpricedReasons` say why).
        case unpriced
        /// Some figures are priced, some not: the cost is the priced part only.
        case partlyPriced = "partly-priced"
        /// The row's figures are priced in more than one currency: no cost is given (amounts of two currencies never add up).
        case mixedCurrencies = "mixed-currencies"
        /// No price books were read (no brokers, or the prices topic not read yet): nothing is known about costs.
        case unavailable
    }

    var status: Status
    /// `BilledCost` (the contracted cost), in the currency's minor unit; nil unless priced or partly priced.
    var billed: Money?
    /// `ListCost`, rounded like `billed`.
    var list: Money?
    /// The codes of why figures of the row are unpriced (`UnpricedReason.code`), sorted.
    var unpricedReasons: [String] = []

    /// The cost of a row when no price books are available.
    static let unavailable = RowCost(status: .unavailable)
}

/// Adds up the cost of one row, figure by figure.
struct RowCostSum: Sendable {
    private var billed: Money?
    private var list: Money?
    private var currencies: Set<String> = []
    private var priced = 0
    private var unpriced: Set<String> = []

    /// Adds a priced figure's charges, in `currency`: their rounded costs add up exactly (the cumulative rule).
    mutating func add(_ charges: [RatedCharge], currency: Currency) throws(MoneyError) {
        priced += 1
        currencies.insert(currency.code)
        guard currencies.count == 1 else { return }
        var billed = self.billed ?? .zero(currency), list = self.list ?? .zero(currency)
        for charge in charges {
            billed = try billed.adding(charge.billedCost)
            list = try list.adding(charge.listCost)
        }
        self.billed = billed
        self.list = list
    }

    /// Adds an unpriced figure, with the code of why.
    mutating func addUnpriced(_ code: String) {
        unpriced.insert(code)
    }

    /// The row's cost.
    var cost: RowCost {
        let reasons = unpriced.sorted()
        if currencies.count > 1 { return RowCost(status: .mixedCurrencies, unpricedReasons: reasons) }
        if priced == 0 { return RowCost(status: .unpriced, unpricedReasons: reasons) }
        return RowCost(status: reasons.isEmpty ? .priced : .partlyPriced, billed: billed, list: list, unpricedReasons: reasons)
    }
}

/// Which row of a usage answer an hourly figure belongs to: its window bucket, its group values, metric and unit.
struct CostKey: Hashable, Sendable {
    /// The start of the row's window in milliseconds; nil for `window=total` (one window per group).
    var window: Int64?
    /// The values of the query's group columns, in its order (provider: empty when none).
    var groups: [String]
    var metric, unit: String
}

/// Costs of the rows of a usage answer: which figures to rate, and where each rated figure's charges go.
///
/// Tiers are graduated per tenant and calendar month (UTC), so a row's cost depends on the tenant's earlier usage in
/// the month: the figures are read and rated from the start of the month of the page's first hour, and only those the
/// query selects (its filters, its range) are added to the row of their window and group.
enum UsageCosts {
    /// The hours `[start, end)` whose figures must be rated to cost `rows` of `query`: from the start of the month of
    /// the rows' first hour to their last hour (within the query's range); nil when there are no rows.
    static func ratingRange(of rows: [UsageRow], query: UsageQuery) -> (start: Timestamp, end: Timestamp)? {
        let starts = rows.compactMap { Timestamp.parse($0.windowStart)?.milliseconds }
        let ends = rows.compactMap { Timestamp.parse($0.windowEnd)?.milliseconds }
        guard var start = starts.min(), var end = ends.max() else { return nil }
        if let from = query.from { start = max(start, from) }
        if let to = query.to { end = min(end, to) }
        return (BillingPeriod(containing: Timestamp(milliseconds: start)).start, Timestamp(milliseconds: end))
    }

    /// The tenant whose figures are enough to cost `rows`: the query's, or the only one of rows grouped by tenant;
    /// nil when the rows may span tenants (then every tenant's figures are read).
    static func tenant(of rows: [UsageRow], query: UsageQuery) -> String? {
        if let tenant = query.tenant { return tenant }
        guard query.groupBy.contains(.tenant) else { return nil }
        let tenants = Set(rows.compactMap(\.tenant))
        return tenants.count == 1 ? tenants.first : nil
    }

    /// Whether a figure of a tenant and metric can change the cost of `rows` of `query`: tiers count per tenant
    /// and SKU, and a SKU has one metric, so other metrics (when the query names one) and tenants no row shows (when
    /// rows are grouped by tenant) never do. Instances, components and providers do (a SKU may span them).
    static func relevance(of rows: [UsageRow], query: UsageQuery) -> @Sendable (String, String) -> Bool {
        let metric = query.metric
        let tenants: Set<String>? = query.groupBy.contains(.tenant) ? Set(rows.compactMap(\.tenant)) : nil
        return { tenant, figureMetric in
            (metric.map { $0 == figureMetric } ?? true) && (tenants.map { $0.contains(tenant) } ?? true)
        }
    }

    /// The key of `row` of `query`.
    static func key(of row: UsageRow, query: UsageQuery) -> CostKey {
        let groups = query.groupBy.map { column -> String in
            switch column {
            case .tenant: row.tenant ?? ""
            case .instance: row.instance ?? ""
            case .component: row.component ?? ""
            case .provider: row.provider ?? ""
            case .status: row.status
            }
        }
        let window = query.window == .total ? nil : Timestamp.parse(row.windowStart)?.milliseconds
        return CostKey(window: window, groups: groups, metric: row.metric, unit: row.unit)
    }

    /// The key of the row `total` belongs to, or nil when `query` does not select it (its filters and range).
    static func key(of total: UsageTotal, query: UsageQuery) -> CostKey? {
        let start = total.windowStart.milliseconds
        if let from = query.from, start < from { return nil }
        if let to = query.to, start >= to { return nil }
        let key = total.key
        for (filter, value) in [(query.tenant, key.tenant), (query.instance, key.instance), (query.component, key.component),
                                (query.metric, key.metric), (query.status, total.status.rawValue)] {
            if let filter, filter != value { return nil }
        }
        if let provider = query.provider, provider != total.provider { return nil }
        let window: Int64?
        switch query.window {
        case .hour: window = start
        case .day: window = start - ((start % 86_400_000) + 86_400_000) % 86_400_000
        case .month: window = BillingPeriod(containing: total.windowStart).start.milliseconds
        case .total: window = nil
        }
        let groups = query.groupBy.map { column -> String in
            switch column {
            case .tenant: key.tenant
            case .instance: key.instance
            case .component: key.component
            case .provider: total.provider ?? ""
            case .status: total.status.rawValue
            }
        }
        return CostKey(window: window, groups: groups, metric: key.metric, unit: total.unit)
    }

    /// The costs of `rows` of `query` from `rated` (the figures of `ratingRange`, rated with the current books) and
    /// `unreadable` (figures whose quantity could not be rated: unpriced). Rows without any figure are unpriced.
    static func costs(of rows: [UsageRow], query: UsageQuery, rated: RatedTotals,
                      unreadable: [CostKey] = []) throws(MoneyError) -> [RowCost] {
        var sums: [CostKey: RowCostSum] = [:]
        let keys = rows.map { key(of: $0, query: query) }
        for key in keys { sums[key] = RowCostSum() }
        for entry in rated.rated {
            guard let key = key(of: entry.rated.total, query: query), sums[key] != nil else { continue }
            switch entry.rated.outcome {
            case .priced(let charges):
                guard let currency = entry.book?.currency else { continue }
                try sums[key]?.add(charges, currency: currency)
            case .unpriced(let reason):
                sums[key]?.addUnpriced(reason.code)
            }
        }
        for key in unreadable where sums[key] != nil { sums[key]?.addUnpriced(unreadableQuantity) }
        return keys.map { sums[$0]?.cost ?? RowCost(status: .unpriced) }
    }

    /// The reason code of a figure whose quantity is beyond what rating reads (more than six decimals, or out of range).
    static let unreadableQuantity = "unreadable-quantity"
}
