import PostgreSQL
import UsageStandard

/// An input partition, as the replay bookkeeping names it.
public struct InputPartition: Hashable, Sendable, CustomStringConvertible {
    /// The topic.
    public var topic: String
    /// The partition number.
    public var partition: Int32

    /// Creates one.
    public init(topic: String, partition: Int32) {
        self.topic = topic
        self.partition = partition
    }

    public var description: String { "\(topic):\(partition)" }
}

/// The replay bookkeeping in PostgreSQL: revisions, their staged totals and which input partitions are done, so that
/// an interrupted replay resumes where it stopped. Blocking: use from one thread at a time.
public final class ReplayStore {
    private let totals: TotalsTable
    private var db: PostgresConnection { totals.connection }
    private var table: String { totals.table }

    /// Connects and applies the schema.
    public init(url: String, table: String) throws(TotalsStoreError) {
        totals = try TotalsTable(url: url, table: table)
    }

    /// What `begin` found or created.
    public struct Revision: Sendable {
        /// The revision number.
        public var number: Int64
        /// Input partitions an earlier, interrupted run of the same replay finished.
        public var done: Set<InputPartition>
        /// True when this continues an interrupted run.
        public var resumed: Bool
    }

    /// Continues the unpublished replay of the same range, tenant and topology `fingerprint`, or starts a new revision
    /// (abandoning any other unpublished replay of the same range and tenant, which a changed topology makes stale).
    public func begin(from: Timestamp, to: Timestamp, tenant: String?, fingerprint: String) throws(TotalsStoreError) -> Revision {
        do {
            return try db.transaction { db throws(PostgresError) in
                let same = "range_start = $1 AND range_end = $2 AND tenant IS NOT DISTINCT FROM $3 AND published_at IS NULL AND abandoned_at IS NULL"
                let parameters: [PostgresValue] = [.text(from.rfc3339), .text(to.rfc3339), tenant.map(PostgresValue.text) ?? .null]
                let open = try db.query("SELECT revision FROM \(table)_replays WHERE \(same) AND topology = $4 ORDER BY revision DESC LIMIT 1",
                                        parameters + [.text(fingerprint)])
                if let revision = open.first?[0].flatMap({ Int64($0) }) {
                    let rows = try db.query("SELECT topic, partition FROM \(table)_replay_partitions WHERE revision = $1",
                                            [.text(String(revision))])
                    let done = Set(rows.compactMap { row in
                        row[1].flatMap { Int32($0) }.map { InputPartition(topic: row[0] ?? "", partition: $0) }
                    })
                    return Revision(number: revision, done: done, resumed: true)
                }
                try db.query("UPDATE \(table)_replays SET abandoned_at = now() WHERE \(same)", parameters)
                let created = try db.query("""
                    INSERT INTO \(table)_replays (range_start, range_end, tenant, topology) VALUES ($1, $2, $3, $4) RETURNING revision
                    """, parameters + [.text(fingerprint)])
                guard let revision = created.first?[0].flatMap({ Int64($0) }) else {
                    throw PostgresError(.result, "INSERT ... RETURNING revision returned no row")
                }
                return Revision(number: revision, done: [], resumed: false)
            }
        } catch {
            throw TotalsStoreError("could not start the replay's revision in PostgreSQL: \(error)")
        }
    }

    /// Stages totals of the revision and, for `partition`, marks it done, in one transaction.
    public func stage(_ staged: [UsageTotal], revision: Int64, partition: InputPartition?, records: Int) throws(TotalsStoreError) {
        do {
            try db.transaction { db throws(PostgresError) in
                try TotalsTable.upsert(staged, into: totals.revisionsTable, on: db)
                if let partition {
                    try db.query("""
                        INSERT INTO \(table)_replay_partitions (revision, topic, partition, records, totals) VALUES ($1, $2, $3, $4, $5)
                        ON CONFLICT DO NOTHING
                        """, [.text(String(revision)), .text(partition.topic), .text(String(partition.partition)),
                              .text(String(records)), .text(String(staged.count))])
                }
            }
        } catch {
            throw TotalsStoreError("could not stage \(staged.count) totals of revision \(revision) in PostgreSQL: \(error)")
        }
    }

    /// Every total (part) staged for the revision.
    public func staged(revision: Int64) throws(TotalsStoreError) -> [UsageTotal] {
        do {
            return try TotalsTable.read(db, from: totals.revisionsTable, where: "revision = $1", [.text(String(revision))])
        } catch {
            throw TotalsStoreError("could not read the staged totals of revision \(revision): \(error)")
        }
    }

    /// The parts that make the current figures of windows starting in `from..<to` (of `tenant`, if given): per key
    /// and window, its parts of the highest published revision, retractions left out.
    public func currentParts(from: Timestamp, to: Timestamp, tenant: String?) throws(TotalsStoreError) -> [UsageTotal] {
        let relation = """
            (SELECT r.*, max(r.revision) OVER (PARTITION BY r.tenant, r.instance, r.component, r.metric, r.window_start)
                         AS current_revision
             FROM \(totals.revisionsTable) r
             WHERE r.revision = 0 OR EXISTS (
                 SELECT 1 FROM \(table)_replays p WHERE p.revision = r.revision AND p.published_at IS NOT NULL)) AS published
            """
        do {
            return try TotalsTable.read(db, from: relation,
                                        where: "revision = current_revision AND status <> 'retracted' AND " + TotalsTable.rangeCondition,
                                        TotalsTable.rangeParameters(from, to, tenant))
        } catch {
            throw TotalsStoreError("could not read the current totals of the replayed range: \(error)")
        }
    }

    /// Marks the revision published: the current-figures view switches to it.
    public func markPublished(revision: Int64) throws(TotalsStoreError) {
        do {
            try db.query("UPDATE \(table)_replays SET published_at = now() WHERE revision = $1", [.text(String(revision))])
        } catch {
            throw TotalsStoreError("could not mark revision \(revision) published: \(error)")
        }
    }
}
