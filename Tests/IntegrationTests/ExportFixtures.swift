import FocusExport
import Foundation
import PostgreSQL
import ProcessSupport
import S3
import TestSupport
import Testing
import UsagePricing
import UsageStandard

/// The real S3-compatible store (SeaweedFS, started by `scripts/test.sh` through `scripts/seaweedfs.sh`) and the
/// DuckDB reader the export tests use.
enum ExportFixtures {
    /// The shared store (or the one whose `env` file is in `directory`) and its bucket `ferris-it`, created if needed.
    /// One bucket for all tests (each writes under a prefix of its own): SeaweedFS gives every bucket volumes of its
    /// own, and the test server has few.
    static func store(directory: URL? = nil) async throws -> S3Configuration {
        var values: [String: String] = [:]
        if let directory {
            let text = try String(contentsOf: directory.appendingPathComponent("env"), encoding: .utf8)
            for line in text.split(separator: "\n") {
                guard let equals = line.firstIndex(of: "=") else { continue }
                values[String(line[..<equals])] = String(line[line.index(after: equals)...])
            }
        } else {
            for name in ["FERRIS_S3_ENDPOINT", "FERRIS_S3_ACCESS_KEY_ID", "FERRIS_S3_SECRET_ACCESS_KEY"] {
                values[name] = try TestServices.variable(name)
            }
        }
        guard let endpoint = values["FERRIS_S3_ENDPOINT"], let key = values["FERRIS_S3_ACCESS_KEY_ID"],
              let stored = values["FERRIS_S3_SECRET_ACCESS_KEY"] else {
            throw TestSetupError("no S3 endpoint or credentials found")
        }
        let configuration = S3Configuration(endpoint: endpoint, bucket: "ferris-it",
                                            credentials: S3Credentials(accessKeyID: key, secretAccessKey: stored))
        try await TestServices.blocking {
            do {
                try S3Client(configuration).createBucket()
            } catch let error as S3Error where error.code == "BucketAlreadyExists" {
                // Created by a test running at the same time.
            }
        }
        return configuration
    }

    /// An export of `table` to `s3://<bucket>/<table>/` with the default topology's grace period and idle timeout,
    /// rated with `books` (default: the seed scenarios' book, `examples/price-book.yaml`).
    static func configuration(table: String, store: S3Configuration, partSize: Int = 5 << 20,
                              books: [PriceBook]? = nil) throws -> ExportConfiguration {
        ExportConfiguration(databaseURL: try TestServices.databaseURL, table: table,
                            destination: try S3Location("s3://\(store.bucket)/\(table)/"), s3: store,
                            closing: ClosingRule(graceMilliseconds: 3_600_000, idleMilliseconds: 600_000),
                            prices: .books(try books ?? [examplePriceBook()]), partSize: partSize,
                            initialRetryDelay: .milliseconds(100), maximumRetryDelay: .milliseconds(400))
    }

    /// The seed scenarios' price book, `examples/price-book.yaml`.
    static func examplePriceBook() throws -> PriceBook {
        let path = TestServices.repository.appendingPathComponent("examples/price-book.yaml").path
        return try PriceBook.parse(try String(contentsOfFile: path, encoding: .utf8), file: path)
    }

    /// Runs `scripts/seaweedfs.sh start|stop DIR` (a store of the test's own).
    static func seaweedfs(_ command: String, _ directory: URL) async throws {
        try await TestServices.blocking { try seaweedfsNow(command, directory) }
    }

    /// `seaweedfs`, blocking the calling thread.
    static func seaweedfsNow(_ command: String, _ directory: URL) throws {
        let (status, output) = try TestServices.run([TestServices.repository.appendingPathComponent("scripts/seaweedfs.sh").path, command, directory.path])
        guard status == 0 else { throw TestSetupError("scripts/seaweedfs.sh \(command) failed: \(output)") }
    }

    static var now: Timestamp { Timestamp(milliseconds: WallClock.milliseconds()) }

    /// What DuckDB reads from an exported file (see `scripts/read-focus.py`).
    struct FocusFile: Decodable {
        struct Column: Decodable, Equatable {
            var name: String
            var type: String
        }

        var columns: [Column]
        var rows: [[String?]]
        var sums: [String: String]
        var fileSHA256: String
        var contentSHA256: String

        /// The value of column `name` in every row.
        func column(_ name: String) throws -> [String?] {
            guard let i = columns.firstIndex(where: { $0.name == name }) else { throw TestSetupError("no column \(name)") }
            return rows.map { $0[i] }
        }

