import Logging
import S3
import UsagePricing
import UsageStandard

/// Exports closed periods of the totals as FOCUS files (see `ExportLayout`). Blocking (libpq and libcurl calls): use
/// it from one thread at a time, off Swift's cooperative pool.
///
/// An export of a period reads the period from one PostgreSQL snapshot, streams it as gzip CSV to its revision
/// folder, and writes the manifest last; the period's previous manifest decides whether anything is written at all
/// (see `RevisionRule`), so exporting again writes nothing new unless the totals changed.
public final class FocusExporter: @unchecked Sendable {
    /// The settings.
    public let configuration: ExportConfiguration
    /// Where the objects go.
    public let layout: ExportLayout
    let source: TotalsSource
    let client: S3Client
    let logger: Logger
    private let isCancelled: @Sendable () -> Bool

    /// Creates an exporter; connects lazily. `isCancelled` is polled during long steps: when it turns true, the
    /// export stops with an error and leaves no manifest behind.
    public init(configuration: ExportConfiguration, logger: Logger,
                isCancelled: @escaping @Sendable () -> Bool = { false }) throws(ExportError) {
        self.configuration = configuration
        self.layout = ExportLayout(location: configuration.destination)
        self.logger = logger
        self.isCancelled = isCancelled
        source = try TotalsSource(url: configuration.databaseURL, table: configuration.table, logger: logger)
        do {
            client = try S3Client(configuration.s3, isCancelled: isCancelled)
        } catch {
            throw ExportError("S3: \(error)")
        }
    }

    /// The advisory lock that makes one process at a time export to this destination.
    var lockKey: String { "ferris-usage focus export \(configuration.destination)" }

    /// Exports `period` if it is closed at `now` and its totals differ from its latest export; waits while another
    /// process exports to the same destination.
    public func export(_ period: ExportPeriod, now: Timestamp) throws(ExportError) -> ExportOutcome {
        try source.lock(lockKey)
        defer { source.unlock(lockKey) }
        try abandonPendingUploads()
        return try exportLocked(period, books: try configuration.prices.read(logger: logger), now: now).outcome
    }

    /// Aborts multipart uploads under the layout's root that an interrupted export left behind (only called with the
    /// lock held, so none of them is still running).
    func abandonPendingUploads() throws(ExportError) {
        do {
            for upload in try client.listPendingUploads(prefix: layout.root) {
                logger.notice("aborting an upload an interrupted export left behind", metadata: ["key": "\(upload.key)"])
                try client.abortMultipartUpload(upload.key, uploadID: upload.uploadID)
            }
        } catch {
            throw ExportError("cleaning up interrupted uploads under \(configuration.destination): \(error)",
                              isCredentials: error.isCredentialsError)
        }
    }

    /// The newest complete export of `period`: its revision, and its manifest unless that cannot be read.
    func latestExport(_ period: ExportPeriod) throws(ExportError) -> (revision: Int64, manifest: ExportManifest?)? {
        do {
            let objects = try client.listObjects(prefix: layout.periodPrefix(period))
            guard let revision = layout.completeRevisions(period, in: objects).last else { return nil }
            let key = layout.manifestKey(period, revision: revision)
            guard let bytes = try client.getObject(key) else { return (revision, nil) }
            do {
                return (revision, try ExportManifest.decode(bytes))
            } catch {
                logger.warning("unreadable manifest: the next export of the period writes a new revision",
                               metadata: ["key": "\(key)", "error": "\(error)"])
                return (revision, nil)
            }
        } catch {
            throw ExportError("reading the exports of \(period) under \(configuration.destination): \(error)",
                              isCredentials: error.isCredentialsError)
        }
    }

