import ProcessSupport
import Prometheus
import Synchronization

/// What the collector has done and whether it is ready, for `/readyz` and `/metrics` (`ferris_collect_*`).
public final class CollectorStatus: Sendable {
    struct State {
        var registryRead = false
        var cursorsLoaded = false
        var prometheusUp = true
        var lastFailure: String?
        var lag: [String: Int64] = [:]
        var lagGauges: [String: Gauge] = [:]
    }

    private let state = Mutex(State())
    private let maxLagMilliseconds: Int64
    /// The metrics registry.
    public let registry = PrometheusCollectorRegistry()

    /// Creates a status; the collector is not ready while an instance is more than `maxLagMilliseconds` behind.
    public init(maxLagMilliseconds: Int64) {
        self.maxLagMilliseconds = maxLagMilliseconds
    }

    private func counter(_ name: String, _ help: String, _ labels: [(String, String)] = []) -> Counter {
        registry.makeCounter(descriptor: MetricNameDescriptor(namespace: "ferris_collect", metricName: name, unitName: "total",
                                                              helpText: help), labels: labels)
    }

    func intervalCollected(instance: String, events: Int, unmapped: Int) {
        counter("intervals", "Intervals collected and delivered.").increment()
        counter("events", "Usage events delivered.").increment(by: Int64(events))
        if unmapped > 0 { counter("series_unmapped", "Series skipped because no label mapped them to a component.").increment(by: Int64(unmapped)) }
        state.withLock { $0.lastFailure = nil }
    }

    func intervalsSkipped(instance: String, milliseconds: Int64) {
        counter("skipped_seconds", "Time older than the backfill horizon, not collected.", [("instance", instance)])
            .increment(by: milliseconds / 1000)
    }

    func failed(stage: String, reason: String) {
        counter("failures", "Failed Prometheus queries or Kafka writes (retried).", [("stage", stage)]).increment()
        state.withLock { $0.lastFailure = "\(stage): \(reason)" }
    }

    func update(registryRead: Bool? = nil, cursorsLoaded: Bool? = nil, prometheusUp: Bool? = nil, lag: [String: Int64]? = nil) {
        state.withLock { state in
            if let registryRead { state.registryRead = registryRead }
            if let cursorsLoaded { state.cursorsLoaded = cursorsLoaded }
            if let prometheusUp { state.prometheusUp = prometheusUp }
            if let lag {
                state.lag = lag
                for (instance, gauge) in state.lagGauges where lag[instance] == nil {
                    registry.unregisterGauge(gauge)
                    state.lagGauges[instance] = nil
                }
                for (instance, milliseconds) in lag {
                    let gauge = state.lagGauges[instance] ?? registry.makeGauge(
                        descriptor: MetricNameDescriptor(namespace: "ferris_collect", metricName: "lag", unitName: "seconds",
                                                         helpText: "How far the instance's collection is behind its schedule."),
                        labels: [("instance", instance)])
                    state.lagGauges[instance] = gauge
                    gauge.set(Double(milliseconds) / 1000)
                }
            }
        }
    }

    /// Whether the collector is ready, and why (not).
    public var readiness: Readiness {
        state.withLock { state in
            if !state.registryRead { return Readiness(ready: false, reason: "the instance registry is not read yet") }
            if !state.cursorsLoaded { return Readiness(ready: false, reason: "the cursors are not loaded yet") }
            if !state.prometheusUp { return Readiness(ready: false, reason: "Prometheus does not answer") }
            if let failure = state.lastFailure { return Readiness(ready: false, reason: "the last collection failed: \(failure)") }
            if let (instance, lag) = state.lag.max(by: { $0.value < $1.value }), lag > maxLagMilliseconds {
                return Readiness(ready: false, reason: "instance \(instance) is \(lag / 1000) s behind")
            }
            return Readiness(ready: true, reason: "collecting \(state.lag.count) instance(s)")
        }
    }

    /// The Prometheus text exposition of the collector's metrics.
    public func exposition() -> [UInt8] {
        let ready = readiness.ready
        registry.makeGauge(descriptor: MetricNameDescriptor(namespace: "ferris_collect", metricName: "ready", unitName: "",
                                                            helpText: "1 while /readyz answers ready.")).set(Int64(ready ? 1 : 0))
        return registry.emitToBuffer()
    }
}