        /// The rows as comparable values: start, end, quantity, unit, tenant, instance, component, provider, metric,
        /// event count, status, revision. The rows of a total split over price tiers are added up into one.
        var totals: [ExportedTotal] {
            get throws {
                let index = Dictionary(uniqueKeysWithValues: columns.enumerated().map { ($1.name, $0) })
                func text(_ row: [String?], _ name: String) throws -> String? {
                    guard let i = index[name] else { throw TestSetupError("no column \(name)") }
                    return row[i]
                }
                let split = try rows.map { row in
                    guard let start = try text(row, "ChargePeriodStart").flatMap(Timestamp.parse),
                          let end = try text(row, "ChargePeriodEnd").flatMap(Timestamp.parse),
                          let quantity = try text(row, "ConsumedQuantity"),
                          let count = try text(row, "x_EventCount").flatMap({ Int64($0) }),
                          let revision = try text(row, "x_Revision").flatMap({ Int64($0) }) else {
                        throw TestSetupError("unreadable row \(row)")
                    }
                    return ExportedTotal(start: start, end: end, quantity: quantity, unit: try text(row, "ConsumedUnit") ?? "",
                                         tenant: try text(row, "SubAccountId") ?? "", instance: try text(row, "ResourceId") ?? "",
                                         component: try text(row, "ServiceName") ?? "", provider: try text(row, "x_HostProviderName"),
                                         metric: try text(row, "x_Metric") ?? "", events: count, status: try text(row, "x_Status") ?? "",
                                         revision: revision)
                }
                var merged: [ExportedTotal] = []
                for part in split {
                    guard let last = merged.last, last.start == part.start, last.tenant == part.tenant,
                          last.instance == part.instance, last.component == part.component, last.metric == part.metric,
                          last.unit == part.unit else {
                        merged.append(part)
                        continue
                    }
                    guard case .success(let a) = Quantity.parse(last.quantity), case .success(let b) = Quantity.parse(part.quantity),
                          let sum = a.adding(b) else { throw TestSetupError("cannot add \(last.quantity) and \(part.quantity)") }
                    merged[merged.count - 1].quantity = ExportedTotal.sixDecimals(sum)
                    merged[merged.count - 1].events += part.events
                }
                return merged
            }
        }
    }

    /// One exported row, or one total of PostgreSQL, in the same shape; the quantity as exact decimal text with six
    /// decimals (DuckDB's DECIMAL(38, 6), PostgreSQL's numeric(38, 6)).
    struct ExportedTotal: Hashable, CustomStringConvertible {
        var start: Timestamp, end: Timestamp, quantity: String, unit: String, tenant: String, instance: String,
            component: String, provider: String?, metric: String, events: Int64, status: String, revision: Int64

        init(start: Timestamp, end: Timestamp, quantity: String, unit: String, tenant: String, instance: String,
             component: String, provider: String?, metric: String, events: Int64, status: String, revision: Int64) {
            (self.start, self.end, self.quantity, self.unit, self.tenant, self.instance) = (start, end, quantity, unit, tenant, instance)
            (self.component, self.provider, self.metric, self.events, self.status, self.revision) =
                (component, provider, metric, events, status, revision)
        }

        init(_ total: UsageTotal) {
            self.init(start: total.windowStart, end: total.windowEnd, quantity: Self.sixDecimals(total.quantity), unit: total.unit,
                      tenant: total.key.tenant, instance: total.key.instance, component: total.key.component,
                      provider: total.provider, metric: total.key.metric, events: total.eventCount,
                      status: total.status.rawValue, revision: total.revision)
        }

        /// A quantity as text with six decimals, as DuckDB prints DECIMAL(38, 6).
        static func sixDecimals(_ quantity: Quantity) -> String {
            let sign = quantity.micros < 0 ? "-" : ""
            let magnitude = quantity.micros.magnitude
            let micros = String(magnitude % 1_000_000)
            return sign + "\(magnitude / 1_000_000)." + String(repeating: "0", count: 6 - micros.count) + micros
        }

        var description: String {
            "\(tenant)/\(instance)/\(component)/\(metric) \(start): \(quantity) \(unit) (\(events) events, \(status), r\(revision))"
        }
    }

