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
    let totals: TotalsTable
    var db: PostgresConnection { totals.connection }
    var names: TotalsTableName { totals.names }

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
                let open = try db.query("SELECT revision FROM \(names.replays) WHERE \(same) AND topology = $4 ORDER BY revision DESC LIMIT 1",
                                        parameters + [.text(fingerprint)])
                if let revision = open.first?[0].flatMap({ Int64($0) }) {
                    let rows = try db.query("SELECT topic, partition FROM \(names.replayPartitions) WHERE revision = $1",
                                            [.text(String(revision))])
                    let done = Set(rows.compactMap { row in
                        row[1].flatMap { Int32($0) }.map { InputPartition(topic: row[0] ?? "", partition: $0) }
                    })
                    return Revision(number: revision, done: done, resumed: true)
                }
                try db.query("UPDATE \(names.replays) SET abandoned_at = now() WHERE \(same)", parameters)
                let created = try db.query("""
                    INSERT INTO \(names.replays) (range_start, range_end, tenant, topology) VALUES ($1, $2, $3, $4) RETURNING revision
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

    /// Stages a partition's totals of the revision (with `COPY`, outside the revisions table: nothing is current or
    /// published until `diff` and `markPublished`) and marks the partition done, in one transaction, so an interrupted
    /// replay resumes after the last partition done.
    public func stage(_ staged: [UsageTotal], revision: Int64, partition: InputPartition, records: Int) throws(TotalsStoreError) {
        do {
            try db.transaction { db throws(PostgresError) in
                // The partition's row first: a partition already staged (by an earlier run of the same replay) is not
                // staged twice, which would double its parts.
                let first = try db.query("""
                    INSERT INTO \(names.replayPartitions) (revision, topic, partition, records, totals) VALUES ($1, $2, $3, $4, $5)
                    ON CONFLICT DO NOTHING RETURNING 1
                    """, [.text(String(revision)), .text(partition.topic), .text(String(partition.partition)),
                          .text(String(records)), .text(String(staged.count))])
                guard !first.isEmpty else { return }
                try db.copyIn("""
                    COPY \(names.replayStaging) (revision, tenant, instance, component, metric, window_start, window_end,
                        quantity, unit, event_count, source_partition, last_offset, host_provider) FROM STDIN
                    """) { rows throws(PostgresError) in
                    let number = String(revision)
                    for total in staged {
                        try rows.append([number, total.key.tenant, total.key.instance, total.key.component, total.key.metric,
                                         total.windowStart.rfc3339, total.windowEnd.rfc3339, total.quantity.description,
                                         total.unit, String(total.eventCount), total.sourcePartition, String(total.lastOffset),
                                         total.provider])
                    }
                }
            }
        } catch {
            throw TotalsStoreError("could not stage \(staged.count) totals of revision \(revision) in PostgreSQL: \(error)")
        }
    }

    /// Hands every total of the revision (what `diff` wrote) to `body`, `batch` at a time, read through a cursor so
    /// that a large revision is never held whole.
    public func forEachTotal(revision: Int64, batch: Int = 10_000, _ body: ([UsageTotal]) throws -> Void) throws {
        let relation = names.revisions
        try db.query("BEGIN")
        do {
            try db.query("""
                DECLARE revision_totals NO SCROLL CURSOR FOR SELECT \(TotalsTable.selectColumns) FROM \(relation)
                WHERE revision = $1
                """, [.text(String(revision))])
            while true {
                let rows = try db.query("FETCH \(batch) FROM revision_totals")
                if rows.isEmpty { break }
                try body(try TotalsTable.totals(rows, relation: relation))
            }
            try db.query("COMMIT")
        } catch {
            if db.isConnected { _ = try? db.query("ROLLBACK") }
            throw error
        }
    }

    /// Marks the revision published (the current-figures view switches to it) and drops its staged totals.
    public func markPublished(revision: Int64) throws(TotalsStoreError) {
        do {
            try db.transaction { db throws(PostgresError) in
                try db.query("UPDATE \(names.replays) SET published_at = now() WHERE revision = $1", [.text(String(revision))])
                try db.query("DELETE FROM \(names.replayStaging) WHERE revision = $1", [.text(String(revision))])
            }
        } catch {
            throw TotalsStoreError("could not mark revision \(revision) published: \(error)")
        }
    }
}
