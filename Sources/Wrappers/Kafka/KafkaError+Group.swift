import CRdKafka

extension KafkaError {
    /// Whether the group coordinator refused a commit because the committer is not (or no longer) a member of the
    /// group's current generation: a reader outside group management committing to a group that has members, or a
    /// member whose generation moved on in a rebalance.
    public var isNotGroupMember: Bool {
        code == RD_KAFKA_RESP_ERR_UNKNOWN_MEMBER_ID.rawValue || code == RD_KAFKA_RESP_ERR_ILLEGAL_GENERATION.rawValue
            || code == RD_KAFKA_RESP_ERR_REBALANCE_IN_PROGRESS.rawValue || code == RD_KAFKA_RESP_ERR_FENCED_INSTANCE_ID.rawValue
    }
}
