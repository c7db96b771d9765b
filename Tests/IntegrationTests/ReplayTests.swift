import Foundation
import Kafka
import PostgreSQL
import TestSupport
import Testing
import UsageService
import UsageSimulation
import UsageStages
import UsageStandard
import UsageTopology

@Suite("Replay for re-accounting against a real broker and PostgreSQL")
struct ReplayTests {
    struct Interrupted: Error {}

    @Test("an unchanged range replays to identical figures and republishes nothing; a corrected scope rule gives corrected totals, resumes after an interruption, and keeps the old revision queryable")
    func replay() async throws {
        let world = World()
        let records = world.records(UsageSimulator(seed: 5, start: Timestamp(milliseconds: h13 - 4 * hourMs), hours: 6), Scenario.all)
        let topics = Set(records.map(\.topic)).sorted()
        try await world.createTopics(topics, partitions: 2)
        try await world.produce(records.map { $0.outgoing() })
        _ = try await world.account(partitions: topics.count * 2)
        let expected = ExpectedTotals(records: records)
        let (kafka, postgres) = try await world.totals()
        #expect(expected.differences(from: kafka) == [])
        #expect(expected.differences(from: postgres) == [])

        let from = Timestamp(milliseconds: h13 - 3 * hourMs), to = Timestamp(milliseconds: h13 - hourMs)
        func inRange(_ start: Timestamp) -> Bool { start.milliseconds >= from.milliseconds && start.milliseconds < to.milliseconds }
        let request = Replay.Request(from: from, to: to)

        // 1. The same topology over the same records: the same figures; revision 1 changes nothing, so nothing is
        //    republished and every figure keeps revision 0.
        let unchanged = try await run(Replay(configuration: try world.configuration(), request: request, logger: TestServices.logger))
        let inRangeCount = expected.entries.keys.filter { inRange($0.windowStart) }.count
        #expect(unchanged.revision == 1)
        #expect(unchanged.changes.map(\.description) == [])
        #expect(unchanged.unchanged == inRangeCount)
        #expect(unchanged.totals == 0)
        let (kafka1, postgres1) = try await world.totals()
        #expect(expected.differences(from: kafka1) == [])
        #expect(expected.differences(from: postgres1) == [])
        #expect(kafka1.allSatisfy { $0.revision == 0 })
        #expect(postgres1.allSatisfy { $0.revision == 0 })

        // 2. A corrected scope rule (Presto usage is not billable), interrupted after the first partition, resumed.
        var corrected = Topology.standard
        corrected.scope = [.component(["presto"])]
        let replay = Replay(configuration: try world.configuration(topology: corrected), request: request, logger: TestServices.logger)
        await #expect(throws: Interrupted.self) {
            try await TestServices.blocking {
                _ = try replay.run { progress in if progress.done { throw Interrupted() } }
            }
        }
        let (resumed, partitionsBeforeInterruption) = try await TestServices.blocking {
            var alreadyDone = 0
            let outcome = try replay.run { progress in if progress.done && progress.alreadyDone { alreadyDone += 1 } }
            return (outcome, alreadyDone)
        }
        #expect(resumed.revision == 2)
        #expect(resumed.resumed)
        #expect(partitionsBeforeInterruption == 1)
        let prestoInRange = expected.entries.keys.filter { $0.key.component == "presto" && inRange($0.windowStart) }.count
        #expect(prestoInRange > 0)
        #expect(resumed.changes.count == prestoInRange)
        #expect(resumed.changes.allSatisfy { $0.new.status == .retracted && $0.new.key.component == "presto" })
        #expect(resumed.totals == prestoInRange, "only the changed keys' parts are published (here their retractions)")
        let correctedExpected = ExpectedTotals(records: records.filter { !($0.event.component == "presto" && inRange(TumblingWindows.hourly.start(of: $0.event.time))) })
        let (kafka2, postgres2) = try await world.totals()
        #expect(correctedExpected.differences(from: kafka2) == [])
        #expect(correctedExpected.differences(from: postgres2) == [])

        // The earlier revisions are still there.
        let url = try TestServices.databaseURL
        let table = world.table
        let kept = try await TestServices.blocking {
            try PostgresConnection(url: url).query("""
                SELECT revision, count(*) FROM \(table)_revisions WHERE component = 'presto' AND window_start >= $1 AND window_start < $2
                GROUP BY revision ORDER BY revision
                """, [.text(from.rfc3339), .text(to.rfc3339)]).map { "\($0[0] ?? ""):\($0[1] ?? "")" }
        }
        #expect(kept == ["0:\(prestoInRange)", "2:\(prestoInRange)"])
    }

    func run(_ replay: Replay) async throws -> Replay.Outcome {
        try await TestServices.blocking { try replay.run() }
    }
}
