import Foundation
import ProcessSupport
import TestSupport
import Testing
import UsageStandard

/// `ferris-usage collect` and `ferris-usage run` as processes, against the real broker and the local Prometheus.
// Serialized: one test stops Prometheus, which would only slow the other down.
@Suite("Collector: Prometheus -> collect -> run -> totals", .serialized)
struct CollectorTests {
    /// The usage the collector sends through the service equals the increments computed independently from
    /// Prometheus's raw samples, per instance, component, metric and hour; each seed scenario gets totals per component.
    @Test func seedScenariosThroughCollectAndRun() async throws {
        let world = CollectorWorld()
        let instances = world.instances()
        let interval = CollectorWorld.interval
        let now = WallClock.milliseconds()
        // Created 25 s ago: the first intervals are collected from history straight away.
        let created = now - 25_000
        let first = created - created % interval
        // Announced on the registry and nothing else: the collector creates the event topics, the service finds them.
        try await world.register(instances, at: created)
        let service = try world.startService()
        defer { if service.isRunning { kill(service.processIdentifier, SIGKILL) } }
        let collector = try world.startCollector(mapping: try world.mappingFile())
        defer { if collector.isRunning { kill(collector.processIdentifier, SIGKILL) } }

        try await world.waitForCursors(instances, atLeast: first + 6 * interval)
        #expect(CollectorWorld.stop(collector), "the collector exits cleanly on SIGTERM")
        let cursors = try await world.cursors()
        let raw = RawUsage(prometheusURL: try Environment.prometheusURL, interval: interval,
                           lookback: CollectorWorld.lookback, stale: CollectorWorld.stale)
        var expected: [String: Int64] = [:]
        for instance in instances {
            let end = try #require(cursors[instance.id])
            expected.merge(try await raw.expectedTotals(instance, from: first, to: end)) { $0 + $1 }
        }
        expected = expected.filter { $0.value != 0 }
        let collected = ContinuousClock.now
        let totals = try await world.waitForTotals(expected)
        #expect(CollectorWorld.stop(service))
        let problems = differences(expected, totals)
        print("collector test: \(instances.count) instances, \(expected.count) totals over \((cursors.values.min() ?? first) - first) ms, accounted \(ContinuousClock.now - collected) after the collector stopped; differences: \(problems.count)")
        #expect(problems.isEmpty, "\(problems.prefix(20))")

        // Every seed scenario's components got usage; the Databricks link's usage was reported out of scope only.
        let components = Dictionary(grouping: totals.keys.map { $0.split(separator: "/").map(String.init) }) { $0[0] }
            .mapValues { Set($0.map { $0[1] }) }
        let wanted: [(String, Set<String>)] = [
            ("solo-gcp", ["kafka", "postgresql", "ferris-ui"]), ("team-gcp", ["keycloak"]),
            ("hybrid-onprem", ["kafka", "theia-ide"]), ("hybrid-gcp", ["presto", "jupyterhub"]),
        ]
        for (name, set) in wanted {
            let have = components["\(world.id)-\(name)"] ?? []
            #expect(set.isSubset(of: have), "\(name): totals for \(have.sorted()), expected at least \(set.sorted())")
        }
        #expect(!(components["\(world.id)-team-gcp"] ?? []).contains("databricks-link"))
        let team = try await world.events(of: "\(world.id)-team-gcp")
        let link = team.filter { $0.id.contains("/databricks-link/") }
        #expect(!link.isEmpty && link.allSatisfy { $0.scope == "out" }, "the link's usage is reported, tagged scope: out")
        #expect(team.allSatisfy { $0.key == "\(world.id)-team" }, "key = tenant")
        #expect(totals.keys.contains { $0.contains("/session_hours/") } && totals.keys.contains { $0.contains("/storage_gib_hours/") })
    }

