import Testing
import UsageCollector
import UsageStandard

func registry(_ events: [(InstanceDescription, InstanceChange, Int64)]) -> InstanceRegistry {
    var registry = InstanceRegistry()
    for (description, change, time) in events {
        let event = change == .deleted
            ? InstanceEvent(deleted: description.id, id: "\(time)", source: "/t", time: Timestamp(milliseconds: time))
            : InstanceEvent(id: "\(time)", source: "/t", time: Timestamp(milliseconds: time), change: change, instance: description)
        _ = registry.apply(.event(event), recordTime: Timestamp(milliseconds: time))
    }
    return registry
}

func machine(backfill: Int64 = 3_600_000, cluster: String? = nil) -> CollectorMachine {
    var config = CollectorConfiguration()
    config.backfillMilliseconds = backfill
    return CollectorMachine(configuration: config, cluster: cluster)
}

@Suite struct CollectorScheduling {
    let delay: Int64 = 30_000

    @Test func nothingBeforeTheCursorsAreLoaded() {
        var machine = machine()
        machine.registryChanged(registry([(instance, .created, t0 + 5_000)]))
        guard case .wait = machine.next(now: t0 + 10 * minute) else { Issue.record("collected before the cursors were loaded"); return }
    }

    @Test func aNewInstanceStartsWithTheIntervalItWasCreatedIn() {
        var machine = machine()
        machine.cursorsLoaded([:])
        machine.registryChanged(registry([(instance, .created, t0 + 5_000)]))
        // Due only once the interval's end plus the delay has passed.
        #expect(machine.next(now: t0 + minute + delay - 1) == .wait(until: t0 + minute + delay))
        let job = CollectionJob(instance: "team-gcp", start: t0, end: t0 + minute)
        #expect(machine.next(now: t0 + minute + delay) == .collect(job, instance))
        // One job at a time.
        guard case .wait = machine.next(now: t0 + 5 * minute) else { Issue.record("a second job while one runs"); return }
        #expect(machine.collected(job) == .storeCursor(instance: "team-gcp", collectedUntil: t0 + minute))
        #expect(machine.next(now: t0 + 2 * minute + delay) == .collect(CollectionJob(instance: "team-gcp", start: t0 + minute, end: t0 + 2 * minute), instance))
    }

    @Test func aStoredCursorIsResumedWithoutGapOrRepeat() {
        var machine = machine()
        machine.registryChanged(registry([(instance, .created, t0)]))
        machine.cursorsLoaded(["team-gcp": t0 + 8 * minute])
        #expect(machine.next(now: t0 + 20 * minute) == .collect(CollectionJob(instance: "team-gcp", start: t0 + 8 * minute, end: t0 + 9 * minute), instance))
        #expect(machine.lag(now: t0 + 20 * minute)["team-gcp"] == 20 * minute - 9 * minute - delay)
    }

    @Test func aFailedIntervalIsRetriedAfterABackoff() {
        var machine = machine()
        machine.cursorsLoaded(["team-gcp": t0 + minute])
        machine.registryChanged(registry([(instance, .created, t0)]))
        let now = t0 + 5 * minute
        guard case .collect(let job, _) = machine.next(now: now) else { Issue.record("no job"); return }
        machine.failed(job, reason: "Prometheus is unreachable", now: now)
        #expect(machine.lastFailure == "Prometheus is unreachable")
        #expect(machine.next(now: now + 999) == .wait(until: now + 1000))
        #expect(machine.next(now: now + 1000) == .collect(job, instance))
        machine.failed(job, reason: "again", now: now + 1000)
        #expect(machine.next(now: now + 2999) == .wait(until: now + 3000))
        #expect(machine.next(now: now + 3000) == .collect(job, instance))
        _ = machine.collected(job)
        #expect(machine.lastFailure == nil)
    }

    @Test func intervalsBeyondTheBackfillHorizonAreSkippedAndReported() {
        var machine = machine(backfill: 10 * minute)
        machine.cursorsLoaded(["team-gcp": t0 + minute])
        machine.registryChanged(registry([(instance, .created, t0)]))
        let now = t0 + 60 * minute + 5_000
        #expect(machine.next(now: now) == .skip(instance: "team-gcp", from: t0 + minute, to: t0 + 50 * minute))
        #expect(machine.next(now: now) == .storeCursor(instance: "team-gcp", collectedUntil: t0 + 50 * minute))
        #expect(machine.next(now: now) == .collect(CollectionJob(instance: "team-gcp", start: t0 + 50 * minute, end: t0 + 51 * minute), instance))
    }

    @Test func theOldestDueIntervalGoesFirst() {
        var other = instance
        other.id = "solo-gcp"
        other.namespaces = ["ferris-solo"]
        var machine = machine()
        machine.cursorsLoaded(["team-gcp": t0 + 6 * minute, "solo-gcp": t0 + 3 * minute])
        machine.registryChanged(registry([(instance, .created, t0), (other, .created, t0)]))
        #expect(machine.next(now: t0 + 10 * minute) == .collect(CollectionJob(instance: "solo-gcp", start: t0 + 3 * minute, end: t0 + 4 * minute), other))
    }

    @Test func aDeletedInstanceIsCollectedUpToItsDeletionThenForgotten() {
        var machine = machine()
        machine.cursorsLoaded(["team-gcp": t0 + minute])
        machine.registryChanged(registry([(instance, .created, t0), (instance, .deleted, t0 + minute + 10_000)]))
        let now = t0 + 10 * minute
        let job = CollectionJob(instance: "team-gcp", start: t0 + minute, end: t0 + 2 * minute)
        #expect(machine.next(now: now) == .collect(job, instance))
        _ = machine.collected(job)
        #expect(machine.next(now: now) == .forget(instance: "team-gcp"))
        guard case .wait = machine.next(now: now) else { Issue.record("collected a forgotten instance"); return }
    }

    @Test func onlyTheConfiguredClustersInstances() {
        var elsewhere = instance
        elsewhere.id = "hybrid-onprem"
        elsewhere.cluster = "onprem-k8s"
        var machine = machine(cluster: "gke")
        machine.cursorsLoaded([:])
        machine.registryChanged(registry([(instance, .created, t0), (elsewhere, .created, t0)]))
        #expect(machine.instanceIDs == ["team-gcp"])
    }

    @Test func aCursorOffTheIntervalGridIsRealignedWithoutGapOrOverlap() {
        // Stored by a collector with 30 s intervals; this one has 60 s intervals.
        var machine = machine()
        machine.cursorsLoaded(["team-gcp": t0 + 90_000])
        machine.registryChanged(registry([(instance, .created, t0)]))
        let short = CollectionJob(instance: "team-gcp", start: t0 + 90_000, end: t0 + 2 * minute)
        #expect(machine.next(now: t0 + 10 * minute) == .collect(short, instance))
        _ = machine.collected(short)
        #expect(machine.next(now: t0 + 10 * minute) == .collect(CollectionJob(instance: "team-gcp", start: t0 + 2 * minute, end: t0 + 3 * minute), instance))
    }

    @Test func anInstanceMovedToAnotherClusterStopsAtOnce() {
        var machine = machine(cluster: "gke")
        machine.cursorsLoaded(["team-gcp": t0 + 3 * minute])
        machine.registryChanged(registry([(instance, .created, t0)]))
        var moved = instance
        moved.cluster = "aks"
        machine.registryChanged(registry([(instance, .created, t0), (moved, .updated, t0 + 4 * minute)]))
        #expect(machine.next(now: t0 + 10 * minute) == .forget(instance: "team-gcp"))
        #expect(machine.instanceIDs.isEmpty)
    }
}
