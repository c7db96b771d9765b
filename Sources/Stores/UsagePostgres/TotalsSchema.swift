import PostgreSQL

/// The PostgreSQL schema of the totals, applied by `TotalsSchema.migrate` (idempotent; safe with several replicas
/// starting at once):
///
/// - `<table>_revisions`: every accounting revision of every part of every total, one row per tenant, instance,
///   component, metric, window start, input partition (`source_partition`) and revision;
/// - `<table>_replays` and `<table>_replay_partitions`: the re-accountings (`ferris-usage replay`), each a revision;
/// - the view `<table>`: the current figure of each key and window: its parts of the highest published revision
///   (0 is the live accounting) summed, retractions left out, `final` once every part is final (see the standard's
///   "Which total is current");
/// - the view `<table>_focus`: the same under FinOps FOCUS column names.
public enum TotalsSchema {
    /// Checks that `table` is a plain SQL identifier (it is spliced into statements): the rule of `TotalsTableName`.
    public static func validate(table: String) throws(TotalsStoreError) {
        _ = try TotalsTableName(table)
    }

    /// Creates or upgrades the schema of the totals table `names`.
    public static func migrate(_ connection: PostgresConnection, names: TotalsTableName) throws(PostgresError) {
        try connection.transaction { db throws(PostgresError) in
            // Serialises concurrent migrations from several replicas.
            try db.query("SELECT pg_advisory_xact_lock(7305221)")
            try upgradeFromSingleTable(db, names: names)
            try db.query("""
                CREATE TABLE IF NOT EXISTS \(names.revisions) (
                    tenant           text        NOT NULL,
                    instance         text        NOT NULL,
                    component        text        NOT NULL,
                    metric           text        NOT NULL,
                    window_start     timestamptz NOT NULL,
                    window_end       timestamptz NOT NULL,
                    quantity         numeric(38, 6) NOT NULL,
                    unit             text        NOT NULL,
                    event_count      bigint      NOT NULL,
                    status           text        NOT NULL CHECK (status IN ('provisional', 'final', 'retracted')),
                    source_partition text        NOT NULL,
                    last_offset      bigint      NOT NULL,
                    updated_at       timestamptz NOT NULL DEFAULT now(),
                    host_provider    text,
                    revision         bigint      NOT NULL DEFAULT 0,
                    PRIMARY KEY (tenant, instance, component, metric, window_start, source_partition, revision)
                )
                """)
            try upgradeToParts(db, names: names)
            // Room on each page for the sink's updates of a total (provisional, then final) to stay on the page
            // ("HOT" updates: no new index entries): measured 20-25 % faster upserts. Applies to pages written from now on.
            let filled = try db.query("""
                SELECT 1 FROM pg_class, unnest(coalesce(reloptions, '{}')) AS option
                WHERE oid = $1::regclass AND option LIKE 'fillfactor=%'
                """, [.text(names.revisions)])
            if filled.isEmpty { try db.query("ALTER TABLE \(names.revisions) SET (fillfactor = 80)") }
            // Re-accountings (revision > 0) are few rows among the live ones: the replay's diff finds them through this
            // index, not by reading the whole table. Asked first: CREATE INDEX locks out writes even when the index
            // exists. (Built once, on an existing table, it blocks the sinks' writes for one scan of the table.)
            let indexed = try db.query("SELECT to_regclass($1) IS NOT NULL", [.text(names.revisionsReplayedIndex)])
            if indexed.first?[0] != "t" {
                try db.query("CREATE INDEX IF NOT EXISTS \(names.revisionsReplayedIndex) ON \(names.revisions) (revision) WHERE revision > 0")
            }
            try db.query("""
                CREATE TABLE IF NOT EXISTS \(names.replays) (
                    revision      bigserial   PRIMARY KEY,
                    range_start   timestamptz NOT NULL,
                    range_end     timestamptz NOT NULL,
                    tenant        text,
                    topology      text        NOT NULL,
                    started_at    timestamptz NOT NULL DEFAULT now(),
                    published_at  timestamptz,
                    abandoned_at  timestamptz
                )
                """)
            // A replay's totals before it is compared and published (loaded with COPY, no keys: a partition is staged
            // whole, in one transaction with its row in `_replay_partitions`).
            try db.query("""
                CREATE TABLE IF NOT EXISTS \(names.replayStaging) (
                    revision         bigint      NOT NULL,
                    tenant           text        NOT NULL,
                    instance         text        NOT NULL,
                    component        text        NOT NULL,
                    metric           text        NOT NULL,
                    window_start     timestamptz NOT NULL,
                    window_end       timestamptz NOT NULL,
                    quantity         numeric(38, 6) NOT NULL,
                    unit             text        NOT NULL,
                    event_count      bigint      NOT NULL,
                    source_partition text        NOT NULL,
                    last_offset      bigint      NOT NULL,
                    host_provider    text
                )
                """)
            try db.query("CREATE INDEX IF NOT EXISTS \(names.replayStagingRevisionIndex) ON \(names.replayStaging) (revision)")
            try db.query("""
                CREATE TABLE IF NOT EXISTS \(names.replayPartitions) (
                    revision   bigint  NOT NULL REFERENCES \(names.replays),
                    topic      text    NOT NULL,
                    partition  integer NOT NULL,
                    records    bigint  NOT NULL,
                    totals     bigint  NOT NULL,
                    done_at    timestamptz NOT NULL DEFAULT now(),
                    PRIMARY KEY (revision, topic, partition)
                )
                """)
            // The current figure: per key and window, the parts of the highest published revision (0 is the live
            // accounting), retractions left out, summed per unit. The window function keeps filters on the key
            // columns pushed down into the revisions table. Column order and types are those of earlier versions
            // (CREATE OR REPLACE VIEW may only add columns at the end): `parts` is new.
            try db.query("""
                CREATE OR REPLACE VIEW \(names.view) AS
                SELECT tenant, instance, component, metric, window_start, min(window_end) AS window_end,
                       sum(quantity)::numeric(38, 6) AS quantity, unit, sum(event_count)::bigint AS event_count,
                       CASE WHEN bool_and(status = 'final') THEN 'final' ELSE 'provisional' END AS status,
                       string_agg(source_partition, ',' ORDER BY source_partition) AS source_partition,
                       max(last_offset) AS last_offset, max(updated_at) AS updated_at, min(host_provider) AS host_provider,
                       revision, count(*) AS parts
                FROM (
                    SELECT r.*, max(r.revision) OVER (PARTITION BY r.tenant, r.instance, r.component, r.metric, r.window_start)
                               AS current_revision
                    FROM \(names.revisions) r
                    WHERE r.revision = 0 OR EXISTS (
                        SELECT 1 FROM \(names.replays) p WHERE p.revision = r.revision AND p.published_at IS NOT NULL)
                ) AS published
                WHERE revision = current_revision AND status <> 'retracted'
                GROUP BY tenant, instance, component, metric, window_start, unit, revision
                """)
            try db.query("""
                CREATE OR REPLACE VIEW \(names.focusView) AS
                SELECT window_start AS "ChargePeriodStart", window_end AS "ChargePeriodEnd",
                       'Usage'::text AS "ChargeCategory", quantity AS "ConsumedQuantity", unit AS "ConsumedUnit",
                       tenant AS "SubAccountId", instance AS "ResourceId", component AS "ServiceName",
                       host_provider AS "HostProviderName", metric AS "x_Metric", event_count AS "x_EventCount",
                       status AS "x_Status", revision AS "x_Revision"
                FROM \(names.view)
                """)
        }
    }

