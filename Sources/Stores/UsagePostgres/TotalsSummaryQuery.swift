import PostgreSQL
import UsageStandard

/// Which current figures a query reads: each filter is optional (nil: every value).
public struct CurrentTotalsFilter: Sendable, Equatable {
    /// Only this tenant.
    public var tenant: String?
    /// Only this instance, component, metric or host provider.
    public var instance, component, metric, provider: String?
    /// Only final or only provisional figures.
    public var status: TotalStatus?
    /// Only hours starting in `[from, to)`.
    public var from, to: Timestamp?

    /// Creates a filter.
    public init(tenant: String? = nil, instance: String? = nil, component: String? = nil, metric: String? = nil,
                provider: String? = nil, status: TotalStatus? = nil, from: Timestamp? = nil, to: Timestamp? = nil) {
        self.tenant = tenant
        self.instance = instance
        self.component = component
        self.metric = metric
        self.provider = provider
        self.status = status
        self.from = from
        self.to = to
    }
}

/// The current hourly figures summed per UTC window and group, one page at a time (keyset pagination): what the
/// usage API serves.
public struct TotalsSummaryQuery: Sendable, Equatable {
    /// The UTC window hourly figures are summed over; `total` sums the whole range into one row per group.
    public enum Window: Sendable, Equatable {
        case hour, day, month, total
    }

    /// A column rows can be grouped by besides the metric and unit (always group columns, so units never mix).
    public enum GroupColumn: Sendable, Equatable {
        case tenant, instance, component, provider, status
    }

    /// Which figures.
    public var filter: CurrentTotalsFilter
    /// The window they are summed over.
    public var window: Window
    /// The group columns, in the order their values appear in a row's position.
    public var groupBy: [GroupColumn]
    /// At most this many rows per page.
    public var pageSize: Int
    /// The position of the last row of the previous page (its `TotalsSummaryRow.position`); nil for the first page.
    public var after: [String]?

    /// Creates a query.
    public init(filter: CurrentTotalsFilter, window: Window, groupBy: [GroupColumn], pageSize: Int, after: [String]? = nil) {
        self.filter = filter
        self.window = window
        self.groupBy = groupBy
        self.pageSize = pageSize
        self.after = after
    }

    /// How many values a row's position has: the window start (unless one window), the group values, metric and unit.
    public var positionLength: Int { (window == .total ? 0 : 1) + groupBy.count + 2 }
}

/// One row of a `TotalsSummaryQuery`: a window, the group's values, the metric and its exact sum.
public struct TotalsSummaryRow: Sendable, Equatable {
    /// The window (for `total`: the query's range, or the figures' first start and last end where it is open).
    public var windowStart, windowEnd: Timestamp
    /// The group values; nil when not grouped by that column (provider: also when no figure names one).
    public var tenant, instance, component, provider: String?
    public var metric, unit: String
    /// The exact sum (trailing zeros trimmed).
    public var quantity: DecimalText
    /// The sum of the figures' event counts.
    public var eventCount: Int64
    /// `final` when every hourly figure in the row is, else `provisional`.
    public var status: TotalStatus
    /// The row's position in the query's order, for the next page's `after`.
    public var position: [String]
}

/// A page of a `TotalsSummaryQuery`.
public struct TotalsSummaryPage: Sendable, Equatable {
    /// At most `pageSize` rows.
    public var rows: [TotalsSummaryRow]
    /// The `after` of the next page; nil when this is the last.
    public var next: [String]?
}

extension TotalsSummaryQuery {
    /// RFC 3339 UTC with seconds, for `to_char`.
    static let timeFormat = "'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"'"

