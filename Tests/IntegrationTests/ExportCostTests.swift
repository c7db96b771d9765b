import FocusExport
import Foundation
import PostgreSQL
import S3
import TestSupport
import Testing
import UsagePricing
import UsageStandard

@Suite("FOCUS export with costs: hand-computed figures, an independent DuckDB recomputation, a replay and a price correction")
struct ExportCostTests {
    /// 2026-11-15 (price version 2026-11a of `examples/price-book.yaml`) and 2026-11-16 (version 2026-11b: GCP CPU
    /// cheaper), every hour:
    /// - acme on GCP: 3,600.5 Core-Seconds of Kafka; on-prem: 3,600 Core-Seconds of Kafka;
    /// - hybrid-corp (12.5 % off, contracted JupyterHub): 1.5 JupyterHub hours on GCP, and 60,000 ferris-ui requests
    ///   in hours 0 and 1 of the 15th (the month's first 100,000 are free: hour 1 crosses into the second tier);
    /// - acme: 7 units of a metric the book does not price.
    static func createTotals(_ table: String) async throws {
        let url = try TestServices.databaseURL
        try await TestServices.blocking {
            let db = try ExportFixtures.createEmptyTotals(table, url: url)
            try db.query("""
                INSERT INTO \(table) (tenant, instance, component, metric, window_start, window_end, quantity, unit,
                                      event_count, status, host_provider, revision)
                SELECT t.tenant, t.instance, t.component, t.metric, h, h + interval '1 hour', t.quantity, t.unit, 3, 'final',
                       t.provider, 0
                FROM generate_series(timestamptz '2026-11-15T00:00:00Z', timestamptz '2026-11-16T23:00:00Z', interval '1 hour') AS h,
                     (VALUES ('acme', 'acme-gcp', 'kafka', 'cpu_core_seconds', 3600.5, 'Core-Seconds', 'gcp'),
                             ('acme', 'acme-onprem', 'kafka', 'cpu_core_seconds', 3600, 'Core-Seconds', 'onprem'),
                             ('hybrid-corp', 'hybrid-gcp', 'jupyterhub', 'session_hours', 1.5, 'Hours', 'gcp'),
                             ('acme', 'acme-gcp', 'kafka', 'unpriced_metric', 7, 'Things', 'gcp'))
                       AS t(tenant, instance, component, metric, quantity, unit, provider)
                UNION ALL
                SELECT 'hybrid-corp', 'hybrid-gcp', 'ferris-ui', 'requests', h, h + interval '1 hour', 60000, 'Requests', 3,
                       'final', 'gcp', 0
                FROM generate_series(timestamptz '2026-11-15T00:00:00Z', timestamptz '2026-11-15T01:00:00Z', interval '1 hour') AS h
                """)
        }
    }

    let days = [ExportPeriod("2026-11-15"), ExportPeriod("2026-11-16")].compactMap { $0 }

    /// The test's export configuration: its days stay in the schedule's recheck window whenever the test runs.
    func configuration(_ table: String, store: S3Configuration, books: [PriceBook]? = nil) throws -> ExportConfiguration {
        var configuration = try ExportFixtures.configuration(table: table, store: store, books: books)
        configuration.recheckMilliseconds = ExportFixtures.now.milliseconds - days[0].start.milliseconds + 86_400_000
        return configuration
    }

    /// The revisions a pass wrote for days (in day order; the month it may write too is left out).
    func dayRevisions(_ report: ExportPassReport) -> [Int64] {
        report.written.compactMap { outcome in
            guard case .written(let period, let revision, _, _, _, _) = outcome, period.granularity == .day else { return nil }
            return revision
        }
    }

