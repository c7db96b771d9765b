extension Duration {
    /// The duration in seconds, for logs and gauges (never for arithmetic on money or quantities).
    public var secondsValue: Double {
        Double(components.seconds) + Double(components.attoseconds) / 1e18
    }

    /// The duration in whole milliseconds, rounded down (for APIs that take milliseconds, such as librdkafka's).
    public var wholeMilliseconds: Int64 {
        components.seconds * 1000 + components.attoseconds / 1_000_000_000_000_000
    }
}
