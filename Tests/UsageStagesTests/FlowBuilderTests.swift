import Testing
import UsageStages
import UsageStandard

@Suite("Flow composition")
struct FlowBuilderTests {
    /// A flow with deduplication left in or out by `if`, fed the same event twice.
    func countTwice(deduplicate: Bool) -> (outcomes: [Bool], totals: [UsageTotal]) {
        var flow = Flow {
            Map<OffsetEvent, OffsetEvent> { $0 }
            if deduplicate {
                Deduplicate(graceMilliseconds: hour)
            }
            KeyBy(.standard)
            WindowAggregator(partition: "t:0", graceMilliseconds: hour)
        }
        var context = FlowContext()
        var outcomes: [Bool] = []
        for offset in [0, 1] as [Int64] {
            let input = context.input(event(base, id: "same"), offset: offset)
            context.observe(input.event.time)
            if case .next = flow.process(input, context: &context) { outcomes.append(true) } else { outcomes.append(false) }
        }
        return (outcomes, flow.takeEmissions(symbols: context.symbols, provisional: true))
    }

    @Test("a stage under `if` is there when the condition holds and passes everything through when it does not")
    func optionalStage() {
        let with = countTwice(deduplicate: true)
        #expect(with.outcomes == [true, false])
        #expect(with.totals.map(\.eventCount) == [1])
        let without = countTwice(deduplicate: false)
        #expect(without.outcomes == [true, true])
        #expect(without.totals.map(\.eventCount) == [2])
    }

    @Test("`if`/`else` chooses one of two stages; the chosen one keeps its state and its emissions reach the flow")
    func eitherStage() {
        func flow(sum: Bool) -> some EmittingStage<OffsetEvent, Void> {
            Flow {
                KeyBy(.standard)
                if sum {
                    WindowAggregator(partition: "t:0", graceMilliseconds: hour)
                } else {
                    WindowAggregator(partition: "t:0", graceMilliseconds: hour, aggregations: Aggregations(standard: .max))
                }
            }
        }
        for (sum, expected) in [(true, 7_000_000), (false, 5_000_000)] as [(Bool, Int64)] {
            var stages = flow(sum: sum)
            var context = FlowContext()
            for (offset, quantity) in [2_000_000, 5_000_000].enumerated() {
                let input = context.input(event(base + Int64(offset), Int64(quantity)), offset: Int64(offset))
                context.observe(input.event.time)
                _ = stages.process(input, context: &context)
            }
            #expect(stages.openWindowCount == 1)
            #expect(stages.rebuildFrom == 0)
            #expect(stages.takeEmissions(symbols: context.symbols, provisional: true).map(\.quantity) == [Quantity(micros: expected)])
        }
    }

    @Test("a million distinct subjects over a day leave no names behind: the name table stays the same size and the subject sets of closed windows are freed")
    func subjectsStayBounded() {
        var flow = Flow {
            KeyBy(.standard)
            WindowAggregator(partition: "t:0", graceMilliseconds: 0,
                             aggregations: Aggregations(standard: .sum, perMetric: ["users": .distinct]))
        }
        var context = FlowContext()
        let events = 1_000_000
        let step = 24 * hour / Int64(events)
        var namesAfterFirstHour = 0
        var distinctPerHour: [Int64] = []
        for index in 0..<events {
            let time = base + Int64(index) * step
            let metric = index % 2 == 0 ? "users" : "m"
            let input = context.input(event(time, 1_000_000, metric: metric, id: "e\(index)", subject: "user-\(index)"),
                                      offset: Int64(index))
            context.observe(input.event.time)
            _ = flow.process(input, context: &context)
            if index % 10_000 == 0 {
                for total in flow.takeEmissions(symbols: context.symbols, provisional: false) where total.key.metric == "users" {
                    distinctPerHour.append(total.quantity.micros / Quantity.unit)
                }
            }
            if time - base < hour { namesAfterFirstHour = context.symbols.count }
        }
        #expect(context.symbols.count == namesAfterFirstHour, "subjects must not be interned")
        #expect(flow.openWindowCount <= 2, "only the current hour's windows stay open")
        // Each closed hour counted its own distinct subjects exactly (every subject is new).
        #expect(distinctPerHour.count >= 22)
        #expect(distinctPerHour.allSatisfy { $0 >= 20_000 && $0 <= 21_000 })
    }
}
