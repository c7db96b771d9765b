import S3

/// Everything an export needs: where the totals are, where the files go, and when a period counts as closed.
public struct ExportConfiguration: Sendable {
    /// The service's PostgreSQL (libpq URL); only read.
    public var databaseURL: String
    /// The view of current totals (the topology's `sinks.table`); its replays table is `<table>_replays`.
    public var table: String
    /// Where the files go: `s3://bucket/prefix/`.
    public var destination: S3Location
    /// How to reach and sign for the store; its bucket is the destination's.
    public var s3: S3Configuration
    /// When a period counts as closed.
    public var closing: ClosingRule
    /// Objects larger than this go as multipart uploads with parts of this size (S3 needs at least 5 MiB).
    public var partSize: Int
    /// How far back the schedule looks for days whose totals changed after their export (late totals): events older
    /// than the topology's maximum event age are refused, so the days before cannot change except by a replay, which
    /// the schedule notices on its own.
    public var recheckMilliseconds: Int64
    /// Time between two passes of the schedule.
    public var interval: Duration
    /// First wait after a failed pass; it doubles up to `maximumRetryDelay`.
    public var initialRetryDelay: Duration
    /// Longest wait between retries.
    public var maximumRetryDelay: Duration
    /// Called after each stored part of a multipart upload with the object key and part number (progress logs).
    public var onPartUploaded: @Sendable (String, Int) -> Void

    /// Creates a configuration; the store's bucket is set to the destination's.
    public init(databaseURL: String, table: String = "usage_totals", destination: S3Location, s3: S3Configuration,
                closing: ClosingRule, partSize: Int = 16 << 20, recheckMilliseconds: Int64 = 35 * 86_400_000,
                interval: Duration = .seconds(600), initialRetryDelay: Duration = .seconds(5),
                maximumRetryDelay: Duration = .seconds(300), onPartUploaded: @escaping @Sendable (String, Int) -> Void = { _, _ in }) {
        self.databaseURL = databaseURL
        self.table = table
        self.destination = destination
        var s3 = s3
        s3.bucket = destination.bucket
        self.s3 = s3
        self.closing = closing
        self.partSize = partSize
        self.recheckMilliseconds = recheckMilliseconds
        self.interval = interval
        self.initialRetryDelay = initialRetryDelay
        self.maximumRetryDelay = maximumRetryDelay
        self.onPartUploaded = onPartUploaded
    }
}

/// What exporting one period did.
public enum ExportOutcome: Sendable, Equatable, CustomStringConvertible {
    /// A new revision folder was written.
    case written(period: ExportPeriod, revision: Int64, previous: Int64?, rows: Int, bytes: Int)
    /// The latest export already holds exactly these totals: nothing written.
    case unchanged(period: ExportPeriod, revision: Int64)
    /// The period has no totals and was never exported: nothing written.
    case empty(period: ExportPeriod)
    /// The period is not closed yet: nothing written.
    case notClosed(period: ExportPeriod, reason: String)

    /// The period concerned.
    public var period: ExportPeriod {
        switch self {
        case .written(let period, _, _, _, _), .unchanged(let period, _), .empty(let period), .notClosed(let period, _): period
        }
    }

    public var description: String {
        switch self {
        case .written(let period, let revision, let previous, let rows, let bytes):
            let replaces = previous.map { ", replacing revision \($0)" } ?? ""
            return "\(period): revision \(revision) written (\(rows) rows, \(bytes) bytes gzip\(replaces))"
        case .unchanged(let period, let revision):
            return "\(period): unchanged since revision \(revision), nothing written"
        case .empty(let period):
            return "\(period): no totals, nothing written"
        case .notClosed(let period, let reason):
            return "\(period): not closed, refused: \(reason)"
        }
    }
}
