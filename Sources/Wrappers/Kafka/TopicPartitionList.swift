import CRdKafka

/// A consumer group's offset for one partition.
public struct KafkaCommittedOffset: Sendable, Equatable {
    /// The topic-partition.
    public var topicPartition: KafkaTopicPartition
    /// The next offset to consume ("last processed + 1"); negative when the group has none.
    public var offset: Int64

    /// Creates a committed offset.
    public init(_ topicPartition: KafkaTopicPartition, offset: Int64) {
        self.topicPartition = topicPartition
        self.offset = offset
    }
}

/// Owned wrapper around `rd_kafka_topic_partition_list_t`.
final class TopicPartitionList {
    private let pointer: UnsafeMutablePointer<rd_kafka_topic_partition_list_t>

    init(capacity: Int) {
        // rd_kafka_topic_partition_list_new only fails when out of memory, which aborts anyway.
        pointer = rd_kafka_topic_partition_list_new(Int32(max(capacity, 1)))
    }

    convenience init(_ partitions: [KafkaTopicPartition]) {
        self.init(capacity: partitions.count)
        for tp in partitions { add(tp) }
    }

    deinit { rd_kafka_topic_partition_list_destroy(pointer) }

    /// Calls `body` with the C list, keeping this owner (and so the list) alive until `body` returns. (Reading a
    /// stored `pointer` and passing it on would let an optimised build release the owner, and free the list, before
    /// the C call that uses it.)
    func withList<R>(_ body: (UnsafeMutablePointer<rd_kafka_topic_partition_list_t>) throws -> R) rethrows -> R {
        try withExtendedLifetime(self) { try body(pointer) }
    }

    func add(_ tp: KafkaTopicPartition, offset: Int64? = nil) {
        // librdkafka aborts on allocation failure, so the element is always there.
        guard let element = rd_kafka_topic_partition_list_add(pointer, tp.topic, tp.partition) else { return }
        if let offset { element.pointee.offset = offset }
    }

    /// The elements as Swift values.
    var elements: [(tp: KafkaTopicPartition, offset: Int64, error: rd_kafka_resp_err_t)] {
        Self.elements(of: pointer)
    }

    static func elements(of list: UnsafeMutablePointer<rd_kafka_topic_partition_list_t>)
        -> [(tp: KafkaTopicPartition, offset: Int64, error: rd_kafka_resp_err_t)] {
        (0..<Int(list.pointee.cnt)).map { index in
            let element = list.pointee.elems[index]
            return (KafkaTopicPartition(topic: string(element.topic), partition: element.partition),
                    element.offset, element.err)
        }
    }
}
