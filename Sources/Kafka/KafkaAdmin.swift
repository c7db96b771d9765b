import CRdKafka
import Logging

/// A topic to create.
public struct KafkaNewTopic: Sendable {
    /// The topic name.
    public var name: String
    /// The number of partitions.
    public var partitions: Int32
    /// The replication factor.
    public var replicationFactor: Int32
    /// Topic configs such as `cleanup.policy=compact` or `retention.ms`.
    public var configs: [String: String]

    /// Creates a topic description.
    public init(name: String, partitions: Int32, replicationFactor: Int32 = 1, configs: [String: String] = [:]) {
        self.name = name
        self.partitions = partitions
        self.replicationFactor = replicationFactor
        self.configs = configs
    }
}

/// Administrative operations: topic creation and metadata. Blocking, and not `Sendable`: call it from the one
/// thread that made it.
public final class KafkaAdmin {
    private let client: KafkaClientHandle

    /// Creates an admin client from a configuration (only connection properties are needed).
    public init(configuration: KafkaConfiguration, logger: Logger) throws(KafkaError) {
        client = try KafkaClientHandle(
            taking: try configuration.withDefaults(["log_level": rdkafkaLogLevel(for: logger.logLevel)])
                .makeHandle(RD_KAFKA_PRODUCER, "admin client"),
            logger: logger)
    }

    private var handle: OpaquePointer { client.pointer }

    /// Creates topics; a topic that already exists is not an error.
    public func createTopics(_ topics: [KafkaNewTopic], timeoutMilliseconds: Int32 = 30_000) throws(KafkaError) {
        guard !topics.isEmpty else { return }
        var errorBuffer = [CChar](repeating: 0, count: 512)
        var natives: [OpaquePointer?] = []
        defer { for topic in natives { rd_kafka_NewTopic_destroy(topic) } }
        for topic in topics {
            guard let native = rd_kafka_NewTopic_new(topic.name, topic.partitions, topic.replicationFactor,
                                                     &errorBuffer, errorBuffer.count) else {
                throw KafkaError(.operation, "topic '\(topic.name)' is invalid: \(string(fromBuffer: errorBuffer))")
            }
            natives.append(native)
            for (name, value) in topic.configs.sorted(by: { $0.key < $1.key }) {
                let err = rd_kafka_NewTopic_set_config(native, name, value)
                guard err == RD_KAFKA_RESP_ERR_NO_ERROR else {
                    throw KafkaError(.operation, err, context: "topic '\(topic.name)' config '\(name)'")
                }
            }
        }
        guard let queue = rd_kafka_queue_new(handle) else {
            throw KafkaError(.operation, "CreateTopics: librdkafka could not create a result queue (out of memory?)")
        }
        defer { rd_kafka_queue_destroy(queue) }
        guard let options = rd_kafka_AdminOptions_new(handle, RD_KAFKA_ADMIN_OP_CREATETOPICS) else {
            throw KafkaError(.operation, "CreateTopics: librdkafka could not create the request options")
        }
        defer { rd_kafka_AdminOptions_destroy(options) }
        let timeoutErr = rd_kafka_AdminOptions_set_operation_timeout(options, timeoutMilliseconds, &errorBuffer, errorBuffer.count)
        guard timeoutErr == RD_KAFKA_RESP_ERR_NO_ERROR else {
            throw KafkaError(.operation, code: timeoutErr.rawValue,
                             "CreateTopics: operation timeout \(timeoutMilliseconds) ms refused: \(string(fromBuffer: errorBuffer))")
        }
        natives.withUnsafeMutableBufferPointer { buffer in
            rd_kafka_CreateTopics(handle, buffer.baseAddress, buffer.count, options, queue)
        }
        guard let event = rd_kafka_queue_poll(queue, timeoutMilliseconds + 5_000) else {
            client.drain()
            throw KafkaError(.timeout, "CreateTopics got no answer within \(timeoutMilliseconds) ms; is the broker reachable?")
        }
        defer { rd_kafka_event_destroy(event) }
        client.drain()
        let err = rd_kafka_event_error(event)
        guard err == RD_KAFKA_RESP_ERR_NO_ERROR else {
            throw KafkaError(.operation, err, context: "CreateTopics")
        }
        var count = 0
        guard let result = rd_kafka_event_CreateTopics_result(event),
              let results = rd_kafka_CreateTopics_result_topics(result, &count), count == topics.count else {
            throw KafkaError(.operation, "CreateTopics: the answer does not hold a result for each of \(topics.map(\.name))")
        }
        for index in 0..<count {
            guard let topicResult = results[index] else {
                throw KafkaError(.operation, "CreateTopics: the answer lacks the result of topic \(index + 1)")
            }
            let topicErr = rd_kafka_topic_result_error(topicResult)
            if topicErr == RD_KAFKA_RESP_ERR_NO_ERROR || topicErr == RD_KAFKA_RESP_ERR_TOPIC_ALREADY_EXISTS { continue }
            let name = string(rd_kafka_topic_result_name(topicResult), or: "?")
            let text = string(rd_kafka_topic_result_error_string(topicResult), or: describe(topicErr))
            throw KafkaError(.operation, code: topicErr.rawValue, "create topic '\(name)': \(text)")
        }
    }

