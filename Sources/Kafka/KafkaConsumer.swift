import CRdKafka
import Logging

/// A change of the consumer's partition assignment, handed to the rebalance handler.
public enum KafkaRebalance: Sendable {
    /// Partitions were assigned to this consumer.
    case assigned([KafkaTopicPartition])
    /// Partitions are being taken away from this consumer; their work must be committed now.
    case revoked([KafkaTopicPartition])
    /// Partitions were lost: the group moved on without this consumer (e.g. it was paused longer than the session
    /// timeout) and may already have given them to another member. Their work can no longer be committed.
    case lost([KafkaTopicPartition])
}

/// Decides what happens on a rebalance. Called synchronously on the polling thread, from inside `poll`.
///
/// For `.assigned`, return the offset to start each partition at (absent partitions start at the committed
/// offset, or per `auto.offset.reset` when the group has none). For `.revoked`, return an empty dictionary
/// after flushing and committing the partitions' work; for `.lost`, after dropping it.
public typealias KafkaRebalanceHandler = (KafkaRebalance, KafkaConsumer) -> [KafkaTopicPartition: Int64]

/// A consumer in a consumer group: pattern subscription, batch polling and manual commits.
///
/// Every method blocks and must be called from one thread at a time, never from Swift's cooperative pool:
/// the service runs its consume loop on a dedicated thread.
public final class KafkaConsumer: @unchecked Sendable {
    let handle: OpaquePointer
    let queue: OpaquePointer
    let logs: KafkaLogBridge
    let logger: Logger
    private let rebalanceBox: RebalanceBox
    private var batch: [UnsafeMutablePointer<rd_kafka_message_t>?]
    private var closed = false

    /// The partitions currently assigned.
    public private(set) var assignment: Set<KafkaTopicPartition> = []

    /// With `enable.partition.eof=true`: the partitions whose end was reached and that delivered no record since.
    /// For a `read_committed` consumer the end is the last stable offset, so an open (or dangling) transaction of
    /// another producer does not keep a reader from finishing.
    public private(set) var reachedEnd: Set<KafkaTopicPartition> = []
    private let tracksEnds: Bool

    /// Creates a consumer. `group.id` must be set; `enable.auto.commit` is forced off and
    /// `auto.offset.reset` defaults to `earliest` so that a new group never skips data.
    public init(configuration: KafkaConfiguration, logger: Logger,
                maxBatch: Int = 4096, rebalance: @escaping KafkaRebalanceHandler) throws(KafkaError) {
        guard configuration["group.id"] != nil else {
            throw KafkaError(.configuration, "property 'group.id' is required for a consumer; set the consumer group id")
        }
        var config = configuration.withDefaults([
            "auto.offset.reset": "earliest",
            "log_level": rdkafkaLogLevel(for: logger.logLevel),
        ])
        config["enable.auto.commit"] = "false"
        config["enable.auto.offset.store"] = "false"
        let box = RebalanceBox(handler: rebalance)
        let handle = try config.makeHandle(RD_KAFKA_CONSUMER, "consumer") { conf in
            rd_kafka_conf_set_opaque(conf, Unmanaged.passUnretained(box).toOpaque())
            rd_kafka_conf_set_rebalance_cb(conf, rebalanceTrampoline)
        }
        self.handle = handle
        self.logger = logger
        self.logs = KafkaLogBridge(handle: handle, logger: logger)
        self.rebalanceBox = box
        rd_kafka_poll_set_consumer(handle)
        self.queue = rd_kafka_queue_get_consumer(handle)
        self.batch = Array(repeating: nil, count: max(1, maxBatch))
        self.tracksEnds = config["enable.partition.eof"] == "true"
        box.consumer = self
    }

    deinit {
        close()
        rd_kafka_queue_destroy(queue)
        logs.destroy()
        rd_kafka_destroy(handle)
    }

