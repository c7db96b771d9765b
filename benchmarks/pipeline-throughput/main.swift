// The in-process pipeline on one core: decode a CloudEvent from Kafka-record bytes -> validate -> deduplicate ->
// scope -> key by -> hourly window -> aggregate, for pre-encoded records (no broker involved).
//
//   swift run -c release pipeline-throughput [EVENTS] [binary|structured] [stages|decode]
import Foundation
import UsageSimulation
import UsageStages
import UsageStandard
import UsageTopology

/// Pre-encoded record headers, served the way a Kafka record serves them (borrowed bytes).
struct Headers: CloudEventHeaderSource {
    let names: [[UInt8]]
    let values: [[UInt8]]

    func forEachHeader(_ body: (UnsafeRawBufferPointer, UnsafeRawBufferPointer?) -> Void) {
        for index in names.indices {
            names[index].withUnsafeBytes { name in values[index].withUnsafeBytes { body(name, $0) } }
        }
    }
}

struct Encoded {
    var headers: Headers
    var key: [UInt8]
    var value: [UInt8]
}

let arguments = CommandLine.arguments
let count = arguments.count > 1 ? Int(arguments[1]) ?? 1_000_000 : 1_000_000
let mode = arguments.count > 2 ? CloudEventMode(rawValue: arguments[2]) ?? .binary : .binary

// The large workload shape: many tenants, 12 components, 4 metrics, hourly samples over a day.
let start = Timestamp(milliseconds: 1_795_564_800_000)  // 2026-11-25T00:00:00Z
var rng = SplitMix64(seed: 1)
let metrics = [("cpu_core_seconds", "Core-Seconds"), ("memory_gib_hours", "GiB-Hours"),
               ("storage_gib_hours", "GiB-Hours"), ("requests", "Requests")]
var records: [Encoded] = []
records.reserveCapacity(count)
for index in 0..<count {
    let tenant = "tenant-\(index % 2_000)"
    let metric = metrics[index % metrics.count]
    let event = UsageEvent(id: "e-\(index)", source: "/ferris/gcp/\(tenant)/component-\(index / 2_000 % 12)",
                           time: Timestamp(milliseconds: start.milliseconds + Int64(index) * 86_400_000 / Int64(count)),
                           tenant: tenant, instance: "\(tenant)-gcp", component: "component-\(index / 2_000 % 12)",
                           metric: metric.0, quantity: Quantity(micros: Int64(rng.next() % 100_000_000)), unit: metric.1)
    let encoded = UsageEventEncoder.encode(event, mode: mode)
    records.append(Encoded(headers: Headers(names: encoded.headers.map { Array($0.name.utf8) },
                                            values: encoded.headers.map { Array($0.value.utf8) }),
                           key: Array(tenant.utf8), value: encoded.value))
}

let recordTime = Timestamp(milliseconds: start.milliseconds + 86_400_000)

/// Times `stages` over every record; returns seconds and how many passed all stages.
@MainActor
func time<S: Stage>(_ stages: inout S) -> (Double, Int) where S.Input == IncomingRecord<Headers> {
    var context = FlowContext()
    var passed = 0
    let clock = ContinuousClock()
    let began = clock.now
    for (offset, record) in records.enumerated() {
        let outcome = record.key.withUnsafeBytes { key in
            record.value.withUnsafeBytes { value in
                stages.process(IncomingRecord(headers: record.headers, key: key, value: value, timestamp: recordTime,
                                              offset: Int64(offset)), context: &context)
            }
        }
        if case .next = outcome { passed += 1 }
    }
    let elapsed = clock.now - began
    return (Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18, passed)
}

if arguments.count > 3, arguments[3] == "decode" {
    var decode = Flow { Decode<Headers>(policy: Topology.standard.policy) }
    for _ in 0..<5 {
        let seconds = time(&decode).0
        print(String(format: "  decode only: %.0f ns/event", seconds * 1e9 / Double(count)))
    }
    exit(0)
}

if arguments.count > 3, arguments[3] == "stages" {
    // Where the time goes: each prefix of the flow on its own.
    let topology = Topology.standard
    var decode = Flow { Decode<Headers>(policy: topology.policy) }
    var dedupe = Flow {
        Decode<Headers>(policy: topology.policy)
        Deduplicate(windows: topology.windows, graceMilliseconds: topology.window.graceMilliseconds)
    }
    var keyed = Flow {
        Decode<Headers>(policy: topology.policy)
        Deduplicate(windows: topology.windows, graceMilliseconds: topology.window.graceMilliseconds)
        ScopeFilter(rules: topology.scope)
        KeyBy(topology.key)
    }
    for (name, seconds) in [("decode", time(&decode).0), ("+ deduplicate", time(&dedupe).0), ("+ scope + key by", time(&keyed).0)] {
        print(String(format: "  %-18@ %.0f ns/event", name as NSString, seconds * 1e9 / Double(count)))
    }
}

var flow = Topology.standard.makeFlow(partition: "bench:0", headers: Headers.self)
let (seconds, counted) = time(&flow)
let totals = flow.second.takeEmissions().count
print("pipeline-throughput: \(count) \(mode.rawValue)-mode events, \(counted) counted, \(totals) totals, "
      + String(format: "%.3f s, %.0f events/s, %.0f ns/event", seconds, Double(count) / seconds, seconds * 1e9 / Double(count)))
guard counted == count else {
    print("error: \(count - counted) events were not counted")
    exit(1)
}
