import Testing
import UsageSimulation
import UsageStages
import UsageStandard

func passes<T>(_ outcome: StageOutcome<T>) -> Bool { if case .next = outcome { return true } else { return false } }

@Suite("Operators")
struct OperatorTests {
    @Test("scope filter: the tag always applies; component and source-prefix rules name themselves")
    func scope() {
        var filter = ScopeFilter(rules: [.component(["databricks-link"]), .sourcePrefix(["/ferris/azure/"])])
        var context = FlowContext()
        #expect(filter.rules.first == .tag)
        #expect(passes(filter.process(context.input(event(base), offset: 0), context: &context)))
        var tagged = event(base, scope: .outOfScope)
        #expect(filter.process(context.input(tagged, offset: 0), context: &context) ~ .outOfScope(rule: "scope=out"))
        tagged = event(base)
        tagged.component = "databricks-link"
        #expect(filter.process(context.input(tagged, offset: 0), context: &context) ~ .outOfScope(rule: "component in [databricks-link]"))
        tagged = event(base)
        tagged.source = "/ferris/azure/team-gcp/x"
        #expect(filter.process(context.input(tagged, offset: 0), context: &context) ~ .outOfScope(rule: "source starts with [/ferris/azure/]"))
    }

    @Test("deduplicate: a repeat of tenant + source + id is dropped while its window is open; other tenants are separate")
    func deduplicate() {
        var dedupe = Deduplicate(graceMilliseconds: hour)
        var context = FlowContext()
        func run(_ e: UsageEvent) -> StageOutcome<OffsetEvent> {
            context.observe(e.time)
            return dedupe.process(context.input(e, offset: 0), context: &context)
        }
        #expect(passes(run(event(base, id: "x"))))
        #expect(run(event(base, 7, id: "x")) ~ .duplicate)
        #expect(passes(run(event(base, key: "other-tenant", id: "x"))))
        #expect(dedupe.remembered == 2)
        // Once the window has closed (end + grace), its ids are forgotten: memory stays bounded.
        #expect(passes(run(event(base + 2 * hour, id: "y"))))
        #expect(dedupe.remembered == 1)
        // Left out of a flow (`if` in `Flow`), every event passes.
        var off = OptionalStage<Deduplicate>(nil)
        #expect(passes(off.process(context.input(event(base, id: "x"), offset: 0), context: &context)))
        #expect(passes(off.process(context.input(event(base, id: "x"), offset: 1), context: &context)))
    }

    @Test("key by: left-out fields are accounted together as *")
    func keyBy() {
        var stage = KeyBy(KeyFields(instance: false, component: true))
        var context = FlowContext()
        guard case .next(let keyed) = stage.process(context.input(event(base), offset: 4), context: &context) else {
            Issue.record("not keyed")
            return
        }
        #expect(context.symbols[keyed.key] == UsageKey(tenant: "a", instance: "*", component: "c", metric: "m"))
        #expect(keyed.offset == 4)
    }

    @Test("decode: a valid record raises the watermark; an invalid or keyless one is rejected with its reason")
    func decode() {
        var stage = Decode<NoHeaders>(policy: .init())
        var context = FlowContext()
        let event = UsageEvent(id: "1", source: "/s", time: Timestamp(milliseconds: base), tenant: "t", instance: "i",
                               component: "c", metric: "requests", quantity: Quantity(micros: 1_000_000), unit: "Requests")
        for mode in CloudEventMode.allCases {
            let record = UsageEventEncoder.encode(event, mode: mode)
            let headers = Headers(list: record.headers)
            func process(key: [UInt8]?) -> StageOutcome<OffsetEvent> {
                var decode = Decode<Headers>(policy: .init())
                return withOptional(key) { key in
                    record.value.withUnsafeBytes { value in
                        decode.process(IncomingRecord(headers: headers, key: key, value: value, timestamp: nil, offset: 9), context: &context)
                    }
                }
            }
            // Without a key a valid event is refused, whichever decoder path takes it: a partial sum per partition
            // is never made.
            guard case .rejected(let error) = process(key: nil) else { Issue.record("a keyless \(mode) record was accepted"); continue }
            #expect(error.reason == .missingKey)
            #expect(error.problem.contains("'t'"))
            #expect(passes(process(key: Array("t".utf8))))
        }
        let good = UsageEventEncoder.encode(event, mode: .structured)
        let outcome = good.value.withUnsafeBytes { value in
            Array("t".utf8).withUnsafeBytes { key in
                stage.process(IncomingRecord(headers: NoHeaders(structured: true), key: key, value: value, timestamp: nil, offset: 9),
                              context: &context)
            }
        }
        #expect(passes(outcome))
        #expect(context.watermark?.milliseconds == base)
        let bad = Array("nope".utf8).withUnsafeBytes { value in
            stage.process(IncomingRecord(headers: NoHeaders(structured: true), key: nil, value: value, timestamp: nil, offset: 10),
                          context: &context)
        }
        guard case .rejected(let error) = bad else { Issue.record("accepted"); return }
        #expect(error.reason == .malformedJSON)
    }
}

/// Structured-mode headers, or none.
struct NoHeaders: CloudEventHeaderSource {
    var structured = false
    func forEachHeader(_ body: (UnsafeRawBufferPointer, UnsafeRawBufferPointer?) -> Void) {
        if structured { StructuredModeHeaders().forEachHeader(body) }
    }
}

infix operator ~: ComparisonPrecedence
/// Whether an outcome is the given drop.
func ~ <T>(outcome: StageOutcome<T>, drop: Drop) -> Bool {
    if case .dropped(let actual) = outcome { return actual == drop }
    return false
}

@Suite("Composition")
struct CompositionTests {
    @Test("stages compose with the builder; a Map enriches events on the way")
    func builder() {
        var flow = Flow {
            Map<OffsetEvent, OffsetEvent> { input, symbols in
                var enriched = input
                // Derive the provider from a source such as /ferris/<provider>/<instance>/<component>.
                enriched.event.provider = symbols[input.event.source].split(separator: "/").first.map { symbols.intern(String($0)) }
                return enriched
            }
            ScopeFilter(rules: [.component(["databricks-link"])])
            KeyBy(.standard)
            WindowAggregator(partition: "t:0", graceMilliseconds: hour)
        }
        var context = FlowContext()
        var e = event(base)
        e.source = "onprem/i/c"
        context.observe(e.time)
        #expect(passes(flow.process(context.input(e, offset: 0), context: &context)))
        e.component = "databricks-link"
        #expect(flow.process(context.input(e, offset: 1), context: &context) ~ .outOfScope(rule: "component in [databricks-link]"))
        let totals = flow.second.takeEmissions(symbols: context.symbols)
        #expect(totals.map(\.provider) == ["onprem"])
        #expect(totals.map(\.eventCount) == [1])
    }
}

extension FlowContext {
    /// `event` as a stage input, its names interned in this context.
    mutating func input(_ event: UsageEvent, offset: Int64) -> OffsetEvent {
        OffsetEvent(event, offset: offset, symbols: &symbols)
    }
}
