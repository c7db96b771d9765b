import Logging
import PostgreSQL
import UsagePostgres
import UsageStandard

/// Reads the totals to export from PostgreSQL through `CurrentTotalsQueries` (the current figures and the published
/// re-accountings of one totals table), on a connection of its own, and writes only the exported rows
/// (`FocusCostsTable`), on a second one. Blocking: use it from one thread at a time.
final class TotalsSource {
    /// A period's totals in brief: enough to tell whether they changed since an export.
    typealias Summary = TotalsSummary
    /// A published re-accounting.
    typealias Replay = PublishedReplay

    let table: String
    private let queries: CurrentTotalsQueries
    private let url: String
    private let logger: Logger
    private var connection: PostgresConnection?
    private var writerConnection: PostgresConnection?
    /// Where the exported rows of each day go.
    let costs: FocusCostsTable

    init(url: String, table: String, logger: Logger) throws(ExportError) {
        do {
            queries = try CurrentTotalsQueries(table: table)
            costs = try FocusCostsTable(table: table, columns: FocusColumns.all.map { FocusCostsTable.Column(name: $0.name, focusType: $0.type) })
        } catch {
            throw ExportError(error.message)
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

    /// The summary of every UTC day in `[from, to)` that has totals, by day name.
    func daySummaries(from: Timestamp, to: Timestamp) throws(ExportError) -> [String: Summary] {
        try read("reading the days' totals") { db throws(TotalsQueryError) in try queries.daySummaries(from: from, to: to, on: db) }
    }

    /// Every published re-accounting, by revision.
    func publishedReplays() throws(ExportError) -> [Replay] {
        try read("reading the published replays") { db throws(TotalsQueryError) in try queries.publishedReplays(on: db) }
    }

    /// One consistent reading of a period: `body` gets its summary, sums per unit and the highest overlapping replay
    /// revision, and may stream its rows; all from one snapshot (a read-only, repeatable-read transaction).
    func withSnapshot<T>(of period: ExportPeriod, _ body: (Snapshot) throws(ExportError) -> T) throws(ExportError) -> T {
        let db = try run("connecting to read the totals of \(period)") { db throws(PostgresError) in db }
        let names = queries.names
        return try queries.inSnapshot(on: db, failure: { Self.exportError("reading the totals of \(period)", $0, names: names) }) {
            () throws(ExportError) -> T in try body(Snapshot(db: db, queries: queries, period: period))
        }
    }

    /// A period read inside one transaction.
    struct Snapshot {
        let db: PostgresConnection
        let queries: CurrentTotalsQueries
        let period: ExportPeriod

        private func read<T>(_ body: (PostgresConnection) throws(TotalsQueryError) -> T) throws(ExportError) -> T {
            do {
                return try body(db)
            } catch {
                throw ExportError("reading the totals of \(period): \(error.postgres.map { "\($0)" } ?? error.message)")
            }
        }

        /// The period's summary.
        func summary() throws(ExportError) -> Summary {
            try read { db throws(TotalsQueryError) in try queries.summary(from: period.start, to: period.end, on: db) }
        }

        /// The summary of the period's month before the period (empty for a month): its totals set the tiers and
        /// the rounding the period's rows continue from.
        func priorSummary() throws(ExportError) -> Summary {
            guard period.ratingStart < period.start else { return Summary() }
            return try read { db throws(TotalsQueryError) in try queries.summary(from: period.ratingStart, to: period.start, on: db) }
        }

        /// The exact sum of the quantities per unit (numeric arithmetic in PostgreSQL, as text).
        func sums() throws(ExportError) -> [String: String] {
            try read { db throws(TotalsQueryError) in try queries.sumsPerUnit(from: period.start, to: period.end, on: db) }
                .mapValues { FocusRow.normalizedDecimal($0.text) }
        }

        /// The highest published replay revision whose range overlaps the period or its month before it (0 for none).
        func replayRevision() throws(ExportError) -> Int64 {
            try read { db throws(TotalsQueryError) in try queries.replayRevision(overlapping: period.ratingStart, to: period.end, on: db) }
        }

        /// Streams the totals from the start of the period's month to the period's end in rating order (window start,
        /// then tenant, instance, component, metric and unit in byte order), `batch` at a time, through a cursor.
        func totals(batch: Int = 5000, _ each: ([UsageTotal]) throws(ExportError) -> Void) throws(ExportError) {
            let cursor = try read { db throws(TotalsQueryError) in try queries.figures(from: period.ratingStart, to: period.end, on: db) }
            while true {
                let figures = try read { _ throws(TotalsQueryError) in try cursor.next(batch) }
                if figures.isEmpty { break }
                var totals: [UsageTotal] = []
                totals.reserveCapacity(figures.count)
                for figure in figures {
                    guard let total = figure.usageTotal else {
                        throw ExportError("the total \(figure.tenant)/\(figure.instance)/\(figure.component)/\(figure.metric) at \(figure.windowStart) has the quantity \(figure.quantity), which is not an exact quantity of the standard (at most six decimals): check the totals table")
                    }
                    totals.append(total)
                }
                try each(totals)
            }
        }
    }

    /// Writes the rows of a day to `FocusCostsTable` on the second connection: `body` gets a writer, and what it
    /// has not committed (`CostRowsWriter.commit`) when it returns or throws is rolled back.
    func replacingRows<T>(of day: String, revision: Int64,
                          _ body: (CostRowsWriter) throws(ExportError) -> T) throws(ExportError) -> T {
        let db: PostgresConnection
        do {
            if let writerConnection, writerConnection.isConnected {
                db = writerConnection
            } else {
                db = try PostgresConnection(url: url)
                writerConnection = db
            }
        } catch {
            throw ExportError("connecting to PostgreSQL to write the FOCUS rows of \(day): \(error)")
        }
        do {
            try costs.begin(day: day, on: db)
        } catch {
            // A statement that failed after BEGIN leaves the transaction aborted: end it, or the connection refuses
            // every later export's statements.
            if db.isConnected { _ = try? db.query("ROLLBACK") }
            throw ExportError("writing the FOCUS rows of \(day) to PostgreSQL: \(error.message)")
        }
        let writer = CostRowsWriter(table: costs, db: db, day: day, revision: revision)
        defer { if !writer.isCommitted, db.isConnected { _ = try? db.query("ROLLBACK") } }
        return try body(writer)
    }

    /// Adds rows of one day to `FocusCostsTable`, in file order.
    final class CostRowsWriter {
        let table: FocusCostsTable
        let db: PostgresConnection
        let day: String
        let revision: Int64
        private var written = 0
        private(set) var isCommitted = false

        init(table: FocusCostsTable, db: PostgresConnection, day: String, revision: Int64) {
            (self.table, self.db, self.day, self.revision) = (table, db, day, revision)
        }

        func add(_ rows: [[String]]) throws(ExportError) {
            do {
                try table.add(rows, day: day, revision: revision, firstRow: written, on: db)
            } catch {
                throw ExportError("writing the FOCUS rows of \(day) to PostgreSQL: \(error.message)")
            }
            written += rows.count
        }

        /// Makes the day's new rows visible (before its manifest is written: a manifest never names rows that
        /// PostgreSQL does not have).
        func commit() throws(ExportError) {
            do {
                try table.commit(on: db)
            } catch {
                throw ExportError("writing the FOCUS rows of \(day) to PostgreSQL: \(error.message)")
            }
            isCommitted = true
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

    /// Runs a query of `queries` on the connection; its errors say what `what` was doing and what to do.
    private func read<T>(_ what: String, _ body: (PostgresConnection) throws(TotalsQueryError) -> T) throws(ExportError) -> T {
        let db = try run(what) { db throws(PostgresError) in db }
        do {
            return try body(db)
        } catch {
            throw Self.exportError(what, error, names: queries.names)
        }
    }

    @discardableResult
    private func run<T>(_ what: String, _ body: (PostgresConnection) throws(PostgresError) -> T) throws(ExportError) -> T {
        do {
            return try body(try db())
        } catch {
            if error.sqlState == "42P01" {
                throw Self.exportError(what, TotalsQueryError(.missingTables, error.message, postgres: error), names: queries.names)
            }
            throw ExportError("\(what): \(error)")
        }
    }

    /// The export's wording of a failed query.
    private static func exportError(_ what: String, _ error: TotalsQueryError, names: TotalsTableName) -> ExportError {
        guard let postgres = error.postgres else { return ExportError("\(what): \(error.message)") }
        if error.kind == .missingTables {
            return ExportError("\(what): the view \(names.view) or \(names.replays) does not exist in this database: point --database-url at the service's database and the topology's sinks.table at its totals (\(postgres.message))")
        }
        return ExportError("\(what): \(postgres)")
    }
}

extension TotalsSummary {
    /// The fingerprint of a period with these totals, read from `table` with `replayRevision`, after the totals of
    /// `prior` in its month, rated with `priceBooks` (`<id>#<revision>`).
    func fingerprint(table: String, replayRevision: Int64, prior: TotalsSummary,
                     priceBooks: [String]) -> ExportManifest.Source {
        ExportManifest.Source(table: table, rows: rows, events: events, replayRevision: replayRevision,
                              priorRows: prior.rows, priorEvents: prior.events, priceBooks: priceBooks)
    }
}
