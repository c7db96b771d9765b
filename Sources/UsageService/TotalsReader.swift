import Kafka
import Logging
import PostgreSQL
import UsageStandard

/// Reads the current totals back, as a billing consumer would: from the compacted totals topic (latest
/// record per key) and from the PostgreSQL table. Blocking: call from a dedicated thread.
public enum TotalsReader {
    /// The current total per record key on `topic` (`read_committed`, from the beginning to the current end): per key
    /// the total that supersedes the others (`UsageTotal.supersedes`), left out when it is a retraction.
    public static func fromKafka(_ kafka: KafkaConfiguration, topic: String, logger: Logger) throws -> [UsageTotal] {
        var latest: [String: UsageTotal] = [:]
        var config = kafka
        config["isolation.level"] = "read_committed"
        try KafkaTopicReader.readAll(config, topic: topic, logger: logger) { record in
            guard let key = record.key.map({ String(decoding: $0, as: UTF8.self) }) else { return }
            guard let value = record.value else {
                latest[key] = nil
                return
            }
            switch UsageTotalCodec.decode(Array(value)) {
            case .success(let total): if latest[key].map({ total.supersedes($0) }) ?? true { latest[key] = total }
            case .failure(let error): throw UsageServiceError("a record on \(topic) is not a usage total: \(error)")
            }
        }
        return latest.values.filter { $0.status != .retracted }
    }

    /// The current totals (the view `table`: highest revision per key and window, retractions left out).
    public static func fromPostgres(url: String, table: String = "usage_totals", logger: Logger) throws -> [UsageTotal] {
        try read(PostgresConnection(url: url), from: table)
    }

    /// The totals in `relation` (the current-totals view or the revisions table) that meet `condition`.
    static func read(_ db: PostgresConnection, from relation: String, where condition: String = "true",
                     _ parameters: [PostgresValue] = []) throws -> [UsageTotal] {
        let rows = try db.query("""
            SELECT tenant, instance, component, metric,
                   to_char(window_start AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"'),
                   to_char(window_end AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"'),
                   quantity::text, unit, event_count, status, source_partition, last_offset, host_provider, revision
            FROM \(relation) WHERE \(condition)
            """, parameters)
        return try rows.map { row in
            guard let start = row[4].flatMap(Timestamp.parse), let end = row[5].flatMap(Timestamp.parse),
                  let quantityText = row[6], case .success(let quantity) = Quantity.parse(quantityText),
                  let count = row[8].flatMap({ Int64($0) }), let status = row[9].flatMap(TotalStatus.init(rawValue:)),
                  let offset = row[11].flatMap({ Int64($0) }), let revision = row[13].flatMap({ Int64($0) }) else {
                throw UsageServiceError("unexpected row in \(relation): \(row.values)")
            }
            return UsageTotal(key: UsageKey(tenant: row[0] ?? "", instance: row[1] ?? "", component: row[2] ?? "",
                                            metric: row[3] ?? ""),
                              windowStart: start, windowEnd: end, quantity: quantity, unit: row[7] ?? "",
                              eventCount: count, status: status, sourcePartition: row[10] ?? "", lastOffset: offset,
                              provider: row[12], revision: revision)
        }
    }
}
