import PostgreSQL
import UsageStandard

/// The totals in PostgreSQL (schema: `TotalsSchema`): the sink's guarded upserts and the readers of current figures.
///
/// Writes are idempotent upserts with a monotonic guard: a row (one part of one total in one revision) is only
/// replaced by a total with a larger or equal `(last_offset, final)` of the same part, so a re-delivered or older
/// total never overwrites a newer one, and offsets of different input partitions are never compared.
/// Blocking: use from one thread at a time, off Swift's cooperative pool.
public final class TotalsTable {
    /// The view of current figures.
    public let table: String
    /// The table holding every revision of every part.
    public var revisionsTable: String { table + "_revisions" }
    let connection: PostgresConnection

    /// Connects and applies the schema migrations.
    public init(url: String, table: String = "usage_totals") throws(TotalsStoreError) {
        try TotalsSchema.validate(table: table)
        self.table = table
        do {
            connection = try PostgresConnection(url: url)
            try TotalsSchema.migrate(connection, table: table)
        } catch {
            throw TotalsStoreError("PostgreSQL totals table \(table): \(error)")
        }
    }

    /// Upserts `totals` (see the type's documentation for the guard), reconnecting first if the connection was lost.
    public func write(_ totals: [UsageTotal]) throws(TotalsStoreError) {
        guard !totals.isEmpty else { return }
        do {
            try connection.reconnectIfNeeded()
            try Self.upsert(totals, into: revisionsTable, on: connection)
        } catch {
            throw TotalsStoreError("could not write \(totals.count) totals to PostgreSQL: \(error)")
        }
    }

    /// The current figures (the view), optionally only those of windows starting in `from..<to` and of one tenant.
    public func current(from: Timestamp? = nil, to: Timestamp? = nil, tenant: String? = nil) throws(TotalsStoreError) -> [UsageTotal] {
        do {
            return try Self.read(connection, from: table, where: Self.rangeCondition, Self.rangeParameters(from, to, tenant))
        } catch {
            throw TotalsStoreError("could not read the current totals from \(table): \(error)")
        }
    }

    static let rangeCondition = "($1::timestamptz IS NULL OR window_start >= $1) AND ($2::timestamptz IS NULL OR window_start < $2) AND ($3::text IS NULL OR tenant = $3)"

    static func rangeParameters(_ from: Timestamp?, _ to: Timestamp?, _ tenant: String?) -> [PostgresValue] {
        [from.map { .text($0.rfc3339) } ?? .null, to.map { .text($0.rfc3339) } ?? .null, tenant.map(PostgresValue.text) ?? .null]
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
        let parameters = columns.map { column in PostgresValue.text(PostgresArray.literal(totals.map(column))) }
        // DISTINCT ON keeps one row per part (the newest) should a batch hold several versions of one total.
        let sql = """
            INSERT INTO \(revisionsTable) AS t (tenant, instance, component, metric, window_start, window_end, quantity,
                                       unit, event_count, status, source_partition, last_offset, host_provider, revision)
            SELECT DISTINCT ON (tenant, instance, component, metric, window_start, source_partition, revision) * FROM unnest(
                $1::text[], $2::text[], $3::text[], $4::text[], $5::timestamptz[], $6::timestamptz[], $7::numeric[],
                $8::text[], $9::bigint[], $10::text[], $11::text[], $12::bigint[], $13::text[], $14::bigint[])
                AS u(tenant, instance, component, metric, window_start, window_end, quantity, unit, event_count, status,
                     source_partition, last_offset, host_provider, revision)
            ORDER BY tenant, instance, component, metric, window_start, source_partition, revision,
                     last_offset DESC, status = 'final' DESC
            ON CONFLICT (tenant, instance, component, metric, window_start, source_partition, revision) DO UPDATE SET
                window_end = EXCLUDED.window_end, quantity = EXCLUDED.quantity, unit = EXCLUDED.unit,
                event_count = EXCLUDED.event_count, status = EXCLUDED.status, last_offset = EXCLUDED.last_offset,
                host_provider = EXCLUDED.host_provider, updated_at = now()
            WHERE (t.last_offset, t.status = 'final') <= (EXCLUDED.last_offset, EXCLUDED.status = 'final')
            """
        try db.query(sql, parameters)
    }

    /// The totals in `relation` (the current-figures view or the revisions table) that meet `condition`.
    static func read(_ db: PostgresConnection, from relation: String, where condition: String = "true",
                     _ parameters: [PostgresValue] = []) throws(PostgresError) -> [UsageTotal] {
        try totals(db.query("SELECT \(selectColumns) FROM \(relation) WHERE \(condition)", parameters), relation: relation)
    }

    /// The columns `totals(_:relation:)` reads, in its order.
    static let selectColumns = """
        tenant, instance, component, metric,
        to_char(window_start AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"'),
        to_char(window_end AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"'),
        quantity::text, unit, event_count, status, source_partition, last_offset, host_provider, revision
        """

    /// Totals from rows of `selectColumns`.
    static func totals(_ rows: [PostgresRow], relation: String) throws(PostgresError) -> [UsageTotal] {
        var totals: [UsageTotal] = []
        totals.reserveCapacity(rows.count)
        for row in rows {
            guard let start = row[4].flatMap(Timestamp.parse), let end = row[5].flatMap(Timestamp.parse),
                  let quantityText = row[6], case .success(let quantity) = Quantity.parse(quantityText),
                  let count = row[8].flatMap({ Int64($0) }), let status = row[9].flatMap(TotalStatus.init(rawValue:)),
                  let offset = row[11].flatMap({ Int64($0) }), let revision = row[13].flatMap({ Int64($0) }) else {
                throw PostgresError(.result, "unexpected row in \(relation): \(row.values)")
            }
            totals.append(UsageTotal(
                key: UsageKey(tenant: row[0] ?? "", instance: row[1] ?? "", component: row[2] ?? "", metric: row[3] ?? ""),
                windowStart: start, windowEnd: end, quantity: quantity, unit: row[7] ?? "", eventCount: count,
                status: status, sourcePartition: row[10] ?? "", lastOffset: offset, provider: row[12], revision: revision))
        }
        return totals
    }
}

/// PostgreSQL array literals for `unnest` parameters.
enum PostgresArray {
    /// A PostgreSQL array literal; every element quoted and escaped, so any text is safe (nil is NULL).
    static func literal(_ values: [String?]) -> String {
        var bytes: [UInt8] = [UInt8(ascii: "{")]
        for (index, value) in values.enumerated() {
            if index > 0 { bytes.append(UInt8(ascii: ",")) }
            guard let value else {
                bytes.append(contentsOf: "NULL".utf8)
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
