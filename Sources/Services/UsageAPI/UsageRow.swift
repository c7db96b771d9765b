import UsagePostgres
import UsageStandard

/// One row of a usage answer: a window, the group's values, the metric and its exact sum.
struct UsageRow: Sendable, Equatable {
    /// Window start and end, RFC 3339 UTC (`2026-11-25T13:00:00Z`).
    var windowStart, windowEnd: String
    /// The group values; nil when not grouped by that column (provider: also when no total names one).
    var tenant, instance, component, provider: String?
    var metric, unit: String
    /// The exact decimal sum, as PostgreSQL prints it (no trailing zeros).
    var quantity: String
    var eventCount: Int64
    /// `final` when every hourly total in the row is final, else `provisional`.
    var status: String
    /// The row's position in the answer's order, for the next page's cursor.
    var sortKey: [String]
    /// The row's cost; nil where costs are not asked for (`/v1/usage/focus`, the page's hourly bars).
    var cost: RowCost?
}

extension UsageRow {
    /// The row of a summary of the current totals.
    init(_ row: TotalsSummaryRow) {
        self.init(windowStart: UsageQuery.rfc3339(row.windowStart.milliseconds), windowEnd: UsageQuery.rfc3339(row.windowEnd.milliseconds),
                  tenant: row.tenant, instance: row.instance, component: row.component, provider: row.provider,
                  metric: row.metric, unit: row.unit, quantity: row.quantity.text, eventCount: row.eventCount,
                  status: row.status.rawValue, sortKey: row.position)
    }
}

extension UsageQuery {
    /// The query of `UsagePostgres` that answers this one (every value typed; `UsagePostgres` writes the SQL).
    var totalsQuery: TotalsSummaryQuery {
        let filter = CurrentTotalsFilter(tenant: tenant, instance: instance, component: component, metric: metric,
                                         provider: provider, status: status.flatMap(TotalStatus.init(rawValue:)),
                                         from: from.map(Timestamp.init(milliseconds:)), to: to.map(Timestamp.init(milliseconds:)))
        let window: TotalsSummaryQuery.Window
        switch self.window {
        case .hour: window = .hour
        case .day: window = .day
        case .month: window = .month
        case .total: window = .total
        }
        let groups = groupBy.map { column -> TotalsSummaryQuery.GroupColumn in
            switch column {
            case .tenant: .tenant
            case .instance: .instance
            case .component: .component
            case .provider: .provider
            case .status: .status
            }
        }
        return TotalsSummaryQuery(filter: filter, window: window, groupBy: groups, pageSize: pageSize, after: after)
    }
}
