import Kafka
import Testing
import UsageStandard
@testable import UsageService

/// The transaction states of `AccountingState` and the action each event returns, row by row of the type's table.
@Suite("Accounting state machine: transitions")
struct AccountingTransitionTests {
    let now = ContinuousClock.now

    @Test("a dead letter and sent finals make the transaction hold something; a commit empties it and tells whether it was the first")
    func holdingAndCommitting() throws {
        var state = AccountingState(makeFlow: makeTestFlow)
        #expect(state.transaction == .empty(committedBefore: false))
        _ = state.assigned([tp0], committed: [:], now: now)
        _ = state.read(TestRecord(garbageAt: 0))
        #expect(state.transaction == .holding(finals: 0, deadLetters: true, committedBefore: false))
        state.read(times: [base, base + 2 * hour + 1], from: 1)
        #expect(state.takeClosedWindows().count == 1)
        #expect(state.transaction == .holding(finals: 1, deadLetters: true, committedBefore: false))
        let planDue = state.plan()
        let plan = try #require(planDue)
        #expect(state.transaction == .committing(plan: plan, finals: 1, forgetting: nil, committedBefore: false))
        #expect(state.committed(plan) == .beginNext(firstCommit: true))
        #expect(state.transaction == .empty(committedBefore: true))
        #expect(state.delta.totalsWritten == plan.totals.count + 1)
        state.read(times: [base + 2 * hour + 2], from: 3)
        let secondDue = state.plan()
        #expect(state.committed(try #require(secondDue)) == .beginNext(firstCommit: false))
    }

    @Test("nothing sent and nothing changed: no commit, and the transaction stays empty")
    func nothingDue() {
        var state = AccountingState(makeFlow: makeTestFlow)
        _ = state.assigned([tp0], committed: [:], now: now)
        #expect(state.takeClosedWindows().isEmpty)
        #expect(state.commitDue { _ in nil } == .nothing)
        #expect(state.transaction == .empty(committedBefore: false))
    }

    @Test("a revoke commits what is held first; the partitions are forgotten once it committed, and kept for a straight return")
    func revokeCommitsThenForgets() throws {
        var state = AccountingState(makeFlow: makeTestFlow)
        _ = state.assigned([tp0, tp1], committed: [:], now: now)
        state.read(times: [base, base + 1])
        guard case .commit(let plan) = state.revoked([tp0], highWatermark: { _ in nil }) else {
            Issue.record("a revoke with uncommitted records did not commit them")
            return
        }
        #expect(plan.checkpoints.map(\.nextOffset) == [2])
        #expect(state.slot(of: tp0) == 0, "not forgotten before the commit")
        #expect(state.committed(plan) == .beginNext(firstCommit: true))
        #expect(state.slot(of: tp0) == nil && state.slot(of: tp1) == 0)
        #expect(state.assigned([tp0], committed: [tp0: 2], now: now) == .start([tp0: 2]), "kept with its committed checkpoint")
    }

    @Test("a revoke with nothing due forgets the partitions at once; a poisoned state refuses it and forgets nothing")
    func revokeWithoutCommit() {
        var state = AccountingState(makeFlow: makeTestFlow)
        _ = state.assigned([tp0, tp1], committed: [:], now: now)
        #expect(state.revoked([tp1]) { _ in nil } == .nothing)
        #expect(state.slot(of: tp1) == nil)
        state.read(times: [base])
        state.commitFailed("broker gone")
        #expect(state.revoked([tp0]) { _ in nil } == .fail("broker gone"))
        #expect(state.slot(of: tp0) == 0)
        state.deadLetterFailed("queue full")
        state.commitFailed("later")
        #expect(state.transaction == .failed("broker gone", committedBefore: false), "the first failure is kept")
    }