    /// kill -9 of the collector mid-run (and a cursor set back, as a kill between sending and storing it leaves it),
    /// then Prometheus stopped for 25 s: every interval of every series is sent (no gap), the repeats are dropped and
    /// the totals equal the raw increments (no double), and /readyz says not ready during the outage.
    @Test func killAndPrometheusOutageLeaveNoGapAndNoDouble() async throws {
        let world = CollectorWorld()
        let instances = Array(world.instances().prefix(2))
        let interval = CollectorWorld.interval
        let now = WallClock.milliseconds()
        let first = now - now % interval
        try await world.register(instances, at: now)
        try await world.createEventTopics(instances)
        let service = try world.startService()
        defer { if service.isRunning { kill(service.processIdentifier, SIGKILL) } }
        let mapping = try world.mappingFile()
        let port = try TestServices.freePort()
        var collector = try world.startCollector(mapping: mapping, httpPort: port)
        defer { if collector.isRunning { kill(collector.processIdentifier, SIGKILL) } }

        try await world.waitForCursors(instances, atLeast: first + 2 * interval)
        try await Task.sleep(for: .milliseconds(Int.random(in: 0..<Int(interval))))
        kill(collector.processIdentifier, SIGKILL)
        collector.waitUntilExit()
        let killedAt = try await world.cursors()
        // As if the kill had come after the last two intervals of the first instance were sent but before their cursor
        // was stored: the restart sends them again, with the same ids.
        let rewound = try #require(killedAt[instances[0].id]) - 2 * interval
        try await world.storeCursor(instances[0].id, collectedUntil: rewound)
        collector = try world.startCollector(mapping: mapping, httpPort: port)
        let restartedAt = WallClock.milliseconds()
        try await world.waitForCursors(instances, atLeast: restartedAt - restartedAt % interval)

        try Environment.prometheus("stop-server")
        var sawNotReady = false
        let outage = ContinuousClock.now
        while ContinuousClock.now < outage + .seconds(25) {
            if await !CollectorWorld.isReady(port: port) { sawNotReady = true }
            try await Task.sleep(for: .seconds(1))
        }
        try Environment.prometheus("start-server")
        let back = WallClock.milliseconds()
        try await world.waitForCursors(instances, atLeast: back - back % interval + 2 * interval)
        #expect(CollectorWorld.stop(collector))
        #expect(sawNotReady, "/readyz reported the Prometheus outage")

        let cursors = try await world.cursors()
        let raw = RawUsage(prometheusURL: try Environment.prometheusURL, interval: interval,
                           lookback: CollectorWorld.lookback, stale: CollectorWorld.stale)
        var expected: [String: Int64] = [:]
        for instance in instances {
            let end = try #require(cursors[instance.id])
            expected.merge(try await raw.expectedTotals(instance, from: first, to: end)) { $0 + $1 }
            // No gap: each series' component and metric has an event for every interval between its first and last.
            let ids = try await world.events(of: instance.id).map(\.id)
            var starts: [String: Set<Int64>] = [:]
            for id in ids {
                let parts = id.split(separator: "/")
                guard parts.count == 4, let time = Timestamp.parse(String(parts[3])) else { continue }
                starts["\(parts[1])/\(parts[2])", default: []].insert(time.milliseconds)
            }
            for (name, set) in starts {
                guard let low = set.min(), let high = set.max() else { continue }
                let missing = stride(from: low, through: high, by: Int(interval)).filter { !set.contains($0) }
                #expect(missing.isEmpty, "\(instance.id) \(name): no event for \(missing.map { Timestamp(milliseconds: $0).rfc3339 })")
            }
            #expect(starts.values.contains { $0.min() == first }, "\(instance.id) collected from its first interval")
            print("outage test: \(instance.id): \(ids.count) events, \(Set(ids).count) distinct (repeats after the kill: \(ids.count - Set(ids).count)); cursor at the kill \(killedAt[instance.id].map { Timestamp(milliseconds: $0).rfc3339 } ?? "none")")
            if instance.id == instances[0].id {
                #expect(ids.count > Set(ids).count, "the rewound intervals were sent again")
            }
        }
        expected = expected.filter { $0.value != 0 }
        let totals = try await world.waitForTotals(expected)
        #expect(CollectorWorld.stop(service))
        let problems = differences(expected, totals)
        #expect(problems.isEmpty, "\(problems.prefix(20))")
    }
}
