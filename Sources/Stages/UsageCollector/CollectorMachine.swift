import ProcessSupport
import UsageStandard

/// One interval of one instance to collect.
public struct CollectionJob: Hashable, Sendable, CustomStringConvertible {
    /// The instance id.
    public var instance: String
    /// Interval start, inclusive (ms since the epoch).
    public var start: Int64
    /// Interval end, exclusive.
    public var end: Int64

    /// Creates a job.
    public init(instance: String, start: Int64, end: Int64) {
        self.instance = instance
        self.start = start
        self.end = end
    }

    public var description: String { "\(instance) \(Timestamp(milliseconds: start).rfc3339)" }
}

/// The collector's scheduler as a value: which interval of which instance to collect next, when, and what to do
/// after each step. Events in (`cursorsLoaded`, `registryChanged`, `next(now:)`, `collected`, `failed`), actions out;
/// the driver performs the actions (Prometheus queries, Kafka writes) and reports back. No I/O, no clock of its own.
///
/// Per instance it keeps a cursor: the end of the last interval whose events were delivered ("collected until").
/// The next interval runs from the cursor to the next interval boundary (a whole interval, unless the interval length
/// was changed since the cursor was stored: then one shorter interval realigns it, with no gap and no overlap). It is
/// due once its end plus the configured delay has passed; one job runs at a time, oldest due interval first. After a
/// failure the instance waits (1 s, doubling up to 30 s). An instance without a cursor starts with the interval its
/// first registry version falls in; intervals older than the backfill horizon are skipped (reported, never silent).
/// A deleted instance is collected up to the end of the interval its deletion falls in, then forgotten.
public struct CollectorMachine: Sendable {
    /// The waits between retries of a failed step: 1 s, doubling up to 30 s (also the driver's, for Kafka and the registry).
    public static let retryBackoff = RetryBackoff(initial: .seconds(1), maximum: .seconds(30))

    /// What the driver should do.
    public enum Action: Sendable, Equatable {
        /// Query Prometheus for the job's interval and publish its events; then call `collected` or `failed`.
        case collect(CollectionJob, InstanceDescription)
        /// Skip `[from, to)` of `instance` (older than the backfill horizon): log and count it. A `storeCursor` follows.
        case skip(instance: String, from: Int64, to: Int64)
        /// Store the cursor of `instance`: everything before `collectedUntil` (ms) is delivered or skipped.
        case storeCursor(instance: String, collectedUntil: Int64)
        /// The instance is deleted and fully collected; its cursor stays, so that a restart does not collect it again.
        case forget(instance: String)
        /// Nothing to do before `until` (ms since the epoch), unless the registry changes.
        case wait(until: Int64)
    }

    private struct InstanceState: Sendable {
        var description: InstanceDescription
        /// Everything before this is delivered; nil until the first job.
        var cursor: Int64?
        /// Where collection starts when there is no cursor.
        var firstStart: Int64
        var deletedAt: Int64?
        var retryAt: Int64 = 0
        var backoff = CollectorMachine.retryBackoff

        var nextStart: Int64 { cursor ?? firstStart }
    }

    /// The configuration (interval, delay, backfill).
    public let configuration: CollectorConfiguration
    private let cluster: String?
    private let interval: Int64
    private var instances: [String: InstanceState] = [:]
    private var loadedCursors: [String: Int64]?
    private var running: CollectionJob?
    private var finished: Set<String> = []
    private var pending: [Action] = []
    /// Why the last job failed, until one succeeds (for readiness).
    public private(set) var lastFailure: String?

    /// Creates the machine; with `cluster`, only instances on that Kubernetes cluster are collected.
    public init(configuration: CollectorConfiguration, cluster: String? = nil) {
        self.configuration = configuration
        self.cluster = cluster
        self.interval = configuration.intervalMilliseconds
    }

    private func alignDown(_ time: Int64) -> Int64 {
        let remainder = time % interval
        return remainder >= 0 ? time - remainder : time - remainder - interval
    }

    /// The end of the interval that starts at `start`: the next boundary after it.
    private func end(after start: Int64) -> Int64 { alignDown(start) + interval }

