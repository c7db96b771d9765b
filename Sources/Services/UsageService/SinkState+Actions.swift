import Kafka

extension SinkState {
    /// What the driver does; after it, it asks `next(now:)` unless the action names the event to report.
    enum Action: Equatable {
        /// Nothing.
        case none
        /// Pause every assigned partition.
        case pause
        /// Resume every assigned partition.
        case resume
        /// Pause these newly assigned partitions (librdkafka keeps a pause across an unassign and a later assign).
        case pausePartitions([KafkaTopicPartition])
        /// Resume these newly assigned partitions.
        case resumePartitions([KafkaTopicPartition])
        /// Write `batch` to PostgreSQL, then report `written()` or `writeFailed(now:)`; `retrying` after a failure.
        case write(retrying: Bool)
        /// Commit these offsets (the rows before them are written); a refusal goes to `commitRefused`.
        case commit([KafkaCommittedOffset])
        /// Say the write failed: the batch is kept and written again in the given time.
        case retryWrite(in: Duration)
        /// Poll the consumer for up to `timeout`, reporting each record to `read` and then the count to `polled`.
        case poll(timeout: Duration)
        /// Ask the broker the totals topic's end offsets, then report `endOffsets(_:now:)` or `endOffsetsFailed(now:)`.
        case askEndOffsets
        /// Say asking the end offsets failed; they are asked again in the given time.
        case retryEndOffsets(in: Duration)
        /// Report to `caughtUp` whether every partition is read up to `readUpTo` (the end offsets asked of the broker
        /// after the accounting's last transaction).
        case checkCaughtUp(readUpTo: [KafkaTopicPartition: Int64])
        /// Say the totals topic's end is not reached 30 s after the accounting finished: an open transaction of
        /// another ferris-usage holds it back until it commits or aborts.
        case warnEndHeldBack([KafkaTopicPartition: Int64])
        /// End the loop.
        case stop
    }

    /// What to do about a refused offset commit. Refused commits lose nothing (the rows are written, and whoever
    /// reads them again rewrites them harmlessly), so they are said once, not per batch.
    enum CommitRefusal: Equatable {
        /// Say it now (once until the next assignment).
        case say
        /// Said already.
        case silent
        /// Reading outside group management, and the group has members (another ferris-usage, or one that was killed
        /// and whose session the broker has not expired): every commit of this run would be refused, so stop
        /// committing and say so once.
        case stopCommitting
    }
}