    /// Subscribes to topics. A name starting with `^` is a regular expression matched against all topics,
    /// e.g. `^ferris\.events\..+`; topics created later are picked up on the next metadata refresh
    /// (`topic.metadata.refresh.interval.ms`).
    public func subscribe(_ topics: [String]) throws(KafkaError) {
        let list = TopicPartitionList(capacity: topics.count)
        for topic in topics { list.add(KafkaTopicPartition(topic: topic, partition: RD_KAFKA_PARTITION_UA)) }
        let err = list.withList { rd_kafka_subscribe(handle, $0) }
        guard err == RD_KAFKA_RESP_ERR_NO_ERROR else {
            throw KafkaError(.operation, err, context: "subscribe to \(topics)")
        }
    }

    /// Polls up to one batch of records, waiting at most `timeoutMilliseconds` for the first one,
    /// and hands each to `body`. Rebalance handlers run inside this call. Returns the number of records.
    ///
    /// Partition-end and transient errors are logged; a fatal error is thrown.
    @discardableResult
    public func poll(timeoutMilliseconds: Int32, _ body: (KafkaRecord) throws -> Void) throws -> Int {
        logs.drain()
        // librdkafka's batch call waits until the whole batch is filled or the timeout passes, which would stall a
        // consumer that is faster than its fetches: take what is queued without waiting, and only when nothing is,
        // wait for a single record.
        var count = batch.withUnsafeMutableBufferPointer { buffer in
            rd_kafka_consume_batch_queue(queue, 0, buffer.baseAddress, buffer.count)
        }
        if count == 0 {
            count = batch.withUnsafeMutableBufferPointer { buffer in
                rd_kafka_consume_batch_queue(queue, timeoutMilliseconds, buffer.baseAddress, 1)
            }
        }
        guard count > 0 else { return 0 }
        var records = 0
        defer {
            for index in 0..<count { if let message = batch[index] { rd_kafka_message_destroy(message) } }
        }
        for index in 0..<count {
            guard let message = batch[index] else { continue }
            let err = message.pointee.err
            if err == RD_KAFKA_RESP_ERR_NO_ERROR {
                records += 1
                if tracksEnds && !reachedEnd.isEmpty { reachedEnd.remove(Self.topicPartition(of: message)) }
                try body(KafkaRecord(message))
            } else if err == RD_KAFKA_RESP_ERR__PARTITION_EOF {
                if tracksEnds { reachedEnd.insert(Self.topicPartition(of: message)) }
            } else if err == RD_KAFKA_RESP_ERR__FATAL {
                throw fatalError()
            } else {
                logger.warning("consumer error: \(String(cString: rd_kafka_err2str(err)))",
                               metadata: ["partition": "\(message.pointee.partition)"])
            }
        }
        return records
    }

    private static func topicPartition(of message: UnsafeMutablePointer<rd_kafka_message_t>) -> KafkaTopicPartition {
        KafkaTopicPartition(topic: message.pointee.rkt.map { String(cString: rd_kafka_topic_name($0)) } ?? "",
                            partition: message.pointee.partition)
    }

    /// Assigns partitions directly, outside group management, each starting at its offset
    /// (use `KafkaOffset.beginning` to read from the start). For tools that read a whole topic.
    public func assign(_ starts: [KafkaTopicPartition: Int64]) throws(KafkaError) {
        let list = TopicPartitionList(capacity: starts.count)
        for (tp, offset) in starts { list.add(tp, offset: offset) }
        let err = list.withList { rd_kafka_assign(handle, $0) }
        guard err == RD_KAFKA_RESP_ERR_NO_ERROR else {
            throw KafkaError(.operation, err, context: "assign \(starts.keys.sorted { $0.description < $1.description })")
        }
        assignment = Set(starts.keys)
    }

