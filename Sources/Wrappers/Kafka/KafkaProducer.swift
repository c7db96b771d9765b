import CRdKafka
import Logging

/// An outgoing record: topic, key, value and headers, with owned bytes.
public struct KafkaOutgoingRecord: Sendable {
    /// The topic to produce to.
    public var topic: String
    /// The key, nil for a null key.
    public var key: [UInt8]?
    /// The value, nil for a null value (a tombstone).
    public var value: [UInt8]?
    /// The headers, in order.
    public var headers: [KafkaHeader]
    /// The partition, nil to let the partitioner choose from the key.
    public var partition: Int32?
    /// The record timestamp in milliseconds since the epoch, nil for the current time.
    public var timestampMilliseconds: Int64?

    /// Creates an outgoing record.
    public init(topic: String, key: [UInt8]?, value: [UInt8]?, headers: [KafkaHeader] = [],
                partition: Int32? = nil, timestampMilliseconds: Int64? = nil) {
        self.topic = topic
        self.key = key
        self.value = value
        self.headers = headers
        self.partition = partition
        self.timestampMilliseconds = timestampMilliseconds
    }
}

/// An idempotent producer with delivery reports read from librdkafka's event queue.
///
/// `send` only enqueues; `awaitDeliveries` blocks until every enqueued record is acknowledged
/// by the broker and throws if any was not. With `transactional.id` set, the producer is transactional: it takes no
/// per-record delivery reports (librdkafka's commit and abort would wait for them to be served), and a record that
/// was not delivered makes `commitTransaction` fail instead. Blocking, and not `Sendable`: call it from the one
/// (dedicated) thread that made it.
public final class KafkaProducer {
    private let client: KafkaClientHandle
    private let mainQueue: OpaquePointer
    private let logger: Logger
    private var inFlight = 0
    private var firstFailure: KafkaError?
    private let deliveryReports: Bool

    /// Creates a producer; `enable.idempotence` defaults to true (no duplicates or reordering on retries).
    public init(configuration: KafkaConfiguration, logger: Logger) throws(KafkaError) {
        let config = configuration.withDefaults([
            "enable.idempotence": "true",
            "linger.ms": "5",
            "log_level": rdkafkaLogLevel(for: logger.logLevel),
        ])
        let deliveryReports = config["transactional.id"] == nil
        let client = try KafkaClientHandle(taking: try config.makeHandle(RD_KAFKA_PRODUCER, "producer") { conf in
            rd_kafka_conf_set_events(conf, Int32(deliveryReports ? RD_KAFKA_EVENT_DR | RD_KAFKA_EVENT_ERROR : RD_KAFKA_EVENT_ERROR))
        }, logger: logger)
        guard let mainQueue = rd_kafka_queue_get_main(client.pointer) else {
            throw KafkaError(.clientCreation, "librdkafka gave the producer no main queue (out of memory?)")
        }
        self.deliveryReports = deliveryReports
        self.client = client
        self.logger = logger
        self.mainQueue = mainQueue
    }

    deinit {
        rd_kafka_queue_destroy(mainQueue)
        // `client` goes next: its log queue, then the handle.
    }

    private var handle: OpaquePointer { client.pointer }

    /// Enqueues a record. When librdkafka's queue is full, serves delivery reports until there is room.
    public func send(_ record: KafkaOutgoingRecord) throws(KafkaError) {
        try send(topic: record.topic, key: record.key, value: record.value, headers: record.headers,
                 partition: record.partition, timestampMilliseconds: record.timestampMilliseconds)
    }

    /// Enqueues a record (its bytes are copied by librdkafka).
    public func send(topic: String, key: [UInt8]?, value: [UInt8]?, headers: [KafkaHeader] = [],
                     partition: Int32? = nil, timestampMilliseconds: Int64? = nil) throws(KafkaError) {
        try withOptionalBytes(key) { (keyBytes) throws(KafkaError) in
            try withOptionalBytes(value) { (valueBytes) throws(KafkaError) in
                try send(topic: topic, keyBytes: keyBytes, valueBytes: valueBytes, headers: headers, partition: partition,
                         timestampMilliseconds: timestampMilliseconds)
            }
        }
    }

    /// Enqueues a record from borrowed bytes (copied by librdkafka), e.g. from a buffer reused for every record.
    public func send(topic: String, keyBytes key: UnsafeRawBufferPointer?, valueBytes value: UnsafeRawBufferPointer?,
                     headers: [KafkaHeader] = [], partition: Int32? = nil,
                     timestampMilliseconds: Int64? = nil) throws(KafkaError) {
        while true {
            let err = produce(topic: topic, key: key, value: value, headers: headers,
                              partition: partition, timestamp: timestampMilliseconds)
            if err == RD_KAFKA_RESP_ERR_NO_ERROR {
                if deliveryReports { inFlight += 1 }
                return
            }
            guard err == RD_KAFKA_RESP_ERR__QUEUE_FULL else {
                throw KafkaError(.operation, err, context: "produce to \(topic)")
            }
            serveEvents(timeoutMilliseconds: 50)
        }
    }

