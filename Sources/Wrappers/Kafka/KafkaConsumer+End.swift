extension KafkaConsumer {
    /// Whether every partition in `partitions` has been read to its end: the end the consumer reported
    /// (`enable.partition.eof=true`; for `read_committed`, the last stable offset, so an open or dangling transaction
    /// of another producer does not keep a reader from finishing), or else the end seen in fetch responses (some
    /// brokers answer ListOffsets with a stale end) against the consumer's position, which also moves past
    /// transaction markers (never delivered as records). A partition whose end no fetch response told yet is not at
    /// its end. This is the one "read to the end" rule of the package: the accounting loop's catch-up, the PostgreSQL
    /// sink, replays and whole-topic readers all use it.
    public func hasReachedEnd(of partitions: some Collection<KafkaTopicPartition>) -> Bool {
        let positions = positions(Array(partitions))
        return partitions.allSatisfy { tp in
            if reachedEnd.contains(tp) { return true }
            guard let (low, high) = cachedWatermarks(tp) else { return false }
            // No position until a record was delivered: an empty partition is read to its end already.
            let position = position(of: tp, in: positions).flatMap { $0 >= 0 ? $0 : nil } ?? low
            return position >= high
        }
    }

    /// Whether every partition in `ends` has been read up to its offset there: the consumer's position (which moves
    /// past aborted records and transaction markers too) or the last end it reported (`enable.partition.eof=true`)
    /// reached it. With offsets asked of the broker after a transaction was committed (`KafkaAdmin.endOffsets`), true
    /// means every record of that transaction was delivered, whenever fetch responses arrive; `hasReachedEnd` cannot
    /// promise that for records written after its last fetch response. Unlike `hasReachedEnd`, a `read_committed`
    /// reader waits here for another producer's transaction still open below those offsets to commit or abort.
    public func hasRead(upTo ends: [KafkaTopicPartition: Int64]) -> Bool {
        let positions = positions(Array(ends.keys))
        return ends.allSatisfy { tp, end in
            max(position(of: tp, in: positions) ?? -1, lastEndOffsets[tp] ?? -1) >= end
        }
    }

    /// The position of `tp`: where it was assigned while the assignment has delivered nothing yet (librdkafka may
    /// still report the previous assignment's position then), else librdkafka's.
    private func position(of tp: KafkaTopicPartition, in positions: [KafkaTopicPartition: Int64]) -> Int64? {
        if let start = startsNotYetDelivered[tp] { return start >= 0 ? start : nil }
        return positions[tp]
    }
}
