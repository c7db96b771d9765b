import Foundation
import Kafka
import PostgreSQL
import TestSupport
import Testing
import UsageService
import UsageSimulation
import UsageStandard

/// Crash tests against the real `ferris-usage run` process. The short variant runs in CI; set
/// FERRIS_LONG_TESTS=1 for the long one (at least 100,000 events and 10 kills).
// Serialized: several consumer groups rebalancing at once under full test load made the test broker's coordinator
// stall now and then (a group that never rebalanced after a member left).
@Suite("Real service processes: crashes, joins and leaves", .serialized)
struct CrashTests {
    static var long: Bool { ProcessInfo.processInfo.environment["FERRIS_LONG_TESTS"] == "1" }

    @Test("kill -9 the service at random points while events arrive; every restart resumes; totals stay exact")
    func killAndRestart() async throws {
        let world = World()
        let hours = Self.long ? 28 : 6
        let kills = Self.long ? 12 : 4
        let scenarios = Self.long ? Scenario.all + Scenario.all.map { renamed($0, "b") } + Scenario.all.map { renamed($0, "c") } : Scenario.all
        let records = world.records(UsageSimulator(seed: 77, start: Timestamp(milliseconds: h13 - Int64(hours) * hourMs + 2 * hourMs),
                                                   hours: hours), scenarios)
        let topics = Set(records.map(\.topic)).sorted()
        try await world.createTopics(topics, partitions: 2)
        let topologyFile = try Self.topologyFile(for: world)
        defer { try? FileManager.default.removeItem(at: topologyFile) }

        // Events arrive in batches while the service is killed and restarted.
        let batches = 12
        let batchSize = (records.count + batches - 1) / batches
        let producer = Task {
            for batch in 0..<batches {
                try await world.produce(records.dropFirst(batch * batchSize).prefix(batchSize).map { $0.outgoing() })
                // Spread over the kill period (kills come every 8 to 16 s).
                try await Task.sleep(for: .milliseconds(kills * 12_000 / batches))
            }
        }
        var rng = SplitMix64(seed: 2026)
        var restarts = 0
        var progress: [String] = []
        for _ in 0..<kills {
            let service = try Self.start(topologyFile: topologyFile.path, log: world.id)
            restarts += 1
            // At a random point: while the group is joined (a restarted static member gets its partitions back after
            // about 6 s on the test broker), while the partitions are rebuilt, or while events are accounted.
            try await Task.sleep(for: .milliseconds(4_000 + Int(rng.next() % 12_000)))
            kill(service.processIdentifier, SIGKILL)
            service.waitUntilExit()
            progress.append(String(try await world.committedRecords()))
        }
        try await producer.value
        // A last run to the end, then a clean stop.
        let service = try Self.start(topologyFile: topologyFile.path, log: world.id)
        defer { if service.isRunning { kill(service.processIdentifier, SIGKILL) } }
        restarts += 1
        try await Self.waitUntilAccounted(world, count: records.count, copied: true)
        kill(service.processIdentifier, SIGTERM)
        service.waitUntilExit()
        #expect(service.terminationStatus == 0, "clean exit after SIGTERM; the log ends:\n\(Self.logTail(world.id))")

        let expected = ExpectedTotals(records: records)
        let differences = try await world.expectExact(expected)
        print("crash test: \(records.count) events, \(kills) kills (-9) with \(progress.joined(separator: ", ")) records committed at each kill, \(restarts) starts, \(expected.entries.count) totals; differences: Kafka \(differences.kafka), PostgreSQL \(differences.postgres)")
    }

