import PostgreSQL
import UsageStandard

/// The current figures of a period in brief: enough to tell whether they changed since they were last read. Live
/// accounting changes a closed period only by counting more events (a late one, or a partition that was behind), so
/// the number of figures and the sum of their event counts change with it; a re-accounting changes the replay
/// revision (`CurrentTotalsQueries.replayRevision`).
public struct TotalsSummary: Equatable, Sendable {
    /// How many figures.
    public var rows: Int
    /// How many of them are not final yet.
    public var provisional: Int
    /// The sum of their event counts.
    public var events: Int64

    /// Creates a summary.
    public init(rows: Int = 0, provisional: Int = 0, events: Int64 = 0) {
        self.rows = rows
        self.provisional = provisional
        self.events = events
    }

    /// Adds `other` (the days of a month).
    public mutating func add(_ other: TotalsSummary) {
        rows += other.rows
        provisional += other.provisional
        events += other.events
    }
}

/// A published re-accounting: its revision and the range of hours it recomputed.
public struct PublishedReplay: Equatable, Sendable {
    public var revision: Int64
    public var start: Timestamp
    public var end: Timestamp

    /// Creates one.
    public init(revision: Int64, start: Timestamp, end: Timestamp) {
        self.revision = revision
        self.start = start
        self.end = end
    }
}

/// One current figure: a key's hour, its parts of the current revision summed.
public struct CurrentFigure: Equatable, Sendable {
    public var tenant, instance, component, metric: String
    public var windowStart, windowEnd: Timestamp
    /// The exact quantity (as PostgreSQL prints the view's `numeric(38, 6)`, six decimals).
    public var quantity: DecimalText
    public var unit: String
    public var eventCount: Int64
    /// `final` or `provisional`.
    public var status: TotalStatus
    /// The host provider, if the totals name one.
    public var provider: String?
    /// The revision the figure is from (0: the live accounting).
    public var revision: Int64

    /// The figure as a total of the standard, e.g. to rate it; nil when its quantity is not a `Quantity` (more than
    /// six decimals or out of range, which the totals' `numeric(38, 6)` only allows beyond the quantity's range).
    public var usageTotal: UsageTotal? {
        guard let quantity = quantity.quantity else { return nil }
        return UsageTotal(key: UsageKey(tenant: tenant, instance: instance, component: component, metric: metric),
                          windowStart: windowStart, windowEnd: windowEnd, quantity: quantity, unit: unit,
                          eventCount: eventCount, status: status, sourcePartition: "", lastOffset: 0, provider: provider,
                          revision: revision)
    }
}

extension CurrentTotalsQueries {
    /// The summary of every UTC day in `[from, to)` that has current figures, by day (`YYYY-MM-DD`).
    public func daySummaries(from: Timestamp, to: Timestamp, on connection: PostgresConnection) throws(TotalsQueryError) -> [String: TotalsSummary] {
        let rows = try run("summing the days' totals", """
            SELECT to_char(window_start AT TIME ZONE 'UTC', 'YYYY-MM-DD'), count(*), count(*) FILTER (WHERE status <> 'final'),
                   coalesce(sum(event_count), 0)::text
            FROM \(names.view) WHERE window_start >= $1 AND window_start < $2 GROUP BY 1
            """, [.text(from.rfc3339), .text(to.rfc3339)], on: connection)
        var result: [String: TotalsSummary] = [:]
        for row in rows {
            guard let day = row[0], let count = row[1].flatMap({ Int($0) }), let provisional = row[2].flatMap({ Int($0) }),
                  let events = row[3].flatMap({ Int64($0) }) else { continue }
            result[day] = TotalsSummary(rows: count, provisional: provisional, events: events)
        }
        return result
    }

    /// Every published re-accounting, by revision.
    public func publishedReplays(on connection: PostgresConnection) throws(TotalsQueryError) -> [PublishedReplay] {
        let precise = #"'YYYY-MM-DD"T"HH24:MI:SS.US"Z"'"#
        let rows = try run("reading the published replays", """
            SELECT revision, to_char(range_start AT TIME ZONE 'UTC', \(precise)), to_char(range_end AT TIME ZONE 'UTC', \(precise))
            FROM \(names.replays) WHERE published_at IS NOT NULL ORDER BY revision
            """, on: connection)
        return rows.compactMap { row in
            guard let revision = row[0].flatMap({ Int64($0) }), let start = row[1].flatMap(Timestamp.parse),
                  let end = row[2].flatMap(Timestamp.parse) else { return nil }
            return PublishedReplay(revision: revision, start: start, end: end)
        }
    }

