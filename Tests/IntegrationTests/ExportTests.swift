import FocusExport
import Foundation
import PostgreSQL
import S3
import TestSupport
import Testing
import UsageService
import UsageSimulation
import UsageStandard
import UsageTopology

typealias ExportedTotal = ExportFixtures.ExportedTotal

@Suite("FOCUS export to a real S3 store (SeaweedFS), read back with DuckDB")
struct ExportTests {
    /// The UTC day before yesterday: closed by the clock (its end plus grace and idle timeout has passed).
    static var closedDay: ExportPeriod { ExportPeriod.day(containing: Timestamp(milliseconds: ExportFixtures.now.milliseconds - 2 * 86_400_000)) }

    static func written(_ outcome: ExportOutcome) -> (revision: Int64, previous: Int64?, rows: Int)? {
        if case .written(_, let revision, let previous, let rows, _, _) = outcome { return (revision, previous, rows) }
        return nil
    }

    static func isNotClosed(_ outcome: ExportOutcome) -> Bool {
        if case .notClosed = outcome { return true }
        return false
    }

    @Test("a closed day of the seed scenarios lands as FOCUS files equal to PostgreSQL; exporting again writes nothing; open periods are refused; a replay lands in a new revision folder")
    func closedDayAndReplay() async throws {
        let world = World()
        let day = Self.closedDay
        // 27 hours: the day and the hours after it that move every partition's watermark past its end plus grace.
        let records = world.records(UsageSimulator(seed: 31, start: day.start, hours: 27), Scenario.all)
        let topics = Set(records.map(\.topic)).sorted()
        try await world.createTopics(topics, partitions: 2)
        try await world.produce(records.map { $0.outgoing() })
        _ = try await world.account(partitions: topics.count * 2)
        func inDay(_ total: UsageTotal) -> Bool { day.start <= total.windowStart && total.windowStart < day.end }
        let accounted = try await world.totals().postgres.filter(inDay)
        #expect(accounted.count > 1000)
        #expect(accounted.allSatisfy { $0.status == .final })

        let store = try await ExportFixtures.store()
        let exporter = try FocusExporter(configuration: try ExportFixtures.configuration(table: world.table, store: store),
                                         logger: TestServices.logger)
        let first = try await TestServices.blocking { try exporter.export(day, now: ExportFixtures.now) }
        #expect(Self.written(first)?.revision == 0)
        #expect(Self.written(first)?.previous == nil)

        // DuckDB reads back exactly the totals of PostgreSQL, the manifest's sums and checksums match the file.
        let (manifest, file) = try await ExportFixtures.exported(day, revision: 0, store: store, layout: exporter.layout)
        let rows = try file.totals
        #expect(rows.count == accounted.count)
        #expect(Set(rows) == Set(accounted.map(ExportedTotal.init)))
        // One row per charge: a total crossing a price tier has a row per tier.
        #expect(Self.written(first)?.rows == file.rows.count)
        #expect(manifest.rowCount == file.rows.count && file.rows.count >= accounted.count)
        #expect(manifest.revision == 0 && manifest.period == day.name && manifest.accountingRevisions == [0])
        #expect(ExportFixtures.normalized(file.sums) == manifest.consumedQuantityByUnit)
        #expect(manifest.files.first?.sha256 == file.fileSHA256)
        #expect(manifest.contentSHA256 == file.contentSHA256)
        #expect(file.columns.map(\.name) == FocusColumns.all.map(\.name))
        let types = Dictionary(uniqueKeysWithValues: file.columns.map { ($0.name, $0.type) })
        #expect(types["ChargePeriodStart"] == "TIMESTAMP WITH TIME ZONE")
        #expect(types["ChargePeriodEnd"] == "TIMESTAMP WITH TIME ZONE")
        #expect(["DOUBLE", "BIGINT"].contains(types["ConsumedQuantity"] ?? ""))
        #expect(types["x_EventCount"] == "BIGINT")
        #expect(types["x_Revision"] == "BIGINT")
        for name in ["ChargeCategory", "ChargeFrequency", "ConsumedUnit", "SubAccountId", "ResourceId", "ServiceName",
                     "ServiceCategory", "x_HostProviderName", "x_Metric", "x_Status"] {
            #expect(types[name] == "VARCHAR", "\(name)")
        }

        // Idempotent: the same objects, nothing new; also as one pass of the schedule.
        let client = try S3Client(store)
        let objects = try await client.objects(exporter.layout.root)
        #expect(objects.count == 2)
        let again = try await TestServices.blocking { try exporter.export(day, now: ExportFixtures.now) }
        #expect(again == .unchanged(period: day, revision: 0))
        var memory = ExportMemory()
        let pass = try await TestServices.blocking { [memory] in
            var memory = memory
            return try exporter.pass(now: ExportFixtures.now, memory: &memory)
        }
        #expect(pass.written == [])
        // The next day is past its closing time (unless it is not 01:10 UTC yet) but has provisional totals.
        let next = ExportPeriod.day(containing: day.end)
        #expect(pass.waiting == (ExportFixtures.now >= exporter.configuration.closing.closesAt(next) ? [next] : []))
        #expect(try await client.objects(exporter.layout.root) == objects)

        // Open periods are refused: today (by the clock), the month (its totals are not all final yet).
        let today = ExportPeriod.day(containing: ExportFixtures.now)
        for open in [today, day.month] {
            let outcome = try await TestServices.blocking { try exporter.export(open, now: ExportFixtures.now) }
            #expect(Self.isNotClosed(outcome), "\(outcome)")
        }
        #expect("\(try await TestServices.blocking { try exporter.export(today, now: ExportFixtures.now) })".contains("not closed, refused"))

        // A replay with a corrected topology (Presto not billable) over six hours of the day: revision 1.
        let from = Timestamp(milliseconds: day.start.milliseconds + 6 * hourMs), to = Timestamp(milliseconds: day.start.milliseconds + 12 * hourMs)
        var corrected = Topology.standard
        corrected.scope = [.component(["presto"])]
        let replay = Replay(configuration: try world.configuration(topology: corrected), request: Replay.Request(from: from, to: to),
                            logger: TestServices.logger)
        let replayed = try await TestServices.blocking { try replay.run() }
        #expect(replayed.revision == 1)
        #expect(replayed.changes.count > 0)
        let current = try await world.totals().postgres.filter(inDay)
        memory = ExportMemory()
        let afterReplay = try await TestServices.blocking { [memory] in
            var memory = memory
            return try exporter.pass(now: ExportFixtures.now, memory: &memory)
        }
        #expect(afterReplay.written.compactMap(Self.written).map(\.revision) == [1])
        #expect(afterReplay.written.compactMap(Self.written).map(\.previous) == [0])
        let (manifest1, file1) = try await ExportFixtures.exported(day, revision: 1, store: store, layout: exporter.layout)
        let rows1 = try file1.totals
        #expect(rows1.count == current.count)
        #expect(Set(rows1) == Set(current.map(ExportedTotal.init)))
        #expect(!rows1.contains { $0.component == "presto" && $0.start >= from && $0.start < to })
        // The replay changed Presto's figures only (retracted, so gone from the file); the others keep revision 0.
        #expect(rows1.allSatisfy { $0.revision == 0 })
        #expect(manifest1.previousRevision == 0 && manifest1.accountingRevisions == [0])
        #expect(ExportFixtures.normalized(file1.sums) == manifest1.consumedQuantityByUnit)
        // The first revision stays as it was.
        #expect(try await ExportFixtures.exported(day, revision: 0, store: store, layout: exporter.layout).manifest == manifest)
    }

