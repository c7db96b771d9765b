import Kafka
import Logging
import PostgreSQL
import UsageStandard

/// Reads the current totals back, as a billing consumer would: from the compacted totals topic (latest
/// record per key) and from the PostgreSQL table. Blocking: call from a dedicated thread.
public enum TotalsReader {
    /// The latest total per record key on `topic`, read from the beginning to the current end.
    public static func fromKafka(_ kafka: KafkaConfiguration, topic: String, logger: Logger) throws -> [UsageTotal] {
        var config = kafka
        config["group.id"] = "ferris-usage-reader"
        let consumer = try KafkaConsumer(configuration: config, logger: logger) { _, _ in [:] }
        defer { consumer.close() }
        let admin = try KafkaAdmin(configuration: kafka, logger: logger)
        guard let count = try admin.topics()[topic] else { return [] }
        let partitions = (0..<count).map { KafkaTopicPartition(topic: topic, partition: $0) }
        try consumer.assign(Dictionary(uniqueKeysWithValues: partitions.map { ($0, KafkaOffset.beginning) }))
        var latest: [String: UsageTotal] = [:]
        var positions: [KafkaTopicPartition: Int64] = [:]
        var failure: UsageDecodeError?
        let clock = ContinuousClock()
        let deadline = clock.now + .seconds(60)
        // The end is judged by the watermarks of fetch responses (some brokers answer ListOffsets with a stale end).
        func atEnd() -> Bool {
            partitions.allSatisfy { tp in
                guard let high = consumer.cachedWatermarks(tp)?.high else { return false }
                return (positions[tp] ?? 0) >= high
            }
        }
        while !atEnd() {
            guard clock.now < deadline else { throw UsageServiceError("timed out reading \(topic) to its end") }
            try consumer.poll(timeoutMilliseconds: 200) { record in
                positions[KafkaTopicPartition(topic: topic, partition: record.partition)] = record.offset + 1
                guard let key = record.key.map({ String(decoding: $0, as: UTF8.self) }) else { return }
                guard let value = record.value else {
                    latest[key] = nil
                    return
                }
                switch UsageTotalCodec.decode(Array(value)) {
                case .success(let total): latest[key] = total
                case .failure(let error): failure = error
                }
            }
        }
        if let failure { throw UsageServiceError("a record on \(topic) is not a usage total: \(failure)") }
        return Array(latest.values)
    }

    /// Every row of the totals table.
    public static func fromPostgres(url: String, table: String = "usage_totals", logger: Logger) throws -> [UsageTotal] {
        let db = try PostgresConnection(url: url, logger: logger)
        let rows = try db.query("""
            SELECT tenant, instance, component, metric,
                   to_char(window_start AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"'),
                   to_char(window_end AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"'),
                   quantity::text, unit, event_count, status, source_partition, last_offset
            FROM \(table)
            """)
        return try rows.map { row in
            guard let start = row[4].flatMap(Timestamp.parse), let end = row[5].flatMap(Timestamp.parse),
                  let quantityText = row[6], case .success(let quantity) = Quantity.parse(quantityText),
                  let count = row[8].flatMap({ Int64($0) }), let status = row[9].flatMap(TotalStatus.init(rawValue:)),
                  let offset = row[11].flatMap({ Int64($0) }) else {
                throw UsageServiceError("unexpected row in \(table): \(row.values)")
            }
            return UsageTotal(key: UsageKey(tenant: row[0] ?? "", instance: row[1] ?? "", component: row[2] ?? "",
                                            metric: row[3] ?? ""),
                              windowStart: start, windowEnd: end, quantity: quantity, unit: row[7] ?? "",
                              eventCount: count, status: status, sourcePartition: row[10] ?? "", lastOffset: offset)
        }
    }
}
