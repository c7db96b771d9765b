import Foundation
import Testing
import UsageSimulation
import UsageStages
import UsageStandard
import UsageTopology

/// The worked examples of docs/usage-tracking-standard.md: each scenario's events, read by the real decoder and
/// accounted by the stage library, give exactly the totals documented next to them.
@Suite("Documented examples")
struct DocumentedExamplesTests {
    static let examples = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        .appendingPathComponent("../../docs/examples").standardized

    static let topologies = examples.appendingPathComponent("../../topologies").standardized

    @Test("each scenario's events, through the scenario's topology, give its documented totals",
          arguments: ["single-user-gcp", "team-databricks", "hybrid-onprem-gcp"])
    func scenario(name: String) throws {
        let topology = try Topology.load(path: Self.topologies.appendingPathComponent("\(name).yaml").path)
        let events = try String(contentsOf: Self.examples.appendingPathComponent("\(name).events.jsonl"), encoding: .utf8)
        let documented = try String(contentsOf: Self.examples.appendingPathComponent("\(name).totals.jsonl"), encoding: .utf8)
        // One topic per instance, one partition: offsets count each instance's events in file order.
        var partitions = Partitions(topology: topology)
        for line in events.split(separator: "\n") {
            let instance = try #require(line.firstMatch(of: /"instance":"([^"]+)"/)?.1)
            let tenant = try #require(line.firstMatch(of: /"tenant":"([^"]+)"/)?.1)
            partitions.process(partition: "ferris.events.\(instance):0", key: Array(tenant.utf8), value: Array(line.utf8),
                               timestamp: nil)
        }
        let totals = partitions.takeEmissions()
        let actual = totals.map { String(decoding: UsageTotalCodec.encode($0, source: "/ferris-usage/ferris-usage"), as: UTF8.self) }
        let expected = documented.split(separator: "\n").map(String.init)
        #expect(actual == expected, "actual totals:\n\(actual.joined(separator: "\n"))")
    }

    @Test("a simulated day of each scenario, through its topology, gives the independently computed totals",
          arguments: ["single-user-gcp", "team-databricks", "hybrid-onprem-gcp"])
    func simulatedDay(name: String) throws {
        let topology = try Topology.load(path: Self.topologies.appendingPathComponent("\(name).yaml").path)
        let scenario = try #require(Scenario.named(name))
        let records = UsageSimulator(seed: 2026, start: Timestamp(milliseconds: 1_795_564_800_000), hours: 24).records(for: [scenario])
        var partitions = Partitions(topology: topology)
        for record in records {
            partitions.process(partition: record.topic, key: Array(record.key.utf8),
                               value: UsageEventEncoder.encode(record.event, mode: .structured).value,
                               timestamp: Timestamp(milliseconds: 1_795_651_200_000))
        }
        var latest: [String: UsageTotal] = [:]
        for total in partitions.takeEmissions() { latest[total.recordKey] = total }
        let expected = ExpectedTotals(records: records, scope: topology.scope, key: topology.key)
        #expect(!expected.entries.isEmpty)
        #expect(expected.differences(from: Array(latest.values)) == [])
    }
}

/// One topology flow per partition, fed structured-mode records in order (offsets count per partition).
struct Partitions {
    let topology: Topology
    private var flows: [String: (flow: any EmittingStage<IncomingRecord<StructuredModeHeaders>, Void>, context: FlowContext, next: Int64)] = [:]

    init(topology: Topology) { self.topology = topology }

    mutating func process(partition: String, key: [UInt8]?, value: [UInt8], timestamp: Timestamp?) {
        var entry = flows[partition] ?? (topology.makeFlow(partition: partition, headers: StructuredModeHeaders.self), FlowContext(), 0)
        let outcome = withOptional(key) { keyBytes in
            value.withUnsafeBytes {
                entry.flow.process(IncomingRecord(headers: StructuredModeHeaders(), key: keyBytes, value: $0,
                                                  timestamp: timestamp, offset: entry.next), context: &entry.context)
            }
        }
        if case .rejected(let error) = outcome { Issue.record("rejected: \(error)") }
        entry.next += 1
        flows[partition] = entry
    }

