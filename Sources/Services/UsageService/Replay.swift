import Foundation
import Kafka
import Logging
import ProcessSupport
import UsagePostgres
import UsageRegistry
import UsageStages
import UsageStandard
import UsageTopology

/// Re-accounts a closed time range from the retained event topics as a new accounting revision
/// (`ferris-usage replay`).
///
/// Each input partition is re-read from the first record that can hold an event of the range (offsets looked up by
/// record time: an accepted event is never more than the policy's future skew ahead of its record) through the
/// topology's flow, exactly as the live accounting reads it, until every window of the range has closed. The
/// range's final totals (of one tenant, if asked) are staged in PostgreSQL per partition, so an interrupted replay
/// resumes where it stopped. Then the revision is published at once: one Kafka transaction puts every total of the
/// revision on the totals topic (with `x_Revision`), plus a `retracted` total for each key and window that the
/// current figures have and the revision no longer has; PostgreSQL marks the revision published, and its current
/// view switches to it. Earlier revisions stay queryable in `<table>_revisions`.
public final class Replay: Sendable {
    /// What to re-account.
    public struct Request: Sendable {
        /// Start of the range (inclusive); must be a window boundary.
        public var from: Timestamp
        /// End of the range (exclusive); must be a window boundary whose windows have closed.
        public var to: Timestamp
        /// Only this tenant's totals, or every tenant's.
        public var tenant: String?

        /// Creates a request.
        public init(from: Timestamp, to: Timestamp, tenant: String? = nil) {
            self.from = from
            self.to = to
            self.tenant = tenant
        }
    }

    /// How far reading a partition has come (reported about once a second while it reads, and when it is done).
    public struct Progress: Sendable {
        /// The partition, as `topic:partition`.
        public var partition: String
        /// Its position among the partitions (1-based) and their number.
        public var index: Int, count: Int
        /// Records read so far, and of them the range's totals found (when done).
        public var records: Int, totals: Int
        /// Records the partition had left to read when the replay reached it, and the read rate so far.
        public var recordsToRead: Int, recordsPerSecond: Double
        /// True once the partition is read and staged; `alreadyDone` when an earlier, interrupted run did it.
        public var done: Bool, alreadyDone: Bool

        /// Seconds left for this partition at the current rate (nil before a rate is known).
        public var secondsLeft: Double? {
            guard recordsPerSecond > 0, !done else { return nil }
            return Double(max(0, recordsToRead - records)) / recordsPerSecond
        }
    }

    /// How one key and window differ between the current figures and the new revision.
    public struct Change: Sendable, CustomStringConvertible {
        /// The current figure before the replay (nil: the key had no total).
        public var old: UsageTotal?
        /// The new revision's figure (`retracted` when the key has no usage any more).
        public var new: UsageTotal

        public var description: String {
            let what = "\(new.key) \(new.windowStart)"
            guard let old else { return "+ \(what): \(new.quantity) \(new.unit) (new)" }
            if new.status == .retracted { return "- \(what): \(old.quantity) \(old.unit) -> retracted" }
            let delta = new.quantity.adding(Quantity(micros: -old.quantity.micros)).map { $0.micros >= 0 ? "+\($0)" : "\($0)" } ?? "?"
            return "~ \(what): \(old.quantity) -> \(new.quantity) \(new.unit) (\(delta); events \(old.eventCount) -> \(new.eventCount))"
        }
    }

    /// What a replay did.
    public struct Outcome: Sendable {
        /// The revision published.
        public var revision: Int64
        /// True when it continued an interrupted run.
        public var resumed: Bool
        /// Totals the revision published: every part of each key and window whose figure changed, and retractions.
        public var totals: Int
        /// The totals that differ from the figures current before the replay.
        public var changes: [Change]
        /// Totals equal to the figures current before the replay.
        public var unchanged: Int
    }

    private let configuration: UsagePipelineConfiguration
    private let request: Request
    private let logger: Logger

    /// Prepares a replay; nothing connects until `run`.
    public init(configuration: UsagePipelineConfiguration, request: Request, logger: Logger) {
        self.configuration = configuration
        self.request = request
        self.logger = logger
    }

