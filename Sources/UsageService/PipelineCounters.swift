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
        /// Totals written to both sinks.
        public var totalsWritten = 0
        /// Offset commits made.
        public var commits = 0

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
        }
    }

    private let state = Mutex(Snapshot())

    /// Creates zeroed counters.
    public init() {}

    /// The current values.
    public var snapshot: Snapshot { state.withLock { $0 } }

    func publish(_ delta: Snapshot) {
        state.withLock { $0.add(delta) }
    }
}
