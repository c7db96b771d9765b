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
enum Rebalancing {
    /// Whether the group runs the cooperative protocol. (librdkafka answers NULL when it cannot say; the eager calls
    /// made then fail with a state error if the group is cooperative after all, and that failure is reported.)
    static func isCooperative(_ handle: OpaquePointer) -> Bool {
        rd_kafka_rebalance_protocol(handle).map { String(cString: $0) } == "COOPERATIVE"
    }

    /// Takes the partitions of an assign rebalance.
    static func take(_ handle: OpaquePointer, _ list: UnsafeMutablePointer<rd_kafka_topic_partition_list_t>) -> KafkaError? {
        if isCooperative(handle) {
            return rd_kafka_incremental_assign(handle, list).map { KafkaError(consuming: $0, context: "incremental assign") }
        }
        let err = rd_kafka_assign(handle, list)
        return err == RD_KAFKA_RESP_ERR_NO_ERROR ? nil : KafkaError(.operation, err, context: "assign")
    }

    /// Gives up the partitions of a revoke rebalance (EAGER: all of them).
    static func release(_ handle: OpaquePointer, _ list: UnsafeMutablePointer<rd_kafka_topic_partition_list_t>) -> KafkaError? {
        if isCooperative(handle) {
            return rd_kafka_incremental_unassign(handle, list).map { KafkaError(consuming: $0, context: "incremental unassign") }
        }
        let err = rd_kafka_assign(handle, nil)
        return err == RD_KAFKA_RESP_ERR_NO_ERROR ? nil : KafkaError(.operation, err, context: "unassign")
    }
}