    @Test("two instances share the group; a third joins and one leaves mid-run; totals stay exact")
    func joinAndLeave() async throws {
        let (world, records, topologyFile) = try await Self.sixHours(seed: 31, partitions: 3)
        defer { try? FileManager.default.removeItem(at: topologyFile) }
        let half = records.count / 2
        try await world.produce(records.prefix(half).map { $0.outgoing() })
        let first = try Self.start(topologyFile: topologyFile.path, log: world.id, member: nil)
        defer { if first.isRunning { kill(first.processIdentifier, SIGKILL) } }
        let second = try Self.start(topologyFile: topologyFile.path, log: world.id, member: nil)
        defer { if second.isRunning { kill(second.processIdentifier, SIGKILL) } }
        try await Task.sleep(for: .seconds(5))
        let third = try Self.start(topologyFile: topologyFile.path, log: world.id, member: nil)  // joins: the group rebalances
        defer { if third.isRunning { kill(third.processIdentifier, SIGKILL) } }
        try await world.produce(records.dropFirst(half).prefix(half / 2).map { $0.outgoing() })
        try await Task.sleep(for: .seconds(5))
        kill(first.processIdentifier, SIGTERM)  // leaves cleanly: its partitions are flushed and handed over
        first.waitUntilExit()
        try await world.produce(records.dropFirst(half + half / 2).map { $0.outgoing() })
        try await Self.waitUntilAccounted(world, count: records.count, copied: true)
        for service in [second, third] {
            kill(service.processIdentifier, SIGTERM)
            service.waitUntilExit()
        }
        #expect([first, second, third].allSatisfy { $0.terminationStatus == 0 }, "clean exits after SIGTERM")
        let differences = try await world.expectExact(ExpectedTotals(records: records))
        print("join/leave test: \(records.count) events over \(Set(records.map(\.topic)).count * 3) partitions, 3 instances (one joined, one left); differences: Kafka \(differences.kafka), PostgreSQL \(differences.postgres)")
    }

    @Test("SIGTERM while events arrive: a clean exit within the shutdown bound, and a restart accounts the rest exactly")
    func stopDuringRun() async throws {
        let (world, records, topologyFile) = try await Self.sixHours(seed: 61, partitions: 2)
        defer { try? FileManager.default.removeItem(at: topologyFile) }
        let half = records.count / 2
        try await world.produce(records.prefix(half).map { $0.outgoing() })
        let bound = 15
        let service = try Self.start(topologyFile: topologyFile.path, log: world.id,
                                     extra: ["--shutdown-timeout-seconds", String(bound)])
        defer { if service.isRunning { kill(service.processIdentifier, SIGKILL) } }
        try await Self.waitUntilAccounted(world, count: half)
        let rest = Task { try await world.produce(records.dropFirst(half).map { $0.outgoing() }) }
        try await Task.sleep(for: .milliseconds(300))
        let stopped = ContinuousClock.now
        kill(service.processIdentifier, SIGTERM)
        service.waitUntilExit()
        let took = ContinuousClock.now - stopped
        try await rest.value
        #expect(service.terminationStatus == 0, "a clean exit, not the bound's forced one")
        #expect(took < .seconds(bound))
        let committedAtStop = try await world.committedRecords()
        let restarted = try Self.start(topologyFile: topologyFile.path, log: world.id)
        defer { if restarted.isRunning { kill(restarted.processIdentifier, SIGKILL) } }
        try await Self.waitUntilAccounted(world, count: records.count, copied: true)
        kill(restarted.processIdentifier, SIGTERM)
        restarted.waitUntilExit()
        let differences = try await world.expectExact(ExpectedTotals(records: records))
        print("stop test: \(records.count) events, SIGTERM mid-run exited 0 after \(took) (bound \(bound) s) with \(committedAtStop) records committed; after a restart, differences: Kafka \(differences.kafka), PostgreSQL \(differences.postgres)")
    }