    /// Every partition's emissions, sorted by key and window.
    mutating func takeEmissions() -> [UsageTotal] {
        var totals: [UsageTotal] = []
        for partition in flows.keys.sorted() {
            guard var entry = flows[partition] else { continue }
            totals += entry.flow.takeEmissions(symbols: entry.context.symbols, provisional: true)
            flows[partition] = entry
        }
        return totals.sorted { ($0.key, $0.windowStart) < ($1.key, $1.windowStart) }
    }
}

func withOptional<R>(_ bytes: [UInt8]?, _ body: (UnsafeRawBufferPointer?) -> R) -> R {
    guard let bytes else { return body(nil) }
    return bytes.withUnsafeBytes { body($0) }
}

@Suite("Schemas agree with the code")
struct SchemaAgreementTests {
    static let schemas = DocumentedExamplesTests.examples.appendingPathComponent("../schemas").standardized

    func json(_ name: String) throws -> [String: Any] {
        let data = try Data(contentsOf: Self.schemas.appendingPathComponent(name))
        return try #require(try JSONSerialization.jsonObject(with: data) as? [String: Any])
    }

    @Test("the data schema lists exactly the registry's metrics, each with its unit")
    func registry() throws {
        let schema = try json("usage-event-data.v1.schema.json")
        let properties = try #require(schema["properties"] as? [String: Any])
        let metric = try #require(properties["metric"] as? [String: Any])
        let names = try #require(metric["enum"] as? [String])
        #expect(Set(names) == Set(MetricRegistry.v1.metrics.keys))
        let rules = try #require(schema["allOf"] as? [[String: Any]])
        var units: [String: String] = [:]
        for rule in rules {
            let name = ((rule["if"] as? [String: Any])?["properties"] as? [String: Any])
                .flatMap { ($0["metric"] as? [String: Any])?["const"] as? String }
            let unit = ((rule["then"] as? [String: Any])?["properties"] as? [String: Any])
                .flatMap { ($0["unit"] as? [String: Any])?["const"] as? String }
            if let name, let unit { units[name] = unit }
        }
        #expect(units == MetricRegistry.v1.metrics.mapValues(\.unit))
    }

    @Test("the data schema's quantity bounds are the service's, digit for digit, as the standard states them")
    func quantityBounds() throws {
        // Read as text: JSONSerialization (like most JSON Schema validators) reads the bound as the nearest double.
        let text = try String(contentsOf: Self.schemas.appendingPathComponent("usage-event-data.v1.schema.json"), encoding: .utf8)
        let largest = Quantity(micros: .max).description
        #expect(largest == "9223372036854.775807")
        #expect(text.contains(#""maximum": \#(largest)"#), "the schema's maximum is not \(largest)")
        #expect(text.contains(#""minimum": -\#(largest)"#), "the schema's minimum is not -\(largest)")
        #expect(Quantity.parse(largest) == .success(Quantity(micros: .max)))
        #expect(Quantity.parse("-" + largest) == .success(Quantity(micros: -.max)))
        #expect(Quantity.parse("9223372036854.775808") == .failure(.outOfRange))
        #expect(Quantity.parse("-9223372036854.775808") == .failure(.outOfRange))
        let standard = try String(contentsOf: Self.schemas.appendingPathComponent("../usage-tracking-standard.md").standardized,
                                  encoding: .utf8)
        #expect(standard.contains("9,223,372,036,854.775807"))
    }

    @Test("the dead-letter headers schema lists exactly the decoders' reason codes (usage and instance events)")
    func reasons() throws {
        let schema = try json("dead-letter-headers.v1.schema.json")
        let properties = try #require(schema["properties"] as? [String: Any])
        let reason = try #require(properties["ferris-dlq-reason"] as? [String: Any])
        let codes = try #require(reason["enum"] as? [String])
        #expect(codes.count == Set(codes).count)
        #expect(Set(codes) == Set(UsageDecodeError.Reason.allCases.map(\.rawValue) + InstanceEventError.Reason.allCases.map(\.rawValue)))
    }
}
