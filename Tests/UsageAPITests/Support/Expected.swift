import Foundation
import PostgreSQL
import TestSupport
import Testing
import UsageStandard

/// A usage row reduced to what the tests compare: its key (window, group values, metric) and its figures, with the
/// quantity as an exact decimal (so `12.5` and `12.500000` are equal, and nothing goes through floating point).
struct ComparableRow: Hashable, CustomStringConvertible {
    var key: [String]
    var quantity: Quantity
    var unit: String
    var eventCount: Int64
    var status: String

    var description: String { "\(key.joined(separator: "/")): \(quantity) \(unit), \(eventCount) events, \(status)" }
}

extension Fixture {
    /// Every row of `/v1/usage` (or `/v1/usage/focus`) for `query`, following the cursor from page to page.
    func allRows(_ query: String, path: String = "/v1/usage", token: String) async throws -> (rows: [[String: Any]], pages: Int) {
        var rows: [[String: Any]] = []
        var cursor: String?
        var pages = 0
        repeat {
            let url = api + path + "?" + query + (cursor.map { "&cursor=" + HTTP.encode($0) } ?? "")
            let reply = try await HTTP.get(url, token: token)
            guard reply.status == 200 else { throw TestSetupError("GET \(url): \(reply.status) \(reply.text)") }
            rows += reply.json["rows"] as? [[String: Any]] ?? []
            cursor = reply.json["nextCursor"] as? String
            pages += 1
        } while cursor != nil && pages < 10_000
        return (rows, pages)
    }

    /// API rows as comparable rows, keyed by window start and the `groupBy` columns in the given order.
    static func comparable(_ rows: [[String: Any]], groupBy: [String]) throws -> [ComparableRow] {
        try rows.map { row in
            guard let start = row["windowStart"] as? String, let metric = row["metric"] as? String,
                  let text = row["quantity"] as? String, case .success(let quantity) = Quantity.parse(text),
                  let unit = row["unit"] as? String, let count = row["eventCount"] as? Int, let status = row["status"] as? String else {
                throw TestSetupError("unexpected row \(row)")
            }
            return ComparableRow(key: [start] + groupBy.map { row[$0] as? String ?? "" } + [metric], quantity: quantity,
                                 unit: unit, eventCount: Int64(count), status: status)
        }
    }

    /// The rows the API must return, computed by the test's own SQL over the current-totals view: GROUP BY the
    /// window (date_trunc in UTC, or the whole range) and the columns, an exact sum per group.
    func expectedRows(window: String, groupBy: [String], filters: [String: String] = [:], from: String? = nil,
                      to: String? = nil) async throws -> [ComparableRow] {
        let columns = groupBy.map { $0 == "provider" ? "COALESCE(host_provider, '')" : $0 }
        let bucket = window == "total"
            ? "to_char(min(window_start) AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"')"
            : "to_char(date_trunc('\(window)', window_start AT TIME ZONE 'UTC'), 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"')"
        var conditions = ["true"]
        var parameters: [PostgresValue] = []
        for (name, value) in filters.sorted(by: { $0.key < $1.key }) {
            parameters.append(.text(value))
            conditions.append("\(name == "provider" ? "host_provider" : name) = $\(parameters.count)")
        }
        if let from {
            parameters.append(.text(from))
            conditions.append("window_start >= $\(parameters.count)::timestamptz")
        }
        if let to {
            parameters.append(.text(to))
            conditions.append("window_start < $\(parameters.count)::timestamptz")
        }
        let grouping = (window == "total" ? [] : ["date_trunc('\(window)', window_start AT TIME ZONE 'UTC')"]) + columns + ["metric", "unit"]
        let rows = try await sql("""
            SELECT \(bucket), \(columns.map { $0 + ", " }.joined())metric, sum(quantity)::text, unit, sum(event_count),
                   CASE WHEN bool_and(status = 'final') THEN 'final' ELSE 'provisional' END
            FROM \(table) WHERE \(conditions.joined(separator: " AND "))
            GROUP BY \(grouping.joined(separator: ", "))
            """, parameters)
        return try rows.map { row in
            let n = groupBy.count
            var start = row[0] ?? ""
            if window == "total", let from { start = from }
            guard case .success(let quantity) = Quantity.parse(row[n + 2] ?? ""), let count = row[n + 4].flatMap({ Int64($0) }) else {
                throw TestSetupError("unexpected SQL row \(row.values)")
            }
            let status = groupBy.contains("status") ? row[1 + (groupBy.firstIndex(of: "status") ?? 0)] ?? "" : row[n + 5] ?? ""
            return ComparableRow(key: [start] + (0..<n).map { row[1 + $0] ?? "" } + [row[n + 1] ?? ""],
                                 quantity: quantity, unit: row[n + 3] ?? "", eventCount: count, status: status)
        }
    }
}
