import Kafka
import Testing
import UsageStandard
@testable import UsageService

@Suite("Accounting state machine")
struct AccountingStateTests {
    let now = ContinuousClock.now

    @Test("records are counted; a commit carries the changed totals and a checkpoint at the next offset; then nothing is due")
    func commitCycle() throws {
        var state = AccountingState(makeFlow: makeTestFlow)
        #expect(state.assigned([tp0], committed: [:], now: now) == .start([:]))
        state.read(times: [base + 10, base + 20, base + 30])
        #expect(state.delta.recordsRead == 3 && state.delta.eventsCounted == 3)
        let planDue = state.plan()
        let plan = try #require(planDue)
        #expect(plan.totals.map(\.quantity) == [Quantity(micros: 3_000_000)])
        #expect(plan.totals.map(\.status) == [.provisional])
        #expect(plan.checkpoints == [Checkpoint(tp0, nextOffset: 3, rebuildFrom: 0, watermark: Timestamp(milliseconds: base + 30))])
        _ = state.committed(plan)
        #expect(state.delta.totalsWritten == 1 && state.delta.commits == 1 && state.committedOnce)
        #expect(state.commitDue { _ in nil } == .nothing)
    }

    @Test("a refused record becomes a dead letter and makes a commit due on its own; a failed dead letter blocks every commit")
    func deadLetters() throws {
        var state = AccountingState(makeFlow: makeTestFlow)
        _ = state.assigned([tp0], committed: [:], now: now)
        guard case .deadLetter(let error) = state.read(TestRecord(garbageAt: 0)) else {
            Issue.record("garbage was not dead-lettered")
            return
        }
        #expect(error.reason == .malformedJSON)
        #expect(state.delta.rejected == ["malformed-json": 1])
        let planDue = state.plan()
        let plan = try #require(planDue)
        #expect(plan.totals.isEmpty && plan.checkpoints.map(\.nextOffset) == [1])
        _ = state.committed(plan)
        // A keyless record is refused too (never a partial sum per partition).
        guard case .deadLetter(let keyless) = state.read(TestRecord(base, offset: 1, keyed: false)) else {
            Issue.record("a keyless record was accepted")
            return
        }
        #expect(keyless.reason == .missingKey)
        state.deadLetterFailed("queue full")
        #expect(state.commitDue { _ in nil } == .fail("queue full"))
    }

    @Test("a failed commit poisons the state: nothing is sent or committed after it")
    func poisoned() {
        var state = AccountingState(makeFlow: makeTestFlow)
        _ = state.assigned([tp0], committed: [:], now: now)
        state.read(times: [base, base + 3 * hour])
        state.commitFailed("broker gone")
        #expect(state.takeClosedWindows().isEmpty)
        #expect(state.commitDue { _ in nil } == .fail("broker gone"))
        _ = state.lost()
        #expect(state.commitDue { _ in nil } == .fail("broker gone"), "losing partitions does not cure a failed commit")
    }

    @Test("closed windows are sent at once as final; a partition far behind holds provisional totals back, never finals")
    func closedWindowsAndLag() throws {
        var state = AccountingState(makeFlow: makeTestFlow, provisionalLagLimit: 100)
        _ = state.assigned([tp0], committed: [:], now: now)
        state.read(times: [base, base + 10, base + 2 * hour + 1])
        let finals = state.takeClosedWindows()
        #expect(finals.map(\.status) == [.final])
        #expect(finals.map(\.eventCount) == [2])
        #expect(state.sentSinceCommit == 1)
        // 1,000 records behind: the open window's provisional total waits; the checkpoint does not.
        let behindDue = state.plan(highWatermark: 1_003)
        let behind = try #require(behindDue)
        #expect(behind.totals.isEmpty)
        #expect(behind.checkpoints.map(\.nextOffset) == [3])
        _ = state.committed(behind)
        #expect(state.delta.totalsWritten == 1, "the final sent earlier is counted with the commit")
        // Caught up: the held-back provisional total goes out.
        let caughtUpDue = state.plan(highWatermark: 3)
        let caughtUp = try #require(caughtUpDue)
        #expect(caughtUp.totals.map(\.status) == [.provisional])
    }

