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
        /// Time spent committing those transactions, in microseconds.
        public var commitMicroseconds: Int64 = 0
        /// Totals written to PostgreSQL by the sink.
        public var sinkRowsWritten = 0
        /// Failed PostgreSQL writes (each retried with backoff).
        public var sinkFailures = 0

        /// All rejected records.
        public var rejectedTotal: Int { rejected.values.reduce(0, +) }

        mutating func add(_ other: Snapshot) {
            recordsRead += other.recordsRead
            eventsCounted += other.eventsCounted
            outOfScope += other.outOfScope
            duplicates += other.duplicates
            rejected.merge(other.rejected, uniquingKeysWith: +)
            late += other.late
            totalsWritten += other.totalsWritten
            commits += other.commits
            commitMicroseconds += other.commitMicroseconds
            sinkRowsWritten += other.sinkRowsWritten
            sinkFailures += other.sinkFailures
        }
    }

    private let state = Mutex(Snapshot())
    private let lag = Atomic<Int>(0)

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
