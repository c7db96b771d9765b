import Foundation
import S3

/// Where an export's objects go under the destination `s3://bucket/prefix/`:
///
///     <prefix>/focus/v1/period=<YYYY-MM-DD or YYYY-MM>/revision=<N>/part-0000.csv.gz
///     <prefix>/focus/v1/period=<...>/revision=<N>/manifest.json
///
/// A revision folder is complete once its manifest exists (it is written last).
public struct ExportLayout: Sendable, Equatable {
    /// The destination.
    public let location: S3Location

    /// Creates the layout under `location`.
    public init(location: S3Location) { self.location = location }

    /// The key prefix of every export object, ending in `/`.
    public var root: String { location.key("focus/v1/") }

    /// The key prefix of a period's revisions, ending in `/`.
    public func periodPrefix(_ period: ExportPeriod) -> String { root + "period=\(period.name)/" }

    /// The key prefix of one revision, ending in `/`.
    public func folder(_ period: ExportPeriod, revision: Int64) -> String { periodPrefix(period) + "revision=\(revision)/" }

    /// The key of a revision's data file number `part` (from 0).
    public func dataKey(_ period: ExportPeriod, revision: Int64, part: Int = 0) -> String {
        let digits = String(part)
        return folder(period, revision: revision) + "part-" + String(repeating: "0", count: max(0, 4 - digits.count)) + digits + ".csv.gz"
    }

    /// The key of a revision's manifest.
    public func manifestKey(_ period: ExportPeriod, revision: Int64) -> String { folder(period, revision: revision) + "manifest.json" }

    /// The revisions of `period` that have a manifest, ascending, from a listing of `periodPrefix(period)`.
    public func completeRevisions(_ period: ExportPeriod, in objects: [S3Object]) -> [Int64] {
        let prefix = periodPrefix(period) + "revision="
        return objects.compactMap { object -> Int64? in
            guard object.key.hasPrefix(prefix), object.key.hasSuffix("/manifest.json") else { return nil }
            let number = object.key.dropFirst(prefix.count).dropLast("/manifest.json".count)
            return Int64(number).flatMap { $0 >= 0 && String($0) == number ? $0 : nil }
        }.sorted()
    }
}

/// The manifest of one exported revision of a period: what was written, with counts, sums and checksums to check
/// the files against, and the fingerprint of the totals it was made from.
public struct ExportManifest: Codable, Sendable, Equatable {
    /// One data file.
    public struct File: Codable, Sendable, Equatable {
        /// The object key.
        public var key: String
        /// The media type: gzip-compressed CSV.
        public var mediaType: String
        /// Data rows (without the header).
        public var rows: Int
        /// Size of the object (compressed) in bytes.
        public var bytes: Int
        /// SHA-256 of the object (compressed bytes), hex.
        public var sha256: String
    }

    /// What the totals of the period looked like when they were exported; an export with the same fingerprint would
    /// write the same rows.
    public struct Source: Codable, Sendable, Equatable {
        /// The view the rows were read from.
        public var table: String
        /// How many totals the period had.
        public var rows: Int
        /// The sum of their event counts (`x_EventCount`).
        public var events: Int64
        /// The highest published re-accounting (replay) revision whose range overlaps the period or its month
        /// before it (0: none).
        public var replayRevision: Int64
        /// How many totals the period's month had before the period (their tiers and rounding carry into it).
        public var priorRows: Int?
        /// The sum of their event counts.
        public var priorEvents: Int64?
        /// The price books the rows were rated with, `<id>#<revision>`, by id.
        public var priceBooks: [String]?
    }

