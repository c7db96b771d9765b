import Kafka
import Logging
import PostgreSQL
import UsageStandard

/// Writes totals to PostgreSQL: one row per (tenant, instance, component, metric, window start).
/// Re-emitting a total updates its row; a total older than the stored one (smaller `last_offset`) never
/// overwrites it. The partitions' checkpoints are written in the same transaction (table `<table>_checkpoints`).
public final class PostgresTotalsSink {
    /// The table totals are written to.
    public let table: String
    /// The table checkpoints are written to.
    public var checkpointTable: String { table + "_checkpoints" }
    private let connection: PostgresConnection

    /// Connects and applies the schema migrations (idempotent; safe with several replicas starting at once).
    public init(url: String, table: String = "usage_totals", logger: Logger) throws(UsageServiceError) {
        guard table.allSatisfy({ $0.isLetter || $0.isNumber || $0 == "_" }), table.first?.isLetter == true else {
            throw UsageServiceError("invalid PostgreSQL table name '\(table)': use letters, digits and underscores")
        }
        self.table = table
        do {
            connection = try PostgresConnection(url: url, logger: logger)
            try Self.migrate(connection, table: table)
        } catch {
            throw UsageServiceError("PostgreSQL sink: \(error)")
        }
    }

    static func migrate(_ connection: PostgresConnection, table: String) throws(PostgresError) {
        try connection.transaction { db throws(PostgresError) in
            // Serialises concurrent migrations from several replicas.
            try db.query("SELECT pg_advisory_xact_lock(7305221)")
            try db.query("""
                CREATE TABLE IF NOT EXISTS \(table) (
                    tenant           text        NOT NULL,
                    instance         text        NOT NULL,
                    component        text        NOT NULL,
                    metric           text        NOT NULL,
                    window_start     timestamptz NOT NULL,
                    window_end       timestamptz NOT NULL,
                    quantity         numeric(38, 6) NOT NULL,
                    unit             text        NOT NULL,
                    event_count      bigint      NOT NULL,
                    status           text        NOT NULL CHECK (status IN ('provisional', 'final')),
                    source_partition text        NOT NULL,
                    last_offset      bigint      NOT NULL,
                    updated_at       timestamptz NOT NULL DEFAULT now(),
                    PRIMARY KEY (tenant, instance, component, metric, window_start)
                )
                """)
            try db.query("ALTER TABLE \(table) ADD COLUMN IF NOT EXISTS host_provider text")
            // The totals under FinOps FOCUS column names, for billing tools that read FOCUS.
            try db.query("""
                CREATE OR REPLACE VIEW \(table)_focus AS
                SELECT window_start AS "ChargePeriodStart", window_end AS "ChargePeriodEnd",
                       'Usage'::text AS "ChargeCategory", quantity AS "ConsumedQuantity", unit AS "ConsumedUnit",
                       tenant AS "SubAccountId", instance AS "ResourceId", component AS "ServiceName",
                       host_provider AS "HostProviderName", metric AS "x_Metric", event_count AS "x_EventCount",
                       status AS "x_Status"
                FROM \(table)
                """)
            try db.query("""
                CREATE TABLE IF NOT EXISTS \(table)_checkpoints (
                    group_id      text        NOT NULL,
                    topic         text        NOT NULL,
                    partition     integer     NOT NULL,
                    next_offset   bigint      NOT NULL,
                    rebuild_from  bigint      NOT NULL,
                    watermark_ms  bigint,
                    updated_at    timestamptz NOT NULL DEFAULT now(),
                    PRIMARY KEY (group_id, topic, partition)
                )
                """)
        }
    }

    /// The stored checkpoints of `group` for `partitions`.
    public func checkpoints(group: String, partitions: [KafkaTopicPartition]) throws(UsageServiceError) -> [KafkaTopicPartition: Checkpoint] {
        guard !partitions.isEmpty else { return [:] }
        do {
            try connection.reconnectIfNeeded()
            let rows = try connection.query("""
                SELECT topic, partition, next_offset, rebuild_from, watermark_ms FROM \(checkpointTable)
                WHERE group_id = $1 AND (topic, partition) IN (SELECT * FROM unnest($2::text[], $3::integer[]))
                """, [.text(group), .text(Self.arrayLiteral(partitions.map(\.topic))),
                      .text(Self.arrayLiteral(partitions.map { String($0.partition) }))])
            var result: [KafkaTopicPartition: Checkpoint] = [:]
            for row in rows {
                guard let topic = row[0], let partition = row[1].flatMap({ Int32($0) }), let next = row[2].flatMap({ Int64($0) }),
                      let rebuild = row[3].flatMap({ Int64($0) }) else { continue }
                let tp = KafkaTopicPartition(topic: topic, partition: partition)
                result[tp] = Checkpoint(tp, nextOffset: next, rebuildFrom: rebuild,
                                        watermark: row[4].flatMap { Int64($0) }.map(Timestamp.init(milliseconds:)))
            }
            return result
        } catch {
            throw UsageServiceError("PostgreSQL sink could not read checkpoints: \(error)")
        }
    }

