import Foundation
import Kafka
import Logging
import PostgreSQL
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
        let store = try ReplayStore(url: url, table: topology.sinks.table, logger: logger)
        let (revision, done, resumed) = try store.begin(request, fingerprint: topology.explain())
        logger.info("replay", metadata: ["revision": "\(revision)", "resumed": "\(resumed)", "from": "\(request.from)",
                                         "to": "\(request.to)", "tenant": "\(request.tenant ?? "*")"])
        let partitions = try inputPartitions(topology)
        for (index, tp) in partitions.enumerated() {
            if done.contains(tp) {
                try progress(Progress(partition: "\(tp.topic):\(tp.partition)", index: index + 1, count: partitions.count,
                                      records: 0, totals: 0, alreadyDone: true))
                continue
            }
            let (records, totals) = try account(tp, revision: revision)
            try store.stage(totals, revision: revision, partition: tp, records: records)
            try progress(Progress(partition: "\(tp.topic):\(tp.partition)", index: index + 1, count: partitions.count,
                                  records: records, totals: totals.count, alreadyDone: false))
        }
        // The new revision against the figures current before it.
        let staged = try store.staged(revision: revision)
        let current = try store.current(request)
        var byKey: [String: UsageTotal] = [:]
        for total in current { byKey[total.recordKey] = total }
        var changes: [Change] = []
        var unchanged = 0
        var retractions: [UsageTotal] = []
        for total in staged where total.status != .retracted {
            let old = byKey.removeValue(forKey: total.recordKey)
            if let old, old.quantity == total.quantity, old.eventCount == total.eventCount, old.unit == total.unit {
                unchanged += 1
            } else {
                changes.append(Change(old: old, new: total))
            }
        }
        for old in byKey.values {
            var retraction = old
            retraction.quantity = .zero
            retraction.eventCount = 0
            retraction.status = .retracted
            retraction.revision = revision
            retractions.append(retraction)
            changes.append(Change(old: old, new: retraction))
        }
        try store.stage(retractions, revision: revision, partition: nil, records: 0)
        let totals = try store.staged(revision: revision)
        try publish(totals, revision: revision)
        try store.markPublished(revision: revision)
        changes.sort { ($0.new.key, $0.new.windowStart) < ($1.new.key, $1.new.windowStart) }
        return Outcome(revision: revision, resumed: resumed, totals: totals, changes: changes, unchanged: unchanged)
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

    /// Re-reads one partition through the topology's flow; returns the records read and the range's final totals.
    private func account(_ tp: KafkaTopicPartition, revision: Int64) throws -> (Int, [UsageTotal]) {
        let topology = configuration.topology
        var config = configuration.kafka
        config["group.id"] = "ferris-usage-replay"
        config["isolation.level"] = "read_committed"
        let consumer = try KafkaConsumer(configuration: config, logger: logger) { _, _ in [:] }
        defer { consumer.close() }
        let earliest = request.from.milliseconds - topology.policy.maxFutureSkewMilliseconds
        guard let start = try consumer.offsets(forTimestamp: earliest, [tp])[tp], start >= 0 else { return (0, []) }
        try consumer.assign([tp: start])
        var flow = topology.makeFlow(partition: "\(tp.topic):\(tp.partition)", headers: KafkaRecord.self)
        var context = FlowContext()
        let closed = request.to.milliseconds + topology.window.graceMilliseconds
        var records = 0
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
        while (context.watermark?.milliseconds ?? .min) < closed {
            let read = try consumer.poll(timeoutMilliseconds: 200) { record in
                _ = flow.process(record.incoming, context: &context)
            }
            records += read
            keep(flow.second.takeEmissions(symbols: context.symbols))
            if read > 0 { lastProgress = clock.now }
            // The end of the partition as it was when the replay reached it: what arrives later is not history.
            if read == 0, let high = consumer.cachedWatermarks(tp)?.high,
               (consumer.positions([tp])[tp].flatMap { $0 >= 0 ? $0 : nil } ?? start) >= high { break }
            guard clock.now - lastProgress < .seconds(60) else {
                throw UsageServiceError("replay made no progress reading \(tp) for 60 s; is the broker reachable?")
            }
        }
        // Windows still open at the end of the partition close now, as idle closing would have closed them.
        context.watermark = Timestamp(milliseconds: .max / 2)
        flow.watermarkAdvanced(context: context)
        keep(flow.second.takeEmissions(symbols: context.symbols))
        return (records, totals)
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

/// The replay bookkeeping in PostgreSQL: revisions, their staged totals and which partitions are done.
final class ReplayStore {
    private let db: PostgresConnection
    private let table: String
    private var revisionsTable: String { table + "_revisions" }

    init(url: String, table: String, logger: Logger) throws {
        _ = try PostgresTotalsSink(url: url, table: table, logger: logger)  // applies the schema
        self.table = table
        db = try PostgresConnection(url: url)
    }

    /// Continues the unpublished replay of the same request and topology, or starts a new revision (abandoning any
    /// other unpublished replay of the same request, which a changed topology makes stale).
    func begin(_ request: Replay.Request, fingerprint: String) throws -> (revision: Int64, done: Set<KafkaTopicPartition>, resumed: Bool) {
        try db.transaction { db throws(PostgresError) in
            let same = "range_start = $1 AND range_end = $2 AND tenant IS NOT DISTINCT FROM $3 AND published_at IS NULL AND abandoned_at IS NULL"
            let parameters: [PostgresValue] = [.text(request.from.rfc3339), .text(request.to.rfc3339),
                                               request.tenant.map(PostgresValue.text) ?? .null]
            let open = try db.query("SELECT revision FROM \(table)_replays WHERE \(same) AND topology = $4 ORDER BY revision DESC LIMIT 1",
                                    parameters + [.text(fingerprint)])
            if let revision = open.first?[0].flatMap({ Int64($0) }) {
                let rows = try db.query("SELECT topic, partition FROM \(table)_replay_partitions WHERE revision = $1", [.text(String(revision))])
                let done = Set(rows.compactMap { row in
                    row[1].flatMap { Int32($0) }.map { KafkaTopicPartition(topic: row[0] ?? "", partition: $0) }
                })
                return (revision, done, true)
            }
            try db.query("UPDATE \(table)_replays SET abandoned_at = now() WHERE \(same)", parameters)
            let created = try db.query("""
                INSERT INTO \(table)_replays (range_start, range_end, tenant, topology) VALUES ($1, $2, $3, $4) RETURNING revision
                """, parameters + [.text(fingerprint)])
            guard let revision = created.first?[0].flatMap({ Int64($0) }) else {
                throw PostgresError(.statement, "INSERT ... RETURNING revision returned no row")
            }
            return (revision, [], false)
        }
    }

    /// Stages a partition's totals of the revision and marks the partition done, in one transaction.
    func stage(_ totals: [UsageTotal], revision: Int64, partition: KafkaTopicPartition?, records: Int) throws {
        try db.transaction { db throws(PostgresError) in
            try PostgresTotalsSink.upsert(totals, into: revisionsTable, on: db)
            if let partition {
                try db.query("""
                    INSERT INTO \(table)_replay_partitions (revision, topic, partition, records, totals) VALUES ($1, $2, $3, $4, $5)
                    ON CONFLICT DO NOTHING
                    """, [.text(String(revision)), .text(partition.topic), .text(String(partition.partition)),
                          .text(String(records)), .text(String(totals.count))])
            }
        }
    }

    /// Every total staged for the revision.
    func staged(revision: Int64) throws -> [UsageTotal] {
        try TotalsReader.read(db, from: revisionsTable, where: "revision = $1", [.text(String(revision))])
    }

    /// The current figures of the request's range (and tenant).
    func current(_ request: Replay.Request) throws -> [UsageTotal] {
        try TotalsReader.read(db, from: table, where: "window_start >= $1 AND window_start < $2 AND ($3::text IS NULL OR tenant = $3)",
                              [.text(request.from.rfc3339), .text(request.to.rfc3339), request.tenant.map(PostgresValue.text) ?? .null])
    }

    func markPublished(revision: Int64) throws {
        try db.query("UPDATE \(table)_replays SET published_at = now() WHERE revision = $1", [.text(String(revision))])
    }
}
