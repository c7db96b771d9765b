import Logging
import PostgreSQL
import UsageStandard

/// Reads the totals to export from PostgreSQL. It depends only on the view `<table>` (the current figure per key and
/// window: tenant, instance, component, metric, window_start, window_end, quantity, unit, event_count, status,
/// host_provider, revision, updated_at) and on `<table>_replays` (revision, range_start, range_end, published_at), and
/// never writes. Blocking: use it from one thread at a time.
final class TotalsSource {
    /// A period's totals in brief: enough to tell whether they changed since an export. Live accounting changes a
    /// closed period only by counting more events (a late one, or a partition that was behind), so the number of
    /// totals and the sum of their event counts change with it; a re-accounting changes the replay revision.
    struct Summary: Equatable, Sendable {
        /// How many totals.
        var rows = 0
        /// How many of them are not final yet.
        var provisional = 0
        /// The sum of their event counts.
        var events: Int64 = 0

        /// Adds `other` (the days of a month).
        mutating func add(_ other: Summary) {
            rows += other.rows
            provisional += other.provisional
            events += other.events
        }

        /// The fingerprint of these totals read from `table` with `replayRevision`.
        func fingerprint(table: String, replayRevision: Int64) -> ExportManifest.Source {
            ExportManifest.Source(table: table, rows: rows, events: events, replayRevision: replayRevision)
        }
    }

    /// A published re-accounting.
    struct Replay: Equatable, Sendable {
        var revision: Int64
        var start: Timestamp
        var end: Timestamp
    }

    let table: String
    private let url: String
    private let logger: Logger
    private var connection: PostgresConnection?

    init(url: String, table: String, logger: Logger) throws(ExportError) {
        guard table.allSatisfy({ $0.isLetter || $0.isNumber || $0 == "_" }), table.first?.isLetter == true else {
            throw ExportError("invalid PostgreSQL table name '\(table)': use letters, digits and underscores")
        }
        self.url = url
        self.table = table
        self.logger = logger
    }

    private func db() throws(PostgresError) -> PostgresConnection {
        if let connection, connection.isConnected { return connection }
        let fresh = try PostgresConnection(url: url)
        connection = fresh
        return fresh
    }

    private static let day = "'YYYY-MM-DD'"
    private static let instant = #"'YYYY-MM-DD"T"HH24:MI:SS"Z"'"#
    private static let precise = #"'YYYY-MM-DD"T"HH24:MI:SS.US"Z"'"#

    /// The summary of every UTC day in `[from, to)` that has totals, by day name.
    func daySummaries(from: Timestamp, to: Timestamp) throws(ExportError) -> [String: Summary] {
        let rows = try run("reading the days' totals") { db throws(PostgresError) in
            try db.query("""
                SELECT to_char(window_start AT TIME ZONE 'UTC', \(Self.day)), count(*), count(*) FILTER (WHERE status <> 'final'),
                       coalesce(sum(event_count), 0)::text
                FROM \(table) WHERE window_start >= $1 AND window_start < $2 GROUP BY 1
                """, [.text(from.rfc3339), .text(to.rfc3339)])
        }
        var result: [String: Summary] = [:]
        for row in rows {
            guard let day = row[0], let count = row[1].flatMap({ Int($0) }), let provisional = row[2].flatMap({ Int($0) }),
                  let events = row[3].flatMap({ Int64($0) }) else { continue }
            result[day] = Summary(rows: count, provisional: provisional, events: events)
        }
        return result
    }

    /// Every published re-accounting, by revision.
    func publishedReplays() throws(ExportError) -> [Replay] {
        let rows = try run("reading the published replays") { db throws(PostgresError) in
            try db.query("""
                SELECT revision, to_char(range_start AT TIME ZONE 'UTC', \(Self.precise)), to_char(range_end AT TIME ZONE 'UTC', \(Self.precise))
                FROM \(table)_replays WHERE published_at IS NOT NULL ORDER BY revision
                """)
        }
        return rows.compactMap { row in
            guard let revision = row[0].flatMap({ Int64($0) }), let start = row[1].flatMap(Timestamp.parse),
                  let end = row[2].flatMap(Timestamp.parse) else { return nil }
            return Replay(revision: revision, start: start, end: end)
        }
    }

    /// One consistent reading of a period: `body` gets its summary, sums per unit and the highest overlapping replay
    /// revision, and may stream its rows; all from one snapshot (a read-only, repeatable-read transaction).
    func withSnapshot<T>(of period: ExportPeriod, _ body: (Snapshot) throws(ExportError) -> T) throws(ExportError) -> T {
        let db = try run("starting a snapshot of \(period)") { db throws(PostgresError) in
            try db.query("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY")
            return db
        }
        do {
            let result = try body(Snapshot(db: db, table: table, period: period))
            try run("reading the totals of \(period)") { db throws(PostgresError) in try db.query("COMMIT") }
            return result
        } catch {
            if db.isConnected { _ = try? db.query("ROLLBACK") }
            throw error
        }
    }