    @Test("a second stop signal exits at once, as a crash: the restart is exact")
    func secondSignal() async throws {
        let (world, records, topologyFile) = try await Self.sixHours(seed: 67, partitions: 2)
        defer { try? FileManager.default.removeItem(at: topologyFile) }
        try await world.produce(records.map { $0.outgoing() })
        let service = try Self.start(topologyFile: topologyFile.path, log: world.id)
        defer { if service.isRunning { kill(service.processIdentifier, SIGKILL) } }
        let clock = ContinuousClock()
        let deadline = clock.now + .seconds(60)
        while try await world.committedRecords() == 0, clock.now < deadline { try await Task.sleep(for: .milliseconds(100)) }
        // Two SIGTERMs sent back to back can reach the process as one (a signal is pending at most once), and a
        // service that stops gracefully in milliseconds may be gone before a later one: so the process is held while
        // it receives SIGTERM and then SIGINT (two signals that are never merged), and both reach it together.
        kill(service.processIdentifier, SIGSTOP)
        kill(service.processIdentifier, SIGTERM)
        kill(service.processIdentifier, SIGINT)
        let stopped = clock.now
        kill(service.processIdentifier, SIGCONT)
        service.waitUntilExit()
        #expect(service.terminationStatus == 2, "forced exit")
        #expect(clock.now - stopped < .seconds(2))
        let restarted = try Self.start(topologyFile: topologyFile.path, log: world.id)
        defer { if restarted.isRunning { kill(restarted.processIdentifier, SIGKILL) } }
        try await Self.waitUntilAccounted(world, count: records.count, copied: true)
        kill(restarted.processIdentifier, SIGTERM)
        restarted.waitUntilExit()
        try await world.expectExact(ExpectedTotals(records: records))
    }

    @Test("secrets stay out of the logs, at debug level and in connection errors")
    func secretsStayOutOfLogs() async throws {
        let world = World()
        let records = world.records(UsageSimulator(seed: 71, start: Timestamp(milliseconds: h13), hours: 2), [Scenario.singleUserGCP])
        try await world.createTopics([world.topic("solo-gcp")], partitions: 1)
        try await world.produce(records.map { $0.outgoing() })
        let topologyFile = try Self.topologyFile(for: world)
        defer { try? FileManager.default.removeItem(at: topologyFile) }
        let (databasePassword, kafkaPassword) = ("db-Secr3t-9431", "kafka-Secr3t-7719")
        // A database that refuses connections, so that the sink reports connection errors naming the URL.
        let url = "postgresql://usage:\(databasePassword)@127.0.0.1:\(try TestServices.freePort())/ferris?sslmode=disable"
        let service = try Self.start(topologyFile: topologyFile.path, log: world.id, databaseURL: url, logLevel: "debug",
                                     environment: ["FERRIS_KAFKA_SASL_PASSWORD": kafkaPassword, "FERRIS_KAFKA_SASL_USERNAME": "usage"])
        defer { if service.isRunning { kill(service.processIdentifier, SIGKILL) } }
        try await Self.waitUntilAccounted(world, count: records.count)
        let logFile = FileManager.default.temporaryDirectory.appendingPathComponent("\(world.id).log")
        let clock = ContinuousClock()
        let deadline = clock.now + .seconds(60)
        while clock.now < deadline, !((try? String(contentsOf: logFile, encoding: .utf8))?.contains("could not connect") ?? false) {
            try await Task.sleep(for: .milliseconds(200))
        }
        kill(service.processIdentifier, SIGTERM)
        service.waitUntilExit()
        let log = try String(contentsOf: logFile, encoding: .utf8)
        #expect(log.contains("could not connect"), "the sink reported the unreachable database")
        #expect(!log.contains(databasePassword))
        #expect(!log.contains(kafkaPassword))
    }

