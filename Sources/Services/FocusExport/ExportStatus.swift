import ProcessSupport
import Synchronization
import UsageStandard

/// The export schedule's progress and failures, as the operations endpoints show them.
public final class ExportStatus: Sendable {
    /// After this many failed passes in a row the schedule reports not ready.
    public static let failuresBeforeNotReady = 3

    struct State {
        var passes = 0
        var failures = 0
        var consecutiveFailures = 0
        var periodsWritten = 0
        var unpricedRows = 0
        var waiting = 0
        var standby = false
        var heldBack: String?
        var lastSuccess: Timestamp?
        var lastError: String?
    }

    private let state = Mutex(State())

    /// Creates an empty status.
    public init() {}

    func heldBack(_ reason: String) {
        state.withLock { $0.heldBack = reason }
    }

    func passed(_ report: ExportPassReport, at time: Timestamp) {
        state.withLock { state in
            state.heldBack = nil
            state.passes += 1
            state.consecutiveFailures = 0
            state.periodsWritten += report.written.count
            for case .written(_, _, _, _, let unpriced, _) in report.written { state.unpricedRows += unpriced }
            state.waiting = report.waiting.count
            state.standby = report.standby
            state.lastSuccess = time
            state.lastError = nil
        }
    }

    func failed(_ error: ExportError, at time: Timestamp) {
        state.withLock { state in
            state.heldBack = nil
            state.passes += 1
            state.failures += 1
            state.consecutiveFailures += 1
            state.lastError = error.message
        }
    }

    /// Why the process should count as not ready (the last `failuresBeforeNotReady` passes failed), nil otherwise.
    public var notReadyReason: String? {
        state.withLock { state in
            guard state.consecutiveFailures >= Self.failuresBeforeNotReady, let error = state.lastError else { return nil }
            return "FOCUS export failed \(state.consecutiveFailures) times in a row: \(error)"
        }
    }

    /// One line for `/readyz`: what the schedule is doing.
    public var summary: String {
        state.withLock { state in
            if let error = state.lastError { return "export: failing (\(state.consecutiveFailures) in a row): \(error)" }
            if let reason = state.heldBack { return "export: waiting: \(reason)" }
            if state.passes == 0 { return "export: first pass pending" }
            if state.standby { return "export: standby (another replica exports)" }
            return "export: ok, \(state.periodsWritten) periods written, last pass \(state.lastSuccess?.rfc3339 ?? "-")"
        }
    }

    /// The schedule as a part of the process's `/readyz` and `/metrics`.
    public var probe: ProbeContributor {
        ProbeContributor(notReadyReason: { self.notReadyReason }, summary: { self.summary }, samples: { self.samples })
    }

    /// The current samples.
    public var samples: [MetricSample] {
        state.withLock { state in
            [
                MetricSample(name: "export_passes", help: "FOCUS export passes run.", isCounter: true, value: Double(state.passes)),
                MetricSample(name: "export_failures", help: "FOCUS export passes that failed (retried with backoff).",
                       isCounter: true, value: Double(state.failures)),
                MetricSample(name: "export_periods_written", help: "Days and months written to S3 as new FOCUS revisions.",
                       isCounter: true, value: Double(state.periodsWritten)),
                MetricSample(name: "export_unpriced_rows", help: "Rows written without a price (zero cost, x_CostStatus says why): the price book needs a revision.",
                       isCounter: true, value: Double(state.unpricedRows)),
                MetricSample(name: "export_consecutive_failures", help: "FOCUS export passes failed in a row (0 after a success).",
                       isCounter: false, value: Double(state.consecutiveFailures)),
                MetricSample(name: "export_periods_waiting", help: "Days and months past their closing time with totals not yet final.",
                       isCounter: false, value: Double(state.waiting)),
                MetricSample(name: "export_last_success_timestamp_seconds", help: "Unix time of the last successful FOCUS export pass (0: none).",
                       isCounter: false, value: Double(state.lastSuccess?.milliseconds ?? 0) / 1000),
            ]
        }
    }
}
