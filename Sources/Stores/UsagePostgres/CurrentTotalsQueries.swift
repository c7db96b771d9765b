import PostgreSQL
import UsageStandard

/// The read-only, typed queries over the current figures of one totals table (the view `<table>`, see
/// `TotalsSchema`) and its published re-accountings: the only readers of those objects outside this module's writers.
/// Callers pass typed parameters and get typed rows; they own the connection (its thread, its session settings, its
/// transaction), so the same queries serve a pool of read-only sessions (the usage API) and one snapshot transaction
/// (the FOCUS export). A new reader (a price book's rating, budget alerts) is a new method here, not SQL elsewhere.
///
/// Each method blocks on `connection`: call it where the connection lives, off Swift's cooperative pool.
public struct CurrentTotalsQueries: Sendable {
    /// The totals table read.
    public let names: TotalsTableName

    /// Queries over the totals `names`.
    public init(names: TotalsTableName) { self.names = names }

    /// Queries over the totals table `table`, checked by `TotalsTableName`'s rule.
    public init(table: String) throws(TotalsStoreError) {
        names = try TotalsTableName(table)
    }

    /// Runs `sql`, turning PostgreSQL's errors into `TotalsQueryError`s that say what `what` was doing.
    func run(_ what: String, _ sql: String, _ parameters: [PostgresValue] = [],
             on connection: PostgresConnection) throws(TotalsQueryError) -> [PostgresRow] {
        do {
            return try connection.query(sql, parameters)
        } catch {
            throw TotalsQueryError(what, error, names: names)
        }
    }

    /// Runs `body` in one read-only, repeatable-read transaction on `connection`: one snapshot of the totals (the
    /// figures cursor needs a transaction). Committed after `body`, rolled back when it throws; `failure` words a
    /// failure of the transaction itself as the caller's error.
    public func inSnapshot<T, Failure: Error>(on connection: PostgresConnection, failure: (TotalsQueryError) -> Failure,
                                              _ body: () throws(Failure) -> T) throws(Failure) -> T {
        do {
            _ = try run("starting a snapshot of the totals", "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY", on: connection)
        } catch {
            throw failure(error)
        }
        do throws(Failure) {
            let value = try body()
            do {
                _ = try run("ending a snapshot of the totals", "COMMIT", on: connection)
            } catch {
                throw failure(error)
            }
            return value
        } catch {
            if connection.isConnected { _ = try? connection.query("ROLLBACK") }
            throw error
        }
    }

    // MARK: - The usage API's queries

    /// One page of the current figures of `query` summed per window and group, in a fixed order (window start,
    /// group values, metric, unit).
    public func summaries(_ query: TotalsSummaryQuery, on connection: PostgresConnection) throws(TotalsQueryError) -> TotalsSummaryPage {
        let (sql, parameters) = query.statement(view: names.view)
        return try query.page(run("summing the current totals", sql, parameters, on: connection), names: names)
    }

    /// An instance seen in the current figures.
    public struct Instance: Sendable, Equatable {
        public var tenant, instance: String
        /// Its host providers, sorted.
        public var providers: [String]
        /// The start of its first hour and the end of its last.
        public var firstWindowStart, lastWindowEnd: Timestamp
    }

    /// The instances with current figures (of `tenant`, if given), by tenant and instance.
    public func instances(tenant: String?, on connection: PostgresConnection) throws(TotalsQueryError) -> [Instance] {
        let rows = try run("listing the instances", """
            SELECT tenant, instance, COALESCE(string_agg(DISTINCT host_provider, E'\\x1f' ORDER BY host_provider), ''),
                   to_char(min(window_start) AT TIME ZONE 'UTC', \(TotalsSummaryQuery.timeFormat)),
                   to_char(max(window_end) AT TIME ZONE 'UTC', \(TotalsSummaryQuery.timeFormat))
            FROM \(names.view)
            \(tenant == nil ? "" : "WHERE tenant = $1")
            GROUP BY tenant, instance
            ORDER BY tenant, instance
            """, tenant.map { [.text($0)] } ?? [], on: connection)
        return try rows.map { row throws(TotalsQueryError) in
            guard let tenant = row[0], let instance = row[1], let first = row[3].flatMap(Timestamp.parse),
                  let last = row[4].flatMap(Timestamp.parse) else {
                throw .unexpectedRow("listing the instances", row, names: names)
            }
            return Instance(tenant: tenant, instance: instance,
                            providers: (row[2] ?? "").split(separator: "\u{1f}").map(String.init),
                            firstWindowStart: first, lastWindowEnd: last)
        }
    }

    /// Who has current figures of an instance.
    public struct InstanceOwners: Sendable, Equatable {
        /// The tenant asked about has figures of it.
        public var tenant: Bool
        /// Other tenants have figures of it.
        public var others: Bool

        /// Creates an answer.
        public init(tenant: Bool, others: Bool) {
            self.tenant = tenant
            self.others = others
        }
    }

    /// Whether `instance` has current figures of `tenant`, and of other tenants.
    public func owners(of instance: String, tenant: String, on connection: PostgresConnection) throws(TotalsQueryError) -> InstanceOwners {
        let row = try run("finding the instance's tenants", """
            SELECT COALESCE(bool_or(tenant = $2), false), COALESCE(bool_or(tenant <> $2), false) FROM \(names.view) WHERE instance = $1
            """, [.text(instance), .text(tenant)], on: connection).first
        return InstanceOwners(tenant: row?[0] == "t", others: row?[1] == "t")
    }

    /// The tenants with current figures, sorted.
    public func tenants(on connection: PostgresConnection) throws(TotalsQueryError) -> [String] {
        try run("listing the tenants", "SELECT DISTINCT tenant FROM \(names.view) ORDER BY tenant", on: connection).compactMap { $0[0] }
    }

    /// The UTC day (`YYYY-MM-DD`) of `tenant`'s latest hour with a current figure; nil when it has none.
    public func latestDay(of tenant: String, on connection: PostgresConnection) throws(TotalsQueryError) -> String? {
        try run("finding the tenant's latest day", """
            SELECT to_char(max(window_start) AT TIME ZONE 'UTC', 'YYYY-MM-DD') FROM \(names.view) WHERE tenant = $1
            """, [.text(tenant)], on: connection).first?[0]
    }

    /// Checks that the view of current figures exists and answers (a readiness probe).
    public func probe(on connection: PostgresConnection) throws(TotalsQueryError) {
        _ = try run("probing the current totals", "SELECT 1 FROM \(names.view) LIMIT 1", on: connection)
    }
}
