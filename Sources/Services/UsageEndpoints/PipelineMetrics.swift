import Kafka
import ProcessSupport
import Prometheus
import Synchronization
import UsageService

/// The pipeline's counters and health in Prometheus form. Counters are brought up to date on each scrape (the
/// pipeline publishes its counts per batch; nothing here runs per event).
public final class PipelineMetrics: Sendable {
    private let registry = PrometheusCollectorRegistry()
    private let pipeline: UsagePipeline
    private let stallAfter: Duration
    private let extensions: [ProbeContributor]
    private let state = Mutex(Synced())

    struct Synced {
        var last = PipelineCounters.Snapshot()
        var lagGauges: [KafkaTopicPartition: Gauge] = [:]
        var extensionCounters: [String: Double] = [:]
    }

    /// Creates the metrics of `pipeline` and `extensions`; readiness uses `stallAfter` as `/readyz` does.
    public init(pipeline: UsagePipeline, stallAfter: Duration, extensions: [ProbeContributor] = []) {
        self.pipeline = pipeline
        self.stallAfter = stallAfter
        self.extensions = extensions
    }

    /// What `/readyz` answers: the pipeline's readiness with the extensions' problems and summaries.
    public func readiness() -> Readiness {
        let (ready, reason) = pipeline.counters.health.readiness(now: .now, stallAfter: stallAfter)
        return Readiness(ready: ready, reason: reason).including(extensions)
    }

    /// The Prometheus text exposition (format 0.0.4) of the current values.
    public func exposition() -> [UInt8] {
        let snapshot = pipeline.counters.snapshot
        let health = pipeline.counters.health
        let ready = readiness().ready
        state.withLock { synced in
            let last = synced.last
            func count(_ name: String, _ help: String, _ labels: [(String, String)] = [], _ now: Int, _ before: Int) {
                let counter = registry.makeCounter(descriptor: Self.descriptor(name, unit: "total", help), labels: labels)
                if now > before { counter.increment(by: Int64(now - before)) }
            }
            func gauge(_ name: String, unit: String = "", _ help: String, _ labels: [(String, String)] = []) -> Gauge {
                registry.makeGauge(descriptor: Self.descriptor(name, unit: unit, help), labels: labels)
            }
            count("records_read", "Records read from the instance event topics.", [], snapshot.recordsRead, last.recordsRead)
            count("events_counted", "Events added to a window.", [], snapshot.eventsCounted, last.eventsCounted)
            count("events_duplicate", "Repeated events dropped.", [], snapshot.duplicates, last.duplicates)
            count("events_late", "Events whose window had closed (dead-lettered).", [], snapshot.late, last.late)
            for (rule, value) in snapshot.outOfScopeByRule {
                count("events_out_of_scope", "Valid events a scope rule excluded, by rule.", [("rule", rule)],
                      value, last.outOfScopeByRule[rule] ?? 0)
            }
            for (reason, value) in snapshot.rejected {
                count("records_rejected", "Records dead-lettered, by reason code.", [("reason", reason)],
                      value, last.rejected[reason] ?? 0)
            }
            count("totals_committed", "Totals committed to the totals topic.", [], snapshot.totalsWritten, last.totalsWritten)
            count("transactions", "Kafka transactions committed.", [], snapshot.commits, last.commits)
            count("postgres_rows_written", "Totals written to PostgreSQL.", [], snapshot.sinkRowsWritten, last.sinkRowsWritten)
            count("postgres_write_failures", "Failed PostgreSQL writes (retried).", [], snapshot.sinkFailures, last.sinkFailures)
            synced.last = snapshot
            let commits = registry.makeDurationHistogram(
                descriptor: Self.descriptor("transaction_commit", unit: "seconds", "How long committing a transaction took."),
                buckets: [.milliseconds(5), .milliseconds(10), .milliseconds(25), .milliseconds(50), .milliseconds(100),
                          .milliseconds(250), .milliseconds(500), .seconds(1), .milliseconds(2500), .seconds(5), .seconds(10)])
            for duration in pipeline.counters.takeCommitDurations() { commits.record(duration) }

            gauge("ready", "1 while /readyz answers ready.").set(Int64(ready ? 1 : 0))
            gauge("open_windows", "Open windows (keys x hours) on the assigned partitions.").set(Int64(health.openWindows))
            gauge("transaction_last_commit", unit: "seconds", "Duration of the last transaction commit.").set(health.lastCommitSeconds)
            gauge("postgres_sink_lag", "Totals not yet written to PostgreSQL.").set(Int64(pipeline.counters.sinkLag))
            for (tp, gauge) in synced.lagGauges where health.partitions[tp] == nil {
                registry.unregisterGauge(gauge)
                synced.lagGauges[tp] = nil
            }
            for (tp, partition) in health.partitions {
                guard let lag = partition.lag else { continue }
                let gauge = synced.lagGauges[tp] ?? gauge("consumer_lag", "Records behind the end of an assigned input partition.",
                                                          [("topic", tp.topic), ("partition", String(tp.partition))])
                synced.lagGauges[tp] = gauge
                gauge.set(lag)
            }
            for sample in extensions.flatMap({ $0.samples() }) {
                if sample.isCounter {
                    let before = synced.extensionCounters[sample.name] ?? 0
                    count(sample.name, sample.help, [], Int(sample.value), Int(before))
                    synced.extensionCounters[sample.name] = max(before, sample.value)
                } else {
                    gauge(sample.name, sample.help).set(sample.value)
                }
            }
        }
        return registry.emitToBuffer()
    }

    private static func descriptor(_ name: String, unit: String, _ help: String) -> MetricNameDescriptor {
        MetricNameDescriptor(namespace: "ferris_usage", metricName: name, unitName: unit, helpText: help)
    }
}
