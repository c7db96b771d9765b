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
        try request("CreateTopics", RD_KAFKA_ADMIN_OP_CREATETOPICS, waitMilliseconds: timeoutMilliseconds + 5_000) {
            options throws(KafkaError) in
            let timeoutErr = rd_kafka_AdminOptions_set_operation_timeout(options, timeoutMilliseconds, &errorBuffer, errorBuffer.count)
            guard timeoutErr == RD_KAFKA_RESP_ERR_NO_ERROR else {
                throw KafkaError(.operation, code: timeoutErr.rawValue,
                                 "CreateTopics: operation timeout \(timeoutMilliseconds) ms refused: \(string(fromBuffer: errorBuffer))")
            }
        } submit: { options, queue in
            natives.withUnsafeMutableBufferPointer { buffer in
                rd_kafka_CreateTopics(handle, buffer.baseAddress, buffer.count, options, queue)
            }
        } answer: { event throws(KafkaError) in
            try Self.checkCreateTopics(event, count: topics.count, names: topics.map(\.name))
        }
    }

    /// Checks each topic's result in a CreateTopics answer; a topic that already exists is not an error.
    private static func checkCreateTopics(_ event: OpaquePointer, count expected: Int, names: [String]) throws(KafkaError) {
        var count = 0
        guard let result = rd_kafka_event_CreateTopics_result(event),
              let results = rd_kafka_CreateTopics_result_topics(result, &count), count == expected else {
            throw KafkaError(.operation, "CreateTopics: the answer does not hold a result for each of \(names)")
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
        // ListOffsets asks read_uncommitted unless the options say otherwise.
        return try request("ListOffsets", RD_KAFKA_ADMIN_OP_LISTOFFSETS, waitMilliseconds: timeoutMilliseconds,
                           configure: { _ throws(KafkaError) in },
                           submit: { options, queue in list.withList { rd_kafka_ListOffsets(handle, $0, options, queue) } },
                           answer: { event throws(KafkaError) in try Self.endOffsets(event, asked: partitions) })
    }

    /// The offsets of a ListOffsets answer, one for each partition asked.
    private static func endOffsets(_ event: OpaquePointer, asked partitions: [KafkaTopicPartition]) throws(KafkaError)
        -> [KafkaTopicPartition: Int64] {
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

    /// One admin request: its result queue and options (`configure` sets them), `submit` sends it, and `answer`
    /// reads the result event once its error was checked.
    private func request<R>(_ name: String, _ operation: rd_kafka_admin_op_t, waitMilliseconds: Int32,
                            configure: (OpaquePointer) throws(KafkaError) -> Void,
                            submit: (OpaquePointer, OpaquePointer) -> Void,
                            answer: (OpaquePointer) throws(KafkaError) -> R) throws(KafkaError) -> R {
        guard let queue = rd_kafka_queue_new(handle) else {
            throw KafkaError(.operation, "\(name): librdkafka could not create a result queue (out of memory?)")
        }
        defer { rd_kafka_queue_destroy(queue) }
        guard let options = rd_kafka_AdminOptions_new(handle, operation) else {
            throw KafkaError(.operation, "\(name): librdkafka could not create the request options")
        }
        defer { rd_kafka_AdminOptions_destroy(options) }
        try configure(options)
        submit(options, queue)
        guard let event = rd_kafka_queue_poll(queue, waitMilliseconds) else {
            client.drain()
            throw KafkaError(.timeout, "\(name) got no answer within \(waitMilliseconds) ms; is the broker reachable?")
        }
        defer { rd_kafka_event_destroy(event) }
        client.drain()
        let err = rd_kafka_event_error(event)
        guard err == RD_KAFKA_RESP_ERR_NO_ERROR else { throw KafkaError(.operation, err, context: name) }
        return try answer(event)
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
