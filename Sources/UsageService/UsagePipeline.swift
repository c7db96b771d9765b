import Foundation
import Kafka
import Logging
import ServiceLifecycle
import Synchronization
import UsageStages
import UsageStandard
import UsageTopology

extension KafkaRecord: CloudEventHeaderSource {}

/// The accounting service: consumes the instance event topics of its topology as a consumer group, runs each
/// partition's records through the topology's flow of stages (decode and validate, deduplicate, scope, key by,
/// window), sends rejected and late records to the dead-letter topic, and writes totals to the compacted totals
/// topic and to PostgreSQL.
///
/// Progress is recorded only after both sinks have the totals that cover it: totals are produced and
/// acknowledged by the broker, then written to PostgreSQL together with each partition's `Checkpoint`
/// (next offset, rebuild-from offset, watermark) in one transaction, then the consumer offsets are committed.
/// On assignment the open windows are rebuilt by re-reading the partition silently from the checkpoint's
/// rebuild-from offset: totals are absolute and deterministic, so a total re-emitted after a crash equals
/// the one emitted before it.
public final class UsagePipeline: Service, Sendable {
    /// When `run` returns.
    public enum RunMode: Sendable {
        /// Until cancelled or shut down gracefully.
        case continuous
        /// Once at least `partitions` partitions are assigned and every assigned partition has been read to its
        /// end (for the demo and tests).
        case untilCaughtUp(partitions: Int)
    }

    /// The configuration.
    public let configuration: UsagePipelineConfiguration
    /// What the pipeline has done so far.
    public let counters = PipelineCounters()
    private let logger: Logger
    private let mode: RunMode
    private let stopRequested = Atomic<Bool>(false)

    /// Creates the pipeline; nothing connects until `run`.
    public init(configuration: UsagePipelineConfiguration, mode: RunMode = .continuous, logger: Logger) {
        self.configuration = configuration
        self.mode = mode
        self.logger = logger
    }

    /// Runs the flow on a dedicated thread until cancelled, shut down gracefully, caught up (per `RunMode`)
    /// or failed. On the way out it emits, commits and leaves the group.
    public func run() async throws {
        try await withTaskCancellationOrGracefulShutdownHandler {
            try await DedicatedThread.run(name: "ferris-usage-pipeline") { [self] in
                let loop = try PipelineLoop(pipeline: self)
                try loop.run()
            }
        } onCancelOrGracefulShutdown: { [self] in
            stopRequested.store(true, ordering: .relaxed)
        }
    }

    /// Asks a running pipeline to finish its batch, emit, commit and return.
    public func requestStop() { stopRequested.store(true, ordering: .relaxed) }

    var shouldStop: Bool { stopRequested.load(ordering: .relaxed) }
    var runMode: RunMode { mode }
    var log: Logger { logger }
}