    @Test("an instance paused past its session (a zombie) is fenced: it aborts its open transaction, and totals stay exact")
    func zombie() async throws {
        let (world, records, topologyFile) = try await Self.sixHours(seed: 53, partitions: 2)
        defer { try? FileManager.default.removeItem(at: topologyFile) }
        let half = records.count / 2
        try await world.produce(records.prefix(half).map { $0.outgoing() })
        let zombie = try Self.start(topologyFile: topologyFile.path, log: world.id, member: nil)
        defer { if zombie.isRunning { kill(zombie.processIdentifier, SIGKILL) } }
        try await Self.waitUntilAccounted(world, count: half)
        // Paused in the middle of work: it has read records that it has not committed yet.
        try await world.produce(records.dropFirst(half).prefix(half / 2).map { $0.outgoing() })
        try await Task.sleep(for: .milliseconds(100))
        kill(zombie.processIdentifier, SIGSTOP)
        let successor = try Self.start(topologyFile: topologyFile.path, log: world.id, member: nil)
        defer { if successor.isRunning { kill(successor.processIdentifier, SIGKILL) } }
        try await world.produce(records.dropFirst(half + half / 2).map { $0.outgoing() })
        // Paused well past its session timeout (6 s) while the successor joins and takes the partitions over.
        try await Task.sleep(for: .seconds(15))
        kill(zombie.processIdentifier, SIGCONT)
        // (Its open transaction, if any, is aborted by the zombie itself now; a Kafka broker would also abort it
        // after transaction.timeout.ms, which the test broker does not.)
        try await Self.waitUntilAccounted(world, count: records.count, copied: true)
        for service in [zombie, successor] where service.isRunning {
            kill(service.processIdentifier, SIGTERM)
            service.waitUntilExit()
        }
        let log = try String(contentsOf: FileManager.default.temporaryDirectory.appendingPathComponent("\(world.id).log"), encoding: .utf8)
        let differences = try await world.expectExact(ExpectedTotals(records: records))
        print("zombie test: \(records.count) events; the paused instance lost its partitions: \(log.contains("partitions lost")); differences: Kafka \(differences.kafka), PostgreSQL \(differences.postgres)")
        #expect(log.contains("partitions lost"), "the resumed instance noticed it was out of the group")
    }

    @Test("PostgreSQL stopped for 20 s mid-run: Kafka totals go on exactly, the sink catches up once it is back")
    func databaseOutage() async throws {
        let (world, records, topologyFile) = try await Self.sixHours(seed: 41, partitions: 2)
        defer { try? FileManager.default.removeItem(at: topologyFile) }
        // A database of its own, so that stopping it disturbs no other test.
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("\(world.id)-db")
        try TestServices.services(["start", "--dir", directory.path, "--postgres-only"])
        defer {
            try? TestServices.services(["stop", "--dir", directory.path, "--postgres-only"])
            try? FileManager.default.removeItem(at: directory)
        }
        let env = try String(contentsOf: directory.appendingPathComponent("env"), encoding: .utf8)
        guard let databaseURL = env.split(separator: "\n").first(where: { $0.hasPrefix("FERRIS_DATABASE_URL=") })?
            .dropFirst("FERRIS_DATABASE_URL=".count) else { throw TestSetupError("no database URL in \(directory.path)/env") }
        let service = try Self.start(topologyFile: topologyFile.path, log: world.id, databaseURL: String(databaseURL))
        defer { if service.isRunning { kill(service.processIdentifier, SIGKILL) } }
        let third = records.count / 3
        try await world.produce(records.prefix(third).map { $0.outgoing() })
        try await Self.waitUntilAccounted(world, count: third)
        try TestServices.services(["stop", "--dir", directory.path, "--postgres-only"])
        let stoppedAt = ContinuousClock.now
        try await world.produce(records.dropFirst(third).map { $0.outgoing() })
        try await Self.waitUntilAccounted(world, count: records.count)
        let accountedWhileDown = ContinuousClock.now - stoppedAt
        let kafkaWhileDown = try await world.kafkaTotals()
        try await Task.sleep(until: stoppedAt + .seconds(20))
        try TestServices.services(["start", "--dir", directory.path, "--postgres-only"])
        let (kafka, postgres) = try await world.totals(databaseURL: String(databaseURL), seconds: 90)
        kill(service.processIdentifier, SIGTERM)
        service.waitUntilExit()
        let expected = ExpectedTotals(records: records)
        let log = try String(contentsOf: FileManager.default.temporaryDirectory.appendingPathComponent("\(world.id).log"), encoding: .utf8)
        let failedWrites = log.components(separatedBy: "PostgreSQL sink write failed").count - 1
        #expect(failedWrites > 0, "the sink met the outage and retried")
        print("database outage test: \(records.count) events, PostgreSQL down 20 s, \(failedWrites) failed sink writes retried; every record accounted in Kafka after \(accountedWhileDown) of the outage; differences: Kafka during the outage \(expected.differences(from: kafkaWhileDown).count), Kafka \(expected.differences(from: kafka).count), PostgreSQL after it \(expected.differences(from: postgres).count)")
        #expect(accountedWhileDown < .seconds(20), "the accounting did not wait for the database")
        #expect(expected.differences(from: kafkaWhileDown) == [])
        #expect(expected.differences(from: kafka) == [])
        let missing = expected.differences(from: postgres)
        let explanation = missing.isEmpty ? "" : try await world.explain(missing, databaseURL: String(databaseURL))
        #expect(missing == [], "\(explanation)\n\(Self.logTail(world.id))")
        #expect(service.terminationStatus == 0, "clean exit after SIGTERM")
    }

