// The in-process pipeline on one core: decode a CloudEvent from Kafka-record bytes -> validate -> deduplicate ->
// scope -> key by -> hourly window -> aggregate, for the large workload's records (`ferris-usage simulate --scenario
// large`: 2,000 tenants x 12 components x 4 metrics, hourly), pre-encoded and in the order one partition receives
// them. No broker involved. Also measures heap allocations per event (after a warm-up half) and the bytes the flow
// holds per open window key and per remembered event.
//
//   swift run -c release pipeline-throughput [EVENTS] [binary|structured] [stages|decode]
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
                                   hours: min(24, (count - records.count) / 96_000 + 1), mode: mode)
    for record in simulator.records(for: [.large]).prefix(count - records.count) {
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

/// Runs `stages` over `range` of the records; returns seconds, how many passed all stages, allocations.
@MainActor
func run<S: Stage>(_ stages: inout S, _ context: inout FlowContext, _ range: Range<Int>) -> (Double, Int, UInt64)
    where S.Input == IncomingRecord<Headers> {
    var passed = 0
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
                if case .next = stages.process(input, context: &context) { passed += 1 }
            }
        }
    }
    let elapsed = clock.now - began
    let allocated = malloc_counter_allocations() - allocations
    return (Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18, passed, allocated)
}

func rate(_ events: Int, _ seconds: Double) -> String {
    String(format: "%.0f events/s, %.0f ns/event", Double(events) / seconds, seconds * 1e9 / Double(events))
}

let topology = Topology.standard
let half = count / 2

if arguments.count > 3, arguments[3] == "decode" {
    // Decoding alone, ten rounds over the same records (for profiles).
    var decode = Flow { Decode<Headers>(policy: topology.policy) }
    var context = FlowContext()
    for _ in 0..<10 {
        let (seconds, _, allocations) = run(&decode, &context, 0..<count)
        print("  decode " + rate(count, seconds) + String(format: ", %.4f allocations/event", Double(allocations) / Double(count)))
    }
    exit(0)
}

if arguments.count > 3, arguments[3] == "stages" {
    // Where the time goes: each prefix of the flow on its own (second half, after a warm-up on the first).
    @MainActor func prefix<S: Stage>(_ name: String, _ stages: S) where S.Input == IncomingRecord<Headers> {
        var stages = stages
        var context = FlowContext()
        _ = run(&stages, &context, 0..<half)
        let (seconds, _, allocations) = run(&stages, &context, half..<count)
        print("  " + name.padding(toLength: 20, withPad: " ", startingAt: 0) + rate(count - half, seconds)
              + String(format: ", %.4f allocations/event", Double(allocations) / Double(count - half)))
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

// The whole flow over all records, timed in one pass; allocations counted over the second half.
var flow = topology.makeFlow(partition: "bench:0", headers: Headers.self)
var context = FlowContext()
let (firstSeconds, firstCounted, _) = run(&flow, &context, 0..<half)
let heldWindows = flow.second.openWindowCount, windowBytes = flow.second.openWindowBytes
let remembered = flow.first.first.first.second.remembered, dedupeBytes = flow.first.first.first.second.rememberedBytes
let (secondSeconds, secondCounted, allocations) = run(&flow, &context, half..<count)
let seconds = firstSeconds + secondSeconds, counted = firstCounted + secondCounted
let totals = flow.second.takeEmissions(symbols: context.symbols).count
print("pipeline-throughput: \(count) \(mode.rawValue)-mode events, \(counted) counted, \(totals) totals, "
      + String(format: "%.3f s, ", seconds) + rate(count, seconds))
print(String(format: "  allocations: %.4f per event over the second half (%llu for %d events)",
             Double(allocations) / Double(count - half), allocations, count - half))
print(String(format: "  memory at mid-run: %d open windows, %.0f B per open window key; %d remembered events, %.1f B per remembered event",
             heldWindows, Double(windowBytes) / Double(max(heldWindows, 1)), remembered,
             Double(dedupeBytes) / Double(max(remembered, 1))))
guard counted == count else {
    print("error: \(count - counted) events were not counted")
    exit(1)
}