    /// Commits offsets synchronously.
    public func commit(_ offsets: [KafkaCommittedOffset]) throws(KafkaError) {
        guard !offsets.isEmpty else { return }
        let list = TopicPartitionList(capacity: offsets.count)
        for entry in offsets { list.add(entry.topicPartition, offset: entry.offset) }
        let err = list.withList { rd_kafka_commit(handle, $0, 0) }
        guard err == RD_KAFKA_RESP_ERR_NO_ERROR else {
            throw KafkaError(.operation, err, context: "commit offsets for \(offsets.map(\.topicPartition))")
        }
        for element in list.elements where element.error != RD_KAFKA_RESP_ERR_NO_ERROR {
            throw KafkaError(.operation, element.error, context: "commit offset for \(element.tp)")
        }
    }

    /// The group's committed offsets for `partitions` (offset < 0 where none is committed).
    public func committed(_ partitions: [KafkaTopicPartition], timeoutMilliseconds: Int32 = 10_000)
        throws(KafkaError) -> [KafkaCommittedOffset] {
        let list = TopicPartitionList(partitions)
        let err = list.withList { rd_kafka_committed(handle, $0, timeoutMilliseconds) }
        guard err == RD_KAFKA_RESP_ERR_NO_ERROR else {
            throw KafkaError(.operation, err, context: "fetch committed offsets for \(partitions)")
        }
        return list.elements.map { KafkaCommittedOffset($0.tp, offset: $0.offset) }
    }

    /// The low and high watermark offsets of a partition, asked of the broker.
    public func watermarks(_ tp: KafkaTopicPartition, timeoutMilliseconds: Int32 = 10_000)
        throws(KafkaError) -> (low: Int64, high: Int64) {
        var low: Int64 = 0
        var high: Int64 = 0
        let err = rd_kafka_query_watermark_offsets(handle, tp.topic, tp.partition, &low, &high, timeoutMilliseconds)
        guard err == RD_KAFKA_RESP_ERR_NO_ERROR else {
            throw KafkaError(.operation, err, context: "query watermarks of \(tp)")
        }
        return (low, high)
    }

    /// The low and high watermarks librdkafka last saw in fetch responses (no broker round trip);
    /// nil while none has been seen for the partition.
    public func cachedWatermarks(_ tp: KafkaTopicPartition) -> (low: Int64, high: Int64)? {
        var low: Int64 = 0
        var high: Int64 = 0
        let err = rd_kafka_get_watermark_offsets(handle, tp.topic, tp.partition, &low, &high)
        guard err == RD_KAFKA_RESP_ERR_NO_ERROR, high >= 0 else { return nil }
        return (low, high)
    }

    /// The consumer's fetch positions (next offset to be consumed) for `partitions`; negative when unknown.
    public func positions(_ partitions: [KafkaTopicPartition]) -> [KafkaTopicPartition: Int64] {
        let list = TopicPartitionList(partitions)
        _ = list.withList { rd_kafka_position(handle, $0) }
        var result: [KafkaTopicPartition: Int64] = [:]
        for element in list.elements { result[element.tp] = element.offset }
        return result
    }

    /// Stops fetching `partitions` (they stay assigned; `poll` still serves rebalances) until `resume`.
    public func pause(_ partitions: [KafkaTopicPartition]) throws(KafkaError) {
        guard !partitions.isEmpty else { return }
        let list = TopicPartitionList(partitions)
        let err = list.withList { rd_kafka_pause_partitions(handle, $0) }
        guard err == RD_KAFKA_RESP_ERR_NO_ERROR else { throw KafkaError(.operation, err, context: "pause \(partitions)") }
    }

