import FocusExport
import Foundation
import S3
import ServiceLifecycle
import TestSupport
import Testing
import UsageEndpoints
import UsageService
import UsageSimulation
import UsageStandard

@Suite("The FOCUS export schedule next to a running pipeline, and the export command")
struct ExportScheduleTests {
    /// Runs a pipeline of `world`, the export schedule and the endpoints as `ferris-usage run` composes them.
    func withRunningService(_ world: World, export: ExportConfiguration, _ body: (Int) async throws -> Void) async throws {
        let pipeline = UsagePipeline(configuration: try world.configuration(), logger: TestServices.logger)
        let counters = pipeline.counters
        let schedule = try ExportSchedule(configuration: export, logger: TestServices.logger, holdBack: {
            AccountingBacklog.reason(joined: counters.health.joined, partitionLags: counters.health.partitions.values.map(\.lag),
                                     sinkLag: Int64(counters.sinkLag))
        })
        let status = schedule.status
        let port = try TestServices.freePort()
        let server = OperationsServer.make(
            pipeline: pipeline, host: "127.0.0.1", port: port,
            extensions: [status.probe],
            logger: TestServices.logger)
        let group = ServiceGroup(configuration: .init(services: [schedule, pipeline, server], logger: TestServices.logger))
        try await withThrowingTaskGroup(of: Void.self) { tasks in
            tasks.addTask { try await group.run() }
            do {
                try await body(port)
            } catch {
                await group.triggerGracefulShutdown()
                throw error
            }
            await group.triggerGracefulShutdown()
            try await tasks.waitForAll()
        }
    }

    @Test("failing passes retry with backoff and show on /readyz and /metrics while accounting goes on; then the schedule exports the closed day")
    func scheduleInService() async throws {
        let world = World()
        let topic = world.topic("solo-gcp")
        try await world.createTopics([topic], partitions: 1)
        let table = TestServices.unique("focus_schedule")
        let day = ExportTests.closedDay
        try await ExportFixtures.createTotals(table, day: day, rows: 500)
        let store = try await ExportFixtures.store()
        var wrong = store
        wrong.credentials.secretAccessKey = "not-the-secret"
        let records = world.records(UsageSimulator(seed: 41, start: Timestamp(milliseconds: h13), hours: 1), [Scenario.singleUserGCP])

        try await withRunningService(world, export: try ExportFixtures.configuration(table: table, store: wrong)) { port in
            try await EndpointTests.waitFor("not ready after three failed export passes", port: port) { status, body in
                status == 503 && body.contains("FOCUS export failed") && body.contains("SignatureDoesNotMatch")
            }
            let metrics = try await EndpointTests.metrics(port: port)
            #expect(metrics["ferris_usage_export_failures_total"] ?? 0 >= 3)
            #expect(metrics["ferris_usage_export_consecutive_failures"] ?? 0 >= 3)
            #expect(metrics["ferris_usage_ready"] == 0)
            // The accounting is not held up by the failing export.
            try await world.produce(records.map { $0.outgoing() })
            try await EndpointTests.waitFor("the new records counted", port: port) { _, _ in
                (try? await EndpointTests.metrics(port: port)["ferris_usage_records_read_total"]) == Double(records.count)
            }
        }
        #expect(try await S3Client(store).objects("\(table)/") == [])

        try await withRunningService(world, export: try ExportFixtures.configuration(table: table, store: store)) { port in
            try await EndpointTests.waitFor("ready with the closed day exported", port: port) { status, body in
                status == 200 && body.contains("export: ok")
            }
            let metrics = try await EndpointTests.metrics(port: port)
            // The day, and its month if that is closed too.
            #expect(metrics["ferris_usage_export_periods_written_total"] ?? 0 >= 1)
            #expect(metrics["ferris_usage_export_failures_total"] == 0)
            // The document names every export metric.
            let exported = Set(metrics.keys.filter { $0.hasPrefix("ferris_usage_export_") })
            #expect(exported.count == 7)
            // Its totals' metrics are not in the seed book: every row is exported at zero cost and counted.
            #expect(metrics["ferris_usage_export_unpriced_rows_total"] ?? 0 >= 500)
            #expect(exported.subtracting(try EndpointTests.documentedMetricNames()) == [])
        }
        let keys = try await S3Client(store).objects("\(table)/").map(\.key)
        #expect(keys.contains("\(table)/focus/v1/period=\(day.name)/revision=0/manifest.json"))
    }

    @Test("export --day refuses an open day with exit status 1 and writes a closed one; --closed exports what is due")
    func exportCommand() async throws {
        let table = TestServices.unique("focus_cli")
        let day = ExportTests.closedDay
        try await ExportFixtures.createTotals(table, day: day, rows: 200)
        let store = try await ExportFixtures.store()
        func export(_ arguments: [String]) async throws -> (status: Int32, output: String) {
            var environment = ProcessInfo.processInfo.environment
            environment["FERRIS_S3_ACCESS_KEY_ID"] = store.credentials.accessKeyID
            environment["FERRIS_S3_SECRET_ACCESS_KEY"] = store.credentials.secretAccessKey
            let argv = [try TestServices.executable, "export", "--table", table, "--export-to", "s3://\(store.bucket)/\(table)/",
                        "--log-level", "warning",
                        "--price-book", TestServices.repository.appendingPathComponent("examples/price-book.yaml").path] + arguments
            return try await TestServices.blocking { [environment] in try TestServices.run(argv, environment: environment) }
        }
        let today = ExportPeriod.day(containing: ExportFixtures.now)
        let refused = try await export(["--day", today.name])
        #expect(refused.status == 1)
        #expect(refused.output.contains("\(today.name): not closed, refused: it closes at"), "\(refused.output)")
        let written = try await export(["--day", day.name])
        #expect(written.status == 0, "\(written.output)")
        #expect(written.output.contains("\(day.name): revision 0 written (200 rows, 200 without a price"), "\(written.output)")
        // The day is exported already; its month is written if the clock has closed it.
        let again = try await export(["--closed"])
        #expect(again.status == 0, "\(again.output)")
        let monthClosed = ClosingRule(graceMilliseconds: 3_600_000, idleMilliseconds: 600_000).closesAt(day.month) <= ExportFixtures.now
        #expect(again.output.contains("closed periods: \(monthClosed ? 1 : 0) written, 1 unchanged, 0 not final yet"), "\(again.output)")
        #expect(again.output.contains("\(day.month.name): revision 0 written (200 rows") == monthClosed, "\(again.output)")
    }
}
