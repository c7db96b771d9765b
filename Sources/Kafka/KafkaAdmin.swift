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

/// Administrative operations: topic creation and metadata. Blocking: call from a dedicated thread.
public final class KafkaAdmin: @unchecked Sendable {
    private let handle: OpaquePointer
    private let logs: KafkaLogBridge

    /// Creates an admin client from a configuration (only connection properties are needed).
    public init(configuration: KafkaConfiguration, logger: Logger) throws(KafkaError) {
        let handle = try configuration.withDefaults(["log_level": rdkafkaLogLevel(for: logger.logLevel)])
            .makeHandle(RD_KAFKA_PRODUCER, "admin client")
        self.handle = handle
        self.logs = KafkaLogBridge(handle: handle, logger: logger)
    }

    deinit {
        logs.destroy()
        rd_kafka_destroy(handle)
    }

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
        let queue = rd_kafka_queue_new(handle)
        defer { rd_kafka_queue_destroy(queue) }
        let options = rd_kafka_AdminOptions_new(handle, RD_KAFKA_ADMIN_OP_CREATETOPICS)
        defer { rd_kafka_AdminOptions_destroy(options) }
        _ = rd_kafka_AdminOptions_set_operation_timeout(options, timeoutMilliseconds, &errorBuffer, errorBuffer.count)
        natives.withUnsafeMutableBufferPointer { buffer in
            rd_kafka_CreateTopics(handle, buffer.baseAddress, buffer.count, options, queue)
        }
        guard let event = rd_kafka_queue_poll(queue, timeoutMilliseconds + 5_000) else {
            logs.drain()
            throw KafkaError(.timeout, "CreateTopics got no answer within \(timeoutMilliseconds) ms; is the broker reachable?")
        }
        defer { rd_kafka_event_destroy(event) }
        logs.drain()
        let err = rd_kafka_event_error(event)
        guard err == RD_KAFKA_RESP_ERR_NO_ERROR else {
            throw KafkaError(.operation, err, context: "CreateTopics")
        }
        guard let result = rd_kafka_event_CreateTopics_result(event) else { return }
        var count = 0
        guard let results = rd_kafka_CreateTopics_result_topics(result, &count) else { return }
        for index in 0..<count {
            guard let topicResult = results[index] else { continue }
            let topicErr = rd_kafka_topic_result_error(topicResult)
            if topicErr == RD_KAFKA_RESP_ERR_NO_ERROR || topicErr == RD_KAFKA_RESP_ERR_TOPIC_ALREADY_EXISTS { continue }
            let name = String(cString: rd_kafka_topic_result_name(topicResult))
            let text = rd_kafka_topic_result_error_string(topicResult).map { String(cString: $0) } ?? ""
            throw KafkaError(.operation, code: topicErr.rawValue, "create topic '\(name)': \(text)")
        }
    }

    /// The topics the cluster knows, with their partition counts.
    public func topics(timeoutMilliseconds: Int32 = 10_000) throws(KafkaError) -> [String: Int32] {
        var metadata: UnsafePointer<rd_kafka_metadata>?
        let err = rd_kafka_metadata(handle, 1, nil, &metadata, timeoutMilliseconds)
        logs.drain()
        guard err == RD_KAFKA_RESP_ERR_NO_ERROR, let metadata else {
            throw KafkaError(.operation, err, context: "fetch cluster metadata")
        }
        defer { rd_kafka_metadata_destroy(metadata) }
        var result: [String: Int32] = [:]
        for index in 0..<Int(metadata.pointee.topic_cnt) {
            let topic = metadata.pointee.topics[index]
            if topic.err == RD_KAFKA_RESP_ERR_NO_ERROR {
                result[String(cString: topic.topic)] = topic.partition_cnt
            }
        }
        return result
    }
}
