import Foundation
import Kafka
import Logging
import ProcessSupport
import ServiceLifecycle
import Synchronization
import UsageStages
import UsageStandard
import UsageTopology

extension KafkaRecord: CloudEventHeaderSource {
    /// The record as the input of a flow (its buffers stay valid while the record is handed to `poll`'s body).
    var incoming: IncomingRecord<KafkaRecord> {
        IncomingRecord(headers: self, key: key, value: value,
                       timestamp: timestampMilliseconds.map(Timestamp.init(milliseconds:)), offset: offset)
    }
}

/// The accounting service: consumes the instance event topics of its topology as a consumer group, runs each
/// partition's records through the topology's flow of stages (decode and validate, deduplicate, scope, key by,
/// window), sends rejected and late records to the dead-letter topic, and writes totals to the compacted totals
/// topic; a second loop copies the totals topic into PostgreSQL (`PostgresSinkLoop`).
///
/// Exactly once: every commit interval one Kafka transaction commits the changed totals, the dead letters, each
/// changed partition's `Checkpoint` (on the compacted checkpoint topic) and the consumer offsets, fenced by the
/// consumer group generation. On assignment a partition is restored from the checkpoint committed with the group's
/// offset, by re-reading it silently from the checkpoint's rebuild-from offset: processing is a pure function of the
/// records, so the restored windows and dedupe memory are exactly those of the committed state.
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
    /// The instance registry as the flows see it (nil without a registry topic).
    let instanceScopes: InstanceScopes?
    /// What the pipeline has done so far.
    public let counters = PipelineCounters()
    private let logger: Logger
    private let mode: RunMode
    private let stopRequested = Atomic<Bool>(false)
    private let accountingFinished = Atomic<Bool>(false)

    /// Creates the pipeline; nothing connects until `run`.
    public init(configuration: UsagePipelineConfiguration, mode: RunMode = .continuous, logger: Logger) {
        self.configuration = configuration
        instanceScopes = configuration.instanceTopic.map { _ in InstanceScopes() }
        self.mode = mode
        self.logger = logger
    }

    /// Runs the accounting loop and (with a database URL) the PostgreSQL sink loop, each on a dedicated thread, until cancelled, shut down
    /// gracefully, caught up (per `RunMode`) or failed. On the way out the accounting loop commits and leaves the
    /// group. If either loop fails, both stop and the error is thrown.
    public func run() async throws {
        try await withTaskCancellationOrGracefulShutdownHandler {
            try await withThrowingTaskGroup(of: Void.self) { group in
                group.addTask { [self] in
                    try await runStoppingAllOnError(thread: "ferris-usage-accounting") {
                        defer { self.accountingFinished.store(true, ordering: .relaxed) }
                        do {
                            let topology = self.configuration.topology
                            let instances = self.instanceScopes
                            try PipelineLoop(pipeline: self) { tp in
                                topology.makeFlow(partition: "\(tp.topic):\(tp.partition)", headers: KafkaRecord.self,
                                                  instances: instances)
                            }.run()
                        } catch {
                            self.counters.updateHealth { $0.failure = "\(error)" }
                            throw error
                        }
                    }
                }
                if let topic = configuration.instanceTopic, let scopes = instanceScopes {
                    group.addTask { [self] in
                        try await runStoppingAllOnError(thread: "ferris-usage-registry") {
                            try RegistryFollowLoop(pipeline: self, scopes: scopes, topic: topic).run()
                        }
                    }
                    group.addTask { [self] in
                        try await runStoppingAllOnError(thread: "ferris-usage-registry-dlq") {
                            try RegistryDeadLetterLoop(pipeline: self, topic: topic).run()
                        }
                    }
                }
                if configuration.databaseURL != nil {
                    group.addTask { [self] in
                        try await runStoppingAllOnError(thread: "ferris-usage-postgres") {
                            let stopWhenCaughtUp = if case .untilCaughtUp = self.mode { true } else { false }
                            try PostgresSinkLoop(pipeline: self).run(stopWhenCaughtUp: stopWhenCaughtUp) {
                                self.accountingFinished.load(ordering: .relaxed)
                            }
                        }
                    }
                }
                try await group.waitForAll()
            }
        } onCancelOrGracefulShutdown: { [self] in
            requestStop()
        }
    }

    private func runStoppingAllOnError(thread: String, _ body: @escaping @Sendable () throws -> Void) async throws {
        do {
            try await DedicatedThread.run(name: thread, body)
        } catch {
            requestStop()
            throw error
        }
    }

    /// Asks a running pipeline to finish its batch, emit, commit and return.
    public func requestStop() { stopRequested.store(true, ordering: .relaxed) }

    var shouldStop: Bool { stopRequested.load(ordering: .relaxed) }
    /// Helpers of the accounting loop (the registry loops) stop with it.
    var helpersShouldStop: Bool { shouldStop || accountingFinished.load(ordering: .relaxed) }
    var runMode: RunMode { mode }
    var log: Logger { logger }
}
