import CRdKafka
import Logging

/// Moves librdkafka's log events from a dedicated queue into swift-log.
/// librdkafka is configured with `log.queue=true`, so nothing is called back from its threads.
struct KafkaLogBridge {
    let queue: OpaquePointer
    let logger: Logger

    init(handle: OpaquePointer, logger: Logger) {
        // rd_kafka_queue_new cannot fail for a valid handle.
        self.queue = rd_kafka_queue_new(handle)
        self.logger = logger
        rd_kafka_set_log_queue(handle, queue)
    }

    /// Forwards every pending log event; never blocks.
    func drain() {
        while let event = rd_kafka_queue_poll(queue, 0) {
            if rd_kafka_event_type(event) == RD_KAFKA_EVENT_LOG {
                var facility: UnsafePointer<CChar>?
                var text: UnsafePointer<CChar>?
                var level: Int32 = 0
                if rd_kafka_event_log(event, &facility, &text, &level) == 0 {
                    let message = text.map { String(cString: $0) } ?? ""
                    let fac = facility.map { String(cString: $0) } ?? ""
                    logger.log(level: Self.level(syslog: level), "\(message)", metadata: ["rdkafka.facility": "\(fac)"])
                }
            }
            rd_kafka_event_destroy(event)
        }
    }

    func destroy() {
        drain()
        rd_kafka_queue_destroy(queue)
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
