import CRdKafka
import Logging

/// A librdkafka client handle and the queue its log events are read from, owned together.
///
/// librdkafka is configured with `log.queue=true` (see `KafkaConfiguration.makeHandle`), so nothing is called back
/// from its threads: `drain` moves the queued log events into swift-log. Non-copyable, so that exactly one owner
/// destroys the two, in the order librdkafka needs: the log queue, then the handle. An owner (consumer, producer,
/// admin client) destroys its own other queues in its `deinit`, which runs before this value's.
struct KafkaClientHandle: ~Copyable {
    /// The `rd_kafka_t` handle.
    let pointer: OpaquePointer
    private let logQueue: OpaquePointer
    private let logger: Logger

    /// Takes ownership of `pointer` (also when it throws: the handle is then destroyed).
    init(taking pointer: OpaquePointer, logger: Logger) throws(KafkaError) {
        guard let queue = rd_kafka_queue_new(pointer) else {
            rd_kafka_destroy(pointer)
            throw KafkaError(.clientCreation, "librdkafka could not create a log queue (out of memory?)")
        }
        let err = rd_kafka_set_log_queue(pointer, queue)
        guard err == RD_KAFKA_RESP_ERR_NO_ERROR else {
            rd_kafka_queue_destroy(queue)
            rd_kafka_destroy(pointer)
            throw KafkaError(.clientCreation, err, context: "route librdkafka's logs to a queue")
        }
        self.pointer = pointer
        self.logQueue = queue
        self.logger = logger
    }

    deinit {
        drain()
        rd_kafka_queue_destroy(logQueue)
        rd_kafka_destroy(pointer)
    }

    /// Forwards every pending log event; never blocks.
    func drain() {
        while let event = rd_kafka_queue_poll(logQueue, 0) {
            if rd_kafka_event_type(event) == RD_KAFKA_EVENT_LOG {
                var facility: UnsafePointer<CChar>?
                var text: UnsafePointer<CChar>?
                var level: Int32 = 0
                if rd_kafka_event_log(event, &facility, &text, &level) == 0 {
                    logger.log(level: Self.level(syslog: level), "\(string(text))",
                               metadata: ["rdkafka.facility": "\(string(facility))"])
                }
            }
            rd_kafka_event_destroy(event)
        }
    }

    static func level(syslog: Int32) -> Logger.Level {
        switch syslog {
        case ...3: return .error
        case 4: return .warning
        case 5, 6: return .info
        default: return .debug
        }
    }
}

/// Maps a swift-log level to librdkafka's syslog-style `log_level` property.
func rdkafkaLogLevel(for level: Logger.Level) -> String {
    switch level {
    case .trace, .debug: return "7"
    case .info, .notice: return "6"
    case .warning: return "4"
    case .error, .critical: return "3"
    }
}