    /// The summary of the current figures of hours starting in `[from, to)`.
    public func summary(from: Timestamp, to: Timestamp, on connection: PostgresConnection) throws(TotalsQueryError) -> TotalsSummary {
        let row = try run("summing the period's totals", """
            SELECT count(*), count(*) FILTER (WHERE status <> 'final'), coalesce(sum(event_count), 0)::text
            FROM \(names.view) WHERE window_start >= $1 AND window_start < $2
            """, [.text(from.rfc3339), .text(to.rfc3339)], on: connection).first
        return TotalsSummary(rows: row?[0].flatMap { Int($0) } ?? 0, provisional: row?[1].flatMap { Int($0) } ?? 0,
                             events: row?[2].flatMap { Int64($0) } ?? 0)
    }

    /// The exact sum of the quantities of the current figures of hours starting in `[from, to)`, per unit.
    public func sumsPerUnit(from: Timestamp, to: Timestamp, on connection: PostgresConnection) throws(TotalsQueryError) -> [String: DecimalText] {
        let rows = try run("summing the period's quantities", """
            SELECT unit, sum(quantity)::text FROM \(names.view) WHERE window_start >= $1 AND window_start < $2 GROUP BY unit
            """, [.text(from.rfc3339), .text(to.rfc3339)], on: connection)
        var result: [String: DecimalText] = [:]
        for row in rows {
            if let unit = row[0], let sum = row[1] { result[unit] = DecimalText(sum) }
        }
        return result
    }

    /// The highest published re-accounting whose range overlaps `[from, to)` (0 for none).
    public func replayRevision(overlapping from: Timestamp, to: Timestamp, on connection: PostgresConnection) throws(TotalsQueryError) -> Int64 {
        let row = try run("reading the period's replays", """
            SELECT coalesce(max(revision), 0) FROM \(names.replays)
            WHERE published_at IS NOT NULL AND range_start < $2 AND range_end > $1
            """, [.text(from.rfc3339), .text(to.rfc3339)], on: connection).first
        return row?[0].flatMap { Int64($0) } ?? 0
    }

    /// Opens a cursor over the current figures of hours starting in `[from, to)` (of one tenant, if given) in a
    /// fixed order (window start, then tenant, instance, component, metric and unit in byte order, then revision).
    /// The connection must be in a transaction (the cursor lives until it ends): read them with `FigureCursor.next`.
    public func figures(from: Timestamp, to: Timestamp, tenant: String? = nil,
                        on connection: PostgresConnection) throws(TotalsQueryError) -> FigureCursor {
        let precise = #"'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"'"#
        _ = try run("reading the period's totals", """
            DECLARE current_figures NO SCROLL CURSOR FOR
            SELECT to_char(window_start AT TIME ZONE 'UTC', \(precise)), to_char(window_end AT TIME ZONE 'UTC', \(precise)),
                   quantity::text, unit, tenant, instance, component, host_provider, metric, event_count, status, revision
            FROM \(names.view) WHERE window_start >= $1 AND window_start < $2 AND ($3::text IS NULL OR tenant = $3)
            ORDER BY window_start, tenant COLLATE "C", instance COLLATE "C", component COLLATE "C", metric COLLATE "C",
                     unit COLLATE "C", revision
            """, [.text(from.rfc3339), .text(to.rfc3339), tenant.map { .text($0) } ?? .null], on: connection)
        return FigureCursor(queries: self, connection: connection)
    }

    /// Current figures read through a cursor, a batch at a time (see `figures(from:to:on:)`).
    public struct FigureCursor {
        let queries: CurrentTotalsQueries
        let connection: PostgresConnection

        /// The next figures, at most `batch`; empty once every figure was read.
        public func next(_ batch: Int = 5000) throws(TotalsQueryError) -> [CurrentFigure] {
            let rows = try queries.run("reading the period's totals", "FETCH \(batch) FROM current_figures", on: connection)
            return try rows.map { row throws(TotalsQueryError) -> CurrentFigure in
                guard let start = row[0].flatMap(Timestamp.parse), let end = row[1].flatMap(Timestamp.parse),
                      let quantity = row[2], let unit = row[3], let tenant = row[4], let instance = row[5],
                      let component = row[6], let metric = row[8], let count = row[9].flatMap({ Int64($0) }),
                      let status = row[10].flatMap(TotalStatus.init(rawValue:)), let revision = row[11].flatMap({ Int64($0) }) else {
                    throw .unexpectedRow("reading the period's totals (a column NULL that must have a value?)", row, names: queries.names)
                }
                return CurrentFigure(tenant: tenant, instance: instance, component: component, metric: metric,
                                     windowStart: start, windowEnd: end, quantity: DecimalText(quantity), unit: unit,
                                     eventCount: count, status: status, provider: row[7], revision: revision)
            }
        }
    }
}
