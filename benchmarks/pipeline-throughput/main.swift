// The in-process pipeline on one core: decode a CloudEvent from Kafka-record bytes -> validate -> deduplicate ->
// scope -> key by -> hourly window -> aggregate, for the large workload's records (`ferris-usage simulate --scenario
// large`: 2,000 tenants x 12 components x 4 metrics, hourly), pre-encoded and in the order one partition receives
// them. No broker involved. Also measures heap allocations per event (after a warm-up half) and the bytes the flow
// holds per open window key and per remembered event.
//
//   swift run -c release pipeline-throughput [EVENTS] [binary|structured] [flow|stages|decode|memory] [seeds]
import Foundation
import MallocCounter
import UsageSimulation
import UsageStages
import UsageStandard
import UsageTopology

/// Where one header's name and value lie in the record buffer.
struct HeaderSpan {
    var name: Range<Int>
    var value: Range<Int>
}

/// A record's headers, borrowed from the record buffer the way a Kafka record serves them.
struct Headers: CloudEventHeaderSource {
    let buffer: UnsafeRawBufferPointer
    let spans: UnsafeBufferPointer<HeaderSpan>

    func forEachHeader(_ body: (UnsafeRawBufferPointer, UnsafeRawBufferPointer?) -> Void) {
        for span in spans {
            body(UnsafeRawBufferPointer(rebasing: buffer[span.name]), UnsafeRawBufferPointer(rebasing: buffer[span.value]))
        }
    }
}

/// Where one record lies in the record buffer.
struct RecordSpan {
    var headers: Range<Int>
    var key: Range<Int>
    var value: Range<Int>
    var timestamp: Timestamp
}

let arguments = CommandLine.arguments
let count = arguments.count > 1 ? Int(arguments[1]) ?? 1_000_000 : 1_000_000
let mode = arguments.count > 2 ? CloudEventMode(rawValue: arguments[2]) ?? .binary : .binary
/// `seeds`: the three seed scenarios (a few dozen keys, twelve events per key and hour) instead of the large workload.
let seeds = arguments.contains("seeds")
let what = arguments.count > 3 ? arguments[3] : "flow"
let start = Timestamp(milliseconds: 1_795_564_800_000)  // 2026-11-25T00:00:00Z

// The large workload's first `count` records in delivery order (one day has 2,304,000; more days when asked),
// encoded one after the other in one buffer, as a consumer's fetch buffer holds them.
var buffer: [UInt8] = []
var headerSpans: [HeaderSpan] = []
var records: [RecordSpan] = []
records.reserveCapacity(count)
var day = 0
while records.count < count {
    let simulator = UsageSimulator(seed: 42, start: Timestamp(milliseconds: start.milliseconds + Int64(day) * 86_400_000),
                                   hours: seeds ? 24 : min(24, (count - records.count) / 96_000 + 1), mode: mode)
    // One partition's view: every instance's events side by side in time (the seed scenarios' instances each have a
    // topic of their own, so the simulator lists them one after the other).
    let dayRecords = seeds ? simulator.records(for: Scenario.all).enumerated()
        .sorted { ($0.element.event.time, $0.offset) < ($1.element.event.time, $1.offset) }.map(\.element)
        : simulator.records(for: [.large])
    for record in dayRecords.prefix(count - records.count) {
        let encoded = UsageEventEncoder.encode(record.event, mode: mode)
        let firstHeader = headerSpans.count
        func append(_ bytes: some Collection<UInt8>) -> Range<Int> {
            let start = buffer.count
            buffer.append(contentsOf: bytes)
            return start..<buffer.count
        }
        for header in encoded.headers {
            headerSpans.append(HeaderSpan(name: append(header.name.utf8), value: append(header.value.utf8)))
        }
        records.append(RecordSpan(headers: firstHeader..<headerSpans.count, key: append(record.key.utf8),
                                  value: append(encoded.value),
                                  timestamp: Timestamp(milliseconds: record.event.time.milliseconds + 60_000)))
    }
    day += 1
}

/// What one pass over a range of records did.
struct Pass {
    var seconds: Double
    var passed = 0
    var rejected = 0
    var allocations: UInt64 = 0
}

/// Runs `stages` over `range` of the records; `batch` is called after every 4,096 records (a poll batch) with the
/// number of records so far, as the service emits closed windows after each batch.
@MainActor
func run<S: Stage>(_ stages: inout S, _ context: inout FlowContext, _ range: Range<Int>,
                   batch: (inout S, inout FlowContext, Int) -> Void = { _, _, _ in }) -> Pass
    where S.Input == IncomingRecord<Headers> {
    var pass = Pass(seconds: 0)
    let allocations = malloc_counter_allocations()
    let clock = ContinuousClock()
    let began = clock.now
    buffer.withUnsafeBytes { bytes in
        headerSpans.withUnsafeBufferPointer { spans in
            for offset in range {
                let record = records[offset]
                let input = IncomingRecord(headers: Headers(buffer: bytes, spans: UnsafeBufferPointer(rebasing: spans[record.headers])),
                                           key: UnsafeRawBufferPointer(rebasing: bytes[record.key]),
                                           value: UnsafeRawBufferPointer(rebasing: bytes[record.value]),
                                           timestamp: record.timestamp, offset: Int64(offset))
                switch stages.process(input, context: &context) {
                case .next: pass.passed += 1
                case .dropped: break
                case .rejected: pass.rejected += 1
                }
                if offset % 4096 == 4095 { batch(&stages, &context, offset + 1) }
            }
        }
    }
    let elapsed = clock.now - began
    pass.allocations = malloc_counter_allocations() - allocations
    pass.seconds = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
    return pass
}

func rate(_ events: Int, _ seconds: Double) -> String {
    String(format: "%.0f events/s, %.0f ns/event", Double(events) / seconds, seconds * 1e9 / Double(events))
}