    /// A period read inside one transaction.
    struct Snapshot {
        let db: PostgresConnection
        let table: String
        let period: ExportPeriod

        private var range: [PostgresValue] { [.text(period.start.rfc3339), .text(period.end.rfc3339)] }

        private func query(_ sql: String) throws(ExportError) -> [PostgresRow] {
            do {
                return try db.query(sql, range)
            } catch {
                throw ExportError("reading the totals of \(period): \(error)")
            }
        }

        /// The period's summary.
        func summary() throws(ExportError) -> Summary {
            let row = try query("""
                SELECT count(*), count(*) FILTER (WHERE status <> 'final'), coalesce(sum(event_count), 0)::text
                FROM \(table) WHERE window_start >= $1 AND window_start < $2
                """).first
            return Summary(rows: row?[0].flatMap { Int($0) } ?? 0, provisional: row?[1].flatMap { Int($0) } ?? 0,
                           events: row?[2].flatMap { Int64($0) } ?? 0)
        }

        /// The exact sum of the quantities per unit (numeric arithmetic in PostgreSQL, as text).
        func sums() throws(ExportError) -> [String: String] {
            var result: [String: String] = [:]
            for row in try query("SELECT unit, sum(quantity)::text FROM \(table) WHERE window_start >= $1 AND window_start < $2 GROUP BY unit") {
                if let unit = row[0], let sum = row[1] { result[unit] = FocusRow.normalizedDecimal(sum) }
            }
            return result
        }

        /// The highest published replay revision whose range overlaps the period (0 for none).
        func replayRevision() throws(ExportError) -> Int64 {
            let row = try query("""
                SELECT coalesce(max(revision), 0) FROM \(table)_replays
                WHERE published_at IS NOT NULL AND range_start < $2 AND range_end > $1
                """).first
            return row?[0].flatMap { Int64($0) } ?? 0
        }

        /// Streams the period's totals in a fixed order (window start, then tenant, instance, component, metric and
        /// unit in byte order), `batch` rows at a time, through a cursor.
        func rows(batch: Int = 5000, _ each: ([FocusRow]) throws(ExportError) -> Void) throws(ExportError) {
            _ = try query("""
                DECLARE focus_export NO SCROLL CURSOR FOR
                SELECT to_char(window_start AT TIME ZONE 'UTC', \(TotalsSource.instant)), to_char(window_end AT TIME ZONE 'UTC', \(TotalsSource.instant)),
                       quantity::text, unit, tenant, instance, component, host_provider, metric, event_count::text, status, revision::text
                FROM \(table) WHERE window_start >= $1 AND window_start < $2
                ORDER BY window_start, tenant COLLATE "C", instance COLLATE "C", component COLLATE "C", metric COLLATE "C",
                         unit COLLATE "C", revision
                """)
            while true {
                let rows: [PostgresRow]
                do {
                    rows = try db.query("FETCH \(batch) FROM focus_export")
                } catch {
                    throw ExportError("reading the totals of \(period): \(error)")
                }
                if rows.isEmpty { break }
                try each(try rows.map { row throws(ExportError) -> FocusRow in
                    guard let start = row[0], let end = row[1], let quantity = row[2], let unit = row[3], let tenant = row[4],
                          let instance = row[5], let component = row[6], let metric = row[8], let count = row[9],
                          let status = row[10], let revision = row[11] else {
                        throw ExportError("a total of \(period) has NULL in a column that must have a value")
                    }
                    return FocusRow(chargePeriodStart: start, chargePeriodEnd: end, quantity: quantity, unit: unit, tenant: tenant,
                                    instance: instance, component: component, hostProvider: row[7], metric: metric,
                                    eventCount: count, status: status, revision: revision)
                })
            }
        }
    }

    /// Tries to become the one exporter of `key` (a session lock, released by `unlock` or when the connection ends).
    func tryLock(_ key: String) throws(ExportError) -> Bool {
        try run("taking the export lock") { db throws(PostgresError) in
            try db.query("SELECT pg_try_advisory_lock(hashtext($1))", [.text(key)]).first?[0] == "t"
        }
    }

    /// Waits until this is the one exporter of `key`.
    func lock(_ key: String) throws(ExportError) {
        try run("taking the export lock") { db throws(PostgresError) in
            try db.query("SELECT pg_advisory_lock(hashtext($1))", [.text(key)])
        }
    }

    /// Releases the lock of `key`.
    func unlock(_ key: String) {
        _ = try? connection?.query("SELECT pg_advisory_unlock(hashtext($1))", [.text(key)])
    }

    @discardableResult
    private func run<T>(_ what: String, _ body: (PostgresConnection) throws(PostgresError) -> T) throws(ExportError) -> T {
        do {
            return try body(try db())
        } catch {
            if error.sqlState == "42P01" {
                throw ExportError("\(what): the view \(table) or \(table)_replays does not exist in this database: point --database-url at the service's database and the topology's sinks.table at its totals (\(error.message))")
            }
            throw ExportError("\(what): \(error)")
        }
    }
}