    @Test("exact decimals beyond a double's precision, CSV quoting and empty providers survive the trip to DuckDB")
    func exactness() async throws {
        let table = TestServices.unique("focus_exact")
        let day = Self.closedDay
        try await ExportFixtures.createTotals(table, day: day, rows: 3000)
        let store = try await ExportFixtures.store()
        let exporter = try FocusExporter(configuration: try ExportFixtures.configuration(table: table, store: store), logger: TestServices.logger)
        let outcome = try await TestServices.blocking { try exporter.export(day, now: ExportFixtures.now) }
        #expect(Self.written(outcome)?.rows == 3000)
        let (manifest, file) = try await ExportFixtures.exported(day, revision: 0, store: store, layout: exporter.layout)
        let (expected, sums) = try await ExportFixtures.postgresTotals(table, day: day)
        #expect(Set(try file.totals) == expected)
        #expect(try file.totals.contains { $0.quantity.hasPrefix("9123456789012.") && $0.provider == nil })
        #expect(try file.totals.contains { $0.tenant.hasSuffix(", \"quoted\"") })
        #expect(manifest.consumedQuantityByUnit == sums)
        #expect(ExportFixtures.normalized(file.sums) == sums)
    }

    @Test("wrong credentials fail clearly, with what to check")
    func wrongCredentials() async throws {
        let good = try await ExportFixtures.store()
        var wrong = good
        wrong.credentials.secretAccessKey = "not-the-secret"
        let exporter = try FocusExporter(configuration: try ExportFixtures.configuration(table: "usage_totals", store: wrong),
                                         logger: TestServices.logger)
        let error = await #expect(throws: ExportError.self) {
            _ = try await TestServices.blocking { try exporter.export(Self.closedDay, now: ExportFixtures.now) }
        }
        #expect(error?.isCredentials == true)
        #expect(error?.message.contains("SignatureDoesNotMatch") == true)
        #expect(error?.message.contains("check the credentials") == true)
        #expect(error?.message.contains("not-the-secret") == false)