    @Test("a failed dead letter refuses every commit and revoke, keeps its first error, and is cured by losing the partitions")
    func deadLetterFailure() throws {
        var state = AccountingState(makeFlow: makeTestFlow)
        _ = state.assigned([tp0], committed: [:], now: now)
        state.read(times: [base])
        let planDue = state.plan()
        _ = state.committed(try #require(planDue))
        state.deadLetterFailed("queue full")
        state.deadLetterFailed("still full")
        #expect(state.transaction == .deadLetterFailed("queue full", committedBefore: true))
        #expect(state.commitDue { _ in nil } == .fail("queue full"))
        #expect(state.revoked([tp0]) { _ in nil } == .fail("queue full"))
        #expect(state.lost() == .abortAndBeginNext)
        #expect(state.transaction == .empty(committedBefore: true))
        #expect(state.partitions.isEmpty && state.slot(of: tp0) == nil)
    }

    @Test("losing the partitions aborts and begins a transaction in every state but committing; a failure survives it")
    func lossInEachState() {
        var holding = AccountingState(makeFlow: makeTestFlow)
        _ = holding.assigned([tp0], committed: [:], now: now)
        _ = holding.read(TestRecord(garbageAt: 0))
        let generation = holding.generation
        #expect(holding.lost() == .abortAndBeginNext)
        #expect(holding.transaction == .empty(committedBefore: false) && holding.generation > generation)
        #expect(holding.commitDue { _ in nil } == .nothing, "the aborted dead letter is not committed")

        var failed = AccountingState(makeFlow: makeTestFlow)
        _ = failed.assigned([tp0], committed: [:], now: now)
        failed.commitFailed("broker gone")
        #expect(failed.lost() == .abortAndBeginNext)
        #expect(failed.isFailed && failed.partitions.isEmpty)
    }

    @Test("a failed commit poisons a commit under way: `committed` may not follow, every later commit fails")
    func commitFailsWhileCommitting() throws {
        var state = AccountingState(makeFlow: makeTestFlow)
        _ = state.assigned([tp0], committed: [:], now: now)
        state.read(times: [base])
        let planDue = state.plan()
        _ = try #require(planDue)
        state.commitFailed("fenced")
        #expect(state.transaction == .failed("fenced", committedBefore: false))
        #expect(state.commitDue { _ in nil } == .fail("fenced"))
        #expect(state.takeClosedWindows().isEmpty)
    }

    @Test("a restore after `readCheckpoints` returns where each partition starts and the checkpoint it resumes from")
    func restoreAction() {
        var state = AccountingState(makeFlow: makeTestFlow)
        #expect(state.assigned([tp0], committed: [tp0: 4], now: now) == .readCheckpoints([tp0]))
        let checkpoint = Checkpoint(tp0, nextOffset: 4, rebuildFrom: 1, watermark: nil)
        guard case .start(let starts, let resumed) = state.restore([tp0: [4: checkpoint]]) else {
            Issue.record("restore refused")
            return
        }
        #expect(starts == [tp0: 1])
        #expect(resumed.map(\.0) == [tp0] && resumed.map(\.1) == [checkpoint])
        #expect(!state.isFailed)
    }

    @Test("an assignment or a failed assignment is taken in a poisoned state too (the loop stops anyway)")
    func rebalancesWhenFailed() {
        var state = AccountingState(makeFlow: makeTestFlow)
        state.commitFailed("broker gone")
        #expect(state.assigned([tp0, tp1], committed: [:], now: now) == .start([:]))
        state.assignmentFailed([tp1])
        #expect(state.slot(of: tp0) == 0 && state.slot(of: tp1) == nil)
        #expect(state.commitDue { _ in nil } == .fail("broker gone"))
    }

    // MARK: Illegal events

    #if DEBUG
    @Test("an event in a state where it cannot happen stops a debug build", arguments: IllegalEvent.allCases)
    func illegalEventStopsDebugBuilds(_ event: IllegalEvent) async {
        let result = await #expect(processExitsWith: .failure, observing: [\.standardErrorContent], "\(event)") { [event] in
            _ = event.happen()
        }
        // Stopped by the state's assertion, not by some other trap on the way.
        let output = String(decoding: result?.standardErrorContent ?? [], as: UTF8.self)
        #expect(output.contains("cannot happen while the transaction is"), "\(output)")
    }
    #else
    @Test("an event in a state where it cannot happen poisons a release build: it is refused and nothing commits after it",
          arguments: IllegalEvent.allCases)
    func illegalEventPoisonsReleaseBuilds(_ event: IllegalEvent) {
        #expect(event.happen())
    }
    #endif
}

/// Events sent in a state where they cannot happen (a bug of the driver).
enum IllegalEvent: String, CaseIterable, Codable, Sendable {
    case committedWithoutPlan
    case committedAnotherPlan
    case restoreWithoutReadCheckpoints
    case recordForUnknownSlot
    case commitDueWhileCommitting
    case revokedWhileCommitting
    case lostWhileCommitting
    case assignedWhileCommitting
    case restoreWhileCommitting
    case closedWindowsWhileCommitting
    case deadLetterWhileCommitting
    case deadLetterFailedWhileCommitting
    case assignmentFailedWhileCommitting
    case tickWhileCommitting

    /// Brings a state to where the event cannot happen and sends it. Returns (in release builds; debug builds stop)
    /// whether it was refused: the action, where the event has one, says `fail`, and the state is poisoned with
    /// nothing committed after it.
    func happen() -> Bool {
        var state = AccountingState(makeFlow: makeTestFlow)
        let now = ContinuousClock.now
        _ = state.assigned([tp0], committed: [:], now: now)
        state.read(times: [base])
        var refused = true
        if self != .committedWithoutPlan && self != .restoreWithoutReadCheckpoints && self != .recordForUnknownSlot {
            guard case .commit = state.commitDue(highWatermark: { _ in nil }) else { return false }
        }
        switch self {
        case .committedWithoutPlan:
            refused = isFail(state.committed(AccountingState.CommitPlan(totals: [], checkpoints: [])))
        case .committedAnotherPlan:
            refused = isFail(state.committed(AccountingState.CommitPlan(totals: [], checkpoints: [])))
        case .restoreWithoutReadCheckpoints, .restoreWhileCommitting:
            if case .start = state.restore([:]) { refused = false }
        case .recordForUnknownSlot:
            refused = state.read(TestRecord(base, offset: 1), slot: 5).isNone
        case .commitDueWhileCommitting:
            refused = state.commitDue { _ in nil } == .fail(reason(state))
        case .revokedWhileCommitting:
            refused = state.revoked([tp0]) { _ in nil } == .fail(reason(state))
        case .lostWhileCommitting:
            refused = isFail(state.lost())
        case .assignedWhileCommitting:
            refused = state.assigned([tp1], committed: [:], now: now) == .fail(reason(state))
        case .closedWindowsWhileCommitting:
            refused = state.takeClosedWindows().isEmpty
        case .deadLetterWhileCommitting:
            _ = state.read(TestRecord(garbageAt: 1))
        case .deadLetterFailedWhileCommitting:
            state.deadLetterFailed("queue full")
        case .assignmentFailedWhileCommitting:
            state.assignmentFailed([tp0])
        case .tickWhileCommitting:
            refused = state.tick(now: now, wallClock: base, idleMilliseconds: nil) { _ in nil }.isEmpty
        }
        return refused && state.isFailed && state.commitDue { _ in nil } != .nothing
    }

    private func isFail<H, F>(_ action: AccountingState<H, F>.TransactionAction) -> Bool {
        if case .fail = action { return true }
        return false
    }

    private func reason<H, F>(_ state: AccountingState<H, F>) -> String {
        if case .failed(let reason, _) = state.transaction { return reason }
        return ""
    }
}
