import Testing
import UsageSimulation
import UsageStages
import UsageStandard

let hour: Int64 = 3_600_000
let base: Int64 = 1_795_611_600_000 // 2026-11-25T13:00:00Z

func event(_ ms: Int64, _ quantity: Int64 = 1_000_000, key: String = "a", unit: String = "u", metric: String = "m",
           scope: UsageScope = .billable, id: String? = nil, subject: String? = nil) -> UsageEvent {
    UsageEvent(id: id ?? "\(ms)-\(quantity)", source: "/s", time: Timestamp(milliseconds: ms), tenant: key, instance: "i",
               component: "c", metric: metric, quantity: Quantity(micros: quantity), unit: unit, scope: scope, subject: subject)
}

/// A window aggregator with its context, fed the way the flow feeds it (the watermark observes each event first).
struct Windowed {
    var window: WindowAggregator
    var context = FlowContext()

    init(grace: Int64 = hour, aggregations: Aggregations = Aggregations()) {
        window = WindowAggregator(partition: "t:0", graceMilliseconds: grace, aggregations: aggregations)
    }

    @discardableResult
    mutating func apply(_ event: UsageEvent, offset: Int64, replaying: Bool = false) -> StageOutcome<Void> {
        context.replaying = replaying
        context.observe(event.time)
        let interned = context.symbols.intern(event)
        let key = InternedKey(tenant: interned.tenant, instance: interned.instance, component: interned.component,
                              metric: interned.metric)
        return window.process(KeyedEvent(key: key, event: interned, offset: offset), context: &context)
    }

    mutating func take() -> [UsageTotal] {
        window.takeEmissions(symbols: context.symbols).sorted { ($0.key, $0.windowStart) < ($1.key, $1.windowStart) }
    }
}

func isCounted(_ outcome: StageOutcome<Void>) -> Bool { if case .next = outcome { return true } else { return false } }
func rejection(_ outcome: StageOutcome<Void>) -> UsageDecodeError.Reason? {
    if case .rejected(let error) = outcome { return error.reason } else { return nil }
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

@Suite("WindowAggregator")
struct WindowAggregatorTests {
    @Test("sums and counts per key and hour; boundary events land in the right hour")
    func sums() {
        var windowed = Windowed()
        #expect(isCounted(windowed.apply(event(base), offset: 0)))
        #expect(isCounted(windowed.apply(event(base + hour - 1, 2_500_000), offset: 1)))
        #expect(isCounted(windowed.apply(event(base + hour), offset: 2)))
        #expect(isCounted(windowed.apply(event(base, key: "b"), offset: 3)))
        let totals = windowed.take()
        #expect(totals.count == 3)
        let first = totals.first { $0.key.tenant == "a" && $0.windowStart.milliseconds == base }
        #expect(first?.quantity == Quantity(micros: 3_500_000))
        #expect(first?.eventCount == 2)
        #expect(first?.lastOffset == 1)
        #expect(first?.status == .provisional)
        #expect(windowed.take().isEmpty, "nothing changed since the last emission")
    }

    @Test("a window closes after end + grace: final total, then late events are refused")
    func closesAndRefusesLate() {
        var windowed = Windowed(grace: 10 * 60_000)
        windowed.apply(event(base + 5), offset: 0)
        _ = windowed.take()
        #expect(isCounted(windowed.apply(event(base + hour + 9 * 60_000), offset: 1)))
        #expect(isCounted(windowed.apply(event(base + 10), offset: 2)), "within grace")
        #expect(isCounted(windowed.apply(event(base + hour + 10 * 60_000), offset: 3)))
        let closed = windowed.take().first { $0.windowStart.milliseconds == base }
        #expect(closed?.status == .final)
        #expect(closed?.eventCount == 2)
        #expect(rejection(windowed.apply(event(base + 20), offset: 4)) == .late)
        #expect(windowed.window.openWindowCount == 1)
    }

    @Test("an idle advance of the watermark closes windows without an event")
    func idleAdvance() {
        var windowed = Windowed(grace: 0)
        windowed.apply(event(base + 5), offset: 0)
        _ = windowed.take()
        windowed.context.watermark = Timestamp(milliseconds: base + hour)
        windowed.window.watermarkAdvanced(context: windowed.context)
        #expect(windowed.take().map(\.status) == [.final])
        #expect(windowed.window.openWindowCount == 0)
    }

    @Test("a different unit for the same key and window is refused")
    func unitMismatch() {
        var windowed = Windowed()
        windowed.apply(event(base), offset: 0)
        #expect(rejection(windowed.apply(event(base + 1, unit: "other"), offset: 1)) == .unitMismatch)
    }

    @Test("aggregations: count, min, max, latest, distinct", arguments: [
        (Aggregation.count, 3_000_000 as Int64), (.min, 1_000_000), (.max, 5_000_000), (.latest, 2_000_000), (.distinct, 2_000_000),
    ])
    func aggregations(aggregation: Aggregation, expected: Int64) {
        var windowed = Windowed(aggregations: Aggregations(standard: aggregation))
        windowed.apply(event(base + 10, 5_000_000, subject: "alice"), offset: 0)
        windowed.apply(event(base + 30, 2_000_000, subject: "bob"), offset: 1)
        windowed.apply(event(base + 20, 1_000_000, subject: "alice"), offset: 2)
        #expect(windowed.take().first?.quantity == Quantity(micros: expected))
    }

    @Test("rebuild-from is the first offset of the oldest open window")
    func rebuildFrom() {
        var windowed = Windowed(grace: 0)
        #expect(windowed.window.rebuildFrom == nil)
        windowed.apply(event(base), offset: 10)
        windowed.apply(event(base + hour), offset: 11) // closes the first window (grace 0)
        windowed.apply(event(base + hour + 1), offset: 12)
        #expect(windowed.window.rebuildFrom == 11)
    }

    @Test("replaying the events since rebuild-from restores the same totals; the open windows are emitted once more, closed ones not")
    func replayRestores() {
        let events = (0..<200).map { index in event(base + Int64(index) * 60_000 + 7, Int64(index) * 1_000, key: "k\(index % 3)") }
        var original = Windowed(grace: 30 * 60_000)
        for (offset, e) in events.enumerated().prefix(150) { original.apply(e, offset: Int64(offset)) }
        let emitted = original.take()
        let rebuildFrom = original.window.rebuildFrom ?? 150
        var restored = Windowed(grace: 30 * 60_000)
        restored.context.watermark = original.context.watermark
        for offset in Int(rebuildFrom)..<150 { restored.apply(events[offset], offset: Int64(offset), replaying: true) }
        // The process before the restart may have held these provisional totals back: the same figures again.
        #expect(restored.take() == emitted.filter { $0.status == .provisional })
        for offset in 150..<200 {
            original.apply(events[offset], offset: Int64(offset))
            restored.apply(events[offset], offset: Int64(offset))
        }
        #expect(restored.take() == original.take())
        #expect(restored.window.openWindowCount == original.window.openWindowCount)
    }
}