        var unknown = good
        unknown.credentials.accessKeyID = "nobody"
        let s3Error = await #expect(throws: S3Error.self) { try await S3Client(unknown).objects() }
        #expect(s3Error?.isCredentialsError == true)
    }

    @Test("an upload interrupted by the store stopping mid-multipart leaves no manifest; the next run completes it")
    func interruptedUpload() async throws {
        // A store of its own, since this test stops it.
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent(TestServices.unique("s3"))
        try await ExportFixtures.seaweedfs("start", directory)
        defer {
            try? ExportFixtures.seaweedfsNow("stop", directory)
            try? FileManager.default.removeItem(at: directory)
        }
        let table = TestServices.unique("focus_multipart")
        let day = Self.closedDay
        // About 12 MiB of gzip: three parts of 5 MiB, S3's smallest.
        try await ExportFixtures.createTotals(table, day: day, rows: 90_000, randomHex: 256)
        let store = try await ExportFixtures.store(directory: directory)
        var configuration = try ExportFixtures.configuration(table: table, store: store, partSize: 5 << 20)
        configuration.onPartUploaded = { _, part in
            // Stop the store once the first part is stored: the next part cannot be sent.
            if part == 1 { try? ExportFixtures.seaweedfsNow("stop", directory) }
        }
        let interrupted = try FocusExporter(configuration: configuration, logger: TestServices.logger)
        await #expect(throws: ExportError.self) {
            _ = try await TestServices.blocking { try interrupted.export(day, now: ExportFixtures.now) }
        }
        try await ExportFixtures.seaweedfs("start", directory)
        let client = try S3Client(store)
        #expect(try await client.objects().filter { $0.key.hasSuffix("manifest.json") } == [])
        #expect(try await client.pending().count == 1)

        configuration.onPartUploaded = { _, _ in }
        let exporter = try FocusExporter(configuration: configuration, logger: TestServices.logger)
        let outcome = try await TestServices.blocking { try exporter.export(day, now: ExportFixtures.now) }
        #expect(Self.written(outcome)?.revision == 0)
        #expect(try await client.pending() == [])
        let (manifest, file) = try await ExportFixtures.exported(day, revision: 0, store: store, layout: exporter.layout)
        #expect(manifest.files.first.map { $0.bytes > 10 << 20 } == true)
        let (expected, sums) = try await ExportFixtures.postgresTotals(table, day: day)
        #expect(file.rows.count == 90_000)
        #expect(Set(try file.totals) == expected)
        #expect(manifest.consumedQuantityByUnit == sums)
        #expect(manifest.files.first?.sha256 == file.fileSHA256)
    }
}