    /// The log end offsets (high watermarks: the offset after the last record written, committed or not) of
    /// `partitions`, asked of their leaders now (ListOffsets, `read_uncommitted`). Asked after a transaction was
    /// committed, every record of it lies below them (its commit marker may not yet, in Kafka the markers are
    /// written after the commit returns), so a reader that has read up to them has seen the transaction.
    public func endOffsets(of partitions: [KafkaTopicPartition],
                           timeoutMilliseconds: Int32 = 30_000) throws(KafkaError) -> [KafkaTopicPartition: Int64] {
        guard !partitions.isEmpty else { return [:] }
        let list = TopicPartitionList(capacity: partitions.count)
        for tp in partitions { list.add(tp, offset: Int64(RD_KAFKA_OFFSET_SPEC_LATEST.rawValue)) }
        guard let queue = rd_kafka_queue_new(handle) else {
            throw KafkaError(.operation, "ListOffsets: librdkafka could not create a result queue (out of memory?)")
        }
        defer { rd_kafka_queue_destroy(queue) }
        guard let options = rd_kafka_AdminOptions_new(handle, RD_KAFKA_ADMIN_OP_LISTOFFSETS) else {
            throw KafkaError(.operation, "ListOffsets: librdkafka could not create the request options")
        }
        defer { rd_kafka_AdminOptions_destroy(options) }
        list.withList { rd_kafka_ListOffsets(handle, $0, options, queue) }
        guard let event = rd_kafka_queue_poll(queue, timeoutMilliseconds) else {
            client.drain()
            throw KafkaError(.timeout, "ListOffsets got no answer within \(timeoutMilliseconds) ms; is the broker reachable?")
        }
        defer { rd_kafka_event_destroy(event) }
        client.drain()
        let err = rd_kafka_event_error(event)
        guard err == RD_KAFKA_RESP_ERR_NO_ERROR else { throw KafkaError(.operation, err, context: "ListOffsets") }
        var count = 0
        guard let result = rd_kafka_event_ListOffsets_result(event),
              let infos = rd_kafka_ListOffsets_result_infos(result, &count) else {
            throw KafkaError(.operation, "ListOffsets: the answer holds no result")
        }
        var ends: [KafkaTopicPartition: Int64] = [:]
        for index in 0..<count {
            guard let info = infos[index], let element = rd_kafka_ListOffsetsResultInfo_topic_partition(info) else { continue }
            let tp = KafkaTopicPartition(topic: string(element.pointee.topic), partition: element.pointee.partition)
            guard element.pointee.err == RD_KAFKA_RESP_ERR_NO_ERROR else {
                throw KafkaError(.operation, element.pointee.err, context: "ListOffsets of \(tp)")
            }
            ends[tp] = element.pointee.offset
        }
        guard ends.count == Set(partitions).count else {
            throw KafkaError(.operation, "ListOffsets: the answer lacks partitions of \(Set(partitions).subtracting(ends.keys).sorted { "\($0)" < "\($1)" })")
        }
        return ends
    }

    /// The topics the cluster knows, with their partition counts.
    public func topics(timeoutMilliseconds: Int32 = 10_000) throws(KafkaError) -> [String: Int32] {
        var metadata: UnsafePointer<rd_kafka_metadata>?
        let err = rd_kafka_metadata(handle, 1, nil, &metadata, timeoutMilliseconds)
        client.drain()
        guard err == RD_KAFKA_RESP_ERR_NO_ERROR, let metadata else {
            throw KafkaError(.operation, err, context: "fetch cluster metadata")
        }
        defer { rd_kafka_metadata_destroy(metadata) }
        var result: [String: Int32] = [:]
        for index in 0..<Int(metadata.pointee.topic_cnt) {
            let topic = metadata.pointee.topics[index]
            guard let name = topic.topic.map({ String(cString: $0) }) else { continue }
            // A topic the broker reports with an error (no leader yet, not authorized) is not left out silently:
            // a reader would take it for absent and read nothing.
            guard topic.err == RD_KAFKA_RESP_ERR_NO_ERROR else {
                throw KafkaError(.operation, topic.err, context: "metadata of topic '\(name)'")
            }
            result[name] = topic.partition_cnt
        }
        return result
    }
}