    /// Runs the replay (blocking: call from a dedicated thread). `progress` is told after each partition; an error
    /// it throws interrupts the replay, which a later run with the same request and topology resumes.
    public func run(progress: (Progress) throws -> Void = { _ in }) throws -> Outcome {
        let topology = configuration.topology
        try validate(topology)
        guard let url = configuration.databaseURL else {
            throw UsageServiceError("a replay stages its totals in PostgreSQL: give a database URL (--database-url or FERRIS_DATABASE_URL)")
        }
        let store = try ReplayStore(url: url, table: topology.sinks.table)
        let begun = try store.begin(from: request.from, to: request.to, tenant: request.tenant, fingerprint: topology.explain())
        let revision = begun.number
        logger.info("replay", metadata: ["revision": "\(revision)", "resumed": "\(begun.resumed)", "from": "\(request.from)",
                                         "to": "\(request.to)", "tenant": "\(request.tenant ?? "*")"])
        // Scope decisions as the registry was when the usage happened: every version still on the topic (35 days).
        let instances = try configuration.instanceTopic.map { topic in
            InstanceScopes(try InstanceRegistryFollower.read(kafka: configuration.kafka, topic: topic, logger: logger), ready: true)
        }
        let partitions = try inputPartitions(topology)
        let clock = ContinuousClock()
        var reading = Duration.zero, staging = Duration.zero, recordsRead = 0
        for (index, tp) in partitions.enumerated() {
            let input = InputPartition(topic: tp.topic, partition: tp.partition)
            if begun.done.contains(input) {
                try progress(Progress(partition: "\(input)", index: index + 1, count: partitions.count, records: 0, totals: 0,
                                      recordsToRead: 0, recordsPerSecond: 0, done: true, alreadyDone: true))
                continue
            }
            let readStarted = clock.now
            let (records, totals) = try account(tp, revision: revision, instances: instances) { read, toRead, rate in
                try progress(Progress(partition: "\(input)", index: index + 1, count: partitions.count, records: read, totals: 0,
                                      recordsToRead: toRead, recordsPerSecond: rate, done: false, alreadyDone: false))
            }
            let stageStarted = clock.now
            try store.stage(totals, revision: revision, partition: input, records: records)
            reading += stageStarted - readStarted
            staging += clock.now - stageStarted
            recordsRead += records
            try progress(Progress(partition: "\(input)", index: index + 1, count: partitions.count, records: records,
                                  totals: totals.count, recordsToRead: records, recordsPerSecond: 0, done: true, alreadyDone: false))
        }
        // The revision against the figures current before it, in PostgreSQL: only keys and windows whose figure
        // changes get the revision (all their parts, and retractions of parts gone).
        let diffStarted = clock.now
        let diff = try store.diff(revision: revision, from: request.from, to: request.to, tenant: request.tenant)
        let publishStarted = clock.now
        try publish(revision: revision, store: store)
        try store.markPublished(revision: revision)
        let seconds = { (duration: Duration) in Double(duration / .milliseconds(1)) / 1000 }
        logger.info("replay phases", metadata: [
            "records": "\(recordsRead)", "read_seconds": "\(seconds(reading))",
            "read_records_per_second": "\(seconds(reading) > 0 ? Int(Double(recordsRead) / seconds(reading)) : 0)",
            "stage_seconds": "\(seconds(staging))", "diff_seconds": "\(seconds(publishStarted - diffStarted))",
            "publish_seconds": "\(seconds(clock.now - publishStarted))", "published_totals": "\(diff.totals)"])
        let changes = diff.changes.map { Change(old: $0.old, new: $0.new) }
        return Outcome(revision: revision, resumed: begun.resumed, totals: diff.totals, changes: changes, unchanged: diff.unchanged)
    }

    private func validate(_ topology: Topology) throws {
        let size = topology.window.sizeMilliseconds
        guard request.from.milliseconds < request.to.milliseconds else {
            throw UsageServiceError("replay range is empty: --from \(request.from) must be before --to \(request.to)")
        }
        guard request.from.milliseconds % size == 0, request.to.milliseconds % size == 0 else {
            throw UsageServiceError("replay range \(request.from) to \(request.to) must start and end on window boundaries (every \(DurationText.text(size)))")
        }
        let now = WallClock.milliseconds()
        let closesAt = request.to.milliseconds + topology.window.graceMilliseconds
        guard closesAt <= now else {
            throw UsageServiceError("the windows up to \(request.to) are still open (they close at \(Timestamp(milliseconds: closesAt)), their end plus \(DurationText.text(topology.window.graceMilliseconds)) of grace); replay only closed windows")
        }
    }

    /// The partitions of every topic the topology's pattern matches, in a stable order.
    private func inputPartitions(_ topology: Topology) throws -> [KafkaTopicPartition] {
        // As the consumer subscribes: a name starting with `^` is a regular expression, any other a topic name.
        let pattern = topology.source.topics
        let matches: (String) -> Bool
        if pattern.hasPrefix("^") {
            do {
                let regex = try Regex(pattern)
                matches = { (try? regex.firstMatch(in: $0)) != nil }
            } catch {
                throw UsageServiceError("source.topics '\(pattern)' is not a valid regular expression: \(error)")
            }
        } else {
            matches = { $0 == pattern }
        }
        let topics = try KafkaAdmin(configuration: configuration.kafka, logger: logger).topics()
        return topics.filter { matches($0.key) }.sorted { $0.key < $1.key }
            .flatMap { topic, count in (0..<count).map { KafkaTopicPartition(topic: topic, partition: $0) } }
    }