    /// A new world with six hours of the three seed scenarios (not produced yet), its topics and a topology file.
    static func sixHours(seed: UInt64, partitions: Int32) async throws -> (World, [SimulatedRecord], URL) {
        let world = World()
        let records = world.records(UsageSimulator(seed: seed, start: Timestamp(milliseconds: h13 - 4 * hourMs), hours: 6), Scenario.all)
        try await world.createTopics(Set(records.map(\.topic)).sorted(), partitions: partitions)
        return (world, records, try topologyFile(for: world))
    }

    static func topologyFile(for world: World) throws -> URL {
        let file = FileManager.default.temporaryDirectory.appendingPathComponent("\(world.id).yaml")
        try """
            name: multi-process-test
            source:
              topics: '\(world.pattern)'
              group: \(world.id)-group
            sinks:
              totals: \(world.totalsTopic)
              table: \(world.table)
              deadLetter: \(world.deadLetterTopic)
            """.write(to: file, atomically: true, encoding: .utf8)
        return file
    }

    /// Waits until the group's committed offsets cover `count` records and, with `copied`, until PostgreSQL holds what
    /// the totals topic holds (a stop gives the sink only a few seconds to catch up).
    static func waitUntilAccounted(_ world: World, count: Int, copied: Bool = false) async throws {
        let clock = ContinuousClock()
        let deadline = clock.now + .seconds(120)
        while try await world.committedRecords() != Int64(count) {
            guard clock.now < deadline else { throw TestSetupError("timed out waiting until every record is accounted") }
            try await Task.sleep(for: .milliseconds(200))
        }
        if copied { _ = try await world.totals() }
    }

    /// Starts `ferris-usage run`, with static membership as `member` (as a Kubernetes pod would with its name: a
    /// restart with the same name takes the partitions back and aborts the killed process's open transaction), or
    /// with dynamic membership (a clean exit leaves the group at once, so its partitions move without delay).
    static func start(topologyFile: String, log: String, member: String? = "a", databaseURL: String? = nil,
                      extra: [String] = [], logLevel: String = "info", environment more: [String: String] = [:]) throws -> Process {
        // Each test's own instance registry (named after its topology file), not the broker's shared one.
        let registry = URL(fileURLWithPath: topologyFile).deletingPathExtension().lastPathComponent + ".instances"
        let arguments = ["run", "--topology", topologyFile, "--commit-interval-ms", "200", "--log-level", logLevel,
                         "--instance-topic", registry]
            + (member.map { ["--member-id", $0] } ?? []) + ["--http-port", "0"] + extra
        var environment = ["FERRIS_BROKERS": try TestServices.brokers, "FERRIS_DATABASE_URL": try databaseURL ?? TestServices.databaseURL]
        environment.merge(more) { $1 }
        // Appending: several processes of one test share the file.
        return try TestServices.launch(arguments, environment: environment,
                                       logFile: FileManager.default.temporaryDirectory.appendingPathComponent("\(log).log"))
    }

    func renamed(_ scenario: Scenario, _ suffix: String) -> Scenario {
        var copy = scenario
        copy.id += "-\(suffix)"
        copy.instances = scenario.instances.map { instance in
            var renamed = instance
            renamed.name += "-\(suffix)"
            renamed.tenant += "-\(suffix)"
            return renamed
        }
        return copy
    }
}
