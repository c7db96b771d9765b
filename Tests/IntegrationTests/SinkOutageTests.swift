import Foundation
import Kafka
import TestSupport
import Testing
import UsageSimulation
import UsageStandard

extension CrashTests {
    @Test("PostgreSQL down 120 s while the sink catches up a backlog of 12,050 totals and a second replica joins: no member is evicted or spins, and both sinks are exact afterwards")
    func sinkOutageLiveness() async throws {
        let world = World()
        let topic = world.topic("fleet")
        try await world.createTopics([topic], partitions: 2)
        let topologyFile = try Self.topologyFile(for: world)
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
            .dropFirst("FERRIS_DATABASE_URL=".count).description else { throw TestSetupError("no database URL in \(directory.path)/env") }
        // 12,050 events, each its own total (one component each): far more than the sink's batch of 5,000.
        let records = (0..<12_050).map { index in
            SimulatedRecord(topic: topic, key: "acme", event: UsageEvent(
                id: "e\(index)", source: "/ferris/gcp/acme/c\(index)", time: Timestamp(milliseconds: h13 + Int64(index % 3_600) * 1_000),
                tenant: "acme", instance: "acme-gcp", component: "c\(index)", metric: "requests",
                quantity: Quantity(micros: 1_000_000), unit: "Requests"), mode: .binary)
        }
        try await world.produce(records.map { $0.outgoing() })
        // The totals are on the totals topic before the sink starts (accounted by a Kafka-only batch run), so the sink
        // meets a backlog: its consumer fetches far more than a batch ahead while the database is down.
        let batch = try Self.start(topologyFile: topologyFile.path, log: "\(world.id)-batch", member: nil, databaseURL: databaseURL,
                                   extra: ["--until-caught-up", "--without-postgres"])
        batch.waitUntilExit()
        try TestServices.services(["stop", "--dir", directory.path, "--postgres-only"])
        let stoppedAt = ContinuousClock.now
        let service = try Self.start(topologyFile: topologyFile.path, log: world.id, databaseURL: databaseURL)
        defer { if service.isRunning { kill(service.processIdentifier, SIGKILL) } }
        // A second replica joins while the database is down: the groups rebalance, and partitions come back to a sink
        // that holds unwritten totals (they must stay paused, or it reads on past its batch).
        try await Task.sleep(until: stoppedAt + .seconds(20))
        let second = try Self.start(topologyFile: topologyFile.path, log: "\(world.id)-b", member: "b", databaseURL: databaseURL)
        defer { if second.isRunning { kill(second.processIdentifier, SIGKILL) } }
        let cpuBefore = try Self.cpuSeconds(service.processIdentifier)
        try await Task.sleep(until: stoppedAt + .seconds(120))
        let cpuDuringOutage = try Self.cpuSeconds(service.processIdentifier) + Self.cpuSeconds(second.processIdentifier) - cpuBefore
        let logDuringOutage = try [world.id, "\(world.id)-b"].map { name in
            try String(contentsOf: FileManager.default.temporaryDirectory.appendingPathComponent("\(name).log"), encoding: .utf8)
        }.joined()
        try TestServices.services(["start", "--dir", directory.path, "--postgres-only"])
        let (kafka, postgres) = try await world.totals(databaseURL: databaseURL, seconds: 120)
        var stopSeconds: [Double] = []
        for process in [service, second] {
            let began = ContinuousClock.now
            kill(process.processIdentifier, SIGTERM)
            process.waitUntilExit()
            let took = ContinuousClock.now - began
            stopSeconds.append(Double(took.components.seconds) + Double(took.components.attoseconds) / 1e18)
        }
        let expected = ExpectedTotals(records: records)
        let failedWrites = logDuringOutage.components(separatedBy: "PostgreSQL sink write failed").count - 1
        print("sink outage test: \(records.count) totals behind, PostgreSQL down 120 s: \(failedWrites) failed writes, \(cpuDuringOutage) CPU-s over the outage; differences: Kafka \(expected.differences(from: kafka).count), PostgreSQL \(expected.differences(from: postgres).count); stops took \(stopSeconds) s")
        #expect(batch.terminationStatus == 0)
        #expect(failedWrites >= 8 && failedWrites <= 50, "retried on the backoff schedule (0.5 s doubling to 10 s), not in a loop")
        #expect(!logDuringOutage.contains("poll interval"), "never evicted for not polling (max.poll.interval.ms)")
        #expect(!logDuringOutage.contains("partitions lost"), "no member fell out of its group during the outage")
        #expect(cpuDuringOutage < 40, "waiting for the database must not burn a core (\(cpuDuringOutage) CPU-s in 100 s, both replicas)")
        #expect(expected.differences(from: kafka) == [])
        let missing = expected.differences(from: postgres)
        let explanation = missing.isEmpty ? "" : try await world.explain(missing, databaseURL: databaseURL)
        #expect(missing == [], "\(explanation)")
        for (process, name) in [(service, world.id), (second, "\(world.id)-b")] {
            #expect(process.terminationStatus == 0, "exit status \(process.terminationStatus) after SIGTERM; the log ends:\n\(Self.logTail(name))")
        }
    }

    /// The last lines of a test process's log (`start(log:)`), for a failure's message.
    static func logTail(_ name: String, lines: Int = 30) -> String {
        let file = FileManager.default.temporaryDirectory.appendingPathComponent("\(name).log")
        let text = (try? String(contentsOf: file, encoding: .utf8)) ?? "(no log at \(file.path))"
        return text.split(separator: "\n", omittingEmptySubsequences: false).suffix(lines).joined(separator: "\n")
    }

    /// CPU seconds (user + system) a process has used so far, from /proc.
    static func cpuSeconds(_ pid: pid_t) throws -> Double {
        let stat = try String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8)
        guard let close = stat.lastIndex(of: ")") else { throw TestSetupError("unreadable /proc/\(pid)/stat") }
        let fields = stat[stat.index(after: close)...].split(separator: " ")
        guard fields.count > 12, let user = Double(fields[11]), let system = Double(fields[12]) else {
            throw TestSetupError("unreadable /proc/\(pid)/stat")
        }
        return (user + system) / Double(sysconf(Int32(_SC_CLK_TCK)))
    }
}
