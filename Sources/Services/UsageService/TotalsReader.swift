import Kafka
import Logging
import UsagePostgres
import UsageStandard

/// Reads the current figures back, as a billing consumer would: from the compacted totals topic and from the
/// PostgreSQL view. Blocking: call from a dedicated thread.
public enum TotalsReader {
    /// The current figures on `topic` (`read_committed`, from the beginning to the current end), by the standard's
    /// rule (`CurrentTotals`): per part the total that supersedes the others, per subject the parts of the highest
    /// revision summed, retractions left out.
    public static func fromKafka(_ kafka: KafkaConfiguration, topic: String, logger: Logger) throws -> [UsageTotal] {
        var current = CurrentTotals()
        var config = kafka
        config["isolation.level"] = "read_committed"
        try KafkaTopicReader.readAll(config, topic: topic, logger: logger) { record in
            guard let key = record.key.map({ String(decoding: $0, as: UTF8.self) }) else { return }
            guard let value = record.value else {
                current.remove(recordKey: key)
                return
            }
            switch UsageTotalCodec.decode(Array(value)) {
            case .success(let total): current.add(total)
            case .failure(let error): throw UsageServiceError("a record on \(topic) is not a usage total: \(error)")
            }
        }
        return try current.figures()
    }

    /// The current figures in PostgreSQL (the view `table`).
    public static func fromPostgres(url: String, table: String = "usage_totals") throws -> [UsageTotal] {
        try TotalsTable(url: url, table: table).current()
    }
}