    /// Writes the latest files of both days to a folder (and, when `FERRIS_TEST_FOCUS_DIR` is set, keeps a copy there
    /// for `scripts/test.sh` to run the FinOps validator on), then recomputes their costs from `book` with DuckDB.
    func recompute(_ revisions: [Int64], book: String, store: S3Configuration, layout: ExportLayout,
                   keep: Bool = false) async throws -> (files: [ExportFixtures.FocusFile], recomputed: (status: Int32, output: String)) {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent(TestServices.unique("focus-costs"))
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: folder) }
        var urls: [URL] = []
        var files: [ExportFixtures.FocusFile] = []
        for (day, revision) in zip(days, revisions) {
            let bytes = try await ExportFixtures.dataFile(day, revision: revision, store: store, layout: layout)
            let url = folder.appendingPathComponent("\(day.name).csv.gz")
            try Data(bytes).write(to: url)
            urls.append(url)
            files.append(try ExportFixtures.readBack(bytes))
            if keep, let kept = ProcessInfo.processInfo.environment["FERRIS_TEST_FOCUS_DIR"], !kept.isEmpty {
                try FileManager.default.createDirectory(atPath: kept, withIntermediateDirectories: true)
                try Data(bytes).write(to: URL(fileURLWithPath: kept).appendingPathComponent("\(day.name).csv.gz"))
            }
        }
        return (files, try await ExportFixtures.recompute(book: book, files: urls))
    }

    /// What PostgreSQL's FOCUS cost table holds for `day`: rows, revisions, and the sum of acme's GCP CPU BilledCost.
    func postgresRows(_ table: String, day: String) async throws -> (rows: Int, revisions: [String], gcpCPU: String) {
        let url = try TestServices.databaseURL
        return try await TestServices.blocking {
            let db = try PostgresConnection(url: url)
            let rows = try db.query("SELECT count(*), string_agg(DISTINCT x_export_revision::text, ',') FROM \(table)_focus_costs WHERE x_export_period = $1",
                                    [.text(day)])
            let sum = try db.query("""
                SELECT sum("BilledCost")::text FROM \(table)_focus_costs
                WHERE x_export_period = $1 AND "BillingAccountId" = 'acme' AND "ResourceId" = 'acme-gcp' AND "x_Metric" = 'cpu_core_seconds'
                """, [.text(day)])
            return (Int(rows.first?[0] ?? "") ?? -1, (rows.first?[1] ?? "").split(separator: ",").map(String.init),
                    ExportFixtures.normalized(["s": sum.first?[0] ?? ""])["s"] ?? "")
        }
    }

    /// The sum of `column` over the rows matching `filter` (column name to value), exactly.
    func sum(_ file: ExportFixtures.FocusFile, _ column: String, where filter: [String: String]) throws -> String {
        let values = try file.column(column)
        var matches = Array(repeating: true, count: values.count)
        for (name, value) in filter {
            for (index, cell) in try file.column(name).enumerated() where cell != value { matches[index] = false }
        }
        var total = ExactDecimal.zero
        for (index, value) in values.enumerated() where matches[index] {
            total = try total.adding(try #require(value.flatMap(ExactDecimal.parse), "\(column) row \(index): \(value ?? "null")"))
        }
        return total.description
    }

    @Test("hand-computed costs, unpriced rows with their reason, tier rows; DuckDB recomputes every cost from the book; a replay of a closed day and a price correction make new revisions that recompute too")
    func costs() async throws {
        // Capitals in the name: PostgreSQL folds the unquoted name, and the cost table must still be found again.
        let table = TestServices.unique("Focus_Costs")
        try await Self.createTotals(table)
        let store = try await ExportFixtures.store()
        let bookPath = TestServices.repository.appendingPathComponent("examples/price-book.yaml").path
        // `prices check` against the live totals lists what the book leaves unpriced, and fails.
        let check = try await TestServices.blocking {
            try TestServices.run([TestServices.executable, "prices", "check", bookPath, "--database-url", try TestServices.databaseURL,
                                  "--table", table, "--month", "2026-11"])
        }
        #expect(check.status == 1, "\(check.output)")
        #expect(check.output.contains("48 of 194 unpriced"), "\(check.output)")
        #expect(check.output.contains("acme/acme-gcp/kafka/unpriced_metric (provider gcp, Things): 48 hours, 2026-11-15T00:00:00.000Z to 2026-11-16T23:00:00.000Z: no-price"),
                "\(check.output)")
        let exporter = try FocusExporter(configuration: try configuration(table, store: store), logger: TestServices.logger)
        for day in days {
            let outcome = try await TestServices.blocking { try exporter.export(day, now: ExportFixtures.now) }
            #expect(ExportTests.written(outcome)?.revision == 0, "\(outcome)")
            #expect("\(outcome)".contains("24 without a price"), "\(outcome)")
        }
        let (files, recomputed) = try await recompute([0, 0], book: bookPath, store: store, layout: exporter.layout)
        #expect(recomputed.status == 0, "\(recomputed.output)")
        #expect(recomputed.output.contains("every cost agrees"), "\(recomputed.output)")
        let (first, second) = (files[0], files[1])

        // acme's GCP CPU line: 24 x 3,600.5 x 0.000014 = 1.209768 -> 1.21 on the 15th; the line continues on the
        // 16th at 0.000013: 1.209768 + 1.123356 = 2.333124 -> 2.33 for the month so far, so 1.12 on the 16th.
        let gcpCPU = ["SubAccountId": "acme", "ResourceId": "acme-gcp", "x_Metric": "cpu_core_seconds"]
        #expect(try sum(first, "BilledCost", where: gcpCPU) == "1.21")
        #expect(try sum(second, "BilledCost", where: gcpCPU) == "1.12")
        #expect(try sum(first, "x_ExactListCost", where: gcpCPU) == "1.209768")
        // On-prem is cheaper: 24 x 3,600 x 0.0000095 = 0.8208 -> 0.82 a day (1.6416 -> 1.64 for both).
        let onpremCPU = ["SubAccountId": "acme", "ResourceId": "acme-onprem"]
        #expect(try sum(first, "BilledCost", where: onpremCPU) == "0.82")
        #expect(try sum(second, "BilledCost", where: onpremCPU) == "0.82")
        // hybrid-corp's contracted JupyterHub: 24 x 1.5 x 0.07 = 2.52 a day (list 24 x 1.5 x 0.09 = 3.24).
        let jupyter = ["SubAccountId": "hybrid-corp", "ServiceName": "jupyterhub"]
        #expect(try sum(first, "BilledCost", where: jupyter) == "2.52")
        #expect(try sum(first, "ListCost", where: jupyter) == "3.24")
        // Requests: hour 0 and 40,000 of hour 1 are free; 20,000 at 0.000002 list = 0.04, 12.5 % off = 0.035 -> 0.04
        // (half to even); hour 1 has one row per tier.
        let requests = ["SubAccountId": "hybrid-corp", "x_Metric": "requests"]
        #expect(try sum(first, "BilledCost", where: requests) == "0.04")
        #expect(try sum(first, "PricingQuantity", where: requests.merging(["SkuPriceId": "ferris-list-eur:2026-11a:*/requests:tier=2"]) { $1 }) == "20000")
        let hours = try first.column("ChargePeriodStart"), metrics = try first.column("x_Metric")
        #expect(zip(hours, metrics).filter { $0 == "2026-11-15T01:00:00Z" && $1 == "requests" }.count == 2)
        // The unpriced metric: every hour exported at zero cost with its reason, never silently free.
        let unpriced = try first.column("x_CostStatus").filter { $0 == "no-price" }.count
        #expect(unpriced == 24)
        #expect(try sum(first, "BilledCost", where: ["x_CostStatus": "no-price"]) == "0")
        #expect(try first.column("BillingCurrency").allSatisfy { $0 == "EUR" })
        // The manifest adds up the costs and counts the unpriced rows.
        let (manifest, _) = try await ExportFixtures.exported(days[0], revision: 0, store: store, layout: exporter.layout)
        #expect(manifest.costs["EUR"]?.billedCost == (try sum(first, "BilledCost", where: [:])))
        #expect(manifest.unpricedRows == ["no-price": 24])
        #expect(manifest.source.priceBooks == ["ferris-list-eur#1"])
        #expect(manifest.metadata?.schema.focusVersion == "1.2")
        // PostgreSQL's FOCUS cost table holds the same rows, typed (numeric costs).
        var inPostgres = try await postgresRows(table, day: "2026-11-15")
        #expect(inPostgres.rows == first.rows.count && inPostgres.revisions == ["0"] && inPostgres.gcpCPU == "1.21")

        // A re-accounting of the 15th (replay revision 1) doubles acme's GCP CPU at 05:00: the 15th gets a new
        // revision (1.209768 + 0.0504 = 1.260168 -> 1.26), and so does the 16th, whose month-to-date it changes
        // (2.383524 -> 2.38, minus 1.26: 1.12).
        let url = try TestServices.databaseURL
        try await TestServices.blocking {
            let db = try PostgresConnection(url: url)
            try db.query("""
                UPDATE \(table) SET quantity = 7200.5, revision = 1
                WHERE instance = 'acme-gcp' AND metric = 'cpu_core_seconds' AND window_start = '2026-11-15T05:00:00Z'
                """)
            try db.query("""
                INSERT INTO \(table)_replays (revision, range_start, range_end, tenant, published_at)
                VALUES (1, '2026-11-15T05:00:00Z', '2026-11-15T06:00:00Z', 'acme', now())
                """)
        }
        let memory = ExportMemory()
        let pass = try await TestServices.blocking { [memory] in
            var memory = memory
            return try exporter.pass(now: ExportFixtures.now, memory: &memory)
        }
        #expect(dayRevisions(pass) == [1, 1], "\(pass)")
        let (replayed, recomputedReplay) = try await recompute([1, 1], book: bookPath, store: store, layout: exporter.layout)
        #expect(recomputedReplay.status == 0, "\(recomputedReplay.output)")
        #expect(try sum(replayed[0], "BilledCost", where: gcpCPU) == "1.26")
        #expect(try sum(replayed[1], "BilledCost", where: gcpCPU) == "1.12")
        inPostgres = try await postgresRows(table, day: "2026-11-15")
        #expect(inPostgres.rows == replayed[0].rows.count && inPostgres.revisions == ["1"] && inPostgres.gcpCPU == "1.26")

        // A price correction: revision 2 of the book charges GCP CPU 0.000015 in 2026-11a. Every day rated with the
        // book gets a new revision; the 15th's GCP CPU line is 90,012 x 0.000015 = 1.35018 -> 1.35.
        let original = try String(contentsOfFile: bookPath, encoding: .utf8)
        let corrected = original.replacingOccurrences(of: "revision: 1\n", with: "revision: 2\n")
            .replacingOccurrences(of: #"provider: gcp, unit: Core-Seconds, unitPrice: "0.000014""#,
                                  with: #"provider: gcp, unit: Core-Seconds, unitPrice: "0.000015""#)
        let correctedPath = FileManager.default.temporaryDirectory.appendingPathComponent(TestServices.unique("book") + ".yaml")
        try corrected.write(to: correctedPath, atomically: true, encoding: .utf8)
        defer { try? FileManager.default.removeItem(at: correctedPath) }
        let correctedBook = try PriceBook.parse(corrected, file: correctedPath.path)
        #expect(correctedBook.revision == 2)
        let reRater = try FocusExporter(configuration: try configuration(table, store: store, books: [correctedBook]),
                                        logger: TestServices.logger)
        let rePass = try await TestServices.blocking { [memory] in
            var memory = memory
            return try reRater.pass(now: ExportFixtures.now, memory: &memory)
        }
        #expect(dayRevisions(rePass) == [2, 2], "\(rePass)")
        let (reRated, recomputedCorrection) = try await recompute([2, 2], book: correctedPath.path, store: store,
                                                                  layout: exporter.layout, keep: true)
        #expect(recomputedCorrection.status == 0, "\(recomputedCorrection.output)")
        #expect(try sum(reRated[0], "BilledCost", where: gcpCPU) == "1.35")
        #expect(try reRated[0].column("x_PriceBookRevision").allSatisfy { $0 == "2" })
        // The old book no longer explains the new files: the recomputation notices.
        let (_, withOldBook) = try await recompute([2, 2], book: bookPath, store: store, layout: exporter.layout)
        #expect(withOldBook.status == 1, "\(withOldBook.output)")
    }
}