    /// Reads `bytes` (an exported `.csv.gz`) back with DuckDB.
    static func readBack(_ bytes: [UInt8]) throws -> FocusFile {
        let file = FileManager.default.temporaryDirectory.appendingPathComponent(TestServices.unique("focus") + ".csv.gz")
        try Data(bytes).write(to: file)
        defer { try? FileManager.default.removeItem(at: file) }
        let (status, output) = try TestServices.run([try TestServices.variable("FERRIS_TEST_PYTHON"),
                                         TestServices.repository.appendingPathComponent("scripts/read-focus.py").path, file.path])
        guard status == 0, let data = output.data(using: .utf8) else { throw TestSetupError("read-focus.py failed: \(output)") }
        return try JSONDecoder().decode(FocusFile.self, from: data)
    }

    /// The data file (gzip CSV) of `revision` of `period`, as stored.
    static func dataFile(_ period: ExportPeriod, revision: Int64, store: S3Configuration, layout: ExportLayout) async throws -> [UInt8] {
        try await TestServices.blocking {
            let client = try S3Client(store)
            guard let bytes = try client.getObject(layout.manifestKey(period, revision: revision)),
                  let key = try ExportManifest.decode(bytes).files.first?.key, let data = try client.getObject(key) else {
                throw TestSetupError("no data file for \(period) revision \(revision)")
            }
            return data
        }
    }

    /// Runs `scripts/focus-recompute.py BOOK FILES...` (DuckDB recomputes every cost from the book and the rows):
    /// its exit status and output.
    static func recompute(book: String, files: [URL]) async throws -> (status: Int32, output: String) {
        let python = try TestServices.variable("FERRIS_TEST_PYTHON")
        let script = TestServices.repository.appendingPathComponent("scripts/focus-recompute.py").path
        return try await TestServices.blocking { try TestServices.run([python, script, book] + files.map(\.path)) }
    }

    /// The manifest and DuckDB's reading of the data file of `revision` of `period`.
    static func exported(_ period: ExportPeriod, revision: Int64, store: S3Configuration,
                         layout: ExportLayout) async throws -> (manifest: ExportManifest, file: FocusFile) {
        try await TestServices.blocking { try exportedNow(period, revision: revision, store: store, layout: layout) }
    }

    private static func exportedNow(_ period: ExportPeriod, revision: Int64, store: S3Configuration,
                                    layout: ExportLayout) throws -> (manifest: ExportManifest, file: FocusFile) {
        let client = try S3Client(store)
        guard let manifestBytes = try client.getObject(layout.manifestKey(period, revision: revision)) else {
            throw TestSetupError("no manifest for \(period) revision \(revision)")
        }
        let manifest = try ExportManifest.decode(manifestBytes)
        guard let key = manifest.files.first?.key, let data = try client.getObject(key) else {
            throw TestSetupError("no data file for \(period) revision \(revision)")
        }
        return (manifest, try readBack(data))
    }

    /// A table shaped like the view `usage_totals` (only the columns the export may depend on) and its replays
    /// table, with `rows` final totals spread over the hours of `day`: some quantities of 19 significant digits (beyond
    /// a double's precision, within the standard's quantity), every tenth without a host provider, names that need CSV quoting, and instance names of
    /// `randomHex` (a multiple of 32) random hex digits (that gzip cannot shrink, for files of a given size).
    static func createTotals(_ table: String, day: ExportPeriod, rows: Int, randomHex: Int = 32) async throws {
        let url = try TestServices.databaseURL
        try await TestServices.blocking { try createTotalsNow(table, day: day, rows: rows, randomHex: randomHex, url: url) }
    }

    private static func createTotalsNow(_ table: String, day: ExportPeriod, rows: Int, randomHex: Int, url: String) throws {
        let db = try createEmptyTotals(table, url: url)
        try db.query("""
            INSERT INTO \(table) (tenant, instance, component, metric, window_start, window_end, quantity, unit, event_count,
                                  status, host_provider, revision)
            SELECT 'tenant-' || (i % 97) || CASE WHEN i % 13 = 0 THEN ', "quoted"' ELSE '' END,
                   'inst-' || (SELECT string_agg(md5(i || ':' || g || random()), '') FROM generate_series(1, $3::int / 32) AS g), (ARRAY['kafka', 'minio', 'vault', 'presto'])[1 + i % 4], 'metric-' || (i / 97),
                   $1::timestamptz + ((i % 24) || ' hours')::interval, $1::timestamptz + ((i % 24 + 1) || ' hours')::interval,
                   (CASE WHEN i % 1000 = 0 THEN '9123456789012.' ELSE (i * 31 % 100000)::text || '.' END
                     || lpad((i * 7919 % 1000000)::text, 6, '0'))::numeric, (ARRAY['Core-Seconds', 'GiB-Hours', 'Requests'])[1 + i % 3],
                   1 + i % 50, 'final', CASE WHEN i % 10 = 0 THEN NULL ELSE 'gcp' END, 0
            FROM generate_series(1, $2) AS i
            """, [.text(day.start.rfc3339), .text(String(rows)), .text(String(randomHex))])
    }

