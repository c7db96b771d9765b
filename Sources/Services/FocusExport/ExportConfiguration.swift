import Kafka
import Logging
import UsagePriceBooks
import UsagePricing
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
    /// Where the price books come from.
    public var prices: PriceSource
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
                closing: ClosingRule, prices: PriceSource, partSize: Int = 16 << 20, recheckMilliseconds: Int64 = 35 * 86_400_000,
                interval: Duration = .seconds(600), initialRetryDelay: Duration = .seconds(5),
                maximumRetryDelay: Duration = .seconds(300), onPartUploaded: @escaping @Sendable (String, Int) -> Void = { _, _ in }) {
        self.databaseURL = databaseURL
        self.table = table
        self.destination = destination
        var s3 = s3
        s3.bucket = destination.bucket
        self.s3 = s3
        self.closing = closing
        self.prices = prices
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
    case written(period: ExportPeriod, revision: Int64, previous: Int64?, rows: Int, unpriced: Int, bytes: Int)
    /// The latest export already holds exactly these totals: nothing written.
    case unchanged(period: ExportPeriod, revision: Int64)
    /// The period has no totals and was never exported: nothing written.
    case empty(period: ExportPeriod)
    /// The period is not closed yet: nothing written.
    case notClosed(period: ExportPeriod, reason: String)

    /// The period concerned.
    public var period: ExportPeriod {
        switch self {
        case .written(let period, _, _, _, _, _), .unchanged(let period, _), .empty(let period), .notClosed(let period, _): period
        }
    }

    public var description: String {
        switch self {
        case .written(let period, let revision, let previous, let rows, let unpriced, let bytes):
            let replaces = previous.map { ", replacing revision \($0)" } ?? ""
            let withoutPrice = unpriced > 0 ? ", \(unpriced) without a price" : ""
            return "\(period): revision \(revision) written (\(rows) rows\(withoutPrice), \(bytes) bytes gzip\(replaces))"
        case .unchanged(let period, let revision):
            return "\(period): unchanged since revision \(revision), nothing written"
        case .empty(let period):
            return "\(period): no totals, nothing written"
        case .notClosed(let period, let reason):
            return "\(period): not closed, refused: \(reason)"
        }
    }
}

/// Where the exporter gets the price books that rate the totals (standard, section 14).
public enum PriceSource: Sendable {
    /// The current books on the prices topic, read to its end before every export.
    case topic(KafkaConfiguration, topic: String)
    /// Fixed books (e.g. read from files).
    case books([PriceBook])

    /// The books, as a set that gives each tenant one book; throws when there is none or they conflict.
    func read(logger: Logger) throws(ExportError) -> PriceBookSet {
        let books: [PriceBook]
        let origin: String
        switch self {
        case .books(let fixed):
            books = fixed
            origin = "the given price book files"
        case .topic(let kafka, let topic):
            do {
                books = try PriceBookTopic.read(kafka: kafka, topic: topic, logger: logger).history.currentBooks
            } catch {
                throw ExportError("reading the price books on \(topic): \(error)")
            }
            origin = "the prices topic \(topic)"
        }
        guard !books.isEmpty else {
            throw ExportError("no price book in \(origin): a FOCUS file needs costs and a billing currency; publish one with `ferris-usage prices publish FILE`")
        }
        do {
            return try PriceBookSet(books)
        } catch {
            throw ExportError("\(origin): \(error.message)")
        }
    }
}
