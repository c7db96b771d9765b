/// Another service of the process (e.g. the FOCUS export schedule) that reports on `/readyz` and `/metrics` next to
/// the pipeline. The endpoints know nothing else about it.
public struct OperationsExtension: Sendable {
    /// A Prometheus sample; the endpoints add the `ferris_usage_` prefix.
    public struct Sample: Sendable {
        /// The metric name without prefix; a counter without the `_total` suffix (the endpoints add it), e.g. `export_failures`.
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

    /// Why the process should count as not ready, nil while this service is fine.
    public var notReadyReason: @Sendable () -> String?
    /// A line for the `/readyz` body saying what the service is doing.
    public var summary: @Sendable () -> String
    /// The service's current samples.
    public var samples: @Sendable () -> [Sample]

    /// Creates an extension.
    public init(notReadyReason: @escaping @Sendable () -> String?, summary: @escaping @Sendable () -> String,
                samples: @escaping @Sendable () -> [Sample]) {
        self.notReadyReason = notReadyReason
        self.summary = summary
        self.samples = samples
    }
}
