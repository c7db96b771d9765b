import Kafka
import ProcessSupport
import Testing
import UsageStandard
@testable import UsageService

/// The sink's stop and end logic, and the transitions `SinkStateTests` does not cover: driven event by event, with the
/// clock in the test's hands.
@Suite("PostgreSQL sink state machine: stop, end offsets, transitions")
struct SinkStateStopTests {
    let start = ContinuousClock.now
    let totals = KafkaTopicPartition(topic: "ferris.usage.totals", partition: 0)
    let other = KafkaTopicPartition(topic: "ferris.usage.totals", partition: 1)
    let ends = [KafkaTopicPartition(topic: "ferris.usage.totals", partition: 0): Int64(10)]

    func total(_ offset: Int64) -> UsageTotal {
        UsageTotal(key: UsageKey(tenant: "acme", instance: "i", component: "c", metric: "requests"),
                   windowStart: Timestamp(milliseconds: base), windowEnd: Timestamp(milliseconds: base + hour),
                   quantity: Quantity(micros: 1_000_000), unit: "Requests", eventCount: 1, status: .provisional,
                   sourcePartition: "t:0", lastOffset: offset)
    }

    // MARK: Graceful stop

    @Test("a graceful stop waits for the accounting to finish, asks the end offsets, then ends once everything below them is read and written")
    func gracefulStop() {
        var state = SinkState()
        #expect(state.stopRequested(now: start) == .none)
        #expect(state.lifecycle == .stopping(deadline: start + .seconds(10)))
        #expect(state.next(now: start) == .poll(timeout: .milliseconds(100)), "the accounting still runs: no end check")
        #expect(state.accountingFinished(now: start) == .askEndOffsets)
        #expect(state.finish == .askingEnds)
        #expect(state.next(now: start) == .poll(timeout: .milliseconds(100)), "no end check before the ends are known")
        #expect(state.endOffsets(ends, now: start) == .none)
        #expect(state.next(now: start) == .checkCaughtUp(readUpTo: ends))
        #expect(state.caughtUp(false) == .none)
        #expect(state.next(now: start) == .poll(timeout: .milliseconds(100)), "asked once per poll")
        state.read(totals, offset: 3, total: total(3))
        state.polled(records: 1)
        #expect(state.next(now: start) == .poll(timeout: .zero), "something pending: no end check, read on")
        state.polled(records: 0)
        #expect(state.next(now: start) == .write(retrying: false))
        #expect(state.written() == .commit([KafkaCommittedOffset(totals, offset: 4)]))
        #expect(state.lifecycle == .stopping(deadline: start + .seconds(10)), "a write keeps the stop and its deadline")
        #expect(state.next(now: start) == .checkCaughtUp(readUpTo: ends), "checked as soon as it is written")
        #expect(state.caughtUp(true) == .stop)
        #expect(state.lifecycle == .done)
    }

    @Test("a graceful stop is bounded at 10 s; asking again does not move the deadline")
    func stopDeadline() {
        var state = SinkState()
        #expect(state.stopRequested(now: start) == .none)
        #expect(state.stopRequested(now: start + .seconds(5)) == .none)
        #expect(state.next(now: start + .milliseconds(9_999)) == .poll(timeout: .milliseconds(100)))
        #expect(state.next(now: start + .seconds(10)) == .stop)
        #expect(state.lifecycle == .done)
        #expect(state.stopRequested(now: start + .seconds(11)) == .stop)
    }

    @Test("no graceful stop while writes fail: a stop asked then ends at once, and a write failing while stopping ends it")
    func noGracefulStopWhileFailing() {
        var failing = SinkState()
        failing.read(totals, offset: 1, total: total(1))
        #expect(failing.next(now: start).isWrite)
        #expect(failing.writeFailed(now: start) == .retryWrite(in: .milliseconds(500)))
        #expect(failing.lifecycle == .waitingToRetry(at: start + .milliseconds(500)))
        #expect(failing.stopRequested(now: start) == .stop)
        #expect(failing.lifecycle == .done)

        var stopping = SinkState()
        #expect(stopping.stopRequested(now: start) == .none)
        stopping.read(totals, offset: 1, total: total(1))
        #expect(stopping.next(now: start) == .write(retrying: false))
        #expect(stopping.writeFailed(now: start) == .stop, "the batch is left to the next run, uncommitted")
        #expect(stopping.lifecycle == .done)
    }