    /// The statement over `view` and its parameters: filters, window buckets, grouping, exact sums and keyset
    /// pagination. Every value is a bound parameter; only the view name and fixed column expressions are part of the
    /// text. It returns at most `pageSize + 1` rows (the extra one says there is a next page).
    func statement(view: String) -> (sql: String, parameters: [PostgresValue]) {
        var parameters: [PostgresValue] = []
        func bind(_ value: String) -> String {
            parameters.append(.text(value))
            return "$\(parameters.count)"
        }
        var conditions: [String] = []
        for (column, value) in [("tenant", filter.tenant), ("instance", filter.instance), ("component", filter.component),
                                ("metric", filter.metric), ("host_provider", filter.provider),
                                ("status", filter.status?.rawValue)] {
            if let value { conditions.append("\(column) = \(bind(value))") }
        }
        let from = filter.from.map { bind($0.rfc3339) + "::timestamptz" }
        let to = filter.to.map { bind($0.rfc3339) + "::timestamptz" }
        if let from { conditions.append("window_start >= \(from)") }
        if let to { conditions.append("window_start < \(to)") }

        let field: String?
        switch window {
        case .hour: field = "hour"
        case .day: field = "day"
        case .month: field = "month"
        case .total: field = nil
        }
        let bucket = field.map { "date_trunc('\($0)', window_start AT TIME ZONE 'UTC')" }
        let groups = groupBy.map { column -> String in
            switch column {
            case .tenant: "tenant"
            case .instance: "instance"
            case .component: "component"
            case .provider: "COALESCE(host_provider, '')"
            case .status: "status"
            }
        }
        let groupNames = groups.indices.map { "g\($0)" }
        let keys = (bucket == nil ? [] : ["b"]) + groupNames + ["metric", "unit"]
        let inner = """
            SELECT \(((bucket.map { ["\($0) AS b"] } ?? []) + zip(groups, groupNames).map { "\($0) AS \($1)" }).map { $0 + ", " }.joined())\
            metric, unit, sum(quantity) AS q, sum(event_count) AS n, bool_and(status = 'final') AS f,
                   min(window_start) AS s0, max(window_end) AS s1
            FROM \(view)
            WHERE \(conditions.isEmpty ? "true" : conditions.joined(separator: " AND "))
            GROUP BY \(((bucket.map { [$0] } ?? []) + groups + ["metric", "unit"]).joined(separator: ", "))
            """
        let windowColumns: String
        if let field {
            windowColumns = "to_char(b, \(Self.timeFormat)), to_char(b + interval '1 \(field)', \(Self.timeFormat))"
        } else {
            windowColumns = "to_char(COALESCE(\(from ?? "NULL"), s0) AT TIME ZONE 'UTC', \(Self.timeFormat)), "
                + "to_char(COALESCE(\(to ?? "NULL"), s1) AT TIME ZONE 'UTC', \(Self.timeFormat))"
        }
        var seek = ""
        if let after {
            let values = after.enumerated().map { index, value in
                bind(value) + (index == 0 && bucket != nil ? "::timestamp" : "::text")
            }
            seek = "WHERE (\(keys.joined(separator: ", "))) > (\(values.joined(separator: ", ")))"
        }
        let sql = """
            SELECT \(windowColumns), \(groupNames.map { $0 + ", " }.joined())metric, unit, trim_scale(q)::text, n::text, f
            FROM (\(inner)) AS g
            \(seek)
            ORDER BY \(keys.joined(separator: ", "))
            LIMIT \(pageSize + 1)
            """
        return (sql, parameters)
    }

    /// The page of `statement`'s result.
    func page(_ result: [PostgresRow], names: TotalsTableName) throws(TotalsQueryError) -> TotalsSummaryPage {
        let groupCount = groupBy.count
        var rows: [TotalsSummaryRow] = []
        rows.reserveCapacity(min(result.count, pageSize))
        for row in result.prefix(pageSize) {
            guard row.values.count == groupCount + 7, let startText = row[0], let start = Timestamp.parse(startText),
                  let end = row[1].flatMap(Timestamp.parse), let metric = row[groupCount + 2], let unit = row[groupCount + 3],
                  let quantity = row[groupCount + 4], let count = row[groupCount + 5].flatMap({ Int64($0) }),
                  let final = row[groupCount + 6] else {
                throw .unexpectedRow("summing the current totals", row, names: names)
            }
            var summary = TotalsSummaryRow(windowStart: start, windowEnd: end, metric: metric, unit: unit,
                                           quantity: DecimalText(quantity), eventCount: count,
                                           status: final == "t" ? .final : .provisional, position: [])
            var values: [String] = []
            for (index, column) in groupBy.enumerated() {
                let value = row[2 + index] ?? ""
                values.append(value)
                switch column {
                case .tenant: summary.tenant = value
                case .instance: summary.instance = value
                case .component: summary.component = value
                case .provider: summary.provider = value.isEmpty ? nil : value
                case .status:
                    guard let status = TotalStatus(rawValue: value) else {
                        throw .unexpectedRow("summing the current totals", row, names: names)
                    }
                    summary.status = status
                }
            }
            summary.position = (window == .total ? [] : [startText]) + values + [metric, unit]
            rows.append(summary)
        }
        return TotalsSummaryPage(rows: rows, next: result.count > pageSize ? rows.last?.position : nil)
    }
}
