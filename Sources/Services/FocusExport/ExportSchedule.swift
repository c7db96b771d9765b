import Foundation
import Logging
import ProcessSupport
import ServiceLifecycle
import Synchronization
import UsageStandard

/// The in-service export schedule: a `Service` that runs a pass (`FocusExporter.pass`) every `interval`, so that each
/// day is exported once it is closed and final, each month once its days are, and each change after an export
/// (a late total, a replay) as a new revision. It only reads PostgreSQL and never touches the accounting: a failing
/// pass is retried with backoff (`initialRetryDelay` doubling to `maximumRetryDelay`) and reported in `status`.
/// Several replicas may run it: a PostgreSQL advisory lock lets one of them export at a time.
public final class ExportSchedule: Service, Sendable {
    /// Progress and failures, for `/metrics` and `/readyz`.
    public let status = ExportStatus()
    private let configuration: ExportConfiguration
    private let logger: Logger
    private let now: @Sendable () -> Timestamp
    private let holdBack: @Sendable () -> String?
    private let stopping = StopFlag()
    private let exporter: FocusExporter

    /// Creates the schedule (it connects at its first pass); `now` is the wall clock. Before each pass it asks
    /// `holdBack` whether to wait (a reason, e.g. "the accounting is far behind", or nil to go ahead); while it gets a
    /// reason, it asks again after `initialRetryDelay`.
    public init(configuration: ExportConfiguration, logger: Logger,
                now: @escaping @Sendable () -> Timestamp = { Timestamp(milliseconds: WallClock.milliseconds()) },
                holdBack: @escaping @Sendable () -> String? = { nil }) throws(ExportError) {
        self.configuration = configuration
        self.logger = logger
        self.now = now
        self.holdBack = holdBack
        let stopping = self.stopping
        exporter = try FocusExporter(configuration: configuration, logger: logger) { stopping.value.load(ordering: .relaxed) }
    }

    /// Runs passes until graceful shutdown or cancellation; a pass in progress is stopped at its next step and leaves
    /// no manifest behind.
    public func run() async {
        let stopping = self.stopping
        let exporter = self.exporter
        var backoff = RetryBackoff(initial: configuration.initialRetryDelay, maximum: configuration.maximumRetryDelay)
        var memory = ExportMemory()
        logger.info("FOCUS export schedule started", metadata: ["destination": "\(configuration.destination)",
                                                                "interval": "\(configuration.interval)"])
        await withTaskCancellationHandler {
            await withGracefulShutdownHandler {
                while !stopping.value.load(ordering: .relaxed) {
                    if let reason = holdBack() {
                        status.heldBack(reason)
                        let wait = configuration.initialRetryDelay
                        try? await cancelWhenGracefulShutdown { try await Task.sleep(for: wait) }
                        continue
                    }
                    let time = now()
                    let remembered = memory
                    let result = await DedicatedThread.run(name: "focus-export") { () -> Result<(ExportPassReport, ExportMemory), ExportError> in
                        var memory = remembered
                        do throws(ExportError) {
                            return .success((try exporter.pass(now: time, memory: &memory), memory))
                        } catch {
                            return .failure(error)
                        }
                    }
                    if stopping.value.load(ordering: .relaxed) { break }
                    let delay: Duration
                    switch result {
                    case .success(let (report, updated)):
                        memory = updated
                        backoff.succeeded()
                        status.passed(report, at: time)
                        for outcome in report.written { logger.notice("FOCUS export: \(outcome)") }
                        delay = configuration.interval
                    case .failure(let error):
                        delay = backoff.failed()
                        status.failed(error, at: time)
                        logger.error("FOCUS export pass failed; retrying", metadata: ["error": "\(error)", "retry_in": "\(delay)"])
                    }
                    try? await cancelWhenGracefulShutdown { try await Task.sleep(for: delay) }
                }
            } onGracefulShutdown: {
                stopping.value.store(true, ordering: .relaxed)
            }
        } onCancel: {
            stopping.value.store(true, ordering: .relaxed)
        }
        logger.info("FOCUS export schedule stopped")
    }

    private final class StopFlag: Sendable {
        let value = Atomic(false)
    }
}

/// When the accounting of the process that runs the schedule is too far behind for a pass to trust "every total
/// final": a partition more than `limit` records behind its end holds its provisional totals back (the accounting
/// loop's own rule), so a closed day's last hours may be missing from PostgreSQL altogether.
public enum AccountingBacklog {
    /// The accounting loop's limit: above this many records behind, a partition writes only final totals.
    public static let limit: Int64 = 10_000

    /// Why to wait (nil: go ahead): not joined yet, a partition whose lag is unknown or above `limit`, or a
    /// PostgreSQL sink more than `limit` totals behind the totals topic.
    public static func reason(joined: Bool, partitionLags: [Int64?], sinkLag: Int64, limit: Int64 = limit) -> String? {
        guard joined else { return "the accounting has not joined its consumer group yet" }
        let behind = partitionLags.filter { ($0 ?? .max) > limit }.count
        if behind > 0 { return "\(behind) input partition(s) more than \(limit) records behind (or of unknown lag)" }
        if sinkLag > limit { return "the PostgreSQL sink is \(sinkLag) totals behind" }
        return nil
    }
}