    /// Re-reads one partition through the topology's flow, as the live loop reads it (`FlowRunner`); returns the
    /// records read and the range's final totals.
    private func account(_ tp: KafkaTopicPartition, revision: Int64, instances: InstanceScopes?,
                         progress: (_ read: Int, _ toRead: Int, _ perSecond: Double) throws -> Void) throws -> (Int, [UsageTotal]) {
        let topology = configuration.topology
        var config = configuration.consumerConfiguration
        config["group.id"] = "ferris-usage-replay"
        config["group.instance.id"] = nil
        let consumer = try KafkaConsumer(configuration: config, logger: logger) { _, _ in [:] }
        defer { consumer.close() }
        let earliest = request.from.milliseconds - topology.policy.maxFutureSkewMilliseconds
        guard let start = try consumer.offsets(forTimestamp: earliest, [tp])[tp], start >= 0 else { return (0, []) }
        try consumer.assign([tp: start])
        let runner = FlowRunner(state: AccountingState { tp in
            topology.makeFlow(partition: "\(tp.topic):\(tp.partition)", headers: KafkaRecord.self, instances: instances)
        })
        _ = runner.state.assigned([tp], committed: [:], now: .now)
        let closed = request.to.milliseconds + topology.window.graceMilliseconds
        var totals: [UsageTotal] = []
        func keep(_ emitted: [UsageTotal]) {
            for var total in emitted where total.status == .final && total.windowStart.milliseconds >= request.from.milliseconds
                && total.windowStart.milliseconds < request.to.milliseconds && (request.tenant == nil || total.key.tenant == request.tenant) {
                total.revision = revision
                totals.append(total)
            }
        }
        let clock = ContinuousClock()
        let began = clock.now
        var lastRecord = began, lastReport = began
        var records = 0
        while (runner.state.watermark(of: tp)?.milliseconds ?? .min) < closed {
            // Refused records were dead-lettered by the live accounting already.
            let read = try runner.poll(consumer, timeoutMilliseconds: 200) { _, _ in }
            records += read
            keep(runner.state.takeClosedWindows())
            if read > 0 { lastRecord = clock.now }
            if clock.now - lastReport >= .seconds(1) {
                lastReport = clock.now
                let elapsed = (clock.now - began) / .milliseconds(1) / 1000
                try progress(records, Int(max(0, (consumer.cachedWatermarks(tp)?.high ?? start) - start)),
                             elapsed > 0 ? Double(records) / elapsed : 0)
            }
            // The end of the partition as it was when the replay reached it: what arrives later is not history.
            if read == 0, consumer.hasReachedEnd(of: [tp]) { break }
            guard clock.now - lastRecord < .seconds(60) else {
                throw UsageServiceError("replay made no progress reading \(tp) for 60 s; is the broker reachable?")
            }
        }
        // Windows still open at the end of the partition close now, as idle closing would have closed them.
        runner.state.closeAllWindows()
        keep(runner.state.takeClosedWindows())
        return (records, totals)
    }

    /// Puts the revision's totals (as `diff` wrote them into PostgreSQL) on the totals topic in one transaction, read
    /// in batches: billing consumers see all of it or none of it.
    private func publish(revision: Int64, store: ReplayStore) throws {
        var config = configuration.kafka
        config["transactional.id"] = "ferris-usage.replay.\(configuration.groupID).\(revision)"
        config = config.withDefaults(["transaction.timeout.ms": "600000", "compression.type": "lz4"])
        let producer = try KafkaProducer(configuration: config, logger: logger)
        try producer.initTransactions()
        try producer.beginTransaction()
        let headers = [KafkaHeader(name: "content-type", string: UsageStandard.structuredContentType)]
        var key: [UInt8] = [], value: [UInt8] = []
        do {
            try store.forEachTotal(revision: revision) { batch in
                for total in batch {
                    key.removeAll(keepingCapacity: true)
                    value.removeAll(keepingCapacity: true)
                    total.appendRecordKey(to: &key)
                    UsageTotalCodec.encode(total, source: configuration.totalsSource, into: &value)
                    try producer.send(topic: configuration.totalsTopic, key: key, value: value, headers: headers)
                }
            }
            try producer.commitTransaction()
        } catch {
            try? producer.abortTransaction()
            throw error
        }
    }

}
