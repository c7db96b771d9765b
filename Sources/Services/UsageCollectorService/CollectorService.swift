import AsyncHTTPClient
import Foundation
import Kafka
import Logging
import ProcessSupport
import ServiceLifecycle
import Synchronization
import UsageCollector
import UsageRegistry
import UsageStandard

/// Where the collector reads and writes.
public struct CollectorOptions: Sendable {
    /// librdkafka properties (at least `bootstrap.servers`).
    public var kafka: KafkaConfiguration
    /// The Prometheus server, e.g. `http://prometheus.monitoring.svc:9090`.
    public var prometheusURL: String
    /// The mapping.
    public var mapping: CollectorConfiguration
    /// The instance topic.
    public var registryTopic = UsageStandard.instanceTopic
    /// The compacted topic of the collector's cursors.
    public var cursorTopic = "ferris.collector.cursors"
    /// Only instances on this Kubernetes cluster (nil: all).
    public var cluster: String?
    /// `/readyz` turns not ready when an instance is further behind than this.
    public var maxLagMilliseconds: Int64 = 5 * 60_000

    /// Creates options.
    public init(kafka: KafkaConfiguration, prometheusURL: String, mapping: CollectorConfiguration) {
        self.kafka = kafka
        self.prometheusURL = prometheusURL
        self.mapping = mapping
    }
}

/// `ferris-usage collect`: turns the Prometheus series of every instance in the registry into usage events, one per
/// instance, component, metric and interval, delivered to the instance's event topic before the instance's cursor
/// moves on. The scheduling decisions are `CollectorMachine`'s and the usage figures `IntervalUsage`'s; this driver
/// only performs their actions.
public final class CollectorService: Service, Sendable {
    /// The options.
    public let options: CollectorOptions
    /// Readiness and metrics.
    public let status: CollectorStatus
    private let logger: Logger
    private let stopRequested = Atomic<Bool>(false)

    /// Creates the collector; nothing connects until `run`.
    public init(options: CollectorOptions, logger: Logger) {
        self.options = options
        self.status = CollectorStatus(maxLagMilliseconds: options.maxLagMilliseconds)
        self.logger = logger
    }

    /// Asks a running collector to finish its current interval and return.
    public func requestStop() { stopRequested.store(true, ordering: .relaxed) }

    private var stopping: Bool { stopRequested.load(ordering: .relaxed) }

    /// Runs until shut down gracefully, cancelled or failed.
    public func run() async throws {
        try await withTaskCancellationOrGracefulShutdownHandler {
            let http = HTTPClient(eventLoopGroupProvider: .singleton)
            do {
                try await collect(http: http)
            } catch {
                try? await http.shutdown()
                throw error
            }
            try await http.shutdown()
        } onCancelOrGracefulShutdown: { [self] in
            requestStop()
        }
    }

    private func collect(http: HTTPClient) async throws {
        let prometheus = PrometheusClient(baseURL: options.prometheusURL, http: http)
        let follower = InstanceRegistryFollower(kafka: options.kafka, topic: options.registryTopic, logger: logger)
        let followerTask = Task { [self] in await followRegistry(follower) }
        defer { followerTask.cancel() }
        guard let (publisher, cursors) = try await connect() else { return }
        status.update(cursorsLoaded: true)
        logger.info("collector started", metadata: ["prometheus": "\(options.prometheusURL)", "cursors": "\(cursors.count)"])
        var machine = CollectorMachine(configuration: options.mapping, cluster: options.cluster)
        machine.cursorsLoaded(cursors)
        var registrySeen = -1
        var nextProbe: Int64 = 0
        while !stopping {
            let now = WallClock.milliseconds()
            if now >= nextProbe {
                status.update(prometheusUp: await prometheus.isReady(), lag: machine.lag(now: now))
                nextProbe = now + 10_000
            }
            guard follower.isCaughtUp else {
                try await Task.sleep(for: .milliseconds(200))
                continue
            }
            let version = follower.version
            if version != registrySeen {
                registrySeen = version
                machine.registryChanged(follower.registry)
                status.update(registryRead: true, lag: machine.lag(now: now))
            }
            switch machine.next(now: now) {
            case .wait(let until):
                try await Task.sleep(for: .milliseconds(max(10, min(until - now, 500))))
            case .collect(let job, let instance):
                do {
                    let output = try await interval(job, instance: instance, prometheus: prometheus)
                    try await DedicatedThread.run(name: "ferris-collect-kafka") { try publisher.publish(output.events, instance: job.instance) }
                    status.intervalCollected(instance: job.instance, events: output.events.count, unmapped: output.unmappedSeries)
                    if !output.oversized.isEmpty {
                        status.failed(stage: "oversized", reason: "a quantity beyond the standard's largest")
                        logger.error("quantities beyond the standard's largest were not sent (a broken exporter?)",
                                     metadata: ["job": "\(job)", "series": "\(output.oversized)"])
                    }
                    logger.debug("interval collected", metadata: ["job": "\(job)", "events": "\(output.events.count)"])
                } catch {
                    let stage = error is PrometheusError ? "prometheus" : "kafka"
                    machine.failed(job, reason: "\(error)", now: WallClock.milliseconds())
                    status.failed(stage: stage, reason: "\(error)")
                    logger.warning("collecting an interval failed; retrying", metadata: ["job": "\(job)", "error": "\(error)"])
                    continue
                }
                // Delivered: the cursor moves on (if storing it fails, the next interval's cursor covers it; a crash
                // before that sends this interval again, as repeats).
                await perform(machine.collected(job), publisher: publisher)
                status.update(lag: machine.lag(now: WallClock.milliseconds()))
            case let action:
                await perform(action, publisher: publisher)
            }
        }
        logger.info("collector stopped")
    }