    /// Exports `period` rated with `books` (the caller holds the lock); also returns the fingerprint of the totals the
    /// outcome is based on (nil when not closed).
    func exportLocked(_ period: ExportPeriod, books: PriceBookSet,
                      now: Timestamp) throws(ExportError) -> (outcome: ExportOutcome, source: ExportManifest.Source?) {
        let closesAt = configuration.closing.closesAt(period)
        guard now >= closesAt else {
            let reason = "it closes at \(closesAt) (its end, plus the grace period and the idle timeout of the topology); now is \(now)"
            return (.notClosed(period: period, reason: reason), nil)
        }
        let previous = try latestExport(period)
        return try source.withSnapshot(of: period) { snapshot throws(ExportError) in
            let summary = try snapshot.summary()
            guard summary.provisional == 0 else {
                let reason = "\(summary.provisional) of its \(summary.rows) totals are still provisional (an input partition has not closed its hours)"
                return (.notClosed(period: period, reason: reason), nil)
            }
            let fingerprint = summary.fingerprint(table: configuration.table, replayRevision: try snapshot.replayRevision(),
                                                  prior: try snapshot.priorSummary(), priceBooks: books.revisions)
            // The same totals, books and columns write the same rows (a new version of the export's columns is written
            // again).
            if let previous, previous.manifest?.source == fingerprint, previous.manifest?.columns == FocusColumns.all {
                return (.unchanged(period: period, revision: previous.revision), fingerprint)
            }
            if previous == nil && summary.rows == 0 { return (.empty(period: period), fingerprint) }
            let revision = RevisionRule.next(accountingRevision: fingerprint.replayRevision, previous: previous?.revision)
            let outcome = try write(period, revision: revision, previous: previous, fingerprint: fingerprint, snapshot: snapshot,
                                    books: books, now: now)
            return (outcome, fingerprint)
        }
    }

    /// Writes revision `revision` of `period`: rates the totals from the month's start (tiers and rounding run over the
    /// month) in rating order, streaming, and writes the rows of the totals inside the period.
    /// A day's rows also replace its rows in PostgreSQL's `FocusCostsTable`, committed just before the manifest.
    private func write(_ period: ExportPeriod, revision: Int64, previous: (revision: Int64, manifest: ExportManifest?)?,
                       fingerprint: ExportManifest.Source, snapshot: TotalsSource.Snapshot, books: PriceBookSet,
                       now: Timestamp) throws(ExportError) -> ExportOutcome {
        guard period.granularity == .day else {
            return try write(period, revision: revision, previous: previous, fingerprint: fingerprint, snapshot: snapshot,
                             books: books, now: now, rowsTo: nil)
        }
        return try source.replacingRows(of: period.name, revision: revision) { writer throws(ExportError) in
            try write(period, revision: revision, previous: previous, fingerprint: fingerprint, snapshot: snapshot,
                      books: books, now: now, rowsTo: writer)
        }
    }

