import Testing
import UsageCollector
import UsageStandard

let minute: Int64 = 60_000
let t0: Int64 = 1_795_600_020_000 - 1_795_600_020_000 % 3_600_000  // an hour start

func samples(_ points: [(Int64, String)]) -> [Sample] {
    points.map { Sample(time: t0 + $0.0, pico: Sample.pico(Substring($0.1)) ?? -1) }
}

let instance = InstanceDescription(
    id: "team-gcp", tenant: "team-analytics", provider: "gcp", cluster: "gke", namespaces: ["ferris-team"],
    components: ["kafka", "keycloak", "jupyterhub"],
    links: [LinkedSystem(name: "azure-databricks", component: "databricks-link", provider: "azure", accounted: false)])

func configuration(_ metrics: [MetricQuery], allocation: AllocationPolicy = .max) -> CollectorConfiguration {
    var config = CollectorConfiguration()
    config.metrics = metrics
    config.allocation = allocation
    config.components = ComponentRules(labels: ["component", "label_app_kubernetes_io_name", "pod"],
                                       names: [NameRule(pattern: "kafka(-.*)?", component: "kafka"),
                                               NameRule(pattern: "jupyter-.+", component: "jupyterhub")])
    return config
}

let cpu = MetricQuery(metric: "cpu_core_seconds", kind: .counter, selector: "cpu", unit: .seconds,
                      requestSelector: "requests", requestUnit: .cores)
let memory = MetricQuery(metric: "memory_gib_hours", kind: .gauge, selector: "memory", unit: .bytes)

@Suite struct SampleValues {
    @Test(arguments: [("12.5", Int128(12_500_000_000_000)), ("1.5e+09", 1_500_000_000_000_000_000_000), ("0", 0),
                      ("1e-12", 1), ("4e-13", 0), ("5e-13", 1), ("-2", -2_000_000_000_000),
                      ("123456.123456789012345", 123_456_123_456_789_012)])
    func parse(_ text: String, _ pico: Int128) {
        #expect(Sample.pico(Substring(text)) == pico)
    }

    @Test(arguments: ["NaN", "+Inf", "-Inf", "", "1e", "abc", "1.2.3", "1e400"])
    func refuse(_ text: String) {
        #expect(Sample.pico(Substring(text)) == nil)
    }
}

@Suite struct CounterIncrements {
    let micro: Int128 = 1_000_000

    @Test func incrementsBetweenBoundariesFromRawSamples() {
        // Baseline 10 s before the interval, samples inside, one at the end (belongs to the next interval).
        let series = samples([(-10_000, "100"), (5_000, "101.5"), (35_000, "103"), (minute, "110")])
        #expect(IntervalUsage.counterIncrement(series, start: t0, end: t0 + minute, divisor: micro) == 3_000_000)
        #expect(IntervalUsage.counterIncrement(series, start: t0 + minute, end: t0 + 2 * minute, divisor: micro) == 7_000_000)
    }

    @Test func aResetCountsTheNewValue() {
        let series = samples([(0, "50"), (20_000, "58"), (40_000, "3"), (50_000, "4.25")])
        // 8 before the restart, 3 after it from zero, then 1.25.
        #expect(IntervalUsage.counterIncrement(series, start: t0, end: t0 + minute, divisor: micro) == 12_250_000)
    }

    @Test func aSeriesFirstSampleIsItsBaseline() {
        let series = samples([(10_000, "1000"), (40_000, "1002")])
        #expect(IntervalUsage.counterIncrement(series, start: t0, end: t0 + minute, divisor: micro) == 2_000_000)
    }

    @Test func consecutiveIntervalsAddUpToTheWholeIncrease() {
        // Irregular scrapes, a gap across two intervals, values with many decimals.
        let series = samples([(-7_000, "0.1234567"), (3_100, "0.9876543"), (64_000, "2.0000001"), (190_000, "2.5"),
                              (200_000, "0.0000004"), (299_999, "7.3333333")])
        var total: Int128 = 0
        for index in Int64(0)..<5 {
            total += IntervalUsage.counterIncrement(series, start: t0 + index * minute, end: t0 + (index + 1) * minute, divisor: micro)
        }
        // In micro-units per sample: 0.123457 -> 2.5 is 2.376543, then the reset adds 0 and 7.333333.
        #expect(total == 2_376_543 + 0 + 7_333_333)
    }
}

@Suite struct GaugeIntegrals {
    @Test func stepFunctionOverTheInterval() {
        // 2 until 30 s, then 4 (the sample before the interval holds from the start).
        let series = samples([(-5_000, "2"), (30_000, "4")])
        #expect(IntervalUsage.gaugeIntegral(series, start: t0, end: t0 + minute, stale: 300_000)
                == Int128(2_000_000_000_000) * 30_000 + Int128(4_000_000_000_000) * 30_000)
    }

    @Test func aSampleHoldsAtMostTheStaleTime() {
        let series = samples([(0, "1")])
        #expect(IntervalUsage.gaugeIntegral(series, start: t0, end: t0 + minute, stale: 20_000) == Int128(1_000_000_000_000) * 20_000)
    }

    @Test func memoryInGiBHours() {
        // 1 GiB held for a whole minute = 1/60 GiB-hour = 0.016667 (rounded half up).
        let input = IntervalInput(instance: instance, start: t0, end: t0 + minute, usage: [
            "memory_gib_hours": [Series(labels: ["component": "kafka"], samples: samples([(-1_000, "1073741824")]))],
        ])
        let output = IntervalUsage.events(input, configuration: configuration([memory]))
        #expect(output.events.map(\.quantity) == [Quantity(micros: 16_667)])
        #expect(output.events.first?.unit == "GiB-Hours")
    }
}