    // MARK: Until caught up

    @Test("until caught up: end offsets are asked of the broker only after the accounting finished; the run ends once read up to them")
    func untilCaughtUp() {
        var state = SinkState(untilCaughtUp: true)
        #expect(state.next(now: start) == .poll(timeout: .milliseconds(100)), "the accounting still runs: no ends asked")
        #expect(state.accountingFinished(now: start) == .askEndOffsets)
        #expect(state.finish == .askingEnds)
        #expect(state.accountingFinished(now: start) == .none, "asked once")
        #expect(state.endOffsets(ends, now: start) == .none)
        #expect(state.finish == .ends(ends, warnAt: start + .seconds(30)))
        #expect(state.next(now: start) == .checkCaughtUp(readUpTo: ends))
        #expect(state.caughtUp(false) == .none)
        #expect(state.next(now: start) == .poll(timeout: .milliseconds(100)))
        state.read(totals, offset: 9, total: total(9))
        state.polled(records: 1)
        #expect(state.next(now: start) == .poll(timeout: .zero), "something pending: no end check")
        state.polled(records: 0)
        #expect(state.next(now: start).isWrite)
        #expect(state.written() == .commit([KafkaCommittedOffset(totals, offset: 10)]))
        #expect(state.next(now: start) == .checkCaughtUp(readUpTo: ends))
        #expect(state.caughtUp(true) == .stop)
        #expect(state.lifecycle == .done)
    }

    @Test("end offsets that could not be asked are asked again at most once a second")
    func endOffsetsRetry() {
        var state = SinkState(untilCaughtUp: true)
        #expect(state.accountingFinished(now: start) == .askEndOffsets)
        #expect(state.endOffsetsFailed(now: start) == .retryEndOffsets(in: .seconds(1)))
        #expect(state.finish == .endsToAsk(at: start + .seconds(1)))
        #expect(state.next(now: start + .milliseconds(500)) == .poll(timeout: .milliseconds(100)))
        #expect(state.next(now: start + .seconds(1)) == .askEndOffsets)
        #expect(state.finish == .askingEnds)
        #expect(state.endOffsets(ends, now: start + .seconds(1)) == .none)
    }

