import Kafka
import Logging
import PostgreSQL
import UsageStandard

/// Writes totals to PostgreSQL. Every accounting revision is kept: table `<table>_revisions` has one row per
/// (tenant, instance, component, metric, window start, revision); the view `<table>` shows the current figure of
/// each key and window (its highest revision, unless that revision retracted it), and `<table>_focus` shows the same
/// under FinOps FOCUS column names.
///
/// Writes are idempotent upserts with a monotonic guard: within a revision a row is only replaced by a total with a
/// larger or equal `(last_offset, final)`, so a re-delivered or older total never overwrites a newer one.
public final class PostgresTotalsSink {
    /// The view of current totals.
    public let table: String
    /// The table holding every revision.
    public var revisionsTable: String { table + "_revisions" }
    private let connection: PostgresConnection

    /// Connects and applies the schema migrations (idempotent; safe with several replicas starting at once).
    public init(url: String, table: String = "usage_totals", logger: Logger) throws(UsageServiceError) {
        guard table.allSatisfy({ $0.isLetter || $0.isNumber || $0 == "_" }), table.first?.isLetter == true else {
            throw UsageServiceError("invalid PostgreSQL table name '\(table)': use letters, digits and underscores")
        }
        self.table = table
        do {
            connection = try PostgresConnection(url: url)
            try Self.migrate(connection, table: table)
        } catch {
            throw UsageServiceError("PostgreSQL sink: \(error)")
        }
    }