@Suite struct IntervalEvents {
    func cpuInput() -> IntervalInput {
        IntervalInput(instance: instance, start: t0, end: t0 + minute, usage: [
            "cpu_core_seconds": [
                // kafka-0 used 3 core-seconds and requested 0.25 cores (15 core-seconds a minute).
                Series(labels: ["namespace": "ferris-team", "pod": "kafka-0", "container": "kafka"],
                       samples: samples([(-1_000, "10"), (59_000, "13")])),
                // keycloak used 30 core-seconds, requested 0.1 cores (6 core-seconds).
                Series(labels: ["namespace": "ferris-team", "pod": "kc-0", "container": "keycloak"],
                       samples: samples([(-1_000, "0"), (59_000, "30")])),
                // the Databricks connector, mapped by its component label.
                Series(labels: ["namespace": "ferris-team", "pod": "dbx-0", "component": "databricks-link"],
                       samples: samples([(-1_000, "0"), (59_000, "1")])),
                // nothing maps this one.
                Series(labels: ["namespace": "ferris-team", "pod": "sidecar-0"], samples: samples([(-1_000, "0"), (59_000, "2")])),
            ],
        ], requests: [
            "cpu_core_seconds": [
                Series(labels: ["namespace": "ferris-team", "pod": "kafka-0", "container": "kafka"], samples: samples([(-30_000, "0.25")])),
                Series(labels: ["namespace": "ferris-team", "pod": "kc-0", "container": "keycloak"], samples: samples([(-30_000, "0.1")])),
            ],
        ], podLabels: [Series(labels: ["namespace": "ferris-team", "pod": "kc-0", "label_app_kubernetes_io_name": "keycloak"], samples: [])])
    }

    func quantities(_ output: IntervalOutput) -> [String: Int64] {
        Dictionary(uniqueKeysWithValues: output.events.map { ($0.component, $0.quantity.micros) })
    }

    @Test func allocationPolicies() {
        #expect(quantities(IntervalUsage.events(cpuInput(), configuration: configuration([cpu], allocation: .usage)))
                == ["kafka": 3_000_000, "keycloak": 30_000_000, "databricks-link": 1_000_000, "other": 2_000_000])
        #expect(quantities(IntervalUsage.events(cpuInput(), configuration: configuration([cpu], allocation: .request)))
                == ["kafka": 15_000_000, "keycloak": 6_000_000, "databricks-link": 0, "other": 0])
        #expect(quantities(IntervalUsage.events(cpuInput(), configuration: configuration([cpu], allocation: .max)))
                == ["kafka": 15_000_000, "keycloak": 30_000_000, "databricks-link": 1_000_000, "other": 2_000_000])
    }

    @Test func eventsFollowTheStandard() throws {
        let output = IntervalUsage.events(cpuInput(), configuration: configuration([cpu]))
        let kafka = try #require(output.events.first { $0.component == "kafka" })
        #expect(kafka.id == "team-gcp/kafka/cpu_core_seconds/\(Timestamp(milliseconds: t0).rfc3339)")
        #expect(kafka.source == "/ferris/gcp/team-gcp/kafka")
        #expect(kafka.time == Timestamp(milliseconds: t0))
        #expect(kafka.tenant == "team-analytics" && kafka.instance == "team-gcp" && kafka.provider == "gcp")
        #expect(kafka.unit == "Core-Seconds" && kafka.scope == .billable)
        // A link that is not accounted: reported, tagged out of scope.
        #expect(output.events.first { $0.component == "databricks-link" }?.scope == .outOfScope)
    }

    @Test func unmappedSeriesAreSkippedWhenConfigured() {
        var config = configuration([cpu], allocation: .usage)
        config.components.unmapped = nil
        let output = IntervalUsage.events(cpuInput(), configuration: config)
        #expect(output.unmappedSeries == 1)
        #expect(!output.events.contains { $0.component == "other" })
    }

    @Test func sessionHoursFromRunningPods() {
        let query = MetricQuery(metric: "session_hours", kind: .gauge, selector: "kube_pod_status_phase", unit: .count)
        let input = IntervalInput(instance: instance, start: t0, end: t0 + minute, usage: ["session_hours": [
            Series(labels: ["pod": "jupyter-alice"], samples: samples([(-1_000, "1")])),
            Series(labels: ["pod": "jupyter-bob"], samples: samples([(-1_000, "0"), (30_000, "1")])),
        ]])
        // 1 minute + 30 seconds = 0.025 hours.
        #expect(IntervalUsage.events(input, configuration: configuration([query])).events.map(\.quantity) == [Quantity(micros: 25_000)])
    }
}