    /// Upserts `totals` and the `checkpoints` of `group` that they cover, in one transaction.
    public func write(_ totals: [UsageTotal], checkpoints: [Checkpoint] = [], group: String = "") throws(UsageServiceError) {
        guard !totals.isEmpty || !checkpoints.isEmpty else { return }
        let columns: [(UsageTotal) -> String?] = [
            { $0.key.tenant }, { $0.key.instance }, { $0.key.component }, { $0.key.metric },
            { $0.windowStart.rfc3339 }, { $0.windowEnd.rfc3339 }, { $0.quantity.description }, { $0.unit },
            { String($0.eventCount) }, { $0.status.rawValue }, { $0.sourcePartition }, { String($0.lastOffset) },
            { $0.provider },
        ]
        let parameters = columns.map { column in PostgresValue.text(Self.arrayLiteral(totals.map(column))) }
        let sql = """
            INSERT INTO \(table) AS t (tenant, instance, component, metric, window_start, window_end, quantity, unit,
                                       event_count, status, source_partition, last_offset, host_provider)
            SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::timestamptz[], $6::timestamptz[],
                                 $7::numeric[], $8::text[], $9::bigint[], $10::text[], $11::text[], $12::bigint[], $13::text[])
            ON CONFLICT (tenant, instance, component, metric, window_start) DO UPDATE SET
                window_end = EXCLUDED.window_end, quantity = EXCLUDED.quantity, unit = EXCLUDED.unit,
                event_count = EXCLUDED.event_count, status = EXCLUDED.status,
                source_partition = EXCLUDED.source_partition, last_offset = EXCLUDED.last_offset,
                host_provider = EXCLUDED.host_provider, updated_at = now()
            WHERE t.last_offset <= EXCLUDED.last_offset
            """
        let checkpointSQL = """
            INSERT INTO \(checkpointTable) AS c (group_id, topic, partition, next_offset, rebuild_from, watermark_ms)
            SELECT $1, * FROM unnest($2::text[], $3::integer[], $4::bigint[], $5::bigint[], $6::bigint[])
            ON CONFLICT (group_id, topic, partition) DO UPDATE SET
                next_offset = EXCLUDED.next_offset, rebuild_from = EXCLUDED.rebuild_from,
                watermark_ms = EXCLUDED.watermark_ms, updated_at = now()
            WHERE c.next_offset <= EXCLUDED.next_offset
            """
        let checkpointParameters: [PostgresValue] = [
            .text(group),
            .text(Self.arrayLiteral(checkpoints.map(\.topicPartition.topic))),
            .text(Self.arrayLiteral(checkpoints.map { String($0.topicPartition.partition) })),
            .text(Self.arrayLiteral(checkpoints.map { String($0.nextOffset) })),
            .text(Self.arrayLiteral(checkpoints.map { String($0.rebuildFrom) })),
            .text(Self.arrayLiteral(checkpoints.map { $0.watermark.map { String($0.milliseconds) } })),
        ]
        do {
            try connection.reconnectIfNeeded()
            try connection.transaction { db throws(PostgresError) in
                if !totals.isEmpty { try db.query(sql, parameters) }
                if !checkpoints.isEmpty { try db.query(checkpointSQL, checkpointParameters) }
            }
        } catch {
            throw UsageServiceError("PostgreSQL sink could not write \(totals.count) totals: \(error)")
        }
    }

    /// A PostgreSQL array literal; every element quoted and escaped, so any text is safe (nil is NULL).
    static func arrayLiteral(_ values: [String?]) -> String {
        var out = "{"
        for (index, value) in values.enumerated() {
            if index > 0 { out += "," }
            guard let value else {
                out += "NULL"
                continue
            }
            out += "\""
            for character in value.unicodeScalars {
                if character == "\"" || character == "\\" { out += "\\" }
                out.unicodeScalars.append(character)
            }
            out += "\""
        }
        return out + "}"
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