    static func migrate(_ connection: PostgresConnection, table: String) throws(PostgresError) {
        try connection.transaction { db throws(PostgresError) in
            // Serialises concurrent migrations from several replicas.
            try db.query("SELECT pg_advisory_xact_lock(7305221)")
            // Before revisions, `<table>` was the table itself: it becomes revision 0 of the revisions table.
            let old = try db.query("SELECT 1 FROM pg_tables WHERE schemaname = current_schema() AND tablename = $1", [.text(table)])
            if !old.isEmpty {
                try db.query("ALTER TABLE \(table) RENAME TO \(table)_revisions")
                try db.query("ALTER TABLE \(table)_revisions ADD COLUMN IF NOT EXISTS host_provider text")
                try db.query("ALTER TABLE \(table)_revisions ADD COLUMN revision bigint NOT NULL DEFAULT 0")
                try db.query("ALTER TABLE \(table)_revisions DROP CONSTRAINT IF EXISTS \(table)_pkey")
                try db.query("ALTER TABLE \(table)_revisions DROP CONSTRAINT IF EXISTS \(table)_status_check")
                try db.query("""
                    ALTER TABLE \(table)_revisions ADD PRIMARY KEY (tenant, instance, component, metric, window_start, revision),
                        ADD CHECK (status IN ('provisional', 'final', 'retracted'))
                    """)
            }
            try db.query("""
                CREATE TABLE IF NOT EXISTS \(table)_revisions (
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
                    PRIMARY KEY (tenant, instance, component, metric, window_start, revision)
                )
                """)
            // Re-accountings (`ferris-usage replay`): each is a revision, staged per input partition and published at once.
            try db.query("""
                CREATE TABLE IF NOT EXISTS \(table)_replays (
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
            try db.query("""
                CREATE TABLE IF NOT EXISTS \(table)_replay_partitions (
                    revision   bigint  NOT NULL REFERENCES \(table)_replays,
                    topic      text    NOT NULL,
                    partition  integer NOT NULL,
                    records    bigint  NOT NULL,
                    totals     bigint  NOT NULL,
                    done_at    timestamptz NOT NULL DEFAULT now(),
                    PRIMARY KEY (revision, topic, partition)
                )
                """)
            // The current figure: the highest published revision (0 is the live accounting), unless it retracted it.
            try db.query("""
                CREATE OR REPLACE VIEW \(table) AS
                SELECT * FROM (
                    SELECT DISTINCT ON (r.tenant, r.instance, r.component, r.metric, r.window_start) r.*
                    FROM \(table)_revisions r
                    WHERE r.revision = 0 OR EXISTS (
                        SELECT 1 FROM \(table)_replays p WHERE p.revision = r.revision AND p.published_at IS NOT NULL)
                    ORDER BY r.tenant, r.instance, r.component, r.metric, r.window_start, r.revision DESC
                ) AS latest
                WHERE status <> 'retracted'
                """)
            // The current totals under FinOps FOCUS column names, for billing tools that read FOCUS.
            try db.query("""
                CREATE OR REPLACE VIEW \(table)_focus AS
                SELECT window_start AS "ChargePeriodStart", window_end AS "ChargePeriodEnd",
                       'Usage'::text AS "ChargeCategory", quantity AS "ConsumedQuantity", unit AS "ConsumedUnit",
                       tenant AS "SubAccountId", instance AS "ResourceId", component AS "ServiceName",
                       host_provider AS "HostProviderName", metric AS "x_Metric", event_count AS "x_EventCount",
                       status AS "x_Status", revision AS "x_Revision"
                FROM \(table)
                """)
        }
    }

    /// Upserts `totals` (see the type's documentation for the guard).
    public func write(_ totals: [UsageTotal]) throws(UsageServiceError) {
        guard !totals.isEmpty else { return }
        do {
            try connection.reconnectIfNeeded()
            try Self.upsert(totals, into: revisionsTable, on: connection)
        } catch {
            throw UsageServiceError("PostgreSQL sink could not write \(totals.count) totals: \(error)")
        }
    }

    /// The guarded upsert of `totals` into a revisions table, as one statement.
    static func upsert(_ totals: [UsageTotal], into revisionsTable: String, on db: PostgresConnection) throws(PostgresError) {
        guard !totals.isEmpty else { return }
        let columns: [(UsageTotal) -> String?] = [
            { $0.key.tenant }, { $0.key.instance }, { $0.key.component }, { $0.key.metric },
            { $0.windowStart.rfc3339 }, { $0.windowEnd.rfc3339 }, { $0.quantity.description }, { $0.unit },
            { String($0.eventCount) }, { $0.status.rawValue }, { $0.sourcePartition }, { String($0.lastOffset) },
            { $0.provider }, { String($0.revision) },
        ]
        let parameters = columns.map { column in PostgresValue.text(Self.arrayLiteral(totals.map(column))) }
        // DISTINCT ON keeps one row per key (the newest) should a batch hold several versions of one total.
        let sql = """
            INSERT INTO \(revisionsTable) AS t (tenant, instance, component, metric, window_start, window_end, quantity,
                                       unit, event_count, status, source_partition, last_offset, host_provider, revision)
            SELECT DISTINCT ON (tenant, instance, component, metric, window_start, revision) * FROM unnest(
                $1::text[], $2::text[], $3::text[], $4::text[], $5::timestamptz[], $6::timestamptz[], $7::numeric[],
                $8::text[], $9::bigint[], $10::text[], $11::text[], $12::bigint[], $13::text[], $14::bigint[])
                AS u(tenant, instance, component, metric, window_start, window_end, quantity, unit, event_count, status,
                     source_partition, last_offset, host_provider, revision)
            ORDER BY tenant, instance, component, metric, window_start, revision, last_offset DESC, status = 'final' DESC
            ON CONFLICT (tenant, instance, component, metric, window_start, revision) DO UPDATE SET
                window_end = EXCLUDED.window_end, quantity = EXCLUDED.quantity, unit = EXCLUDED.unit,
                event_count = EXCLUDED.event_count, status = EXCLUDED.status,
                source_partition = EXCLUDED.source_partition, last_offset = EXCLUDED.last_offset,
                host_provider = EXCLUDED.host_provider, updated_at = now()
            WHERE (t.last_offset, t.status = 'final') <= (EXCLUDED.last_offset, EXCLUDED.status = 'final')
            """
        try db.query(sql, parameters)
    }

    /// A PostgreSQL array literal; every element quoted and escaped, so any text is safe (nil is NULL).
    static func arrayLiteral(_ values: [String?]) -> String {
        var bytes: [UInt8] = [UInt8(ascii: "{")]
        for (index, value) in values.enumerated() {
            if index > 0 { bytes.append(UInt8(ascii: ",")) }
            guard let value else {
                bytes.append(literal: "NULL")
                continue
            }
            bytes.append(UInt8(ascii: "\""))
            for byte in value.utf8 {
                if byte == UInt8(ascii: "\"") || byte == UInt8(ascii: "\\") { bytes.append(UInt8(ascii: "\\")) }
                bytes.append(byte)
            }
            bytes.append(UInt8(ascii: "\""))
        }
        bytes.append(UInt8(ascii: "}"))
        return String(decoding: bytes, as: UTF8.self)
    }
}

/// An error of the service, saying what failed and what to do.
public struct UsageServiceError: Error, CustomStringConvertible, Sendable {
    /// What was wrong and what to do.
    public let message: String

    /// Creates an error.
    public init(_ message: String) { self.message = message }

    public var description: String { message }
}
