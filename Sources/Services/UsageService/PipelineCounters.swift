import Kafka
import Synchronization
import UsageStandard

/// Running counts of what the pipeline did, published once per batch (never per event).
public final class PipelineCounters: Sendable {
    /// A consistent copy of the counters.
    public struct Snapshot: Sendable, Equatable {
        /// Records read from the event topics (replayed records excluded).
        public var recordsRead = 0
        /// Events added to a window.
        public var eventsCounted = 0
        /// Valid events dropped because a scope rule excludes them.
        public var outOfScope = 0
        /// The same, by the scope rule that excluded them.
        public var outOfScopeByRule: [String: Int] = [:]
        /// Repeats of events already counted (same tenant, source and id), dropped.
        public var duplicates = 0
        /// Records that are not valid usage events, by reason code.
        public var rejected: [String: Int] = [:]
        /// Events whose window had already closed.
        public var late = 0
        /// Totals committed to the totals topic.
        public var totalsWritten = 0
        /// Kafka transactions committed (each commits totals, dead letters, checkpoints and offsets).
        public var commits = 0
        /// Totals written to PostgreSQL by the sink.
        public var sinkRowsWritten = 0
        /// Failed PostgreSQL writes (each retried with backoff).
        public var sinkFailures = 0
        /// Instance events (of the registry topic) refused and dead-lettered, by reason code.
        public var instanceEventsRejected: [String: Int] = [:]

        /// Zeroed counters.
        public init() {}

        /// All rejected records.
        public var rejectedTotal: Int { rejected.values.reduce(0, +) }

        mutating func add(_ other: Snapshot) {
            recordsRead += other.recordsRead
            eventsCounted += other.eventsCounted
            outOfScope += other.outOfScope
            outOfScopeByRule.merge(other.outOfScopeByRule, uniquingKeysWith: +)
            duplicates += other.duplicates
            rejected.merge(other.rejected, uniquingKeysWith: +)
            late += other.late
            totalsWritten += other.totalsWritten
            commits += other.commits
            sinkRowsWritten += other.sinkRowsWritten
            sinkFailures += other.sinkFailures
            instanceEventsRejected.merge(other.instanceEventsRejected, uniquingKeysWith: +)
        }
    }

    /// How the accounting loop is doing right now (published a few times a second, never per event).
    public struct Health: Sendable {
        /// Lag and last progress of one assigned partition.
        public struct Partition: Sendable, Equatable {
            /// Records behind the end of the partition (from fetch responses); nil until a fetch response told the end.
            public var lag: Int64?
            /// When the partition last moved forward, or when it was assigned.
            public var lastProgress: ContinuousClock.Instant
        }

        /// True once the consumer has joined its group (its assignment may be empty).
        public var joined = false
        /// When the loop last came round (it polls at least every 100 ms when well).
        public var lastLoop: ContinuousClock.Instant?
        /// The assigned partitions.
        public var partitions: [KafkaTopicPartition: Partition] = [:]
        /// Open windows (keys x hours) over all assigned partitions.
        public var openWindows = 0
        /// Why the loop stopped, if it failed.
        public var failure: String?
        /// How long the last transaction took to commit.
        public var lastCommitSeconds = 0.0

        /// Ready while the loop comes round, has joined its group and no assigned partition with records to read
        /// (or whose end the broker has not told yet) has stood still for `stallAfter`. Never ready after a failure. Returns the reason when not ready.
        public func readiness(now: ContinuousClock.Instant, stallAfter: Duration) -> (ready: Bool, reason: String) {
            if let failure { return (false, "the accounting loop failed: \(failure)") }
            guard let lastLoop else { return (false, "starting") }
            if now - lastLoop > stallAfter { return (false, "the accounting loop has not come round for \(now - lastLoop)") }
            guard joined else { return (false, "joining the consumer group") }
            // A partition whose end is still unknown has had no fetch response since it was assigned.
            let stalled = partitions.filter { ($0.value.lag ?? 1) > 0 && now - $0.value.lastProgress > stallAfter }
            if let (tp, partition) = stalled.min(by: { $0.key.description < $1.key.description }) {
                return (false, "\(stalled.count) partition(s) with records to read (or no answer from the broker) made no progress for \(stallAfter) (e.g. \(tp), lag \(partition.lag.map(String.init) ?? "unknown"))")
            }
            return (true, "consuming \(partitions.count) partition(s)")
        }
    }

    private let state = Mutex(Snapshot())
    private let healthState = Mutex(Health())
    private let commitDurations = Mutex<[Duration]>([])
    private let lag = Atomic<Int>(0)

    /// The loop's current health.
    public var health: Health { healthState.withLock { $0 } }

    func updateHealth(_ body: (inout Health) -> Void) { healthState.withLock { body(&$0) } }

    /// Takes the durations of the transactions committed since the last call (at most the latest 10,000).
    public func takeCommitDurations() -> [Duration] {
        commitDurations.withLock { durations in
            defer { durations.removeAll(keepingCapacity: true) }
            return durations
        }
    }

    func recordCommit(_ duration: Duration) {
        commitDurations.withLock { durations in
            if durations.count >= 10_000 { durations.removeFirst(durations.count - 9_999) }
            durations.append(duration)
        }
    }

    /// Totals not yet written to PostgreSQL (read from the totals topic or still behind its end).
    public var sinkLag: Int { lag.load(ordering: .relaxed) }

    func setSinkLag(_ value: Int) { lag.store(value, ordering: .relaxed) }

    /// Creates zeroed counters.
    public init() {}

    /// The current values.
    public var snapshot: Snapshot { state.withLock { $0 } }

    func publish(_ delta: Snapshot) {
        state.withLock { $0.add(delta) }
    }
}