    private func write(_ period: ExportPeriod, revision: Int64, previous: (revision: Int64, manifest: ExportManifest?)?,
                       fingerprint: ExportManifest.Source, snapshot: TotalsSource.Snapshot, books: PriceBookSet,
                       now: Timestamp, rowsTo writer: TotalsSource.CostRowsWriter?) throws(ExportError) -> ExportOutcome {
        let key = layout.dataKey(period, revision: revision)
        let notify = configuration.onPartUploaded
        let upload = try GzipUpload(client: client, key: key, partSize: configuration.partSize) { notify(key, $0) }
        do throws(ExportError) {
            let sums = try snapshot.sums()
            try upload.write(FocusColumns.header)
            var rows = 0
            var revisions = Set<Int64>()
            var session: PriceBookSet.Session
            do {
                session = try PriceBookSet.Session(books: books)
            } catch {
                throw ExportError("rating \(period): \(error.message)")
            }
            // The currency of rows whose tenant no book rates (FOCUS `BillingCurrency` is never null).
            guard let fallbackCurrency = (books.defaultBook ?? books.books.first)?.currency else {
                throw ExportError("rating \(period): no price book")
            }
            var costs = CostTally()
            try snapshot.totals { batch throws(ExportError) in
                if isCancelled() { throw ExportError("the export of \(period) was stopped (shutdown)") }
                var bytes: [UInt8] = []
                var fields: [[String]] = []
                for total in batch {
                    let entry: RatedTotals.Entry
                    do throws(RatingError) {
                        entry = try session.rate(total)
                    } catch {
                        throw ExportError("rating \(period): \(error.message)")
                    }
                    guard total.windowStart >= period.start else { continue }
                    revisions.insert(total.revision)
                    for row in FocusRow.rows(of: entry, fallbackCurrency: fallbackCurrency) {
                        let values = row.fields()
                        FocusRow.appendCSV(values, to: &bytes)
                        if writer != nil { fields.append(values) }
                        try costs.add(row)
                        rows += 1
                    }
                }
                try upload.write(bytes)
                try writer?.add(fields)
            }
            let content = try upload.finish()
            if let previous, previous.manifest?.contentSHA256 == content {
                // Same rows (e.g. totals re-delivered unchanged): keep the existing revision.
                upload.discard()
                return .unchanged(period: period, revision: previous.revision)
            }
            let objectSHA = try upload.commit()
            let manifest = ExportManifest(
                period: period.name, granularity: period.granularity,
                chargePeriodStart: Self.seconds(period.start), chargePeriodEnd: Self.seconds(period.end),
                revision: revision, previousRevision: previous?.revision, accountingRevisions: revisions.sorted(),
                rowCount: rows, consumedQuantityByUnit: sums, contentSHA256: content,
                files: [.init(key: key, mediaType: GzipUpload.mediaType, rows: rows, bytes: upload.objectBytes, sha256: objectSHA)],
                columns: FocusColumns.all, source: fingerprint, writtenAt: Self.seconds(now),
                costs: costs.sums(), unpricedRows: costs.unpriced, metadata: .export)
            let manifestKey = layout.manifestKey(period, revision: revision)
            try writer?.commit()
            do {
                try client.putObject(manifestKey, body: try manifest.encoded(), contentType: "application/json")
            } catch let error as S3Error {
                throw ExportError("writing \(manifestKey): \(error)", isCredentials: error.isCredentialsError)
            } catch {
                throw ExportError("encoding the manifest of \(period): \(error)")
            }
            logger.info("exported", metadata: ["period": "\(period)", "revision": "\(revision)", "rows": "\(rows)",
                                               "bytes": "\(upload.objectBytes)", "destination": "\(configuration.destination)"])
            let unpriced = costs.unpriced.values.reduce(0, +)
            if unpriced > 0 {
                logger.warning("rows without a price exported at zero cost: publish a price book revision that prices them (`ferris-usage prices check FILE --database-url ...` lists them)",
                               metadata: ["period": "\(period)", "unpriced": "\(costs.unpriced)"])
            }
            return .written(period: period, revision: revision, previous: previous?.revision, rows: rows, unpriced: unpriced,
                            bytes: upload.objectBytes)
        } catch {
            upload.discard()
            throw error
        }
    }

    /// RFC 3339 in whole seconds, as FOCUS writes date-times: `2026-11-25T00:00:00Z`.
    static func seconds(_ time: Timestamp) -> String {
        String(time.rfc3339.prefix(19)) + "Z"
    }
}

/// The sums of an export's costs per currency, exact, for its manifest.
struct CostTally {
    private var byCurrency: [String: (rows: Int, billed: ExactDecimal, list: ExactDecimal)] = [:]
    /// Rows without a price, per reason.
    private(set) var unpriced: [String: Int] = [:]

    mutating func add(_ row: FocusRow) throws(ExportError) {
        var entry = byCurrency[row.currency.code] ?? (0, .zero, .zero)
        entry.rows += 1
        if let charge = row.charge {
            do {
                entry.billed = try entry.billed.adding(charge.billedCost.amount)
                entry.list = try entry.list.adding(charge.listCost.amount)
            } catch {
                throw ExportError("adding up the costs in \(row.currency.code): \(error)")
            }
        } else {
            unpriced[row.costStatus, default: 0] += 1
        }
        byCurrency[row.currency.code] = entry
    }

    func sums() -> [String: ExportManifest.CostSums] {
        byCurrency.mapValues { ExportManifest.CostSums(rows: $0.rows, billedCost: $0.billed.description, listCost: $0.list.description) }
    }
}
