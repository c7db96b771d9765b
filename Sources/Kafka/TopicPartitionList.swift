import CRdKafka
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// An offset to commit for one partition, with optional metadata stored by the group coordinator.
public struct KafkaCommittedOffset: Sendable, Equatable {
    /// The topic-partition.
    public var topicPartition: KafkaTopicPartition
    /// The next offset to consume ("last processed + 1"); negative when the group has none.
    public var offset: Int64
    /// The metadata string committed with the offset, empty when none.
    public var metadata: String

    /// Creates a committed offset.
    public init(_ topicPartition: KafkaTopicPartition, offset: Int64, metadata: String = "") {
        self.topicPartition = topicPartition
        self.offset = offset
        self.metadata = metadata
    }
}

/// Owned wrapper around `rd_kafka_topic_partition_list_t`.
final class TopicPartitionList {
    let pointer: UnsafeMutablePointer<rd_kafka_topic_partition_list_t>

    init(capacity: Int) {
        // rd_kafka_topic_partition_list_new only fails when out of memory, which aborts anyway.
        pointer = rd_kafka_topic_partition_list_new(Int32(max(capacity, 1)))
    }

    convenience init(_ partitions: [KafkaTopicPartition]) {
        self.init(capacity: partitions.count)
        for tp in partitions { add(tp) }
    }

    deinit { rd_kafka_topic_partition_list_destroy(pointer) }

    func add(_ tp: KafkaTopicPartition, offset: Int64? = nil, metadata: String = "") {
        // librdkafka aborts on allocation failure, so the element is always there.
        guard let element = rd_kafka_topic_partition_list_add(pointer, tp.topic, tp.partition) else { return }
        if let offset { element.pointee.offset = offset }
        let bytes = Array(metadata.utf8)
        // librdkafka frees element metadata with the list, so it must come from malloc.
        if !bytes.isEmpty, let buffer = malloc(bytes.count) {
            bytes.withUnsafeBytes { buffer.copyMemory(from: $0.baseAddress ?? UnsafeRawPointer(buffer), byteCount: bytes.count) }
            element.pointee.metadata = buffer
            element.pointee.metadata_size = bytes.count
        }
    }

    /// The elements as Swift values.
    var elements: [(tp: KafkaTopicPartition, offset: Int64, metadata: String, error: rd_kafka_resp_err_t)] {
        Self.elements(of: pointer)
    }

    static func elements(of list: UnsafeMutablePointer<rd_kafka_topic_partition_list_t>)
        -> [(tp: KafkaTopicPartition, offset: Int64, metadata: String, error: rd_kafka_resp_err_t)] {
        (0..<Int(list.pointee.cnt)).map { index in
            let element = list.pointee.elems[index]
            let metadata: String
            if let raw = element.metadata, element.metadata_size > 0 {
                metadata = String(decoding: UnsafeRawBufferPointer(start: raw, count: element.metadata_size), as: UTF8.self)
            } else {
                metadata = ""
            }
            return (KafkaTopicPartition(topic: String(cString: element.topic), partition: element.partition),
                    element.offset, metadata, element.err)
        }
    }
}
