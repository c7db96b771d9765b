import CRdKafka
import Logging

/// A consumer in a consumer group: pattern subscription, batch polling and manual commits.
///
/// Every method blocks. Not `Sendable`: it is used from the one thread that made it, never from Swift's cooperative
/// pool (the service runs each consume loop on a dedicated thread).
public final class KafkaConsumer {
    private let client: KafkaClientHandle
    /// The consumer group's queue: records, errors and rebalances.
    private let queue: OpaquePointer
    private let logger: Logger
    private let rebalanceBox: RebalanceBox
    private var batch: [UnsafeMutablePointer<rd_kafka_message_t>?]
    private var closed = false
    /// A rebalance whose assignment librdkafka did not take, thrown by the next `poll`.
    private var rebalanceFailure: KafkaError?

    /// The partitions currently assigned.
    public private(set) var assignment: Set<KafkaTopicPartition> = [] {
        didSet { forgetEnds(of: oldValue.subtracting(assignment)) }
    }

    /// With `enable.partition.eof=true`: the partitions whose end was reached and that delivered no record since.
    /// For a `read_committed` consumer the end is the last stable offset, so an open (or dangling) transaction of
    /// another producer does not keep a reader from finishing.
    public private(set) var reachedEnd: Set<KafkaTopicPartition> = []
    /// With `enable.partition.eof=true`: per partition, the offset of the last end reported (kept when records follow).
    public private(set) var lastEndOffsets: [KafkaTopicPartition: Int64] = [:]
    /// With `enable.partition.eof=true`: partitions assigned that have delivered neither a record nor their end
    /// since, with the offset they were assigned at (negative: a logical offset, e.g. the committed one). librdkafka
    /// applies an assignment on its own thread, so until then `rd_kafka_position` may still report where the
    /// previous assignment had read to, which `hasRead`/`hasReachedEnd` must not take for the new one's.
    private(set) var startsNotYetDelivered: [KafkaTopicPartition: Int64] = [:]
    private let tracksEnds: Bool

