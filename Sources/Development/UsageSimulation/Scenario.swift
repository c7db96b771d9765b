import UsageStandard

/// A metric a simulated component reports, with its unit and a typical amount per 5-minute sample.
public struct SimulatedMetric: Sendable {
    /// Metric name.
    public var name: String
    /// Unit.
    public var unit: String
    /// Typical quantity per sample (the simulator varies it by up to ±50 %).
    public var typical: Double
    /// Whether quantities are whole numbers (counts such as requests).
    public var whole = false
}

/// A component of a simulated instance.
public struct SimulatedComponent: Sendable {
    /// Component name (e.g. `kafka`, `jupyterhub`).
    public var name: String
    /// Metrics it reports.
    public var metrics: [SimulatedMetric]
    /// Out-of-scope components (a linked external system) tag their events `scope: out`.
    public var scope: UsageScope = .billable
}

/// A simulated ferrisDX instance: one event topic.
public struct SimulatedInstance: Sendable {
    /// Instance id, also the topic suffix.
    public var name: String
    /// Where it runs: `gcp`, `azure`, `onprem`.
    public var provider: String
    /// The billed tenant.
    public var tenant: String
    /// Its components.
    public var components: [SimulatedComponent]
    /// The event topic when instances share one (a fleet); nil = its own, `ferris.events.<name>`.
    public var sharedTopic: String? = nil

    /// The instance's event topic.
    public var topic: String { sharedTopic ?? "ferris.events.\(name)" }
}

/// A simulated set-up: the three seed scenarios, and a large fleet for benchmarks.
public struct Scenario: Sendable {
    /// Short id used on the command line.
    public var id: String
    /// What it models.
    public var summary: String
    /// Its instances.
    public var instances: [SimulatedInstance]
    /// Events per metric and hour when the scenario fixes it (else the simulator's setting).
    public var samplesPerHour: Int? = nil

    static let cpu = SimulatedMetric(name: "cpu_core_seconds", unit: "Core-Seconds", typical: 60)
    static let memory = SimulatedMetric(name: "memory_gib_hours", unit: "GiB-Hours", typical: 0.25)
    static let storage = SimulatedMetric(name: "storage_gib_hours", unit: "GiB-Hours", typical: 2)
    static let requests = SimulatedMetric(name: "requests", unit: "Requests", typical: 40, whole: true)
    static let sessions = SimulatedMetric(name: "session_hours", unit: "Hours", typical: 0.08)
    static let queries = SimulatedMetric(name: "queries", unit: "Queries", typical: 12, whole: true)
    static let scanned = SimulatedMetric(name: "scanned_gib", unit: "GiB", typical: 3.5)

    static func base() -> [SimulatedComponent] {
        [
            SimulatedComponent(name: "argocd", metrics: [cpu, memory]),
            SimulatedComponent(name: "consul", metrics: [cpu, memory]),
            SimulatedComponent(name: "minio", metrics: [cpu, memory, storage, requests]),
            SimulatedComponent(name: "kafka", metrics: [cpu, memory, storage]),
            SimulatedComponent(name: "postgresql", metrics: [cpu, memory, storage]),
            SimulatedComponent(name: "keycloak", metrics: [cpu, memory, requests]),
            SimulatedComponent(name: "vault", metrics: [cpu, memory, requests]),
            SimulatedComponent(name: "ferris-ui", metrics: [cpu, memory, requests]),
        ]
    }

    /// 1. A single-user minimum setup on GCP.
    public static let singleUserGCP = Scenario(
        id: "single-user-gcp", summary: "single-user minimum setup on GCP",
        instances: [SimulatedInstance(name: "solo-gcp", provider: "gcp", tenant: "solo", components: base())])

    /// 2. A team setup linked to an Azure Databricks cluster whose usage is out of scope.
    public static let teamDatabricks = Scenario(
        id: "team-databricks", summary: "team setup on GCP linked to an Azure Databricks cluster (not accounted)",
        instances: [SimulatedInstance(name: "team-gcp", provider: "gcp", tenant: "team-analytics",
                                      components: base() + [SimulatedComponent(name: "databricks-link", metrics: [cpu, requests],
                                                                               scope: .outOfScope)])])

    /// 3. A hybrid setup: an on-prem instance with IDEs and a GCP instance with JupyterHub and Presto.
    public static let hybrid = Scenario(
        id: "hybrid-onprem-gcp", summary: "hybrid on-prem + GCP setup with IDEs, JupyterHub and Presto",
        instances: [
            SimulatedInstance(name: "hybrid-onprem", provider: "onprem", tenant: "hybrid-corp",
                              components: base() + [SimulatedComponent(name: "theia-ide", metrics: [cpu, memory, storage, sessions])]),
            SimulatedInstance(name: "hybrid-gcp", provider: "gcp", tenant: "hybrid-corp",
                              components: base() + [SimulatedComponent(name: "jupyterhub", metrics: [cpu, memory, storage, sessions]),
                                                    SimulatedComponent(name: "presto", metrics: [cpu, memory, queries, scanned])]),
        ])

    /// All seed scenarios.
    public static let all = [singleUserGCP, teamDatabricks, hybrid]

    /// The benchmarks' large workload: 2,000 tenants, each with one instance of 12 components reporting 4 metrics
    /// once an hour (2,304,000 events a day), on one shared topic `ferris.events.fleet`.
    public static let large: Scenario = {
        let metrics = [cpu, memory, storage, requests]
        let components = ["argocd", "consul", "minio", "kafka", "postgresql", "keycloak", "vault", "ferris-ui",
                          "elastic", "jupyterhub", "presto", "theia-ide"]
            .map { SimulatedComponent(name: $0, metrics: metrics) }
        let providers = ["gcp", "azure", "onprem"]
        let instances = (1...2_000).map { index in
            let tenant = "tenant-\(String(index + 10_000).dropFirst())"
            return SimulatedInstance(name: "\(tenant)-\(providers[index % 3])", provider: providers[index % 3], tenant: tenant,
                                     components: components, sharedTopic: "ferris.events.fleet")
        }
        return Scenario(id: "large", summary: "2,000 tenants x 12 components x 4 metrics, hourly, on one shared topic",
                        instances: instances, samplesPerHour: 1)
    }()

    /// The benchmarks' per-minute workload, as usage collectors report: 200 tenants, each with one instance of 12
    /// components reporting 4 metrics once a minute (9,600 keys, 60 events per key and hour: 576,000 events an hour),
    /// on one shared topic `ferris.events.fleet-minutes`.
    public static let perMinute: Scenario = {
        var scenario = large
        scenario.id = "per-minute"
        scenario.summary = "200 tenants x 12 components x 4 metrics, every minute, on one shared topic"
        scenario.instances = Array(large.instances.prefix(200)).map { instance in
            var moved = instance
            moved.sharedTopic = "ferris.events.fleet-minutes"
            return moved
        }
        scenario.samplesPerHour = 60
        return scenario
    }()

    /// The scenario with `id` (a seed scenario, `large` or `per-minute`), if any.
    public static func named(_ id: String) -> Scenario? { (all + [large, perMinute]).first { $0.id == id } }
}