    /// Before revisions, `<table>` was the table itself: it becomes revision 0 of the revisions table.
    private static func upgradeFromSingleTable(_ db: PostgresConnection, names: TotalsTableName) throws(PostgresError) {
        let old = try db.query("SELECT 1 FROM pg_tables WHERE schemaname = current_schema() AND tablename = $1", [.text(names.view)])
        guard !old.isEmpty else { return }
        try db.query("ALTER TABLE \(names.view) RENAME TO \(names.revisions)")
        try db.query("ALTER TABLE \(names.revisions) ADD COLUMN IF NOT EXISTS host_provider text")
        try db.query("ALTER TABLE \(names.revisions) ADD COLUMN revision bigint NOT NULL DEFAULT 0")
        try db.query("ALTER TABLE \(names.revisions) DROP CONSTRAINT IF EXISTS \(names.legacyPrimaryKey)")
        try db.query("ALTER TABLE \(names.revisions) DROP CONSTRAINT IF EXISTS \(names.legacyStatusCheck)")
        try db.query("""
            ALTER TABLE \(names.revisions)
                ADD PRIMARY KEY (tenant, instance, component, metric, window_start, source_partition, revision),
                ADD CHECK (status IN ('provisional', 'final', 'retracted'))
            """)
    }

    /// Before parts, a key and window had one row per revision (the input partition was not part of the key).
    private static func upgradeToParts(_ db: PostgresConnection, names: TotalsTableName) throws(PostgresError) {
        let keyed = try db.query("""
            SELECT 1 FROM pg_index i JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = ANY (i.indkey)
            WHERE i.indrelid = $1::regclass AND i.indisprimary AND a.attname = 'source_partition'
            """, [.text(names.revisions)])
        guard keyed.isEmpty else { return }
        try db.query("ALTER TABLE \(names.revisions) DROP CONSTRAINT IF EXISTS \(names.revisionsPrimaryKey)")
        try db.query("""
            ALTER TABLE \(names.revisions)
                ADD PRIMARY KEY (tenant, instance, component, metric, window_start, source_partition, revision)
            """)
    }
}

/// A problem with the totals store that is not PostgreSQL's own error: what was wrong and what to do.
public struct TotalsStoreError: Error, CustomStringConvertible, Sendable {
    /// What was wrong and what to do.
    public let message: String

    /// Creates an error.
    public init(_ message: String) { self.message = message }

    public var description: String { message }
}