let topology = Topology.standard
let half = count / 2

if what == "decode" {
    // Decoding alone, ten rounds over the same records (for profiles).
    var decode = Flow { Decode<Headers>(policy: topology.policy) }
    var context = FlowContext()
    for _ in 0..<10 {
        let pass = run(&decode, &context, 0..<count)
        print("  decode " + rate(count, pass.seconds) + String(format: ", %.4f allocations/event", Double(pass.allocations) / Double(count)))
    }
    exit(0)
}

if what == "memory" {
    // Heap bytes (glibc's in-use count) held per open window key, per remembered event and by the name table, for
    // the first `count` records (one window per key and hour) and 1,000,000 distinct events.
    func heapInUse() -> Int { Int(malloc_counter_heap_in_use()) }
    var context = FlowContext()
    var decode = Flow {
        Decode<Headers>(policy: topology.policy)
        ScopeFilter(rules: topology.scope)
        KeyBy(topology.key)
    }
    var keyed: [KeyedEvent] = []
    keyed.reserveCapacity(count)
    let heapBeforeNames = heapInUse()
    buffer.withUnsafeBytes { bytes in
        headerSpans.withUnsafeBufferPointer { spans in
            for (offset, record) in records.enumerated() {
                let input = IncomingRecord(headers: Headers(buffer: bytes, spans: UnsafeBufferPointer(rebasing: spans[record.headers])),
                                           key: UnsafeRawBufferPointer(rebasing: bytes[record.key]),
                                           value: UnsafeRawBufferPointer(rebasing: bytes[record.value]),
                                           timestamp: record.timestamp, offset: Int64(offset))
                if case .next(let event) = decode.process(input, context: &context) { keyed.append(event) }
            }
        }
    }
    let nameBytes = heapInUse() - heapBeforeNames

    let heapBeforeWindows = heapInUse()
    var windows = WindowAggregator(partition: "bench:0", windows: topology.windows, graceMilliseconds: topology.window.graceMilliseconds)
    for event in keyed { _ = windows.process(event, context: &context) }
    let windowBytes = heapInUse() - heapBeforeWindows

    var dedupe = Deduplicate(windows: topology.windows, graceMilliseconds: topology.window.graceMilliseconds)
    var rng = SystemRandomNumberGenerator()
    let remembered = 1_000_000
    let heapBeforeDedupe = heapInUse()
    if let first = keyed.first {
        for _ in 0..<remembered {
            var event = OffsetEvent(first.event, offset: first.offset)
            event.event.identity = EventIdentity(high: rng.next(), low: rng.next())
            _ = dedupe.process(event, context: &context)
        }
    }
    let dedupeBytes = heapInUse() - heapBeforeDedupe
    print("memory: \(windows.openWindowCount) open window keys: \(windowBytes / max(windows.openWindowCount, 1)) B per key on the heap;"
          + " names: \(context.symbols.count) in \(nameBytes / 1024) KiB;"
          + String(format: " deduplication: %.1f B per remembered event (%d events)", Double(dedupeBytes) / Double(dedupe.remembered), dedupe.remembered))
    exit(0)
}

if what == "stages" {
    // Where the time goes: each prefix of the flow on its own (second half, after a warm-up on the first).
    @MainActor func prefix<S: Stage>(_ name: String, _ stages: S) where S.Input == IncomingRecord<Headers> {
        var stages = stages
        var context = FlowContext()
        _ = run(&stages, &context, 0..<half)
        let pass = run(&stages, &context, half..<count)
        print("  " + name.padding(toLength: 20, withPad: " ", startingAt: 0) + rate(count - half, pass.seconds)
              + String(format: ", %.4f allocations/event", Double(pass.allocations) / Double(count - half)))
    }
    prefix("decode", Flow { Decode<Headers>(policy: topology.policy) })
    prefix("+ deduplicate", Flow {
        Decode<Headers>(policy: topology.policy)
        Deduplicate(windows: topology.windows, graceMilliseconds: topology.window.graceMilliseconds)
    })
    prefix("+ scope + key by", Flow {
        Decode<Headers>(policy: topology.policy)
        Deduplicate(windows: topology.windows, graceMilliseconds: topology.window.graceMilliseconds)
        ScopeFilter(rules: topology.scope)
        KeyBy(topology.key)
    })
}

// The whole flow over all records, emitting as the service does: final totals of closed windows after every batch,
// provisional totals every 262,144 records (about a commit interval at these rates). Timed over all records;
// allocations counted over the second half (the first warms the name table and the window tables up).
var flow = topology.makeFlow(partition: "bench:0", headers: Headers.self)
var context = FlowContext()
var emitted = 0
@MainActor func emit(_ flow: inout some EmittingStage, _ context: inout FlowContext, _ done: Int) {
    emitted += flow.takeEmissions(symbols: context.symbols, provisional: done % 262_144 == 0).count
}
let first = run(&flow, &context, 0..<half, batch: emit)
let second = run(&flow, &context, half..<count, batch: emit)
let seconds = first.seconds + second.seconds, counted = first.passed + second.passed
emitted += flow.takeEmissions(symbols: context.symbols, provisional: true).count
print("pipeline-throughput: \(count) \(mode.rawValue)-mode events (\(seeds ? "seed scenarios" : "large workload")), \(counted) counted, \(emitted) totals, "
      + String(format: "%.3f s, ", seconds) + rate(count, seconds))
print(String(format: "  allocations: %.4f per event over the second half (%llu for %d events, emission included)",
             Double(second.allocations) / Double(count - half), second.allocations, count - half))
guard first.rejected + second.rejected == 0 else {
    print("error: \(first.rejected + second.rejected) events were rejected")
    exit(1)
}
