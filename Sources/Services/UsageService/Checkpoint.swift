import Kafka
import Logging
import UsageStandard

/// How far a partition has been accounted, and what a restart needs to rebuild its open windows and dedupe memory:
/// re-reading the partition from `rebuildFrom` up to `nextOffset` (silently) restores them, and `watermark` is the
/// partition watermark at the checkpoint (including advances made by wall clock for idle partitions).
///
/// Checkpoints are records on the compacted checkpoint topic, written in the same Kafka transaction as the totals
/// they cover and the consumer offsets (`nextOffset`). On assignment the one whose `nextOffset` equals the group's
/// committed offset is used: a checkpoint of a transaction that did not commit can never match.
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

    /// The record key on the checkpoint topic: one key per group and input partition (so compaction keeps the last).
    func recordKey(group: String) -> [UInt8] {
        Array("\(group)\u{0}\(topicPartition.topic)\u{0}\(topicPartition.partition)".utf8)
    }

    /// The record value: `v1 <next offset> <rebuild from> <watermark ms or ->`.
    var recordValue: [UInt8] {
        Array("v1 \(nextOffset) \(rebuildFrom) \(watermark.map { String($0.milliseconds) } ?? "-")".utf8)
    }

    /// Reads a checkpoint record of `group`; nil for another group's record or anything unreadable.
    static func decode(key: [UInt8], value: [UInt8], group: String) -> Checkpoint? {
        let keyParts = key.split(separator: 0, maxSplits: 2, omittingEmptySubsequences: false)
        guard keyParts.count == 3, String(decoding: keyParts[0], as: UTF8.self) == group,
              let partition = Int32(String(decoding: keyParts[2], as: UTF8.self)) else { return nil }
        let fields = String(decoding: value, as: UTF8.self).split(separator: " ")
        guard fields.count == 4, fields[0] == "v1", let next = Int64(fields[1]), let rebuild = Int64(fields[2]) else { return nil }
        let watermark = fields[3] == "-" ? nil : Int64(fields[3]).map(Timestamp.init(milliseconds:))
        guard fields[3] == "-" || watermark != nil else { return nil }
        let tp = KafkaTopicPartition(topic: String(decoding: keyParts[1], as: UTF8.self), partition: partition)
        return Checkpoint(tp, nextOffset: next, rebuildFrom: rebuild, watermark: watermark)
    }

    /// Where a partition resumes: re-read silently from `start` up to `replayUntil`, account from there.
    struct Resume: Equatable {
        /// The first offset to read (`KafkaOffset.beginning` when no checkpoint is known).
        var start: Int64
        /// Records below this offset are re-read silently (their totals were emitted before).
        var replayUntil: Int64
        /// The checkpoint resumed from, if any.
        var checkpoint: Checkpoint?
    }

    /// Chooses where a partition with the group's `committed` offset resumes, given the checkpoints found for it
    /// (by next offset): the checkpoint committed with that offset; failing that, the latest older one (any earlier
    /// checkpoint's rebuild-from offset also covers every window open later), and records after it are accounted
    /// again, which re-emits the same absolute totals if the offset's own checkpoint was merely not found, and restores
    /// what a broker that applied the offsets of an uncommitted transaction would otherwise lose. Newer checkpoints
    /// belong to transactions that did not commit. With none, the partition is accounted again from its beginning.
    static func resume(committed: Int64, candidates: [Int64: Checkpoint]?) -> Resume {
        guard let best = candidates?.keys.filter({ $0 <= committed }).max(), let checkpoint = candidates?[best] else {
            return Resume(start: KafkaOffset.beginning, replayUntil: -1, checkpoint: nil)
        }
        return Resume(start: checkpoint.rebuildFrom, replayUntil: checkpoint.nextOffset, checkpoint: checkpoint)
    }

    /// Reads the checkpoint topic (`read_committed`) and returns, per input partition of `group`, every distinct
    /// checkpoint found, keyed by next offset (the latest record wins for equal next offsets).
    static func readAll(_ kafka: KafkaConfiguration, topic: String, group: String, logger: Logger)
        throws -> [KafkaTopicPartition: [Int64: Checkpoint]] {
        var config = kafka
        config["isolation.level"] = "read_committed"
        var result: [KafkaTopicPartition: [Int64: Checkpoint]] = [:]
        try KafkaTopicReader.readAll(config, topic: topic, logger: logger) { record in
            guard let key = record.key, let value = record.value,
                  let checkpoint = decode(key: Array(key), value: Array(value), group: group) else { return }
            result[checkpoint.topicPartition, default: [:]][checkpoint.nextOffset] = checkpoint
        }
        return result
    }
}
