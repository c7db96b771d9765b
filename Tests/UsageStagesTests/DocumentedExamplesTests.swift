import Foundation
import Testing
import UsageStages
import UsageStandard

/// The worked examples of docs/usage-tracking-standard.md: each scenario's events, read by the real decoder and
/// accounted by the stage library, give exactly the totals documented next to them.
@Suite("Documented examples")
struct DocumentedExamplesTests {
    static let examples = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        .appendingPathComponent("../../docs/examples").standardized

    @Test("each scenario's events give its documented totals", arguments: ["single-user-gcp", "team-databricks", "hybrid-onprem-gcp"])
    func scenario(name: String) throws {
        let events = try String(contentsOf: Self.examples.appendingPathComponent("\(name).events.jsonl"), encoding: .utf8)
        let documented = try String(contentsOf: Self.examples.appendingPathComponent("\(name).totals.jsonl"), encoding: .utf8)
        let decoder = UsageEventDecoder()
        let filter = ScopeFilter()
        var aggregators: [String: PartitionAggregator] = [:]
        var offsets: [String: Int64] = [:]
        for line in events.split(separator: "\n") {
            let result = Array(line.utf8).withUnsafeBytes {
                decoder.decode(headers: StructuredModeHeaders(), value: $0)
            }
            let event = try result.get()
            // One topic per instance, one partition: offsets count the instance's events in file order.
            let partition = "ferris.events.\(event.instance):0"
            let offset = offsets[partition, default: 0]
            offsets[partition] = offset + 1
            guard filter.admits(event) else { continue }
            aggregators[partition, default: PartitionAggregator(partition: partition, graceMilliseconds: 3_600_000)]
                .apply(event, offset: offset)
        }
        var totals: [UsageTotal] = []
        for partition in aggregators.keys.sorted() { totals += aggregators[partition]?.takeEmissions() ?? [] }
        totals.sort { ($0.key, $0.windowStart) < ($1.key, $1.windowStart) }
        let actual = totals.map { String(decoding: UsageTotalCodec.encode($0, source: "/ferris-usage/ferris-usage"), as: UTF8.self) }
        let expected = documented.split(separator: "\n").map(String.init)
        #expect(actual == expected, "actual totals:\n\(actual.joined(separator: "\n"))")
    }
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

    @Test("the dead-letter headers schema lists exactly the decoder's reason codes")
    func reasons() throws {
        let schema = try json("dead-letter-headers.v1.schema.json")
        let properties = try #require(schema["properties"] as? [String: Any])
        let reason = try #require(properties["ferris-dlq-reason"] as? [String: Any])
        let codes = try #require(reason["enum"] as? [String])
        #expect(codes == UsageDecodeError.Reason.allCases.map(\.rawValue))
    }
}
