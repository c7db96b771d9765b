import Kafka
import UsageStandard

/// How far a partition has been accounted, and what a restart needs to rebuild its open windows:
/// re-reading the partition from `rebuildFrom` up to `nextOffset` (silently) restores every open window,
/// and `watermark` is the partition watermark at the checkpoint.
///
/// Checkpoints are written to PostgreSQL in the same transaction as the totals they cover, after the totals
/// topic has acknowledged those totals. (Kafka offset-commit metadata would be the natural home, but not every
/// Kafka-protocol broker stores it; committed offsets are still written for lag monitoring.)
public struct Checkpoint: Sendable, Equatable {
    /// The input partition.
    public var topicPartition: KafkaTopicPartition
    /// The next offset to account ("last accounted + 1").
    public var nextOffset: Int64
    /// Re-reading from here up to `nextOffset` rebuilds every open window (`<= nextOffset`).
    public var rebuildFrom: Int64
    /// The partition watermark at the checkpoint.
    public var watermark: Timestamp?

    /// Creates a checkpoint.
    public init(_ topicPartition: KafkaTopicPartition, nextOffset: Int64, rebuildFrom: Int64, watermark: Timestamp?) {
        self.topicPartition = topicPartition
        self.nextOffset = nextOffset
        self.rebuildFrom = rebuildFrom
        self.watermark = watermark
    }
}