    /// Blocks until every record sent so far is acknowledged; throws the first delivery failure
    /// (and forgets it, so the caller can retry after handling it).
    public func awaitDeliveries(timeoutMilliseconds: Int = 60_000) throws(KafkaError) {
        guard deliveryReports else {
            serveEvents(timeoutMilliseconds: 0)
            let err = rd_kafka_flush(handle, Int32(timeoutMilliseconds))
            guard err == RD_KAFKA_RESP_ERR_NO_ERROR else {
                throw KafkaError(.timeout, err, context: "flush")
            }
            if let failure = firstFailure {
                firstFailure = nil
                throw failure
            }
            return
        }
        let clock = ContinuousClock()
        let deadline = clock.now + .milliseconds(timeoutMilliseconds)
        while inFlight > 0 {
            guard clock.now < deadline else {
                throw KafkaError(.timeout, "\(inFlight) record(s) not acknowledged within \(timeoutMilliseconds) ms; is the broker reachable?")
            }
            serveEvents(timeoutMilliseconds: 100)
        }
        if let failure = firstFailure {
            firstFailure = nil
            throw failure
        }
    }

    /// Records sent but not yet acknowledged.
    public var pendingDeliveries: Int { inFlight }

    // MARK: Transactions (the configuration must set `transactional.id`)

    /// Registers the transactional id with the coordinator, fencing any older producer with the same id, and
    /// aborts whatever that producer left open. Call once, before the first transaction.
    public func initTransactions(timeoutMilliseconds: Int32 = 30_000) throws(KafkaError) {
        if let error = rd_kafka_init_transactions(handle, timeoutMilliseconds) {
            throw KafkaError(consuming: error, context: "init transactions")
        }
    }

    /// Starts a transaction: records sent until it is committed become visible to `read_committed` consumers
    /// together, or not at all.
    public func beginTransaction() throws(KafkaError) {
        if let error = rd_kafka_begin_transaction(handle) { throw KafkaError(consuming: error, context: "begin transaction") }
    }

    /// Adds the consumer's offsets to the transaction: they are committed for the consumer's group if and only if
    /// the transaction commits. The group metadata fences a zombie member after a rebalance.
    public func sendOffsetsToTransaction(_ offsets: [KafkaCommittedOffset], consumer: KafkaConsumer,
                                         timeoutMilliseconds: Int32 = 30_000) throws(KafkaError) {
        guard !offsets.isEmpty else { return }
        let list = TopicPartitionList(capacity: offsets.count)
        for entry in offsets { list.add(entry.topicPartition, offset: entry.offset) }
        guard let metadata = rd_kafka_consumer_group_metadata(consumer.handle) else {
            throw KafkaError(.operation, "the consumer has no group metadata; it must be a group member (group.id set)")
        }
        defer { rd_kafka_consumer_group_metadata_destroy(metadata) }
        if let error = list.withList({ rd_kafka_send_offsets_to_transaction(handle, $0, metadata, timeoutMilliseconds) }) {
            throw KafkaError(consuming: error, context: "send offsets to transaction")
        }
    }

    /// Commits the transaction once every record of it is acknowledged; fails if any was not.
    public func commitTransaction(timeoutMilliseconds: Int32 = 60_000) throws(KafkaError) {
        serveEvents(timeoutMilliseconds: 0)
        if let error = rd_kafka_commit_transaction(handle, timeoutMilliseconds) {
            throw KafkaError(consuming: error, context: "commit transaction")
        }
    }

    /// Aborts the transaction: its records are never seen by `read_committed` consumers and its offsets are not
    /// committed.
    public func abortTransaction(timeoutMilliseconds: Int32 = 60_000) throws(KafkaError) {
        serveEvents(timeoutMilliseconds: 0)
        if let error = rd_kafka_abort_transaction(handle, timeoutMilliseconds) {
            throw KafkaError(consuming: error, context: "abort transaction")
        }
        firstFailure = nil
    }