    /// Resumes fetching `partitions` paused with `pause`.
    public func resume(_ partitions: [KafkaTopicPartition]) throws(KafkaError) {
        guard !partitions.isEmpty else { return }
        let list = TopicPartitionList(partitions)
        let err = list.withList { rd_kafka_resume_partitions(handle, $0) }
        guard err == RD_KAFKA_RESP_ERR_NO_ERROR else { throw KafkaError(.operation, err, context: "resume \(partitions)") }
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

    /// Leaves the group (running the revoke handler) and stops consuming. Safe to call twice.
    public func close() {
        guard !closed else { return }
        closed = true
        let err = rd_kafka_consumer_close(handle)
        if err != RD_KAFKA_RESP_ERR_NO_ERROR {
            logger.warning("consumer close: \(String(cString: rd_kafka_err2str(err)))")
        }
        logs.drain()
    }

    private func fatalError() -> KafkaError {
        var buffer = [CChar](repeating: 0, count: 512)
        let err = rd_kafka_fatal_error(handle, &buffer, buffer.count)
        return KafkaError(.fatal, code: err.rawValue,
                          "fatal consumer error: \(string(fromBuffer: buffer)); the consumer must be recreated (restart the service)")
    }

    fileprivate func handleRebalance(_ err: rd_kafka_resp_err_t,
                                     _ list: UnsafeMutablePointer<rd_kafka_topic_partition_list_t>) {
        let cooperative = String(cString: rd_kafka_rebalance_protocol(handle)) == "COOPERATIVE"
        let partitions = TopicPartitionList.elements(of: list).map(\.tp)
        switch err {
        case RD_KAFKA_RESP_ERR__ASSIGN_PARTITIONS:
            let starts = rebalanceBox.handler(.assigned(partitions), self)
            for index in 0..<Int(list.pointee.cnt) {
                let element = list.pointee.elems[index]
                let tp = KafkaTopicPartition(topic: String(cString: element.topic), partition: element.partition)
                if let start = starts[tp] { list.pointee.elems[index].offset = start }
            }
            if cooperative {
                if let failure = rd_kafka_incremental_assign(handle, list) {
                    logger.error("assign failed: \(String(cString: rd_kafka_error_string(failure)))")
                    rd_kafka_error_destroy(failure)
                }
            } else {
                let err = rd_kafka_assign(handle, list)
                if err != RD_KAFKA_RESP_ERR_NO_ERROR {
                    logger.error("assign failed: \(String(cString: rd_kafka_err2str(err)))")
                }
            }
            assignment.formUnion(partitions)
            logger.info("partitions assigned", metadata: ["partitions": "\(partitions)"])
        case RD_KAFKA_RESP_ERR__REVOKE_PARTITIONS:
            let lost = rd_kafka_assignment_lost(handle) != 0
            _ = rebalanceBox.handler(lost ? .lost(partitions) : .revoked(partitions), self)
            if cooperative {
                if let failure = rd_kafka_incremental_unassign(handle, list) { rd_kafka_error_destroy(failure) }
            } else {
                _ = rd_kafka_assign(handle, nil)
            }
            assignment.subtract(partitions)
            logger.info("partitions revoked", metadata: ["partitions": "\(partitions)"])
        default:
            logger.error("rebalance error: \(String(cString: rd_kafka_err2str(err)))")
            _ = rd_kafka_assign(handle, nil)
            assignment.removeAll()
        }
    }
}

/// Carries the Swift rebalance handler through librdkafka's opaque pointer.
private final class RebalanceBox {
    let handler: KafkaRebalanceHandler
    weak var consumer: KafkaConsumer?
    init(handler: @escaping KafkaRebalanceHandler) { self.handler = handler }
}

private func rebalanceTrampoline(_ rk: OpaquePointer?, _ err: rd_kafka_resp_err_t,
                                 _ list: UnsafeMutablePointer<rd_kafka_topic_partition_list_t>?,
                                 _ opaque: UnsafeMutableRawPointer?) {
    guard let opaque, let list else { return }
    let box = Unmanaged<RebalanceBox>.fromOpaque(opaque).takeUnretainedValue()
    guard let consumer = box.consumer else {
        _ = rd_kafka_assign(rk, nil)
        return
    }
    consumer.handleRebalance(err, list)
}