    /// The `rd_kafka_t` handle.
    var handle: OpaquePointer { client.pointer }

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
        let box = RebalanceBox(handler: rebalance, cooperative: Rebalancing.isCooperative(
            strategy: config["partition.assignment.strategy"], groupProtocol: config["group.protocol"],
            remoteAssignor: config["group.remote.assignor"]))
        let client = try KafkaClientHandle(taking: try config.makeHandle(RD_KAFKA_CONSUMER, "consumer") { conf in
            rd_kafka_conf_set_opaque(conf, Unmanaged.passUnretained(box).toOpaque())
            rd_kafka_conf_set_rebalance_cb(conf, rebalanceTrampoline)
        }, logger: logger)
        let err = rd_kafka_poll_set_consumer(client.pointer)
        guard err == RD_KAFKA_RESP_ERR_NO_ERROR else {
            throw KafkaError(.clientCreation, err, context: "route the consumer's events to its group queue")
        }
        guard let queue = rd_kafka_queue_get_consumer(client.pointer) else {
            throw KafkaError(.clientCreation, "librdkafka gave the consumer no group queue; is 'group.id' set?")
        }
        self.client = client
        self.queue = queue
        self.logger = logger
        self.rebalanceBox = box
        self.batch = Array(repeating: nil, count: max(1, maxBatch))
        self.tracksEnds = config["enable.partition.eof"] == "true"
        box.consumer = self
    }

    deinit {
        close()
        rd_kafka_queue_destroy(queue)
        // `client` goes next: its log queue, then the handle.
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
    /// Partition-end and transient errors are logged; a fatal error, and an assignment librdkafka did not take
    /// (see `KafkaRebalance.assignFailed`), are thrown.
    @discardableResult
    public func poll(timeoutMilliseconds: Int32, _ body: (KafkaRecord) throws -> Void) throws -> Int {
        client.drain()
        // librdkafka's batch call waits until the whole batch is filled or the timeout passes, which would stall a
        // consumer that is faster than its fetches: take what is queued without waiting, and only when nothing is,
        // wait for a single record.
        var count = batch.withUnsafeMutableBufferPointer { buffer in
            rd_kafka_consume_batch_queue(queue, 0, buffer.baseAddress, buffer.count)
        }
        if count == 0 && rebalanceFailure == nil {
            count = batch.withUnsafeMutableBufferPointer { buffer in
                rd_kafka_consume_batch_queue(queue, timeoutMilliseconds, buffer.baseAddress, 1)
            }
        }
        let taken = max(0, count)
        // Each message is destroyed as soon as it has been handled (the rest if handling throws): librdkafka allocates
        // a block per header when they are read, and freeing them before the next message's are allocated lets
        // glibc's per-thread cache hand the same blocks back (a batch freed at once overflows that cache: measured
        // 30 % of the accounting thread in malloc and free, benchmarks/README.md).
        var handled = 0
        defer {
            for index in handled..<taken {
                if let message = batch[index] { rd_kafka_message_destroy(message) }
                batch[index] = nil
            }
        }
        if let failure = rebalanceFailure {
            rebalanceFailure = nil
            throw failure
        }
        guard count >= 0 else {
            throw KafkaError(.operation, rd_kafka_last_error(), context: "poll the consumer queue")
        }
        var records = 0
        for index in 0..<taken {
            guard let message = batch[index] else { handled += 1; continue }
            defer {
                rd_kafka_message_destroy(message)
                batch[index] = nil
                handled += 1
            }
            let err = message.pointee.err
            if err == RD_KAFKA_RESP_ERR_NO_ERROR {
                records += 1
                if tracksEnds && !(reachedEnd.isEmpty && startsNotYetDelivered.isEmpty) {
                    let tp = Self.topicPartition(of: message)
                    reachedEnd.remove(tp)
                    startsNotYetDelivered[tp] = nil
                }
                try body(KafkaRecord(message))
            } else if err == RD_KAFKA_RESP_ERR__PARTITION_EOF {
                if tracksEnds {
                    let tp = Self.topicPartition(of: message)
                    reachedEnd.insert(tp)
                    lastEndOffsets[tp] = message.pointee.offset
                    startsNotYetDelivered[tp] = nil
                }
            } else if err == RD_KAFKA_RESP_ERR__FATAL {
                throw fatalConsumerError() ?? KafkaError(.fatal, "fatal consumer error; the consumer must be recreated (restart the service)")
            } else {
                logger.warning("consumer error: \(describe(err))", metadata: ["partition": "\(message.pointee.partition)"])
            }
        }
        return records
    }

    private static func topicPartition(of message: UnsafeMutablePointer<rd_kafka_message_t>) -> KafkaTopicPartition {
        KafkaTopicPartition(topic: message.pointee.rkt.map { string(rd_kafka_topic_name($0)) } ?? "",
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
        forgetEnds(of: starts.keys)
        if tracksEnds { startsNotYetDelivered.merge(starts) { $1 } }
        assignment = Set(starts.keys)
    }

    /// What was seen of a partition's end holds for the assignment it was seen in: a partition given up and assigned
    /// again (to start at its committed offset, perhaps before the end this consumer had read to, when its
    /// transaction was aborted) is read anew. (Kept, an old end let a caught-up-and-stop run leave such records unread.)
    private func forgetEnds(of partitions: some Sequence<KafkaTopicPartition>) {
        for tp in partitions {
            reachedEnd.remove(tp)
            lastEndOffsets[tp] = nil
            startsNotYetDelivered[tp] = nil
        }
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
        return try list.elements.map { element throws(KafkaError) in
            guard element.error == RD_KAFKA_RESP_ERR_NO_ERROR else {
                throw KafkaError(.operation, element.error, context: "fetch the committed offset of \(element.tp)")
            }
            return KafkaCommittedOffset(element.tp, offset: element.offset)
        }
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

    /// Leaves the group (running the revoke handler) and stops consuming. Safe to call twice.
    public func close() {
        guard !closed else { return }
        closed = true
        let err = rd_kafka_consumer_close(handle)
        if err != RD_KAFKA_RESP_ERR_NO_ERROR {
            logger.warning("consumer close: \(describe(err))")
        }
        client.drain()
    }

    /// The fatal error librdkafka raised for this consumer; nil while there is none.
    private func fatalConsumerError() -> KafkaError? {
        var buffer = [CChar](repeating: 0, count: 512)
        let err = rd_kafka_fatal_error(handle, &buffer, buffer.count)
        guard err != RD_KAFKA_RESP_ERR_NO_ERROR else { return nil }
        return KafkaError(.fatal, code: err.rawValue,
                          "fatal consumer error: \(string(fromBuffer: buffer)); the consumer must be recreated (restart the service)")
    }

    /// The assignment as librdkafka holds it; nil when it cannot say.
    private func currentAssignment() -> Set<KafkaTopicPartition>? {
        var list: UnsafeMutablePointer<rd_kafka_topic_partition_list_t>?
        guard rd_kafka_assignment(handle, &list) == RD_KAFKA_RESP_ERR_NO_ERROR, let list else { return nil }
        defer { rd_kafka_topic_partition_list_destroy(list) }
        return Set(TopicPartitionList.elements(of: list).map(\.tp))
    }

    fileprivate func handleRebalance(_ err: rd_kafka_resp_err_t,
                                     _ list: UnsafeMutablePointer<rd_kafka_topic_partition_list_t>) {
        if closed {
            handleRebalanceWhileClosing(err, list)
            return
        }
        let partitions = TopicPartitionList.elements(of: list).map(\.tp)
        switch err {
        // The cooperative protocol also calls back with empty increments; the handler only hears of changes.
        case RD_KAFKA_RESP_ERR__ASSIGN_PARTITIONS:
            forgetEnds(of: partitions)
            let starts = partitions.isEmpty ? [:] : rebalanceBox.handler(.assigned(partitions), self)
            for (index, tp) in partitions.enumerated() {
                if let start = starts[tp] { list.pointee.elems[index].offset = start }
                if tracksEnds { startsNotYetDelivered[tp] = starts[tp] ?? -1 }
            }
            let failure = Rebalancing.take(handle, list, cooperative: rebalanceBox.cooperative)
            // What librdkafka holds is the truth: a fatal error turns an assign into an unassign without an error.
            let taken = currentAssignment() ?? (failure == nil ? assignment.union(partitions) : assignment)
            assignment = taken
            let missing = partitions.filter { !taken.contains($0) }
            guard failure != nil || !missing.isEmpty else {
                if !partitions.isEmpty { logger.info("partitions assigned", metadata: ["partitions": "\(partitions)"]) }
                return
            }
            let cause = fatalConsumerError() ?? failure
                ?? KafkaError(.operation, "librdkafka did not take the assignment of \(missing); restart the consumer")
            logger.error("assignment not taken: \(cause)", metadata: ["partitions": "\(missing)"])
            _ = rebalanceBox.handler(.assignFailed(missing), self)
            rebalanceFailure = rebalanceFailure ?? cause
        case RD_KAFKA_RESP_ERR__REVOKE_PARTITIONS:
            let lost = rd_kafka_assignment_lost(handle) != 0
            if !partitions.isEmpty { _ = rebalanceBox.handler(lost ? .lost(partitions) : .revoked(partitions), self) }
            if let failure = Rebalancing.release(handle, list, cooperative: rebalanceBox.cooperative) { logger.error("unassign failed: \(failure)") }
            assignment = currentAssignment() ?? assignment.subtracting(partitions)
            if !partitions.isEmpty {
                logger.info("partitions revoked", metadata: ["partitions": "\(partitions)", "lost": "\(lost)"])
            }
        default:
            // librdkafka documents only the two cases above; for anything else its advice is to give up everything.
            logger.error("rebalance error: \(describe(err)); giving up the assignment")
            let held = Array(assignment)
            if !held.isEmpty { _ = rebalanceBox.handler(.lost(held), self) }
            let all = TopicPartitionList(held)
            if let failure = all.withList({ Rebalancing.release(handle, $0, cooperative: rebalanceBox.cooperative) }) { logger.error("unassign failed: \(failure)") }
            assignment = currentAssignment() ?? []
        }
    }
}

extension KafkaConsumer {
    /// A rebalance that `rd_kafka_consumer_close` hands over: what was queued when the close began, and the final
    /// revoke. librdkafka turns any assign or incremental change into a full unassign by then, and once that is done
    /// the group may have terminated, after which any call that asks the group (`rd_kafka_assignment`, and the
    /// handlers' `rd_kafka_consumer_group_metadata`) waits forever; a stop hung there (the PostgreSQL sink's
    /// consumer, closing right after its group settled). So nothing is asked of the group and nothing is handed out:
    /// at the first such call every partition still held is revoked (the handler runs before the unassign, while
    /// the group still serves requests), then librdkafka's call is made.
    fileprivate func handleRebalanceWhileClosing(_ err: rd_kafka_resp_err_t,
                                                 _ list: UnsafeMutablePointer<rd_kafka_topic_partition_list_t>) {
        let gone = Array(assignment)
        if !gone.isEmpty {
            let lost = rd_kafka_assignment_lost(handle) != 0
            _ = rebalanceBox.handler(lost ? .lost(gone) : .revoked(gone), self)
            logger.info("partitions revoked", metadata: ["partitions": "\(gone)", "lost": "\(lost)"])
        }
        assignment = []
        let failure = err == RD_KAFKA_RESP_ERR__ASSIGN_PARTITIONS
            ? Rebalancing.take(handle, list, cooperative: rebalanceBox.cooperative)
            : Rebalancing.release(handle, list, cooperative: rebalanceBox.cooperative)
        if let failure { logger.debug("closing consumer: rebalance call refused: \(failure)") }
    }
}

/// Carries the Swift rebalance handler through librdkafka's opaque pointer.
private final class RebalanceBox {
    let handler: KafkaRebalanceHandler
    /// Whether the group rebalances cooperatively (see `Rebalancing`).
    let cooperative: Bool
    weak var consumer: KafkaConsumer?
    init(handler: @escaping KafkaRebalanceHandler, cooperative: Bool) {
        self.handler = handler
        self.cooperative = cooperative
    }
}

private func rebalanceTrampoline(_ rk: OpaquePointer?, _ err: rd_kafka_resp_err_t,
                                 _ list: UnsafeMutablePointer<rd_kafka_topic_partition_list_t>?,
                                 _ opaque: UnsafeMutableRawPointer?) {
    guard let rk, let opaque, let list else { return }
    let box = Unmanaged<RebalanceBox>.fromOpaque(opaque).takeUnretainedValue()
    guard let consumer = box.consumer else {
        // The consumer is being destroyed (after closing): librdkafka treats any assign as an unassign now.
        _ = err == RD_KAFKA_RESP_ERR__ASSIGN_PARTITIONS ? Rebalancing.take(rk, list, cooperative: box.cooperative)
            : Rebalancing.release(rk, list, cooperative: box.cooperative)
        return
    }
    consumer.handleRebalance(err, list)
}
