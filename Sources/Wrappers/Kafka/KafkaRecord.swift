import CRdKafka
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A consumed record, borrowed from librdkafka without copying.
///
/// A record is only valid inside the closure it is handed to: its buffers point into
/// librdkafka's memory, which is released when the closure returns.
public struct KafkaRecord {
    let message: UnsafeMutablePointer<rd_kafka_message_t>

    init(_ message: UnsafeMutablePointer<rd_kafka_message_t>) {
        self.message = message
    }

    /// The topic's name (allocates a String; use `topicIdentity` on hot paths).
    public var topic: String {
        guard let rkt = message.pointee.rkt else { return "" }
        return string(rd_kafka_topic_name(rkt))
    }

    /// A cheap identity for the topic, stable while the consumer lives.
    public var topicIdentity: ObjectIdentifierLike {
        ObjectIdentifierLike(raw: message.pointee.rkt.map { UInt(bitPattern: Int(bitPattern: UnsafeRawPointer($0))) } ?? 0)
    }

    /// The partition.
    public var partition: Int32 { message.pointee.partition }

    /// The offset.
    public var offset: Int64 { message.pointee.offset }

    /// The record timestamp in milliseconds since the epoch, or nil when the record has none.
    public var timestampMilliseconds: Int64? {
        var type = RD_KAFKA_TIMESTAMP_NOT_AVAILABLE
        let value = rd_kafka_message_timestamp(message, &type)
        return type == RD_KAFKA_TIMESTAMP_NOT_AVAILABLE ? nil : value
    }

    /// The key bytes, nil for a null key.
    public var key: UnsafeRawBufferPointer? {
        guard let key = message.pointee.key else { return nil }
        return UnsafeRawBufferPointer(start: key, count: message.pointee.key_len)
    }

    /// The value bytes, nil for a null value (a tombstone).
    public var value: UnsafeRawBufferPointer? {
        guard let payload = message.pointee.payload else { return nil }
        return UnsafeRawBufferPointer(start: payload, count: message.pointee.len)
    }

    /// Calls `body` for each header in order with its name and value (nil for a null header value).
    ///
    /// A record without headers has none; so has one whose headers librdkafka cannot parse (a malformed record):
    /// it then lacks what the standard needs and the decoder dead-letters it rather than losing it.
    public func forEachHeader(_ body: (UnsafeRawBufferPointer, UnsafeRawBufferPointer?) -> Void) {
        var headers: OpaquePointer?
        guard rd_kafka_message_headers(message, &headers) == RD_KAFKA_RESP_ERR_NO_ERROR, let headers else { return }
        var index = 0
        var name: UnsafePointer<CChar>?
        var value: UnsafeRawPointer?
        var size = 0
        while rd_kafka_header_get_all(headers, index, &name, &value, &size) == RD_KAFKA_RESP_ERR_NO_ERROR {
            if let name {
                let nameBuffer = UnsafeRawBufferPointer(start: name, count: strlen(name))
                body(nameBuffer, value.map { UnsafeRawBufferPointer(start: $0, count: size) })
            }
            index += 1
        }
    }

    /// The headers as owned values (allocates; for tests and tools).
    public var headers: [KafkaHeader] {
        var result: [KafkaHeader] = []
        forEachHeader { name, value in
            result.append(KafkaHeader(name: String(decoding: name, as: UTF8.self), value: value.map { Array($0) }))
        }
        return result
    }
}

/// A cheap, hashable identity for a native object.
public struct ObjectIdentifierLike: Hashable, Sendable {
    let raw: UInt
}

/// A record header with an owned value.
public struct KafkaHeader: Sendable, Equatable {
    /// The header name.
    public var name: String
    /// The header value, nil for a null value.
    public var value: [UInt8]?

    /// Creates a header.
    public init(name: String, value: [UInt8]?) {
        self.name = name
        self.value = value
    }

    /// Creates a header with a UTF-8 string value.
    public init(name: String, string: String) {
        self.init(name: name, value: Array(string.utf8))
    }
}