    /// The stored cursors were read (instance id -> collected until). Nothing is collected before.
    public mutating func cursorsLoaded(_ cursors: [String: Int64]) {
        loadedCursors = cursors
        for (id, cursor) in cursors { instances[id]?.cursor = cursor }
    }

    /// The registry changed (or was read for the first time).
    public mutating func registryChanged(_ registry: InstanceRegistry) {
        func first(_ id: String) -> Int64 { alignDown(registry.firstSeen(id)?.milliseconds ?? 0) }
        for (id, description) in registry.instances where cluster == nil || description.cluster == cluster {
            finished.remove(id)
            if instances[id] != nil {
                instances[id]?.description = description
                instances[id]?.deletedAt = nil
            } else {
                instances[id] = InstanceState(description: description, cursor: loadedCursors?[id], firstStart: first(id))
            }
        }
        for (id, time) in registry.deleted where !finished.contains(id) {
            if instances[id] == nil {
                // Deleted before this collector saw it live: collect what it used up to its deletion.
                guard let last = registry.versions[id]?.last(where: { $0.instance != nil })?.instance,
                      cluster == nil || last.cluster == cluster else { continue }
                instances[id] = InstanceState(description: last, cursor: loadedCursors?[id], firstStart: first(id))
            }
            if instances[id]?.deletedAt == nil { instances[id]?.deletedAt = time.milliseconds }
        }
        for (id, state) in instances where state.deletedAt == nil
            && registry.instances[id].map({ cluster == nil || $0.cluster == cluster }) != true {
            // No longer live here, without a deletion (moved to another cluster): stop at once.
            instances[id]?.deletedAt = state.nextStart
        }
    }

    /// The next action at wall clock `now` (ms since the epoch).
    public mutating func next(now: Int64) -> Action {
        if !pending.isEmpty { return pending.removeFirst() }
        guard loadedCursors != nil, running == nil else { return .wait(until: now + 1000) }
        let horizon = alignDown(now - configuration.backfillMilliseconds)
        var best: (id: String, start: Int64)?
        var earliest = now + interval
        for id in instances.keys.sorted() {
            guard let state = instances[id] else { continue }
            let start = state.nextStart
            if let deletedAt = state.deletedAt, start >= deletedAt {
                instances[id] = nil
                finished.insert(id)
                return .forget(instance: id)
            }
            if start < horizon {
                instances[id]?.cursor = horizon
                pending.append(.storeCursor(instance: id, collectedUntil: horizon))
                return .skip(instance: id, from: start, to: horizon)
            }
            let due = max(end(after: start) + configuration.delayMilliseconds, state.retryAt)
            guard due <= now else {
                earliest = min(earliest, due)
                continue
            }
            if let current = best, current.start <= start { continue }
            best = (id, start)
        }
        guard let best, let state = instances[best.id] else { return .wait(until: earliest) }
        let job = CollectionJob(instance: best.id, start: best.start, end: end(after: best.start))
        running = job
        return .collect(job, state.description)
    }

    /// The job's events were delivered: advance the cursor; the action stores it.
    public mutating func collected(_ job: CollectionJob) -> Action {
        running = nil
        lastFailure = nil
        if instances[job.instance] != nil {
            instances[job.instance]?.cursor = job.end
            instances[job.instance]?.backoff.succeeded()
            instances[job.instance]?.retryAt = 0
        }
        return .storeCursor(instance: job.instance, collectedUntil: job.end)
    }

    /// The job failed (Prometheus or Kafka): retry it after a backoff.
    public mutating func failed(_ job: CollectionJob, reason: String, now: Int64) {
        running = nil
        lastFailure = reason
        guard let wait = instances[job.instance]?.backoff.failed() else { return }
        instances[job.instance]?.retryAt = now + wait.wholeMilliseconds
    }

    /// How far behind each instance is: `now` minus the time its next interval is due (0 when up to date).
    public func lag(now: Int64) -> [String: Int64] {
        var result: [String: Int64] = [:]
        for (id, state) in instances {
            result[id] = max(0, now - (end(after: state.nextStart) + configuration.delayMilliseconds))
        }
        return result
    }

    /// The instances being collected.
    public var instanceIDs: [String] { instances.keys.sorted() }
}