    /// Performs a bookkeeping action (store a cursor, report a skip or a forgotten instance).
    private func perform(_ action: CollectorMachine.Action, publisher: EventPublisher) async {
        switch action {
        case .storeCursor(let instance, let until):
            do {
                try await DedicatedThread.run(name: "ferris-collect-kafka") { try publisher.storeCursor(instance: instance, collectedUntil: until) }
            } catch {
                status.failed(stage: "kafka", reason: "\(error)")
                logger.warning("storing a cursor failed", metadata: ["instance": "\(instance)", "error": "\(error)"])
            }
        case .forget(let instance):
            logger.info("instance deleted and fully collected", metadata: ["instance": "\(instance)"])
        case .skip(let instance, let from, let to):
            status.intervalsSkipped(instance: instance, milliseconds: to - from)
            logger.warning("intervals older than the backfill horizon are not collected", metadata: [
                "instance": "\(instance)", "from": "\(Timestamp(milliseconds: from))", "to": "\(Timestamp(milliseconds: to))"])
        case .collect, .wait:
            break
        }
    }

    /// The producer and the stored cursors; retried with a backoff while Kafka is unreachable (not ready meanwhile).
    /// Nil when stopped first.
    private func connect() async throws -> (EventPublisher, [String: Int64])? {
        let (options, logger) = (self.options, self.logger)
        var backoff = CollectorMachine.retryBackoff
        while !stopping {
            do {
                return try await DedicatedThread.run(name: "ferris-collect-kafka") {
                    let publisher = try EventPublisher(kafka: options.kafka, cursorTopic: options.cursorTopic, logger: logger)
                    return (publisher, try publisher.loadCursors())
                }
            } catch {
                status.failed(stage: "kafka", reason: "\(error)")
                let delay = backoff.failed()
                logger.warning("reading the cursors failed; retrying", metadata: ["error": "\(error)", "in": "\(delay)"])
                try await Task.sleep(for: delay)
            }
        }
        return nil
    }

    /// Queries Prometheus for one interval of one instance and computes its events.
    private func interval(_ job: CollectionJob, instance: InstanceDescription,
                          prometheus: PrometheusClient) async throws -> IntervalOutput {
        let mapping = options.mapping
        var matchers = [Selector.anyOf(mapping.namespaceLabel, instance.namespaces)]
        if let label = mapping.clusterLabel { matchers.append(Selector.anyOf(label, [instance.cluster])) }
        let from = job.start - mapping.lookbackMilliseconds
        // Never inlined: Swift 6.3.1 crashes in release builds (signal 11 in LLVM's coroutine splitting) when it inlines
        // this call of a typed-throws async function into `interval`.
        @inline(never) func read(_ text: String) async throws -> [Series] {
            guard let selector = Selector(text) else { throw PrometheusError("'\(text)' is not a series selector") }
            return try await prometheus.rawSamples(selector.adding(matchers), from: from, to: job.end)
        }
        var input = IntervalInput(instance: instance, start: job.start, end: job.end, usage: [:])
        for query in mapping.metrics {
            input.usage[query.metric] = try await read(query.selector)
            if let requests = query.requestSelector { input.requests[query.metric] = try await read(requests) }
        }
        if let podLabels = mapping.podLabelsQuery { input.podLabels = try await read(podLabels) }
        return IntervalUsage.events(input, configuration: mapping)
    }

    /// Follows the registry on a thread of its own, starting again after a failure (Kafka unreachable).
    private func followRegistry(_ follower: InstanceRegistryFollower) async {
        var backoff = CollectorMachine.retryBackoff
        while !stopping && !Task.isCancelled {
            do {
                try await DedicatedThread.run(name: "ferris-collect-registry") { [self] in
                    try follower.run(shouldStop: { self.stopping })
                }
                return
            } catch {
                status.failed(stage: "registry", reason: "\(error)")
                let delay = backoff.failed()
                logger.warning("reading the instance registry failed; retrying", metadata: ["error": "\(error)", "in": "\(delay)"])
                try? await Task.sleep(for: delay)
            }
        }
    }

}
