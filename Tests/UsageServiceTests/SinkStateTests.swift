import Kafka
import Testing
import UsageStandard
@testable import UsageService

@Suite("PostgreSQL sink state machine")
struct SinkStateTests {
    let start = ContinuousClock.now
    let totals = KafkaTopicPartition(topic: "ferris.usage.totals", partition: 0)

    func total(_ offset: Int64) -> UsageTotal {
        UsageTotal(key: UsageKey(tenant: "acme", instance: "i", component: "c", metric: "requests"),
                   windowStart: Timestamp(milliseconds: base), windowEnd: Timestamp(milliseconds: base + hour),
                   quantity: Quantity(micros: 1_000_000), unit: "Requests", eventCount: 1, status: .provisional,
                   sourcePartition: "t:0", lastOffset: offset)
    }

    @Test("what was read is written at once, then its offsets are committed")
    func writeThenCommit() {
        var state = SinkState()
        #expect(state.next(now: start) == .poll(timeout: .milliseconds(100)))
        state.read(totals, offset: 41, total: total(41))
        state.read(totals, offset: 42, total: nil)
        #expect(state.next(now: start) == .write(retrying: false))
        #expect(state.batch.count == 1)
        #expect(state.written() == .commit([KafkaCommittedOffset(totals, offset: 43)]))
        #expect(state.pendingCount == 0 && state.pendingOffsets.isEmpty)
    }

    @Test("while polls return records the batch grows, up to the write batch; a poll that finds nothing writes it")
    func batching() {
        var state = SinkState(writeBatch: 4)
        state.read(totals, offset: 1, total: total(1))
        state.polled(records: 1)
        #expect(state.next(now: start) == .poll(timeout: .zero), "more may wait: read on")
        for offset in 2...4 as ClosedRange<Int64> { state.read(totals, offset: offset, total: total(offset)) }
        state.polled(records: 3)
        #expect(state.next(now: start) == .write(retrying: false), "a full batch is written even while more waits")
        #expect(state.written() == .commit([KafkaCommittedOffset(totals, offset: 5)]))
        state.read(totals, offset: 5, total: total(5))
        state.polled(records: 1)
        #expect(!state.next(now: start).isWrite)
        state.polled(records: 0)
        #expect(state.next(now: start).isWrite, "nothing more to read: the trickle is written at once")
        #expect(state.batch.count == 1)
    }

    @Test("with the database down and more than a batch behind, the sink keeps polling without spinning, retries with backoff and resumes")
    func outageLiveness() {
        var state = SinkState(maxBatch: 3)
        for offset in 0..<5 as Range<Int64> { state.read(totals, offset: offset, total: total(offset)) }
        var now = start
        #expect(state.next(now: now) == .pause, "a full batch pauses reading")
        #expect(state.next(now: now).isWrite)
        #expect(state.writeFailed(now: now) == .retryWrite(in: .milliseconds(500)))
        // 120 s of outage in 10 ms steps: every step polls (the member stays in its group), none spins with a zero
        // timeout while waiting, and writes are only attempted on the backoff schedule (0.5 s doubling to 10 s).
        var attempts = 1
        while now < start + .seconds(120) {
            now += .milliseconds(10)
            let action = state.next(now: now)
            #expect(action != .pause && action != .resume, "stays paused")
            if action.isWrite {
                attempts += 1
                _ = state.writeFailed(now: now)
            } else if case .poll(let timeout) = action {
                #expect(timeout > .zero && timeout <= .milliseconds(100))
            } else {
                Issue.record("\(action): neither a write nor a poll")
            }
        }
        #expect(attempts >= 12 && attempts <= 18, "\(attempts) attempts: 0.5, 1, 2, 4, 8, then every 10 s")
        #expect(state.backoff == .seconds(10))
        // The database is back: the next attempt writes everything and reading resumes.
        now += .seconds(10)
        #expect(state.next(now: now) == .write(retrying: true))
        #expect(state.written() == .commit([KafkaCommittedOffset(totals, offset: 5)]))
        #expect(state.next(now: now) == .resume)
        #expect(state.backoff == .milliseconds(500))
    }

    @Test("a failing sink whose pending totals went to another member in a rebalance reads again instead of staying paused")
    func failingSinkAfterRebalance() {
        var state = SinkState()
        state.read(totals, offset: 1, total: total(1))
        #expect(state.next(now: start).isWrite)
        _ = state.writeFailed(now: start)
        #expect(state.next(now: start) == .pause)
        // Nothing is pending: reading resumes (the backoff still spaces the next write once something is read).
        #expect(state.revoked([totals]) == .resume)
        #expect(state.next(now: start + .milliseconds(10)) == .poll(timeout: .milliseconds(100)))
        state.read(totals, offset: 2, total: total(2))
        #expect(state.next(now: start + .milliseconds(20)) == .pause, "the backoff still holds: pause, wait")
        #expect(!state.next(now: start + .milliseconds(20)).isWrite, "the backoff still holds: pause, wait")
        #expect(state.next(now: start + .seconds(1)).isWrite)
    }

    @Test("what was read from revoked partitions is forgotten (the next owner reads it again)")
    func revoked() {
        var state = SinkState()
        let other = KafkaTopicPartition(topic: "ferris.usage.totals", partition: 1)
        state.read(totals, offset: 1, total: total(1))
        state.read(other, offset: 7, total: total(7))
        #expect(state.revoked([totals]) == .none)
        #expect(state.pendingCount == 1)
        #expect(state.next(now: start).isWrite)
        #expect(state.written() == .commit([KafkaCommittedOffset(other, offset: 8)]))
    }

    @Test("refused commits are said once: outside the group they stop committing for the run; as a member, once per assignment")
    func refusedCommits() {
        var outside = SinkState()
        #expect(outside.commitRefused(notMember: true, outsideGroup: true) == .stopCommitting)
        #expect(!outside.commitsEnabled, "every later commit of the run would be refused too: none is tried")
        var member = SinkState()
        #expect(member.commitRefused(notMember: true, outsideGroup: false) == .say)
        for _ in 0..<50 { #expect(member.commitRefused(notMember: true, outsideGroup: false) == .silent) }
        #expect(member.commitsEnabled)
        #expect(member.assigned([]) == .none)
        #expect(member.commitRefused(notMember: false, outsideGroup: false) == .say)
        var other = SinkState()
        #expect(other.commitRefused(notMember: false, outsideGroup: true) == .say, "a broker error that is not about membership")
        #expect(other.commitsEnabled)
    }
}

extension SinkState.Action {
    var isWrite: Bool { if case .write = self { true } else { false } }
}
