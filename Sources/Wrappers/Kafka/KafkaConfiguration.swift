import CRdKafka

/// librdkafka configuration: string properties handed to librdkafka as they are
/// (see librdkafka's CONFIGURATION.md for the names).
public struct KafkaConfiguration: Sendable {
    /// The properties, by librdkafka name.
    public var properties: [String: String]

    /// Creates a configuration from librdkafka properties.
    public init(_ properties: [String: String] = [:]) {
        self.properties = properties
    }

    /// Reads or sets one property.
    public subscript(name: String) -> String? {
        get { properties[name] }
        set { properties[name] = newValue }
    }

    /// Returns a copy where each of `defaults` is set unless already present.
    public func withDefaults(_ defaults: [String: String]) -> KafkaConfiguration {
        KafkaConfiguration(properties.merging(defaults) { current, _ in current })
    }

    /// Creates a client handle of `type` with `log.queue=true` (logs are read from a queue, never called back),
    /// letting `customize` set native options (callbacks, events) first.
    func makeHandle(_ type: rd_kafka_type_t, _ what: String,
                    customize: (OpaquePointer) -> Void = { _ in }) throws(KafkaError) -> OpaquePointer {
        var config = self
        config["log.queue"] = "true"
        let conf = try config.makeNative()
        customize(conf)
        var errorBuffer = [CChar](repeating: 0, count: 512)
        guard let handle = rd_kafka_new(type, conf, &errorBuffer, errorBuffer.count) else {
            rd_kafka_conf_destroy(conf)
            throw KafkaError(.clientCreation, "could not create \(what): \(string(fromBuffer: errorBuffer))")
        }
        return handle
    }

    /// Builds a native `rd_kafka_conf_t`; the caller owns it (hand it to `rd_kafka_new` or destroy it).
    func makeNative() throws(KafkaError) -> OpaquePointer {
        guard let conf = rd_kafka_conf_new() else {
            throw KafkaError(.configuration, "rd_kafka_conf_new returned NULL (out of memory)")
        }
        var errorBuffer = [CChar](repeating: 0, count: 512)
        for (name, value) in properties.sorted(by: { $0.key < $1.key }) {
            let result = rd_kafka_conf_set(conf, name, value, &errorBuffer, errorBuffer.count)
            if result != RD_KAFKA_CONF_OK {
                rd_kafka_conf_destroy(conf)
                let reason = string(fromBuffer: errorBuffer)
                throw KafkaError(.configuration,
                                 "property '\(name)' was rejected: \(reason). Fix or remove it (see librdkafka CONFIGURATION.md)")
            }
        }
        return conf
    }
}

/// A topic and partition.
public struct KafkaTopicPartition: Hashable, Sendable, CustomStringConvertible {
    /// The topic name.
    public var topic: String
    /// The partition number.
    public var partition: Int32

    /// Creates a topic-partition.
    public init(topic: String, partition: Int32) {
        self.topic = topic
        self.partition = partition
    }

    public var description: String { "\(topic)[\(partition)]" }
}

/// The librdkafka version loaded at run time, e.g. "2.8.0".
public var librdkafkaVersion: String { string(rd_kafka_version_str(), or: "unknown") }

/// The librdkafka version loaded at run time as a number (0xMMmmrrxx).
public var librdkafkaVersionNumber: Int32 { rd_kafka_version() }

/// Special offsets understood by librdkafka.
public enum KafkaOffset {
    /// The oldest retained offset.
    public static let beginning: Int64 = -2
}
