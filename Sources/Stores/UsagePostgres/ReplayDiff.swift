import PostgreSQL
import UsageStandard

/// What a re-accounting changes, figure by figure (a figure: one key, window and unit, its parts added up).
public struct ReplayDiff: Sendable {
    /// One figure that differs: the current one before the revision (nil: none) and the revision's (`retracted` with
    /// quantity 0 when the key has no usage any more).
    public struct Change: Sendable {
        /// The current figure before the revision, if any.
        public var old: UsageTotal?
        /// The revision's figure.
        public var new: UsageTotal
    }

    /// The figures that differ, by key and window.
    public var changes: [Change]
    /// Figures the revision leaves as they were.
    public var unchanged: Int
    /// Totals (parts and retractions) the revision holds: every part of each key and window whose figure changes.
    public var totals: Int
}

extension ReplayStore {
    /// Compares the revision's staged totals with the figures current for windows starting in `from..<to` (of `tenant`,
    /// if given), in SQL, and writes the revision into the revisions table: for each key and window whose figure
    /// changes, all its staged parts, and a `retracted` total for each of its current parts the revision no longer
    /// has. Keys and windows whose figures are unchanged keep their current revision (nothing is republished for
    /// them). Idempotent: a rerun (after an interruption) replaces what an earlier run wrote for the revision.
    public func diff(revision: Int64, from: Timestamp, to: Timestamp, tenant: String?) throws(TotalsStoreError) -> ReplayDiff {
        let revisions = names.revisions
        let rev = PostgresValue.text(String(revision))
        let range: [PostgresValue] = [.text(from.rfc3339), .text(to.rfc3339), tenant.map(PostgresValue.text) ?? .null]
        let key = "tenant, instance, component, metric, window_start"
        let published = "SELECT p.revision FROM \(names.replays) p WHERE p.published_at IS NOT NULL"
        // Comparing every figure (aggregating both sides and sorting for the current revision) took 17 s for a
        // million parts; a re-accounting changes few of them. So: (1) the keys and windows whose parts are not exactly
        // one identical part on each side, found by one hash join of parts, no aggregation and no sort (the current
        // parts: revision 0 unless a published replay of the key and window exists, found in the few rows of
        // revisions > 0); (2) the figures of those alone, compared as before. Every other key and window is one part,
        // equal on both sides: an unchanged figure. Several parts per figure stay correct (the join's cross product
        // flags them) but take the slow path.
        let flagged = """
            CREATE TEMP TABLE replay_keys ON COMMIT DROP AS
            WITH top AS MATERIALIZED (
                SELECT \(key), max(revision) AS revision
                FROM \(revisions)
                WHERE revision > 0 AND revision IN (\(published))
                  AND window_start >= $2::timestamptz AND window_start < $3::timestamptz AND ($4::text IS NULL OR tenant = $4::text)
                GROUP BY \(key)),
            current AS (
                SELECT r.tenant, r.instance, r.component, r.metric, r.window_start, r.source_partition, r.unit, r.quantity, r.event_count
                FROM \(revisions) r
                WHERE r.revision = 0 AND r.status <> 'retracted'
                  AND r.window_start >= $2::timestamptz AND r.window_start < $3::timestamptz AND ($4::text IS NULL OR r.tenant = $4::text)
                  AND NOT EXISTS (
                      SELECT FROM top t WHERE t.tenant = r.tenant AND t.instance = r.instance AND t.component = r.component
                                          AND t.metric = r.metric AND t.window_start = r.window_start)
                UNION ALL
                SELECT r.tenant, r.instance, r.component, r.metric, r.window_start, r.source_partition, r.unit, r.quantity, r.event_count
                FROM top t JOIN \(revisions) r USING (\(key), revision)
                WHERE r.status <> 'retracted'),
            staged AS (
                SELECT tenant, instance, component, metric, window_start, source_partition, unit, quantity, event_count
                FROM \(names.replayStaging) WHERE revision = $1)
            SELECT DISTINCT coalesce(s.tenant, c.tenant) AS tenant, coalesce(s.instance, c.instance) AS instance,
                   coalesce(s.component, c.component) AS component, coalesce(s.metric, c.metric) AS metric,
                   coalesce(s.window_start, c.window_start) AS window_start
            FROM staged s FULL JOIN current c
              ON s.tenant = c.tenant AND s.instance = c.instance AND s.component = c.component AND s.metric = c.metric
             AND s.window_start = c.window_start
            WHERE s.tenant IS NULL OR c.tenant IS NULL OR s.source_partition <> c.source_partition OR s.unit <> c.unit
               OR s.quantity <> c.quantity OR s.event_count <> c.event_count
            """
        // The parts of the current figures of those keys and windows: per key and window, the highest published
        // revision's.
        let currentParts = """
            CREATE TEMP TABLE replay_current ON COMMIT DROP AS
            SELECT * FROM (
                SELECT r.*, max(r.revision) OVER (PARTITION BY \(key)) AS current_revision
                FROM replay_keys k JOIN \(revisions) r USING (\(key))
                WHERE r.revision IN (SELECT 0 UNION ALL \(published))
                  AND r.window_start >= $1::timestamptz AND r.window_start < $2::timestamptz
                  AND ($3::text IS NULL OR r.tenant = $3::text)
            ) AS published WHERE revision = current_revision AND status <> 'retracted'
            """
        do {
            return try db.transaction { db throws(PostgresError) in
                // One snapshot for every statement: keys flagged and keys compared are judged against the same
                // current figures even while the live sink writes.
                try db.query("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ")
                // The part join's hash table (about 170 MB for a million parts) stays in memory; JIT compilation
                // cost more than it saved.
                try db.query("SET LOCAL work_mem = '256MB'")
                try db.query("SET LOCAL enable_mergejoin = off")
                try db.query("SET LOCAL jit = off")
                try db.query("DELETE FROM \(revisions) WHERE revision = $1", [rev])
                try db.query(flagged, [rev] + range)
                try db.query("ANALYZE replay_keys")
                try db.query("""
                    CREATE TEMP TABLE replay_staged ON COMMIT DROP AS
                    SELECT s.* FROM \(names.replayStaging) s JOIN replay_keys k USING (\(key)) WHERE s.revision = $1
                    """, [rev])
                try db.query(currentParts, range)
                try db.query("ANALYZE replay_staged, replay_current")
                try db.query("""
                    CREATE TEMP TABLE replay_figures ON COMMIT DROP AS
                    WITH new AS (
                        SELECT \(key), unit, sum(quantity) AS quantity, sum(event_count) AS event_count,
                               min(window_end) AS window_end, min(host_provider) AS host_provider
                        FROM replay_staged GROUP BY \(key), unit),
                    old AS (
                        SELECT \(key), unit, sum(quantity) AS quantity, sum(event_count) AS event_count,
                               min(window_end) AS window_end, min(host_provider) AS host_provider,
                               bool_and(status = 'final') AS final
                        FROM replay_current GROUP BY \(key), unit)
                    SELECT \(key), unit, o.quantity AS old_quantity, o.event_count AS old_count, o.final AS old_final,
                           n.quantity AS new_quantity, n.event_count AS new_count,
                           coalesce(n.window_end, o.window_end) AS window_end,
                           coalesce(n.host_provider, o.host_provider) AS host_provider,
                           (n.quantity IS DISTINCT FROM o.quantity OR n.event_count IS DISTINCT FROM o.event_count) AS changed
                    FROM new n FULL JOIN old o USING (\(key), unit)
                    """)
                try db.query("""
                    CREATE TEMP TABLE replay_changed ON COMMIT DROP AS
                    SELECT DISTINCT \(key) FROM replay_figures WHERE changed
                    """)
                try db.query("ANALYZE replay_changed")
                // The planner estimates joins of these temporary tables on five columns at one row and chose nested
                // loops over them: with 1 % of a million parts changed, the retractions' anti-join ran for minutes.
                try db.query("SET LOCAL enable_nestloop = off")
                let staged = try db.query("""
                    INSERT INTO \(revisions) (\(key), window_end, quantity, unit, event_count, status, source_partition,
                                              last_offset, host_provider, revision)
                    SELECT s.tenant, s.instance, s.component, s.metric, s.window_start, s.window_end, s.quantity, s.unit,
                           s.event_count, 'final', s.source_partition, s.last_offset, s.host_provider, s.revision
                    FROM replay_staged s JOIN replay_changed c USING (\(key))
                    RETURNING 1
                    """).count
                let retracted = try db.query("""
                    INSERT INTO \(revisions) (\(key), window_end, quantity, unit, event_count, status, source_partition,
                                              last_offset, host_provider, revision)
                    SELECT p.tenant, p.instance, p.component, p.metric, p.window_start, p.window_end, 0, p.unit, 0,
                           'retracted', p.source_partition, p.last_offset, p.host_provider, $1::bigint
                    FROM replay_current p JOIN replay_changed c USING (\(key))
                    WHERE NOT EXISTS (
                        SELECT 1 FROM replay_staged s
                        WHERE s.tenant = p.tenant AND s.instance = p.instance AND s.component = p.component
                          AND s.metric = p.metric AND s.window_start = p.window_start AND s.source_partition = p.source_partition)
                    RETURNING 1
                    """, [rev]).count
                // Every key and window not flagged is one staged part and one unchanged figure.
                let unchanged = try db.query("""
                    SELECT (SELECT count(*) FROM \(names.replayStaging) WHERE revision = $1)
                         - (SELECT count(*) FROM replay_staged)
                         + (SELECT count(*) FROM replay_figures WHERE NOT changed)
                    """, [rev])
                let rows = try db.query("""
                    SELECT tenant, instance, component, metric,
                           to_char(window_start AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"'),
                           to_char(window_end AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"'), unit,
                           old_quantity::text, old_count, old_final, new_quantity::text, new_count, host_provider
                    FROM replay_figures WHERE changed ORDER BY \(key), unit
                    """)
                return ReplayDiff(changes: try rows.map { row throws(PostgresError) in try Self.change(row, revision: revision) },
                                  unchanged: unchanged.first?[0].flatMap { Int($0) } ?? 0, totals: staged + retracted)
            }
        } catch {
            throw TotalsStoreError("could not compare revision \(revision) with the current totals: \(error)")
        }
    }

