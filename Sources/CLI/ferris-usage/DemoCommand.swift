import ArgumentParser
import DevelopmentServices
import Foundation
import Kafka
import Logging
import ProcessSupport
import UsageService
import UsageSimulation
import UsageStandard

struct DemoCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "demo",
        abstract: "Simulate a day of the three seed scenarios, account it, and check every total.",
        discussion: """
            With no --brokers/--database-url (or FERRIS_BROKERS/FERRIS_DATABASE_URL), starts a local Tansu broker and a
            throwaway PostgreSQL, and stops them at the end. Exits non-zero if any total differs from the simulator's.
            """)

    @OptionGroup var connection: ConnectionOptions
    @OptionGroup var logging: LogOptions
    @OptionGroup var simulation: SimulationOptions
    @OptionGroup var flow: FlowOptions

    func run() async throws {
        let logger = logging.makeLogger(label: "ferris-usage.demo")
        var started: LocalServices?
        if connection.brokers == nil || connection.databaseURL == nil {
            let directory = FileManager.default.temporaryDirectory.appendingPathComponent("ferris-usage-demo-\(getpid())")
            say("starting a local broker and PostgreSQL in \(directory.path)")
            started = try await DedicatedThread.run(name: "services") { try LocalServices.start(in: directory, logger: logger) }
        }
        let brokers = connection.brokers ?? started?.brokers ?? ""
        let databaseURL = connection.databaseURL ?? started?.databaseURL ?? ""
        let outcome: Result<Int, Error>
        do {
            outcome = .success(try await runDemo(brokers: brokers, databaseURL: databaseURL, logger: logger))
        } catch {
            outcome = .failure(error)
        }
        if let started {
            await DedicatedThread.run(name: "services") {
                started.stop(logger: logger)
                try? FileManager.default.removeItem(at: started.directory)
            }
        }
        if try outcome.get() > 0 { throw ExitCode(1) }
    }

    private func runDemo(brokers: String, databaseURL: String, logger: Logger) async throws -> Int {
        let kafka = try connection.kafkaConfiguration(brokers: brokers)
        let scenarios = try simulation.selectedScenarios()
        say("simulating \(simulation.hours) h of usage for: \(scenarios.map(\.summary).joined(separator: "; "))")
        let topology = try flow.resolvedTopology(connection: connection)
        let records = try await simulate(simulation, kafka: kafka, logger: logger) { say("  produced \($0) events") }
        let expected = ExpectedTotals(records: records, scope: topology.scope, key: topology.key)
        let partitions = scenarios.flatMap(\.instances).count * Int(simulation.partitions)

        let totalsTopic = topology.sinks.totalsTopic
        let table = topology.sinks.table
        let configuration = UsagePipelineConfiguration(brokers: brokers, databaseURL: databaseURL, topology: topology,
                                                       groupID: "ferris-usage-demo-\(simulation.seed)-\(getpid())",
                                                       kafka: try connection.extraKafkaProperties())
        let pipeline = UsagePipeline(configuration: configuration, mode: .untilCaughtUp(partitions: partitions), logger: logger)
        say("accounting \(records.count) events from \(partitions) partitions with topology '\(topology.name)'")
        let clock = ContinuousClock()
        let began = clock.now
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { try await pipeline.run() }
            group.addTask {
                while !Task.isCancelled {
                    try await Task.sleep(for: .seconds(1))
                    let c = pipeline.counters.snapshot
                    say("  read \(c.recordsRead)/\(records.count) records, counted \(c.eventsCounted), out of scope \(c.outOfScope), rejected \(c.rejectedTotal), totals written \(c.totalsWritten)")
                }
            }
            try await group.next()
            group.cancelAll()
        }
        let elapsed = clock.now - began
        let c = pipeline.counters.snapshot
        say("done in \(elapsed.formatted(.units(allowed: [.seconds], fractionalPart: .show(length: 1)))): read \(c.recordsRead), counted \(c.eventsCounted), out of scope \(c.outOfScope), rejected \(c.rejectedTotal), late \(c.late), totals written \(c.totalsWritten)")

        let (fromKafka, fromPostgres) = try await DedicatedThread.run(name: "read-totals") {
            (try TotalsReader.fromKafka(kafka, topic: totalsTopic, logger: logger),
             try TotalsReader.fromPostgres(url: databaseURL, table: table))
        }
        printTable(fromPostgres)
        var mismatches = 0
        for (name, totals) in [("Kafka topic \(totalsTopic)", fromKafka), ("PostgreSQL \(table)", fromPostgres)] {
            let problems = expected.differences(from: totals)
            mismatches += problems.count
            if problems.isEmpty {
                say("check \(name): all \(expected.entries.count) hourly totals equal the expected totals")
            } else {
                say("check \(name): \(problems.count) of \(expected.entries.count) totals differ:")
                for problem in problems.prefix(20) { say("  \(problem)") }
            }
        }
        return mismatches
    }

    private func printTable(_ totals: [UsageTotal]) {
        struct Row: Hashable, Comparable {
            var tenant, instance, component, metric, unit: String
            static func < (a: Row, b: Row) -> Bool {
                (a.tenant, a.instance, a.component, a.metric) < (b.tenant, b.instance, b.component, b.metric)
            }
        }
        var sums: [Row: (Quantity, Int64)] = [:]
        for total in totals {
            let row = Row(tenant: total.key.tenant, instance: total.key.instance, component: total.key.component,
                          metric: total.key.metric, unit: total.unit)
            let current = sums[row] ?? (.zero, 0)
            sums[row] = (Quantity(micros: current.0.micros + total.quantity.micros), current.1 + total.eventCount)
        }
        let header = ["tenant", "instance", "component", "metric", "quantity", "unit", "events"]
        let rows = sums.keys.sorted().map { row -> [String] in
            let (quantity, count) = sums[row] ?? (.zero, 0)
            return [row.tenant, row.instance, row.component, row.metric, quantity.description, row.unit, String(count)]
        }
        let widths = header.indices.map { column in ([header] + rows).map { $0[column].count }.max() ?? 0 }
        func line(_ cells: [String]) -> String {
            cells.enumerated().map { index, cell in
                index == 4 || index == 6 ? String(repeating: " ", count: widths[index] - cell.count) + cell
                    : cell + String(repeating: " ", count: widths[index] - cell.count)
            }.joined(separator: "  ")
        }
        let table = ["", "Usage per tenant and component over the simulated period (from PostgreSQL):", line(header),
                     widths.map { String(repeating: "-", count: $0) }.joined(separator: "  ")] + rows.map(line) + ["", ""]
        FileHandle.standardOutput.write(Data(table.joined(separator: "\n").utf8))
    }
}

func say(_ text: String) {
    FileHandle.standardError.write(Data((text + "\n").utf8))
}
