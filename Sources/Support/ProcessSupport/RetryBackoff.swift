/// Waits between retries of something that failed: `initial` after the first failure, doubling after each further
/// failure up to `maximum`; back to `initial` after a success. A value: every retry loop of the project keeps one.
public struct RetryBackoff: Equatable, Sendable {
    /// The first wait.
    public let initial: Duration
    /// The longest wait.
    public let maximum: Duration
    /// Failures since the last success.
    public private(set) var failures = 0

    /// A backoff with no failure yet.
    public init(initial: Duration, maximum: Duration) {
        self.initial = initial
        self.maximum = maximum
    }

    /// Records a failure; returns how long to wait before the next attempt.
    public mutating func failed() -> Duration {
        failures += 1
        return delay
    }

    /// Records a success.
    public mutating func succeeded() { failures = 0 }

    /// How long to wait after the failures so far (zero before the first).
    public var delay: Duration {
        guard failures > 0 else { return .zero }
        var delay = initial
        for _ in 1..<failures where delay < maximum { delay *= 2 }
        return min(delay, maximum)
    }
}
