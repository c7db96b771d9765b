import Foundation
import Kafka
import Logging
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

    /// One input partition done.
    public struct Progress: Sendable {
        /// The partition, as `topic:partition`.
        public var partition: String
        /// Its position among the partitions (1-based) and their number.
        public var index: Int, count: Int
        /// Records read, and totals of the range found (0 and 0 when it was done before an interruption).
        public var records: Int, totals: Int
        /// True when the partition was done by an earlier, interrupted run of this replay.
        public var alreadyDone: Bool
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
        /// Every total of the revision, retractions included.
        public var totals: [UsageTotal]
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
        for (index, tp) in partitions.enumerated() {
            let input = InputPartition(topic: tp.topic, partition: tp.partition)
            if begun.done.contains(input) {
                try progress(Progress(partition: "\(input)", index: index + 1, count: partitions.count,
                                      records: 0, totals: 0, alreadyDone: true))
                continue
            }
            let (records, totals) = try account(tp, revision: revision, instances: instances)
            try store.stage(totals, revision: revision, partition: input, records: records)
            try progress(Progress(partition: "\(input)", index: index + 1, count: partitions.count,
                                  records: records, totals: totals.count, alreadyDone: false))
        }
        // The new revision against the figures current before it, part by part: a part the revision no longer has is
        // retracted; the report compares whole figures (the sum of their parts).
        let staged = try store.staged(revision: revision)
        let current = try store.currentParts(from: request.from, to: request.to, tenant: request.tenant)
        let stagedParts = Set(staged.map(\.recordKey))
        let retractions = current.filter { !stagedParts.contains($0.recordKey) }.map { old in
            var retraction = old
            retraction.quantity = .zero
            retraction.eventCount = 0
            retraction.status = .retracted
            retraction.revision = revision
            return retraction
        }
        try store.stage(retractions, revision: revision, partition: nil, records: 0)
        let (changes, unchanged) = try Self.compare(old: current, new: staged, revision: revision)
        let totals = staged + retractions
        try publish(totals, revision: revision)
        try store.markPublished(revision: revision)
        return Outcome(revision: revision, resumed: begun.resumed, totals: totals, changes: changes, unchanged: unchanged)
    }

    /// The figures of `new` (a revision's parts) against those of `old` (the parts current before it).
    static func compare(old: [UsageTotal], new: [UsageTotal], revision: Int64) throws -> (changes: [Change], unchanged: Int) {
        func figures(_ parts: [UsageTotal]) throws -> [String: UsageTotal] {
            var current = CurrentTotals()
            for part in parts { current.add(part) }
            return Dictionary(try current.figures().map { ($0.subject + "\u{0}" + $0.unit, $0) }, uniquingKeysWith: { a, _ in a })
        }
        var before = try figures(old)
        var changes: [Change] = []
        var unchanged = 0
        for (key, figure) in try figures(new) {
            let previous = before.removeValue(forKey: key)
            if let previous, previous.quantity == figure.quantity, previous.eventCount == figure.eventCount {
                unchanged += 1
            } else {
                changes.append(Change(old: previous, new: figure))
            }
        }
        for previous in before.values {
            var retraction = previous
            retraction.quantity = .zero
            retraction.eventCount = 0
            retraction.status = .retracted
            retraction.revision = revision
            changes.append(Change(old: previous, new: retraction))
        }
        changes.sort { ($0.new.key, $0.new.windowStart) < ($1.new.key, $1.new.windowStart) }
        return (changes, unchanged)
    }

    private func validate(_ topology: Topology) throws {
        let size = topology.window.sizeMilliseconds
        guard request.from.milliseconds < request.to.milliseconds else {
            throw UsageServiceError("replay range is empty: --from \(request.from) must be before --to \(request.to)")
        }
        guard request.from.milliseconds % size == 0, request.to.milliseconds % size == 0 else {
            throw UsageServiceError("replay range \(request.from) to \(request.to) must start and end on window boundaries (every \(DurationText.text(size)))")
        }
        let now = Int64((Date().timeIntervalSince1970 * 1000).rounded(.down))
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
    private func account(_ tp: KafkaTopicPartition, revision: Int64, instances: InstanceScopes?) throws -> (Int, [UsageTotal]) {
        let topology = configuration.topology
        var config = configuration.kafka
        config["group.id"] = "ferris-usage-replay"
        config["isolation.level"] = "read_committed"
        config["enable.partition.eof"] = "true"
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
        var lastProgress = clock.now
        while (runner.state.watermark(of: tp)?.milliseconds ?? .min) < closed {
            // Refused records were dead-lettered by the live accounting already.
            let read = try runner.poll(consumer, timeoutMilliseconds: 200) { _, _ in }
            keep(runner.state.takeClosedWindows())
            if read > 0 { lastProgress = clock.now }
            // The end of the partition as it was when the replay reached it: what arrives later is not history.
            if read == 0, consumer.hasReachedEnd(of: [tp]) { break }
            guard clock.now - lastProgress < .seconds(60) else {
                throw UsageServiceError("replay made no progress reading \(tp) for 60 s; is the broker reachable?")
            }
        }
        // Windows still open at the end of the partition close now, as idle closing would have closed them.
        runner.state.closeAllWindows()
        keep(runner.state.takeClosedWindows())
        return (runner.state.delta.recordsRead, totals)
    }

    /// Puts the revision on the totals topic in one transaction: billing consumers see all of it or none of it.
    private func publish(_ totals: [UsageTotal], revision: Int64) throws {
        var config = configuration.kafka
        config["transactional.id"] = "ferris-usage.replay.\(configuration.groupID).\(revision)"
        let producer = try KafkaProducer(configuration: config, logger: logger)
        try producer.initTransactions()
        try producer.beginTransaction()
        let headers = [KafkaHeader(name: "content-type", string: UsageStandard.structuredContentType)]
        do {
            for total in totals {
                try producer.send(topic: configuration.totalsTopic, key: Array(total.recordKey.utf8),
                                  value: UsageTotalCodec.encode(total, source: configuration.totalsSource), headers: headers)
            }
            try producer.commitTransaction()
        } catch {
            try? producer.abortTransaction()
            throw error
        }
    }
}
