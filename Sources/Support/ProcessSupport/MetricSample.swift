/// One Prometheus sample a part of a process reports: the only sample type of the project's metrics. The process's
/// exposition adds its namespace prefix (`ferris_usage_`, `ferris_collect_`).
public struct MetricSample: Sendable, Equatable {
    /// The metric name without prefix; a counter without the `_total` suffix (the exposition adds it), e.g. `export_failures`.
    public var name: String
    /// Its help text.
    public var help: String
    /// A counter (reported as a running total) rather than a gauge.
    public var isCounter: Bool
    /// The value.
    public var value: Double

    /// Creates a sample.
    public init(name: String, help: String, isCounter: Bool, value: Double) {
        self.name = name
        self.help = help
        self.isCounter = isCounter
        self.value = value
    }
}

/// Another part of a process (e.g. the FOCUS export schedule next to the accounting) that reports on `/readyz` and
/// `/metrics`. The probes know nothing else about it.
public struct ProbeContributor: Sendable {
    /// Why the process should count as not ready, nil while this part is fine.
    public var notReadyReason: @Sendable () -> String?
    /// A line for the `/readyz` body saying what this part is doing.
    public var summary: @Sendable () -> String
    /// Its current samples.
    public var samples: @Sendable () -> [MetricSample]

    /// Creates a contributor.
    public init(notReadyReason: @escaping @Sendable () -> String?, summary: @escaping @Sendable () -> String,
                samples: @escaping @Sendable () -> [MetricSample]) {
        self.notReadyReason = notReadyReason
        self.summary = summary
        self.samples = samples
    }
}

/// What `/readyz` answers: ready or not, why, and a line per contributor.
public struct Readiness: Sendable, Equatable {
    /// Whether the process is ready.
    public var ready: Bool
    /// Why (not).
    public var reason: String
    /// Further lines of the body (what each contributor is doing).
    public var details: [String]

    /// A readiness with no details.
    public init(ready: Bool, reason: String, details: [String] = []) {
        self.ready = ready
        self.reason = reason
        self.details = details
    }

    /// This readiness with each contributor's problem (which makes it not ready) and summary line added.
    public func including(_ contributors: [ProbeContributor]) -> Readiness {
        var result = self
        for contributor in contributors {
            if let problem = contributor.notReadyReason() {
                result.ready = false
                result.reason += "; " + problem
            }
            result.details.append(contributor.summary())
        }
        return result
    }

    /// The `/readyz` body.
    public var body: String {
        ([(ready ? "ready: " : "not ready: ") + reason] + details).joined(separator: "\n") + "\n"
    }
}
