import Testing
import UsageSimulation
import UsageStages
import UsageStandard
import UsageTopology

/// Runs `records` through one default-topology flow (one partition), emitting once at the end.
func account(_ records: [SimulatedRecord], topology: Topology = .standard) -> (totals: [UsageTotal], outcomes: [String: Int]) {
    var flow = topology.makeFlow(partition: "t:0", headers: Headers.self)
    var context = FlowContext()
    var outcomes: [String: Int] = [:]
    for (offset, record) in records.enumerated() {
        let encoded = UsageEventEncoder.encode(record.event, mode: record.mode)
        let outcome = Array(record.key.utf8).withUnsafeBytes { key in
            encoded.value.withUnsafeBytes { value in
                flow.process(IncomingRecord(headers: Headers(list: encoded.headers), key: key, value: value,
                                            timestamp: nil, offset: Int64(offset)), context: &context)
            }
        }
        switch outcome {
        case .next: outcomes["counted", default: 0] += 1
        case .dropped(.duplicate): outcomes["duplicate", default: 0] += 1
        case .dropped(.outOfScope): outcomes["out-of-scope", default: 0] += 1
        case .rejected(let error): outcomes[error.reason.rawValue, default: 0] += 1
        }
    }
    var latest: [String: UsageTotal] = [:]
    for total in flow.takeEmissions(symbols: context.symbols, provisional: true) { latest[total.recordKey] = total }
    return (latest.values.sorted { ($0.key, $0.windowStart) < ($1.key, $1.windowStart) }, outcomes)
}

/// Binary and structured records: the flow here needs the mode's headers.
struct Headers: CloudEventHeaderSource {
    var list: [(name: String, value: String)]
    func forEachHeader(_ body: (UnsafeRawBufferPointer, UnsafeRawBufferPointer?) -> Void) {
        for header in list {
            Array(header.name.utf8).withUnsafeBytes { name in Array(header.value.utf8).withUnsafeBytes { body(name, $0) } }
        }
    }
}

@Suite("Properties of the flow")
struct PropertyTests {
    static func day(seed: UInt64) -> [SimulatedRecord] {
        UsageSimulator(seed: seed, start: Timestamp(milliseconds: 1_795_564_800_000), hours: 6, samplesPerHour: 6)
            .records(for: [Scenario.teamDatabricks])
    }

    @Test("every in-scope event lands in exactly one window, and the sum over windows is the sum over events",
          arguments: [1, 2, 3] as [UInt64])
    func conservation(seed: UInt64) {
        let records = Self.day(seed: seed)
        let (totals, outcomes) = account(records)
        let inScope = records.filter { $0.event.scope == .billable }
        #expect(outcomes["counted"] == inScope.count)
        #expect(totals.reduce(0) { $0 + $1.eventCount } == Int64(inScope.count))
        for metric in Set(inScope.map(\.event.metric)) {
            let events = inScope.filter { $0.event.metric == metric }.reduce(Int64(0)) { $0 + $1.event.quantity.micros }
            let windows = totals.filter { $0.key.metric == metric }.reduce(Int64(0)) { $0 + $1.quantity.micros }
            #expect(events == windows, "\(metric)")
        }
        #expect(totals.allSatisfy { $0.windowStart.milliseconds % 3_600_000 == 0 })
    }

    @Test("results do not depend on arrival order within the grace period", arguments: [7, 8, 9] as [UInt64])
    func orderIndependence(seed: UInt64) {
        let records = Self.day(seed: seed)
        var rng = SplitMix64(seed: seed)
        // Shuffle within blocks of events spanning less than the grace period (1 h): no event becomes late.
        var shuffled: [SimulatedRecord] = []
        var block: [SimulatedRecord] = []
        for record in records {
            if let first = block.first, record.event.time.milliseconds - first.event.time.milliseconds > 30 * 60_000 {
                shuffled += block.shuffled(using: &rng)
                block = []
            }
            block.append(record)
        }
        shuffled += block.shuffled(using: &rng)
        let original = account(records)
        let reordered = account(shuffled)
        #expect(reordered.outcomes["late"] == nil)
        #expect(original.totals.map { ($0.recordKey, $0.quantity, $0.eventCount) }.elementsEqual(
            reordered.totals.map { ($0.recordKey, $0.quantity, $0.eventCount) }) { $0 == $1 })
    }

    @Test("a duplicate (same tenant, source and id) is counted once, in either mode", arguments: [4, 5] as [UInt64])
    func duplicates(seed: UInt64) {
        let records = Self.day(seed: seed)
        var rng = SplitMix64(seed: seed)
        var withRepeats = records
        var repeats = 0
        for index in stride(from: records.count - 1, through: 0, by: -1) where rng.next() % 5 == 0 {
            var again = records[index]
            again.mode = again.mode == .binary ? .structured : .binary
            withRepeats.insert(again, at: min(index + 1 + Int(rng.next() % 3), withRepeats.count))
            repeats += 1
        }
        let (totals, outcomes) = account(withRepeats)
        #expect(repeats > 0)
        #expect(outcomes["duplicate"] == repeats)
        #expect(totals.map(\.quantity) == account(records).totals.map(\.quantity))
    }
}

@Suite("Topology files")
struct TopologyFileTests {
    @Test("the shipped topologies load and explain themselves", arguments: ["default", "single-user-gcp", "team-databricks", "hybrid-onprem-gcp"])
    func shipped(name: String) throws {
        let topology = try Topology.load(path: DocumentedExamplesTests.topologies.appendingPathComponent("\(name).yaml").path)
        #expect(topology.name == name)
        #expect(topology.explain().contains("window       tumbling 1h"))
    }

    @Test("the default file describes the built-in default")
    func defaultMatches() throws {
        let file = try Topology.load(path: DocumentedExamplesTests.topologies.appendingPathComponent("default.yaml").path)
        #expect(file.explain() == Topology.standard.explain().replacingOccurrences(of: "topology default", with: "topology default: Every ferrisDX instance topic, accounted hourly."))
    }

    @Test("problems are reported with their line and column")
    func problems() {
        let yaml = """
            name: ok
            window:
              size: 7m
              grace: soon
            key: [instance, metric]
            scope:
              - component: databricks-link
              - nonsense: x
            """
        do {
            _ = try Topology.parse(yaml: yaml, file: "t.yaml")
            Issue.record("accepted")
        } catch {
            #expect(error.problems.map { "\($0.line):\($0.column)" } == ["3:9", "4:10", "5:6", "8:5"])
            #expect(error.problems.allSatisfy { $0.file == "t.yaml" && !$0.message.isEmpty })
        }
    }

    @Test("scope rules and key fields from a file shape the flow")
    func shapesTheFlow() throws {
        let topology = try Topology.parse(yaml: """
            name: t
            scope:
              - component: [databricks-link]
            key: [tenant, metric]
            deduplicate: false
            """, file: "t.yaml")
        let records = PropertyTests.day(seed: 1).map { record -> SimulatedRecord in
            var copy = record
            copy.event.scope = .billable  // only the component rule can exclude the link now
            return copy
        }
        let (totals, outcomes) = account(records, topology: topology)
        #expect(outcomes["out-of-scope"] == records.filter { $0.event.component == "databricks-link" }.count)
        #expect(totals.allSatisfy { $0.key.instance == "*" && $0.key.component == "*" })
    }
}