    private func serveEvents(timeoutMilliseconds: Int32) {
        client.drain()
        var wait = timeoutMilliseconds
        while let event = rd_kafka_queue_poll(mainQueue, wait) {
            wait = 0
            defer { rd_kafka_event_destroy(event) }
            switch rd_kafka_event_type(event) {
            case RD_KAFKA_EVENT_DR:
                while let message = rd_kafka_event_message_next(event) {
                    inFlight -= 1
                    let err = message.pointee.err
                    if err != RD_KAFKA_RESP_ERR_NO_ERROR, firstFailure == nil {
                        let topic = message.pointee.rkt.map { string(rd_kafka_topic_name($0), or: "?") } ?? "?"
                        firstFailure = KafkaError(.delivery, err, context: "delivery to \(topic)")
                    }
                }
            case RD_KAFKA_EVENT_ERROR:
                let err = rd_kafka_event_error(event)
                let text = string(rd_kafka_event_error_string(event), or: describe(err))
                if rd_kafka_event_error_is_fatal(event) != 0 {
                    firstFailure = KafkaError(.fatal, code: err.rawValue, "fatal producer error: \(text); restart the service")
                } else {
                    logger.warning("producer error: \(text)")
                }
            default:
                break
            }
        }
    }

    private func produce(topic: String, key: UnsafeRawBufferPointer?, value: UnsafeRawBufferPointer?,
                         headers: [KafkaHeader], partition: Int32?, timestamp: Int64?) -> rd_kafka_resp_err_t {
        // Field layout: topic, flags, [partition], [timestamp], key, value, [headers]: at most 7, on the stack.
        withUnsafeTemporaryAllocation(of: rd_kafka_vu_t.self, capacity: 7) { fields in
            guard let base = fields.baseAddress else { return RD_KAFKA_RESP_ERR__FAIL }
            fields.initialize(repeating: rd_kafka_vu_t())
            return topic.withCString { topicName in
                fields[0].vtype = RD_KAFKA_VTYPE_TOPIC
                fields[0].u.cstr = topicName
                fields[1].vtype = RD_KAFKA_VTYPE_MSGFLAGS
                fields[1].u.i = RD_KAFKA_MSG_F_COPY
                var count = 2
                if let partition {
                    fields[count].vtype = RD_KAFKA_VTYPE_PARTITION
                    fields[count].u.i32 = partition
                    count += 1
                }
                if let timestamp {
                    fields[count].vtype = RD_KAFKA_VTYPE_TIMESTAMP
                    fields[count].u.i64 = timestamp
                    count += 1
                }
                fields[count].vtype = RD_KAFKA_VTYPE_KEY
                fields[count].u.mem.ptr = UnsafeMutableRawPointer(mutating: key?.baseAddress)
                fields[count].u.mem.size = key?.count ?? 0
                fields[count + 1].vtype = RD_KAFKA_VTYPE_VALUE
                fields[count + 1].u.mem.ptr = UnsafeMutableRawPointer(mutating: value?.baseAddress)
                fields[count + 1].u.mem.size = value?.count ?? 0
                let fixed = count + 2
                if headers.isEmpty {
                    return rd_kafka_produceva(handle, base, fixed).map(consumeError) ?? RD_KAFKA_RESP_ERR_NO_ERROR
                }
                // A native header list is copied by librdkafka (RD_KAFKA_VTYPE_HEADERS takes ownership on success).
                guard let list = rd_kafka_headers_new(headers.count) else { return RD_KAFKA_RESP_ERR__FAIL }
                for header in headers {
                    let added = withOptionalBytes(header.value) { bytes in
                        rd_kafka_header_add(list, header.name, -1, bytes?.baseAddress, bytes?.count ?? 0)
                    }
                    guard added == RD_KAFKA_RESP_ERR_NO_ERROR else {
                        rd_kafka_headers_destroy(list)
                        return added
                    }
                }
                fields[fixed].vtype = RD_KAFKA_VTYPE_HEADERS
                fields[fixed].u.headers = list
                let err = rd_kafka_produceva(handle, base, fixed + 1).map(consumeError) ?? RD_KAFKA_RESP_ERR_NO_ERROR
                if err != RD_KAFKA_RESP_ERR_NO_ERROR { rd_kafka_headers_destroy(list) }
                return err
            }
        }
    }

    private func consumeError(_ error: OpaquePointer) -> rd_kafka_resp_err_t {
        let code = rd_kafka_error_code(error)
        rd_kafka_error_destroy(error)
        return code
    }
}

/// Calls `body` with the bytes of `array`, or nil for a nil array (a null key, value or header value).
func withOptionalBytes<R, E: Error>(_ array: [UInt8]?, _ body: (UnsafeRawBufferPointer?) throws(E) -> R) throws(E) -> R {
    guard let array else { return try body(nil) }
    let result = array.withUnsafeBytes { bytes in Result { () throws(E) in try body(bytes) } }
    return try result.get()
}
