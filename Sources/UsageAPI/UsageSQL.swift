import PostgreSQL

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
}

/// The SQL of a `UsageQuery` over the current-totals view: filters, window buckets, grouping, exact sums and keyset
/// pagination. Every value is a bound parameter; only the view name (checked at start) and fixed column expressions
/// are part of the text. Depends only on the view's columns tenant, instance, component, metric, window_start,
/// window_end, quantity, unit, event_count, status and host_provider.
enum UsageSQL {
    /// RFC 3339 UTC with seconds, for `to_char`.
    static let timeFormat = "'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"'"

    /// The statement and its parameters; it returns at most `pageSize + 1` rows (the extra one says there is a
    /// next page).
    static func select(_ query: UsageQuery, from view: String) -> (sql: String, parameters: [PostgresValue]) {
        var parameters: [PostgresValue] = []
        func bind(_ value: String) -> String {
            parameters.append(.text(value))
            return "$\(parameters.count)"
        }
        var conditions: [String] = []
        for (column, value) in [("tenant", query.tenant), ("instance", query.instance), ("component", query.component),
                                ("metric", query.metric), ("host_provider", query.provider), ("status", query.status)] {
            if let value { conditions.append("\(column) = \(bind(value))") }
        }
        let from = query.from.map { bind(UsageQuery.rfc3339($0)) + "::timestamptz" }
        let to = query.to.map { bind(UsageQuery.rfc3339($0)) + "::timestamptz" }
        if let from { conditions.append("window_start >= \(from)") }
        if let to { conditions.append("window_start < \(to)") }

        let bucket: String? = query.window == .total ? nil : "date_trunc('\(query.window.rawValue)', window_start AT TIME ZONE 'UTC')"
        let groups = query.groupBy.map { column -> String in column == .provider ? "COALESCE(host_provider, '')" : column.rawValue }
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
        if bucket != nil {
            windowColumns = "to_char(b, \(timeFormat)), to_char(b + interval '1 \(query.window.rawValue)', \(timeFormat))"
        } else {
            windowColumns = "to_char(COALESCE(\(from ?? "NULL"), s0) AT TIME ZONE 'UTC', \(timeFormat)), "
                + "to_char(COALESCE(\(to ?? "NULL"), s1) AT TIME ZONE 'UTC', \(timeFormat))"
        }
        var seek = ""
        if let after = query.after {
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
            LIMIT \(query.pageSize + 1)
            """
        return (sql, parameters)
    }

    /// The rows of `select`'s result.
    static func rows(_ result: [PostgresRow], of query: UsageQuery) throws(APIProblem) -> [UsageRow] {
        try result.map { row throws(APIProblem) in
            let groupCount = query.groupBy.count
            guard row.values.count == groupCount + 7, let start = row[0], let end = row[1],
                  let metric = row[groupCount + 2], let unit = row[groupCount + 3], let quantity = row[groupCount + 4],
                  let count = row[groupCount + 5].flatMap({ Int64($0) }), let final = row[groupCount + 6] else {
                throw APIProblem(.internalError, "the totals view returned an unexpected row")
            }
            var usage = UsageRow(windowStart: start, windowEnd: end, metric: metric, unit: unit, quantity: quantity,
                                 eventCount: count, status: final == "t" ? "final" : "provisional", sortKey: [])
            var values: [String] = []
            for (index, column) in query.groupBy.enumerated() {
                let value = row[2 + index] ?? ""
                values.append(value)
                switch column {
                case .tenant: usage.tenant = value
                case .instance: usage.instance = value
                case .component: usage.component = value
                case .provider: usage.provider = value.isEmpty ? nil : value
                case .status: usage.status = value
                }
            }
            usage.sortKey = (query.window == .total ? [] : [start]) + values + [metric, unit]
            return usage
        }
    }

    /// The instances seen: tenant, instance, its host providers (separated by U+001F), first and last hour.
    static func instances(tenant: String?, from view: String) -> (sql: String, parameters: [PostgresValue]) {
        ("""
        SELECT tenant, instance, COALESCE(string_agg(DISTINCT host_provider, E'\\x1f' ORDER BY host_provider), ''),
               to_char(min(window_start) AT TIME ZONE 'UTC', \(timeFormat)),
               to_char(max(window_end) AT TIME ZONE 'UTC', \(timeFormat))
        FROM \(view)
        \(tenant == nil ? "" : "WHERE tenant = $1")
        GROUP BY tenant, instance
        ORDER BY tenant, instance
        """, tenant.map { [.text($0)] } ?? [])
    }

    /// Whether `instance` has totals of `tenant`, and of other tenants.
    static func instanceOwners(instance: String, tenant: String, from view: String) -> (sql: String, parameters: [PostgresValue]) {
        ("SELECT COALESCE(bool_or(tenant = $2), false), COALESCE(bool_or(tenant <> $2), false) FROM \(view) WHERE instance = $1",
         [.text(instance), .text(tenant)])
    }
}
