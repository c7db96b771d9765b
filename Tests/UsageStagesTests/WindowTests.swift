import Testing
import UsageSimulation
import UsageStages
import UsageStandard

let hour: Int64 = 3_600_000
let base: Int64 = 1_795_611_600_000 // 2026-11-25T13:00:00Z

func event(_ ms: Int64, _ quantity: Int64 = 1_000_000, key: String = "a", unit: String = "u",
           scope: UsageScope = .billable) -> UsageEvent {
    UsageEvent(id: "\(ms)", source: "/s", time: Timestamp(milliseconds: ms), tenant: key, instance: "i",
               component: "c", metric: "m", quantity: Quantity(micros: quantity), unit: unit, scope: scope)
}

@Suite("TumblingWindows")
struct TumblingWindowTests {
    @Test("UTC hour buckets: HH:00:00.000 and HH:59:59.999 fall in hour HH", arguments: [
        (base, base), (base + hour - 1, base), (base + hour, base + hour), (base - 1, base - hour), (-1, -hour), (0, 0),
    ] as [(Int64, Int64)])
    func buckets(ms: Int64, start: Int64) {
        let windows = TumblingWindows.hourly
        #expect(windows.start(of: Timestamp(milliseconds: ms)).milliseconds == start)
        #expect(windows.end(ofWindowStarting: Timestamp(milliseconds: start)).milliseconds == start + hour)
    }
}

@Suite("PartitionAggregator")
struct PartitionAggregatorTests {
    @Test("sums and counts per key and hour; boundary events land in the right hour")
    func sums() {
        var aggregator = PartitionAggregator(partition: "t:0", graceMilliseconds: hour)
        #expect(aggregator.apply(event(base), offset: 0) == .counted)
        #expect(aggregator.apply(event(base + hour - 1, 2_500_000), offset: 1) == .counted)
        #expect(aggregator.apply(event(base + hour), offset: 2) == .counted)
        #expect(aggregator.apply(event(base, key: "b"), offset: 3) == .counted)
        let totals = aggregator.takeEmissions()
        #expect(totals.count == 3)
        let first = totals.first { $0.key.tenant == "a" && $0.windowStart.milliseconds == base }
        #expect(first?.quantity == Quantity(micros: 3_500_000))
        #expect(first?.eventCount == 2)
        #expect(first?.lastOffset == 1)
        #expect(first?.status == .provisional)
        #expect(aggregator.takeEmissions().isEmpty, "nothing changed since the last emission")
    }

    @Test("a window closes after end + grace: final total, then late events are refused")
    func closesAndRefusesLate() {
        var aggregator = PartitionAggregator(partition: "t:0", graceMilliseconds: 10 * 60_000)
        aggregator.apply(event(base + 5), offset: 0)
        _ = aggregator.takeEmissions()
        // Within grace: still counted.
        #expect(aggregator.apply(event(base + hour + 9 * 60_000), offset: 1) == .counted)
        #expect(aggregator.apply(event(base + 10), offset: 2) == .counted)
        // The watermark passes end + grace: the first window closes.
        #expect(aggregator.apply(event(base + hour + 10 * 60_000), offset: 3) == .counted)
        let emitted = aggregator.takeEmissions()
        let closed = emitted.first { $0.windowStart.milliseconds == base }
        #expect(closed?.status == .final)
        #expect(closed?.eventCount == 2)
        #expect(aggregator.apply(event(base + 20), offset: 4) == .late)
        #expect(aggregator.openWindowCount == 1)
    }

    @Test("a different unit for the same key and window is refused")
    func unitMismatch() {
        var aggregator = PartitionAggregator(partition: "t:0", graceMilliseconds: hour)
        aggregator.apply(event(base), offset: 0)
        #expect(aggregator.apply(event(base + 1, unit: "other"), offset: 1) == .unitMismatch(expected: "u"))
    }

    @Test("rebuild-from is the first offset of the oldest open window")
    func rebuildFrom() {
        var aggregator = PartitionAggregator(partition: "t:0", graceMilliseconds: 0)
        #expect(aggregator.rebuildFrom == nil)
        aggregator.apply(event(base), offset: 10)
        aggregator.apply(event(base + hour), offset: 11) // closes the first window (grace 0)
        aggregator.apply(event(base + hour + 1), offset: 12)
        #expect(aggregator.rebuildFrom == 11)
    }

    @Test("replaying the events since rebuild-from restores the same totals without emitting them")
    func replayRestores() {
        let events = (0..<200).map { index in event(base + Int64(index) * 60_000 + 7, Int64(index) * 1_000, key: "k\(index % 3)") }
        var original = PartitionAggregator(partition: "t:0", graceMilliseconds: 30 * 60_000)
        for (offset, e) in events.enumerated().prefix(150) { original.apply(e, offset: Int64(offset)) }
        _ = original.takeEmissions()
        let checkpointWatermark = original.watermark
        let rebuildFrom = original.rebuildFrom ?? 150
        // A restarted aggregator replays [rebuildFrom, 150) silently, then continues.
        var restored = PartitionAggregator(partition: "t:0", graceMilliseconds: 30 * 60_000)
        restored.restore(watermark: checkpointWatermark)
        for offset in Int(rebuildFrom)..<150 { restored.apply(events[offset], offset: Int64(offset), replaying: true) }
        #expect(restored.takeEmissions().isEmpty)
        for offset in 150..<200 {
            original.apply(events[offset], offset: Int64(offset))
            restored.apply(events[offset], offset: Int64(offset))
        }
        #expect(restored.takeEmissions() == original.takeEmissions())
        #expect(restored.openWindowCount == original.openWindowCount)
    }

    @Test("over a simulated day, the totals equal the independently computed expected totals")
    func simulatedDay() {
        let simulator = UsageSimulator(seed: 7, start: Timestamp(milliseconds: base), hours: 24)
        let records = simulator.records(for: Scenario.all)
        var aggregators: [String: PartitionAggregator] = [:]
        var emitted: [UsageTotal] = []
        let filter = ScopeFilter()
        for (offset, record) in records.enumerated() where filter.admits(record.event) {
            aggregators[record.topic, default: PartitionAggregator(partition: record.topic, graceMilliseconds: hour)]
                .apply(record.event, offset: Int64(offset))
        }
        for key in aggregators.keys.sorted() { emitted += aggregators[key]?.takeEmissions() ?? [] }
        // Keep the latest emission per key and window, as the compacted topic does.
        var latest: [String: UsageTotal] = [:]
        for total in emitted { latest[total.recordKey] = total }
        #expect(ExpectedTotals(records: records).differences(from: Array(latest.values)) == [])
        #expect(records.contains { $0.event.scope == .outOfScope })
        #expect(records.contains { $0.event.time.milliseconds % hour == hour - 1 })
    }
}