    @Test("an assigned partition with a committed offset is restored from its checkpoint: re-read silently, checkpointed only once rebuilt")
    func restore() throws {
        var state = AccountingState(makeFlow: makeTestFlow)
        #expect(state.assigned([tp0, tp1], committed: [tp0: 5], now: now) == .readCheckpoints([tp0]))
        let checkpoint = Checkpoint(tp0, nextOffset: 5, rebuildFrom: 2, watermark: Timestamp(milliseconds: base + 40))
        let (starts, resumed) = state.restored([tp0: [5: checkpoint, 9: Checkpoint(tp0, nextOffset: 9, rebuildFrom: 2, watermark: nil)]])
        #expect(starts == [tp0: 2])
        #expect(resumed.map(\.1) == [checkpoint])
        // Offsets 2 and 3 rebuild the window without counting; nothing is due while it is rebuilt (no checkpoint
        // before offset 5, no total of a window that does not hold every event yet).
        state.read(times: [base + 20, base + 30], from: 2)
        #expect(state.delta.recordsRead == 0)
        #expect(state.commitDue { _ in nil } == .nothing)
        // Rebuilt at offset 5: the open window's total goes out once more (it may have been held back before).
        state.read(times: [base + 40], from: 4)
        let rebuiltDue = state.plan()
        let rebuilt = try #require(rebuiltDue)
        #expect(rebuilt.totals.map(\.eventCount) == [3] && rebuilt.checkpoints.isEmpty)
        _ = state.committed(rebuilt)
        state.read(times: [base + 50], from: 5)
        let planDue = state.plan()
        let plan = try #require(planDue)
        #expect(plan.totals.map(\.eventCount) == [4], "the rebuilt window holds the re-read events plus the new one")
        #expect(plan.checkpoints.map(\.nextOffset) == [6])
        #expect(plan.checkpoints.map(\.rebuildFrom) == [2])
    }

    @Test("a partition handed over while far behind: the totals its first owner held back are emitted by the next after the rebuild, with no new record")
    func heldBackTotalsSurviveAHandover() throws {
        var first = AccountingState(makeFlow: makeTestFlow, provisionalLagLimit: 100)
        _ = first.assigned([tp0], committed: [:], now: now)
        first.read(times: [base, base + 10, base + 20])
        let behindDue = first.plan(highWatermark: 1_003)
        let behind = try #require(behindDue)
        #expect(behind.totals.isEmpty, "1,000 records behind: held back")
        _ = first.committed(behind)
        _ = first.revoked([tp0]) { _ in 1_003 }
        let checkpoint = try #require(behind.checkpoints.first)
        var next = AccountingState(makeFlow: makeTestFlow, provisionalLagLimit: 100)
        #expect(next.assigned([tp0], committed: [tp0: 3], now: now) == .readCheckpoints([tp0]))
        let (starts, _) = next.restored([tp0: [3: checkpoint]])
        next.read(times: [base, base + 10, base + 20], from: starts[tp0] ?? 0)
        let caughtUpDue = next.plan(highWatermark: 3)
        let caughtUp = try #require(caughtUpDue, "the window's total was never emitted: lost until the window closes")
        #expect(caughtUp.totals.map(\.eventCount) == [3])
        #expect(caughtUp.totals.map(\.status) == [.provisional])
    }

    @Test("without any checkpoint for a committed offset, a partition is accounted again from its beginning")
    func restoreWithoutCheckpoint() {
        var state = AccountingState(makeFlow: makeTestFlow)
        _ = state.assigned([tp0], committed: [tp0: 5], now: now)
        let (starts, resumed) = state.restored([:])
        #expect(starts == [tp0: KafkaOffset.beginning])
        #expect(resumed.count == 1 && resumed[0].1 == nil)
        state.read(times: [base], from: 0)
        #expect(state.delta.recordsRead == 1, "records are accounted again (the same absolute totals are re-emitted)")
    }