    @Test("an end still not reached 30 s after it was asked is said once: another producer's open transaction holds it back")
    func heldBackWarning() {
        var state = SinkState(untilCaughtUp: true)
        _ = state.accountingFinished(now: start)
        _ = state.endOffsets(ends, now: start)
        var warnings = 0
        var now = start
        while now < start + .seconds(90) {
            // One turn of the driver: the actions up to the poll, the end never reached.
            var action = state.next(now: now)
            while action != .poll(timeout: .milliseconds(100)) {
                if case .checkCaughtUp = action { #expect(state.caughtUp(false) == .none) }
                if case .warnEndHeldBack(let targets) = action {
                    #expect(targets == ends)
                    #expect(now >= start + .seconds(30) && now < start + .seconds(30) + .milliseconds(100))
                    warnings += 1
                }
                action = state.next(now: now)
            }
            state.polled(records: 0)
            now += .milliseconds(100)
        }
        #expect(warnings == 1)
    }

    @Test("a graceful stop while caught-up reading ends once read up to the end offsets asked")
    func stopWhileUntilCaughtUp() {
        var state = SinkState(untilCaughtUp: true)
        #expect(state.stopRequested(now: start) == .none)
        #expect(state.next(now: start) == .poll(timeout: .milliseconds(100)))
        #expect(state.accountingFinished(now: start) == .askEndOffsets)
        #expect(state.next(now: start) == .poll(timeout: .milliseconds(100)), "the ends are being asked: no end check yet")
        #expect(state.endOffsets(ends, now: start) == .none)
        state.polled(records: 0)
        #expect(state.next(now: start) == .checkCaughtUp(readUpTo: ends))
        #expect(state.caughtUp(true) == .stop)
    }

    @Test("the end check also runs while a retry waits, once nothing is pending (a rebalance took it away)")
    func endCheckWhileWaitingToRetry() {
        var state = SinkState(untilCaughtUp: true)
        _ = state.accountingFinished(now: start)
        _ = state.endOffsets(ends, now: start)
        state.read(totals, offset: 1, total: total(1))
        #expect(state.next(now: start).isWrite)
        _ = state.writeFailed(now: start)
        #expect(state.revoked([totals]) == .none, "not paused yet: nothing to resume")
        #expect(state.next(now: start) == .checkCaughtUp(readUpTo: ends))
    }

    // MARK: Other transitions

    @Test("the backoff doubles from 0.5 s to 10 s while writes fail, and starts again after a success")
    func backoffSchedule() {
        var state = SinkState()
        state.read(totals, offset: 1, total: total(1))
        var now = start
        #expect(state.next(now: now) == .write(retrying: false))
        var waits: [Duration] = []
        for attempt in 0..<7 {
            guard case .retryWrite(let wait) = state.writeFailed(now: now) else {
                Issue.record("no retry after failure \(attempt + 1)")
                return
            }
            waits.append(wait)
            if attempt == 0 { #expect(state.next(now: now) == .pause) }
            #expect(state.next(now: now + wait - .milliseconds(1)) == .poll(timeout: .milliseconds(1)), "not before it is due")
            now += wait
            #expect(state.next(now: now) == .write(retrying: true))
        }
        #expect(waits == [.milliseconds(500), .seconds(1), .seconds(2), .seconds(4), .seconds(8), .seconds(10), .seconds(10)])
        #expect(state.written() == .commit([KafkaCommittedOffset(totals, offset: 2)]))
        #expect(state.backoff == .milliseconds(500))
    }

    @Test("while a retry waits with something pending, each poll waits until the retry is due, at most the idle poll")
    func retryPollTimeout() {
        var state = SinkState()
        state.read(totals, offset: 1, total: total(1))
        #expect(state.next(now: start).isWrite)
        #expect(state.writeFailed(now: start) == .retryWrite(in: .milliseconds(500)))
        #expect(state.next(now: start) == .pause)
        #expect(state.next(now: start) == .poll(timeout: .milliseconds(100)))
        #expect(state.next(now: start + .milliseconds(450)) == .poll(timeout: .milliseconds(50)))
        #expect(state.next(now: start + .milliseconds(500)) == .write(retrying: true))
        #expect(state.written() == .commit([KafkaCommittedOffset(totals, offset: 2)]))
        #expect(state.lifecycle == .reading)
        #expect(state.next(now: start + .milliseconds(500)) == .resume)
    }

    @Test("reading pauses at the most totals held and resumes once a revocation takes them below it")
    func maxBatchPauseAndRevoke() {
        var state = SinkState(writeBatch: 10, maxBatch: 2)
        state.read(totals, offset: 1, total: total(1))
        state.read(other, offset: 1, total: total(1))
        state.polled(records: 2)
        #expect(state.next(now: start) == .pause)
        #expect(state.next(now: start) == .poll(timeout: .zero), "below the write batch while more waits: read on (paused)")
        #expect(state.revoked([other]) == .resume)
        #expect(state.paused == false)
    }

    @Test("newly assigned partitions are paused or resumed to match the others")
    func assignedFollowsPause() {
        var state = SinkState(maxBatch: 1)
        #expect(state.assigned([totals]) == .resumePartitions([totals]))
        state.read(totals, offset: 1, total: total(1))
        #expect(state.next(now: start) == .pause)
        #expect(state.assigned([other]) == .pausePartitions([other]))
        #expect(state.assigned([]) == .none)
    }

    @Test("once commits stop for the run, written rows commit nothing")
    func noCommitsAfterStopCommitting() {
        var state = SinkState()
        #expect(state.commitRefused(notMember: true, outsideGroup: true) == .stopCommitting)
        #expect(state.commitRefused(notMember: false, outsideGroup: true) == .silent)
        state.read(totals, offset: 1, total: total(1))
        #expect(state.next(now: start).isWrite)
        #expect(state.written() == .none)
        #expect(state.pendingOffsets.isEmpty, "written all the same")
        #expect(state.assigned([]) == .none)
        #expect(!state.commitsEnabled, "an assignment does not turn commits back on")
    }
}