    /// Creates `table` shaped like the view `usage_totals` (the columns the export reads) and its replays table,
    /// both empty.
    @discardableResult
    static func createEmptyTotals(_ table: String, url: String) throws -> PostgresConnection {
        let db = try PostgresConnection(url: url)
        try db.query("""
            CREATE TABLE \(table) (tenant text, instance text, component text, metric text, window_start timestamptz,
                window_end timestamptz, quantity numeric(38, 6), unit text, event_count bigint, status text,
                host_provider text, revision bigint, updated_at timestamptz DEFAULT now())
            """)
        try db.query("""
            CREATE TABLE \(table)_replays (revision bigserial PRIMARY KEY, range_start timestamptz, range_end timestamptz,
                tenant text, published_at timestamptz)
            """)
        return db
    }

    /// The totals of `day` in `table` as PostgreSQL holds them, and the exact sums per unit PostgreSQL computes.
    static func postgresTotals(_ table: String, day: ExportPeriod) async throws -> (totals: Set<ExportedTotal>, sums: [String: String]) {
        let url = try TestServices.databaseURL
        return try await TestServices.blocking { try postgresTotalsNow(table, day: day, url: url) }
    }

    private static func postgresTotalsNow(_ table: String, day: ExportPeriod, url: String) throws -> (totals: Set<ExportedTotal>, sums: [String: String]) {
        let db = try PostgresConnection(url: url)
        let range: [PostgresValue] = [.text(day.start.rfc3339), .text(day.end.rfc3339)]
        let rows = try db.query("""
            SELECT extract(epoch FROM window_start)::bigint, extract(epoch FROM window_end)::bigint, quantity::text, unit, tenant,
                   instance, component, host_provider, metric, event_count, status, revision
            FROM \(table) WHERE window_start >= $1 AND window_start < $2
            """, range)
        let totals = try rows.map { row -> ExportedTotal in
            guard let start = row[0].flatMap({ Int64($0) }), let end = row[1].flatMap({ Int64($0) }),
                  let quantity = row[2],
                  let events = row[9].flatMap({ Int64($0) }), let revision = row[11].flatMap({ Int64($0) }) else {
                throw TestSetupError("unreadable row \(row.values)")
            }
            return ExportedTotal(start: Timestamp(milliseconds: start * 1000), end: Timestamp(milliseconds: end * 1000),
                                 quantity: quantity, unit: row[3] ?? "", tenant: row[4] ?? "", instance: row[5] ?? "",
                                 component: row[6] ?? "", provider: row[7], metric: row[8] ?? "", events: events,
                                 status: row[10] ?? "", revision: revision)
        }
        var sums: [String: String] = [:]
        for row in try db.query("SELECT unit, sum(quantity)::text FROM \(table) WHERE window_start >= $1 AND window_start < $2 GROUP BY 1", range) {
            if let unit = row[0], let sum = row[1] { sums[unit] = sum }
        }
        return (Set(totals), normalized(sums))
    }

    /// Decimal texts per unit without trailing fractional zeros, to compare sums written with different scales.
    static func normalized(_ sums: [String: String]) -> [String: String] {
        sums.mapValues { text in
            guard text.contains(".") else { return text }
            var digits = Substring(text)
            while digits.last == "0" { digits.removeLast() }
            if digits.last == "." { digits.removeLast() }
            return String(digits)
        }
    }
}

extension S3Client {
    /// Every object under `prefix`, off the cooperative pool.
    func objects(_ prefix: String = "") async throws -> [S3Object] {
        try await TestServices.blocking { try self.listObjects(prefix: prefix) }
    }

    /// Unfinished multipart uploads under `prefix`, off the cooperative pool.
    func pending(_ prefix: String = "") async throws -> [S3PendingUpload] {
        try await TestServices.blocking { try self.listPendingUploads(prefix: prefix) }
    }
}
