import Kafka
import Testing
import UsageStandard
@testable import UsageService

@Suite("Checkpoints: record format and where a partition resumes")
struct CheckpointTests {
    let tp = KafkaTopicPartition(topic: "ferris.events.a", partition: 3)

    @Test("a checkpoint record round-trips; other groups' and unreadable records are ignored")
    func records() {
        let checkpoint = Checkpoint(tp, nextOffset: 120, rebuildFrom: 40, watermark: Timestamp(milliseconds: 1_764_000_000_000))
        let key = checkpoint.recordKey(group: "g")
        #expect(Checkpoint.decode(key: key, value: checkpoint.recordValue, group: "g") == checkpoint)
        #expect(Checkpoint.decode(key: key, value: checkpoint.recordValue, group: "other") == nil)
        let noWatermark = Checkpoint(tp, nextOffset: 5, rebuildFrom: 5, watermark: nil)
        #expect(Checkpoint.decode(key: key, value: noWatermark.recordValue, group: "g") == noWatermark)
        #expect(Checkpoint.decode(key: key, value: Array("v2 1 2 3".utf8), group: "g") == nil)
        #expect(Checkpoint.decode(key: key, value: Array("v1 1 2 soon".utf8), group: "g") == nil)
        #expect(Checkpoint.decode(key: Array("g".utf8), value: checkpoint.recordValue, group: "g") == nil)
    }

    @Test("resumes from the checkpoint committed with the offset, else the latest older one, never a newer one")
    func resume() {
        let older = Checkpoint(tp, nextOffset: 100, rebuildFrom: 60, watermark: nil)
        let exact = Checkpoint(tp, nextOffset: 150, rebuildFrom: 90, watermark: nil)
        let uncommitted = Checkpoint(tp, nextOffset: 180, rebuildFrom: 150, watermark: nil)
        let all: [Int64: Checkpoint] = [100: older, 150: exact, 180: uncommitted]
        #expect(Checkpoint.resume(committed: 150, candidates: all) == .init(start: 90, replayUntil: 150, checkpoint: exact))
        // The offset's own checkpoint missing: an older one, and what follows it is accounted again.
        #expect(Checkpoint.resume(committed: 150, candidates: [Int64(100): older, 180: uncommitted])
                == .init(start: 60, replayUntil: 100, checkpoint: older))
        // Only newer (uncommitted) ones, or none: accounted again from the beginning.
        #expect(Checkpoint.resume(committed: 150, candidates: [Int64(180): uncommitted])
                == .init(start: KafkaOffset.beginning, replayUntil: -1, checkpoint: nil))
        #expect(Checkpoint.resume(committed: 150, candidates: nil) == .init(start: KafkaOffset.beginning, replayUntil: -1, checkpoint: nil))
    }
}