    @Test("a partition revoked and given straight back at its committed offset keeps its state; at another offset it is restored")
    func revokeAndReassign() throws {
        var state = AccountingState(makeFlow: makeTestFlow)
        _ = state.assigned([tp0], committed: [:], now: now)
        state.read(times: [base, base + 1])
        let planDue = state.plan()
        let plan = try #require(planDue)
        _ = state.committed(plan)
        _ = state.revoked([tp0]) { _ in nil }
        #expect(state.slot(of: tp0) == nil)
        #expect(state.assigned([tp0], committed: [tp0: 2], now: now) == .start([tp0: 2]))
        state.read(times: [base + 2], from: 2)
        let keptDue = state.plan()
        #expect(try #require(keptDue).totals.map(\.eventCount) == [3], "the kept window goes on counting")
        _ = state.committed(try #require(keptDue))
        _ = state.revoked([tp0]) { _ in nil }
        #expect(state.assigned([tp0], committed: [tp0: 7], now: now) == .readCheckpoints([tp0]),
                "another member committed further meanwhile: restore")
    }

    @Test("lost partitions drop every state and a failed dead letter; an assignment that failed is forgotten")
    func lostAndFailedAssignment() {
        var state = AccountingState(makeFlow: makeTestFlow)
        _ = state.assigned([tp0, tp1], committed: [:], now: now)
        let generation = state.generation
        state.assignmentFailed([tp1])
        #expect(state.slot(of: tp1) == nil && state.slot(of: tp0) == 0)
        #expect(state.generation > generation)
        state.read(times: [base])
        state.deadLetterFailed("queue full")
        _ = state.lost()
        #expect(state.partitions.isEmpty)
        #expect(state.commitDue { _ in nil } == .nothing, "the aborted transaction took the failed dead letter with it")
    }

    @Test("an idle, caught-up partition's watermark advances by wall clock and closes its windows; a busy or lagging one does not")
    func idleAdvance() throws {
        var state = AccountingState(makeFlow: makeTestFlow)
        _ = state.assigned([tp0], committed: [:], now: now)
        state.read(times: [base])
        let idle: Int64 = 600_000
        let wallClock = base + 3 * hour
        // The first tick records progress; later ticks see none.
        #expect(state.tick(now: now, wallClock: wallClock, idleMilliseconds: idle) { _ in 1 }.isEmpty)
        #expect(state.tick(now: now + .seconds(60), wallClock: wallClock, idleMilliseconds: idle) { _ in 1 }.isEmpty, "not idle long enough")
        #expect(state.tick(now: now + .seconds(601), wallClock: wallClock, idleMilliseconds: idle) { _ in 5 }.isEmpty, "records are waiting")
        #expect(state.tick(now: now + .seconds(601), wallClock: wallClock, idleMilliseconds: nil) { _ in 1 }.isEmpty, "idle advance off")
        let advanced = state.tick(now: now + .seconds(601), wallClock: wallClock, idleMilliseconds: idle) { _ in 1 }
        #expect(advanced.map(\.1) == [Timestamp(milliseconds: wallClock - idle)])
        #expect(state.takeClosedWindows().map(\.status) == [.final])
        let planDue = state.plan()
        let plan = try #require(planDue)
        #expect(plan.checkpoints.map(\.watermark) == [Timestamp(milliseconds: wallClock - idle)], "the advance is checkpointed")
    }

    @Test("health reports each partition's lag and the open windows")
    func health() {
        var state = AccountingState(makeFlow: makeTestFlow)
        _ = state.assigned([tp0, tp1], committed: [:], now: now)
        state.read(times: [base, base + 1])
        let (partitions, openWindows) = state.health { tp in tp == tp0 ? (low: 0, high: 10) : nil }
        #expect(partitions[tp0]?.lag == 8)
        #expect(partitions[tp1]?.lag == nil)
        #expect(openWindows == 1)
    }
}
