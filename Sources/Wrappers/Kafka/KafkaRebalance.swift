import CRdKafka

/// A change of the consumer's partition assignment, handed to the rebalance handler.
public enum KafkaRebalance: Sendable {
    /// Partitions were assigned to this consumer.
    case assigned([KafkaTopicPartition])
    /// Partitions are being taken away from this consumer; their work must be committed now.
    case revoked([KafkaTopicPartition])
    /// Partitions were lost: the group moved on without this consumer (e.g. it was paused longer than the session
    /// timeout) and may already have given them to another member. Their work can no longer be committed.
    case lost([KafkaTopicPartition])
    /// Partitions just handed to `.assigned` that librdkafka did not take after all: the assign call failed, or a
    /// fatal error (e.g. this static member was fenced) turned it into an unassign. They are not read and not in
    /// `assignment`: drop whatever `.assigned` prepared for them. The next `poll` throws the failure.
    case assignFailed([KafkaTopicPartition])
}

/// Decides what happens on a rebalance. Called synchronously on the polling thread, from inside `poll`.
///
/// For `.assigned`, return the offset to start each partition at (absent partitions start at the committed
/// offset, or per `auto.offset.reset` when the group has none). For `.revoked`, return an empty dictionary
/// after flushing and committing the partitions' work; for `.lost` and `.assignFailed`, after dropping it.
///
/// With the cooperative protocol (`partition.assignment.strategy=cooperative-sticky`) the lists are increments:
/// `.assigned` names only the partitions added, `.revoked` only those taken away; the rest stay assigned.
public typealias KafkaRebalanceHandler = (KafkaRebalance, KafkaConsumer) -> [KafkaTopicPartition: Int64]

/// The assign and unassign calls of the group's rebalance protocol: EAGER replaces the whole assignment, COOPERATIVE
/// (`partition.assignment.strategy=cooperative-sticky`) adds and removes the partitions of each rebalance.
///
/// The protocol is read from the configuration, not asked of librdkafka (`rd_kafka_rebalance_protocol`): that call
/// waits on the group's queue, which nobody serves once a closing consumer's group has terminated, so asked from a
/// rebalance handler inside `rd_kafka_consumer_close` it can wait forever (librdkafka issue 4041). librdkafka refuses
/// a strategy list that mixes the two protocols, so the configuration decides it.
enum Rebalancing {
    /// Whether a consumer with these settings rebalances cooperatively, as librdkafka 2.8 decides it: the classic
    /// protocol when the strategy list is cooperative-sticky (the default list, `range,roundrobin`, is eager); the
    /// KIP-848 protocol (`group.protocol=consumer`) when the broker assigns (`group.remote.assignor`) or no strategy is
    /// listed.
    static func isCooperative(strategy: String?, groupProtocol: String?, remoteAssignor: String?) -> Bool {
        let strategy = strategy ?? "range,roundrobin"
        if strategy.contains("cooperative-sticky") { return true }
        return groupProtocol == "consumer" && (remoteAssignor != nil || strategy.isEmpty)
    }

    /// Takes the partitions of an assign rebalance.
    static func take(_ handle: OpaquePointer, _ list: UnsafeMutablePointer<rd_kafka_topic_partition_list_t>,
                     cooperative: Bool) -> KafkaError? {
        if cooperative {
            return rd_kafka_incremental_assign(handle, list).map { KafkaError(consuming: $0, context: "incremental assign") }
        }
        let err = rd_kafka_assign(handle, list)
        return err == RD_KAFKA_RESP_ERR_NO_ERROR ? nil : KafkaError(.operation, err, context: "assign")
    }

    /// Gives up the partitions of a revoke rebalance (EAGER: all of them).
    static func release(_ handle: OpaquePointer, _ list: UnsafeMutablePointer<rd_kafka_topic_partition_list_t>,
                        cooperative: Bool) -> KafkaError? {
        if cooperative {
            return rd_kafka_incremental_unassign(handle, list).map { KafkaError(consuming: $0, context: "incremental unassign") }
        }
        let err = rd_kafka_assign(handle, nil)
        return err == RD_KAFKA_RESP_ERR_NO_ERROR ? nil : KafkaError(.operation, err, context: "unassign")
    }
}