    /// FOCUS version of the columns.
    public var focusVersion = "1.2"
    /// The period, `YYYY-MM-DD` or `YYYY-MM`.
    public var period: String
    /// `day` or `month`.
    public var granularity: ExportPeriod.Granularity
    /// First ChargePeriodStart the period can hold (inclusive), RFC 3339.
    public var chargePeriodStart: String
    /// End of the period (exclusive), RFC 3339.
    public var chargePeriodEnd: String
    /// This export's revision: the folder `revision=<N>`.
    public var revision: Int64
    /// The revision this one replaces, nil for the period's first export.
    public var previousRevision: Int64?
    /// The accounting revisions (`x_Revision`) the rows carry, ascending.
    public var accountingRevisions: [Int64]
    /// Data rows in all files.
    public var rowCount: Int
    /// Sum of ConsumedQuantity per ConsumedUnit, exact decimal text.
    public var consumedQuantityByUnit: [String: String]
    /// SHA-256 of the uncompressed CSV of all files in order, hex: the identity of the content.
    public var contentSHA256: String
    /// The data files.
    public var files: [File]
    /// The columns and their FOCUS types.
    public var columns: [FocusColumns.Column]
    /// The totals' fingerprint.
    public var source: Source
    /// When this manifest was written, RFC 3339.
    public var writtenAt: String
    /// Per `BillingCurrency`: the rows and the exact sums of their `BilledCost` and `ListCost`.
    public var costs: [String: CostSums] = [:]
    /// Rows without a price, per `x_CostStatus` (the unpriced reason); empty when every total is priced.
    public var unpricedRows: [String: Int] = [:]
    /// The FOCUS metadata of the data (FOCUS 1.2, "Metadata": data generator and schema).
    public var metadata: FocusMetadata?

    /// Sums of one currency's rows.
    public struct CostSums: Codable, Sendable, Equatable {
        /// Rows in the currency.
        public var rows: Int
        /// Sum of `BilledCost`, exact decimal text.
        public var billedCost: String
        /// Sum of `ListCost`, exact decimal text.
        public var listCost: String
    }

    /// The manifest as JSON (keys sorted, so equal manifests are equal bytes).
    public func encoded() throws -> [UInt8] {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        return Array(try encoder.encode(self)) + [10]
    }

    /// Reads a manifest.
    public static func decode(_ bytes: [UInt8]) throws -> ExportManifest {
        try JSONDecoder().decode(ExportManifest.self, from: Data(bytes))
    }
}

/// FOCUS metadata (FOCUS 1.2, section "Metadata"): who generated the data and the schema of its columns, with the
/// specification's property names.
public struct FocusMetadata: Codable, Sendable, Equatable {
    /// The data generator.
    public struct Generator: Codable, Sendable, Equatable {
        public var dataGenerator: String

        enum CodingKeys: String, CodingKey { case dataGenerator = "DataGenerator" }
    }

    /// One column's definition.
    public struct ColumnDefinition: Codable, Sendable, Equatable {
        public var columnName: String
        public var dataType: String

        enum CodingKeys: String, CodingKey {
            case columnName = "ColumnName"
            case dataType = "DataType"
        }
    }

    /// The schema of the data.
    public struct Schema: Codable, Sendable, Equatable {
        /// Identifies the schema: the same columns have the same id.
        public var schemaID: String
        public var focusVersion: String
        /// When the schema was created, RFC 3339.
        public var creationDate: String
        public var columnDefinition: [ColumnDefinition]

        enum CodingKeys: String, CodingKey {
            case schemaID = "SchemaId"
            case focusVersion = "FocusVersion"
            case creationDate = "CreationDate"
            case columnDefinition = "ColumnDefinition"
        }
    }

    public var dataGenerator: Generator
    public var schema: Schema

    enum CodingKeys: String, CodingKey {
        case dataGenerator = "DataGenerator"
        case schema = "Schema"
    }

    /// The metadata of the export's columns.
    public static let export = FocusMetadata(
        dataGenerator: Generator(dataGenerator: "ferris-usage"),
        schema: Schema(schemaID: "ferris-usage-focus-1.2-costs-v1", focusVersion: "1.2", creationDate: "2026-12-07T00:00:00Z",
                       columnDefinition: FocusColumns.all.map { ColumnDefinition(columnName: $0.name, dataType: $0.type) }))
}

/// Which revision folder an export writes, and whether it writes at all.
///
/// A period's revision is its accounting revision (the highest published replay covering it, 0 for the live
/// accounting) but always above the period's previous export, so that the newest export of a period is always its
/// highest complete revision folder, also when the content changed without a replay (a late total) or a replay only
/// retracted totals. A replay of the period thus lands in `revision=<the replay's revision>` unless an earlier late
/// change already used that number.
enum RevisionRule {
    /// The revision the next export of a period writes.
    static func next(accountingRevision: Int64, previous: Int64?) -> Int64 {
        guard let previous else { return accountingRevision }
        return max(accountingRevision, previous + 1)
    }
}