    /// A changed figure from a row of `replay_figures`.
    private static func change(_ row: PostgresRow, revision: Int64) throws(PostgresError) -> ReplayDiff.Change {
        guard let start = row[4].flatMap(Timestamp.parse), let end = row[5].flatMap(Timestamp.parse) else {
            throw PostgresError(.result, "unexpected figure row: \(row.values)")
        }
        func figure(_ quantity: String?, _ count: String?, _ status: TotalStatus, revision: Int64) throws(PostgresError) -> UsageTotal? {
            guard let quantity else { return nil }
            guard case .success(let value) = Quantity.parse(quantity), let events = count.flatMap({ Int64($0) }) else {
                throw PostgresError(.result, "unexpected figure row: \(row.values)")
            }
            return UsageTotal(key: UsageKey(tenant: row[0] ?? "", instance: row[1] ?? "", component: row[2] ?? "", metric: row[3] ?? ""),
                              windowStart: start, windowEnd: end, quantity: value, unit: row[6] ?? "", eventCount: events,
                              status: status, sourcePartition: "", lastOffset: 0, provider: row[12], revision: revision)
        }
        let old = try figure(row[7], row[8], row[9] == "t" ? .final : .provisional, revision: 0)
        let new: UsageTotal
        if let staged = try figure(row[10], row[11], .final, revision: revision) {
            new = staged
        } else if let retracted = try figure("0", "0", .retracted, revision: revision) {
            new = retracted
        } else {
            throw PostgresError(.result, "unexpected figure row: \(row.values)")
        }
        return ReplayDiff.Change(old: old, new: new)
    }
}
