import Logging
import S3
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
    private let logger: Logger
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
        return try exportLocked(period, now: now).outcome
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

    /// Exports `period` (the caller holds the lock); also returns the fingerprint of the totals the outcome is based
    /// on (nil when not closed).
    func exportLocked(_ period: ExportPeriod, now: Timestamp) throws(ExportError) -> (outcome: ExportOutcome, source: ExportManifest.Source?) {
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
            let fingerprint = summary.fingerprint(table: configuration.table, replayRevision: try snapshot.replayRevision())
            if let previous, previous.manifest?.source == fingerprint {
                return (.unchanged(period: period, revision: previous.revision), fingerprint)
            }
            if previous == nil && summary.rows == 0 { return (.empty(period: period), fingerprint) }
            let revision = RevisionRule.next(accountingRevision: fingerprint.replayRevision, previous: previous?.revision)
            let outcome = try write(period, revision: revision, previous: previous, fingerprint: fingerprint, snapshot: snapshot, now: now)
            return (outcome, fingerprint)
        }
    }

    private func write(_ period: ExportPeriod, revision: Int64, previous: (revision: Int64, manifest: ExportManifest?)?,
                       fingerprint: ExportManifest.Source, snapshot: TotalsSource.Snapshot, now: Timestamp) throws(ExportError) -> ExportOutcome {
        let key = layout.dataKey(period, revision: revision)
        let notify = configuration.onPartUploaded
        let upload = try GzipUpload(client: client, key: key, partSize: configuration.partSize) { notify(key, $0) }
        do throws(ExportError) {
            let sums = try snapshot.sums()
            try upload.write(FocusColumns.header)
            var rows = 0
            var revisions = Set<Int64>()
            try snapshot.rows { batch throws(ExportError) in
                if isCancelled() { throw ExportError("the export of \(period) was stopped (shutdown)") }
                var bytes: [UInt8] = []
                for row in batch {
                    row.appendCSV(to: &bytes)
                    revisions.insert(Int64(row.revision) ?? 0)
                }
                rows += batch.count
                try upload.write(bytes)
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
                columns: FocusColumns.all, source: fingerprint, writtenAt: Self.seconds(now))
            let manifestKey = layout.manifestKey(period, revision: revision)
            do {
                try client.putObject(manifestKey, body: try manifest.encoded(), contentType: "application/json")
            } catch let error as S3Error {
                throw ExportError("writing \(manifestKey): \(error)", isCredentials: error.isCredentialsError)
            } catch {
                throw ExportError("encoding the manifest of \(period): \(error)")
            }
            logger.info("exported", metadata: ["period": "\(period)", "revision": "\(revision)", "rows": "\(rows)",
                                               "bytes": "\(upload.objectBytes)", "destination": "\(configuration.destination)"])
            return .written(period: period, revision: revision, previous: previous?.revision, rows: rows, bytes: upload.objectBytes)
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
