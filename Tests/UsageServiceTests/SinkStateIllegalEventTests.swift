import Kafka
import Testing
@testable import UsageService

#if DEBUG
/// Events in a state where they cannot happen are driver bugs: debug builds stop at them (`assertionFailure`). Each
/// runs in a child process (an exit test), which must fail. Release builds do the safe thing documented at each event.
@Suite("PostgreSQL sink state machine: illegal events")
struct SinkStateIllegalEventTests {
    @Test("written without a write in flight")
    func writtenWithoutWrite() async {
        await #expect(processExitsWith: .failure) {
            var state = SinkState()
            _ = state.written()
        }
    }

    @Test("writeFailed without a write in flight")
    func writeFailedWithoutWrite() async {
        await #expect(processExitsWith: .failure) {
            var state = SinkState()
            _ = state.writeFailed(now: .now)
        }
    }

    @Test("next while a write is in flight")
    func nextWhileWriting() async {
        await #expect(processExitsWith: .failure) {
            var state = SinkState()
            state.read(KafkaTopicPartition(topic: "t", partition: 0), offset: 1, total: nil)
            _ = state.next(now: .now)
            _ = state.next(now: .now)
        }
    }

    @Test("records read while a write is in flight")
    func readWhileWriting() async {
        await #expect(processExitsWith: .failure) {
            var state = SinkState()
            let tp = KafkaTopicPartition(topic: "t", partition: 0)
            state.read(tp, offset: 1, total: nil)
            _ = state.next(now: .now)
            state.read(tp, offset: 2, total: nil)
            _ = state.written()
        }
    }

    @Test("stopRequested while a write is in flight")
    func stopWhileWriting() async {
        await #expect(processExitsWith: .failure) {
            var state = SinkState()
            state.read(KafkaTopicPartition(topic: "t", partition: 0), offset: 1, total: nil)
            _ = state.next(now: .now)
            _ = state.stopRequested(now: .now)
        }
    }

    @Test("revoked while a write is in flight")
    func revokedWhileWriting() async {
        await #expect(processExitsWith: .failure) {
            var state = SinkState()
            let tp = KafkaTopicPartition(topic: "t", partition: 0)
            state.read(tp, offset: 1, total: nil)
            _ = state.next(now: .now)
            _ = state.revoked([tp])
        }
    }

    @Test("next after the loop ended")
    func nextAfterDone() async {
        await #expect(processExitsWith: .failure) {
            var state = SinkState()
            _ = state.stopRequested(now: .now)
            _ = state.next(now: .now + .seconds(10))
            _ = state.next(now: .now + .seconds(10))
        }
    }

    @Test("end offsets that were not asked")
    func endOffsetsUnasked() async {
        await #expect(processExitsWith: .failure) {
            var state = SinkState(untilCaughtUp: true)
            _ = state.endOffsets([:], now: .now)
        }
    }

    @Test("a failure to ask end offsets that were not asked")
    func endOffsetsFailedUnasked() async {
        await #expect(processExitsWith: .failure) {
            var state = SinkState()
            _ = state.endOffsetsFailed(now: .now)
        }
    }

    @Test("an answer to a caught-up check that was not asked")
    func caughtUpUnasked() async {
        await #expect(processExitsWith: .failure) {
            var state = SinkState()
            _ = state.caughtUp(true)
        }
    }

    @Test("the legal sequences around them do not stop the process")
    func legalSequence() async {
        await #expect(processExitsWith: .success) {
            var state = SinkState(untilCaughtUp: true)
            let tp = KafkaTopicPartition(topic: "t", partition: 0)
            state.read(tp, offset: 1, total: nil)
            _ = state.next(now: .now)
            _ = state.written()
            _ = state.accountingFinished(now: .now)
            _ = state.endOffsets([tp: 2], now: .now)
            _ = state.next(now: .now)
            _ = state.caughtUp(true)
        }
    }
}
#endif
