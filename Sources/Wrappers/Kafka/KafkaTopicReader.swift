import Logging

/// Reads a whole topic from its beginning to its current end, outside any consumer group (for tools and tests).
public enum KafkaTopicReader {
    /// Hands every record of `topic` to `body`, in order per partition, and returns once each partition's end
    /// (as reported by fetch responses) is reached. Blocking: call from a dedicated thread.
    public static func readAll(_ configuration: KafkaConfiguration, topic: String, logger: Logger,
                               timeoutSeconds: Int = 60, _ body: (KafkaRecord) throws -> Void) throws {
        var adminConfiguration = configuration
        adminConfiguration["isolation.level"] = nil  // a consumer property; the admin client is a producer handle
        let admin = try KafkaAdmin(configuration: adminConfiguration, logger: logger)
        guard let count = try admin.topics()[topic] else { return }
        var config = configuration
        config["group.id"] = "ferris-usage-reader"
        config["enable.partition.eof"] = "true"
        let consumer = try KafkaConsumer(configuration: config, logger: logger) { _, _ in [:] }
        defer { consumer.close() }
        let partitions = (0..<count).map { KafkaTopicPartition(topic: topic, partition: $0) }
        try consumer.assign(Dictionary(uniqueKeysWithValues: partitions.map { ($0, KafkaOffset.beginning) }))
        let clock = ContinuousClock()
        let deadline = clock.now + .seconds(timeoutSeconds)
        while !consumer.hasReachedEnd(of: partitions) {
            guard clock.now < deadline else {
                let positions = consumer.positions(partitions)
                let state = partitions.map { tp in
                    "\(tp.partition): position \(positions[tp] ?? -1), end \(consumer.cachedWatermarks(tp).map { String($0.high) } ?? "unknown")"
                }
                throw KafkaError(.timeout, "reading \(topic) to its end took longer than \(timeoutSeconds) s (\(state.joined(separator: "; ")))")
            }
            try consumer.poll(timeoutMilliseconds: 200, body)
        }
    }
}
