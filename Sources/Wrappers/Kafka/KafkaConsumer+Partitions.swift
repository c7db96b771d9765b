import CRdKafka

/// Positions, pausing and offsets by time of the consumer's partitions.
extension KafkaConsumer {
    /// The consumer's fetch positions (next offset to be consumed) for `partitions`; negative when none is known yet
    /// (nothing fetched), absent for a partition librdkafka does not know.
    public func positions(_ partitions: [KafkaTopicPartition]) -> [KafkaTopicPartition: Int64] {
        let list = TopicPartitionList(partitions)
        guard list.withList({ rd_kafka_position(handle, $0) }) == RD_KAFKA_RESP_ERR_NO_ERROR else { return [:] }
        var result: [KafkaTopicPartition: Int64] = [:]
        for element in list.elements where element.error == RD_KAFKA_RESP_ERR_NO_ERROR { result[element.tp] = element.offset }
        return result
    }

    /// Stops fetching `partitions` (they stay assigned; `poll` still serves rebalances) until `resume`.
    public func pause(_ partitions: [KafkaTopicPartition]) throws(KafkaError) {
        guard !partitions.isEmpty else { return }
        let list = TopicPartitionList(partitions)
        let err = list.withList { rd_kafka_pause_partitions(handle, $0) }
        try Self.check(err, list, "pause")
    }

    /// Resumes fetching `partitions` paused with `pause`.
    public func resume(_ partitions: [KafkaTopicPartition]) throws(KafkaError) {
        guard !partitions.isEmpty else { return }
        let list = TopicPartitionList(partitions)
        let err = list.withList { rd_kafka_resume_partitions(handle, $0) }
        try Self.check(err, list, "resume")
    }

    /// Throws the call's error, or the first partition's.
    fileprivate static func check(_ err: rd_kafka_resp_err_t, _ list: TopicPartitionList, _ what: String) throws(KafkaError) {
        guard err == RD_KAFKA_RESP_ERR_NO_ERROR else {
            throw KafkaError(.operation, err, context: "\(what) \(list.elements.map(\.tp))")
        }
        for element in list.elements where element.error != RD_KAFKA_RESP_ERR_NO_ERROR {
            throw KafkaError(.operation, element.error, context: "\(what) \(element.tp)")
        }
    }

    /// For each partition, the earliest offset whose record timestamp is at or after `timestampMilliseconds`
    /// (every earlier record is older), or the end offset when there is none; asked of the broker.
    public func offsets(forTimestamp timestampMilliseconds: Int64, _ partitions: [KafkaTopicPartition],
                        timeoutMilliseconds: Int32 = 10_000) throws(KafkaError) -> [KafkaTopicPartition: Int64] {
        guard !partitions.isEmpty else { return [:] }
        let list = TopicPartitionList(capacity: partitions.count)
        for tp in partitions { list.add(tp, offset: timestampMilliseconds) }
        let err = list.withList { rd_kafka_offsets_for_times(handle, $0, timeoutMilliseconds) }
        guard err == RD_KAFKA_RESP_ERR_NO_ERROR else {
            throw KafkaError(.operation, err, context: "look up offsets by time for \(partitions)")
        }
        var result: [KafkaTopicPartition: Int64] = [:]
        for element in list.elements {
            guard element.error == RD_KAFKA_RESP_ERR_NO_ERROR else {
                throw KafkaError(.operation, element.error, context: "look up offset by time for \(element.tp)")
            }
            result[element.tp] = element.offset
        }
        return result
    }
}
