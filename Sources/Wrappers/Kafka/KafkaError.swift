import CRdKafka

/// An error reported by librdkafka or by the wrapper, saying what failed and what to do about it.
public struct KafkaError: Error, CustomStringConvertible, Sendable {
    /// What kind of failure this is.
    public enum Kind: Sendable, Equatable {
        /// A configuration property was rejected; the message names it.
        case configuration
        /// librdkafka could not create a client handle.
        case clientCreation
        /// A broker request or client operation failed.
        case operation
        /// A produced record was not delivered.
        case delivery
        /// An operation did not finish in time.
        case timeout
        /// A fatal error: the client must be recreated.
        case fatal
    }

    /// What kind of failure this is.
    public let kind: Kind
    /// librdkafka's error code (`rd_kafka_resp_err_t`), 0 where none applies.
    public let code: Int32
    /// A message saying what was wrong and what to do.
    public let message: String

    /// Creates an error.
    public init(_ kind: Kind, code: Int32 = 0, _ message: String) {
        self.kind = kind
        self.code = code
        self.message = message
    }

    /// Takes over (and destroys) a librdkafka error object.
    init(consuming error: OpaquePointer, context: String) {
        let fatal = rd_kafka_error_is_fatal(error) != 0
        self.init(fatal ? .fatal : .operation, code: rd_kafka_error_code(error).rawValue,
                  "\(context): \(string(rd_kafka_error_string(error), or: "unknown error"))"
                      + (fatal ? "; the client must be recreated (restart the service)" : ""))
        rd_kafka_error_destroy(error)
    }

    init(_ kind: Kind, _ err: rd_kafka_resp_err_t, context: String) {
        self.init(kind, code: err.rawValue, "\(context): \(describe(err))")
    }

    public var description: String { "Kafka \(kind): \(message)" }
}

/// librdkafka's text for an error code.
func describe(_ err: rd_kafka_resp_err_t) -> String {
    string(rd_kafka_err2str(err), or: "error \(err.rawValue)")
}

/// A C string from librdkafka as a String; `fallback` where librdkafka gave none (NULL).
func string(_ text: UnsafePointer<CChar>?, or fallback: String = "") -> String {
    text.map { String(cString: $0) } ?? fallback
}

/// The text in a NUL-terminated C buffer.
func string(fromBuffer buffer: [CChar]) -> String {
    String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
}
