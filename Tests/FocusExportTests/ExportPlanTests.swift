@testable import FocusExport
import S3
import Testing
import UsageStandard

@Suite("Export planning: layout, manifest, which periods a pass checks, retry backoff")
struct ExportPlanTests {
    let rule = ClosingRule(graceMilliseconds: 3_600_000, idleMilliseconds: 600_000)
    let books = ["list-eur#3"]

    func time(_ text: String) throws -> Timestamp { try #require(Timestamp.parse(text)) }
    func period(_ name: String) throws -> ExportPeriod { try #require(ExportPeriod(name)) }
    func summary(_ rows: Int, provisional: Int = 0, events: Int64 = 100) -> TotalsSource.Summary {
        TotalsSource.Summary(rows: rows, provisional: provisional, events: events)
    }

    @Test("object keys follow focus/v1/period=/revision=; only revisions with a manifest count as complete")
    func layout() throws {
        let layout = ExportLayout(location: try S3Location("s3://billing/ferris/usage/"))
        let day = try period("2026-11-25")
        #expect(layout.dataKey(day, revision: 3) == "ferris/usage/focus/v1/period=2026-11-25/revision=3/part-0000.csv.gz")
        #expect(layout.manifestKey(day, revision: 0) == "ferris/usage/focus/v1/period=2026-11-25/revision=0/manifest.json")
        let keys = ["revision=0/manifest.json", "revision=0/part-0000.csv.gz", "revision=2/part-0000.csv.gz",
                    "revision=10/manifest.json", "revision=07/manifest.json", "revision=x/manifest.json"]
        let objects = keys.map { S3Object(key: layout.periodPrefix(day) + $0, size: 1, etag: "") }
        #expect(layout.completeRevisions(day, in: objects) == [0, 10])
        #expect(ExportLayout(location: try S3Location("s3://billing")).root == "focus/v1/")
    }

    @Test("the manifest round-trips through its JSON, with sorted keys and exact sums as text")
    func manifest() throws {
        let manifest = ExportManifest(period: "2026-11", granularity: .month, chargePeriodStart: "2026-11-01T00:00:00Z",
                                      chargePeriodEnd: "2026-12-01T00:00:00Z", revision: 2, previousRevision: 0,
                                      accountingRevisions: [0, 2], rowCount: 3, consumedQuantityByUnit: ["GiB": "0.000001"],
                                      contentSHA256: "ab", files: [.init(key: "k", mediaType: "application/gzip", rows: 3, bytes: 10, sha256: "cd")],
                                      columns: FocusColumns.all, source: .init(table: "usage_totals", rows: 3, events: 7, replayRevision: 2),
                                      writtenAt: "2026-12-02T00:00:00Z")
        let bytes = try manifest.encoded()
        #expect(try ExportManifest.decode(bytes) == manifest)
        let text = String(decoding: bytes, as: UTF8.self)
        #expect(text.contains(#""GiB" : "0.000001""#))
        #expect(try #require(text.range(of: "\"accountingRevisions\"")).lowerBound < #require(text.range(of: "\"chargePeriodEnd\"")).lowerBound)
    }

    @Test("a pass checks closed, final days and complete months whose fingerprint it has not verified")
    func candidates() throws {
        let now = try time("2026-12-01T02:00:00Z")
        var summaries: [String: TotalsSource.Summary] = [:]
        for day in try period("2026-11").days { summaries[day.name] = summary(10) }
        summaries["2026-12-01"] = summary(4, provisional: 4)  // today: not closed by the clock
        var plan = ExportPlan.candidates(summaries: summaries, replayDays: [], replays: [], memory: ExportMemory(),
                                         closing: rule, table: "t", priceBooks: books, now: now)
        #expect(plan.check.count == 31)
        #expect(plan.check.last == (try period("2026-11")))
        #expect(plan.waiting == [])

        // One late provisional total in November: that day and the month wait; the rest is checked.
        summaries["2026-11-30"] = summary(11, provisional: 1)
        plan = ExportPlan.candidates(summaries: summaries, replayDays: [], replays: [], memory: ExportMemory(),
                                     closing: rule, table: "t", priceBooks: books, now: now)
        #expect(plan.waiting.map(\.name) == ["2026-11-30", "2026-11"])
        #expect(plan.check.count == 29)

        // What memory verified is skipped until its fingerprint changes: its own totals, the month's totals before
        // it (they set its tiers and rounding) or the price books.
        var memory = ExportMemory()
        func verified(_ day: String, rows: Int, events: Int64, priorDays: Int, books: [String]) throws {
            var prior = TotalsSource.Summary()
            for _ in 0..<priorDays { prior.add(summary(10)) }
            memory.verified[try period(day)] = summary(rows, events: events).fingerprint(table: "t", replayRevision: 0, prior: prior,
                                                                                       priceBooks: books)
        }
        try verified("2026-11-02", rows: 10, events: 100, priorDays: 1, books: books)
        try verified("2026-11-03", rows: 10, events: 99, priorDays: 2, books: books)  // a late event since
        try verified("2026-11-04", rows: 10, events: 100, priorDays: 3, books: books)
        try verified("2026-11-05", rows: 10, events: 100, priorDays: 4, books: ["list-eur#2"])  // a new book revision since
        plan = ExportPlan.candidates(summaries: summaries, replayDays: [], replays: [], memory: memory, closing: rule, table: "t", priceBooks: books, now: now)
        #expect(!plan.check.contains(try period("2026-11-02")))
        #expect(!plan.check.contains(try period("2026-11-04")))
        #expect(plan.check.contains(try period("2026-11-03")))
        #expect(plan.check.contains(try period("2026-11-05")))
        // A late event on the 1st changes the prior totals of every later day of the month.
        summaries["2026-11-01"] = summary(10, events: 101)
        plan = ExportPlan.candidates(summaries: summaries, replayDays: [], replays: [], memory: memory, closing: rule, table: "t", priceBooks: books, now: now)
        #expect(plan.check.contains(try period("2026-11-02")))
        #expect(plan.check.contains(try period("2026-11-04")))
    }

    @Test("a replay makes its days candidates, with its revision in their fingerprint, also days left without totals")
    func replays() throws {
        let now = try time("2026-11-29T12:00:00Z")
        let replay = TotalsSource.Replay(revision: 4, start: try time("2026-11-24T22:00:00Z"), end: try time("2026-11-26T00:00:00Z"))
        #expect(ExportPlan.days(of: replay).map(\.name) == ["2026-11-24", "2026-11-25"])
        var memory = ExportMemory()
        let fingerprint = summary(10).fingerprint(table: "t", replayRevision: 0, prior: summary(0, events: 0), priceBooks: books)
        memory.verified[try period("2026-11-25")] = fingerprint
        memory.verified[try period("2026-11-23")] = fingerprint
        let summaries = ["2026-11-25": summary(10), "2026-11-23": summary(10)]
        let plan = ExportPlan.candidates(summaries: summaries, replayDays: Set(ExportPlan.days(of: replay)), replays: [replay],
                                         memory: memory, closing: rule, table: "t", priceBooks: books, now: now)
        #expect(plan.check.map(\.name) == ["2026-11-24", "2026-11-25"])
        #expect(ExportPlan.replayRevision(of: try period("2026-11-25"), in: [replay]) == 4)
        // A later day of the month continues the replayed days' tiers and rounding; December does not.
        #expect(ExportPlan.replayRevision(of: try period("2026-11-26"), in: [replay]) == 4)
        #expect(ExportPlan.replayRevision(of: try period("2026-11-23"), in: [replay]) == 0)
        #expect(ExportPlan.replayRevision(of: try period("2026-12-01"), in: [replay]) == 0)
    }

    @Test("the schedule waits while the accounting is far behind: not joined, a partition of unknown or large lag, a sink behind")
    func accountingBacklog() {
        #expect(AccountingBacklog.reason(joined: true, partitionLags: [0, 10_000], sinkLag: 3) == nil)
        #expect(AccountingBacklog.reason(joined: true, partitionLags: [], sinkLag: 0) == nil)
        #expect(AccountingBacklog.reason(joined: false, partitionLags: [0], sinkLag: 0) != nil)
        #expect(AccountingBacklog.reason(joined: true, partitionLags: [0, 10_001], sinkLag: 0)?.contains("1 input partition") == true)
        #expect(AccountingBacklog.reason(joined: true, partitionLags: [nil], sinkLag: 0) != nil)
        #expect(AccountingBacklog.reason(joined: true, partitionLags: [0], sinkLag: 20_000)?.contains("sink") == true)
    }

    @Test("the status counts the rows written without a price, for the export_unpriced_rows metric")
    func unpricedRowsMetric() throws {
        let status = ExportStatus()
        var report = ExportPassReport()
        report.written = [.written(period: try period("2026-11-25"), revision: 0, previous: nil, rows: 10, unpriced: 3, bytes: 1),
                          .written(period: try period("2026-11-26"), revision: 0, previous: nil, rows: 10, unpriced: 0, bytes: 1)]
        status.passed(report, at: try time("2026-11-27T02:00:00Z"))
        status.passed(report, at: try time("2026-11-27T03:00:00Z"))
        #expect(status.samples.first { $0.name == "export_unpriced_rows" }?.value == 6)
        #expect("\(report.written[0])".contains("3 without a price"))
    }
}
