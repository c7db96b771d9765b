import UsageStandard

/// Fixed-size, non-overlapping windows aligned to the Unix epoch (so one-hour windows are UTC hours:
/// `HH:00:00.000` and `HH:59:59.999` fall in hour HH).
public struct TumblingWindows: Sendable, Equatable {
    /// The window length in milliseconds.
    public let sizeMilliseconds: Int64

    /// One-hour windows.
    public static let hourly = TumblingWindows(sizeMilliseconds: 3_600_000)

    /// Creates windows of `sizeMilliseconds` (> 0).
    public init(sizeMilliseconds: Int64) {
        precondition(sizeMilliseconds > 0, "window size must be positive")
        self.sizeMilliseconds = sizeMilliseconds
    }

    /// The start of the window containing `time`.
    @inline(__always)
    public func start(of time: Timestamp) -> Timestamp {
        let ms = time.milliseconds
        let quotient = ms / sizeMilliseconds
        let floored = (ms % sizeMilliseconds != 0 && ms < 0) ? quotient - 1 : quotient
        return Timestamp(milliseconds: floored * sizeMilliseconds)
    }

    /// The (exclusive) end of the window starting at `start`.
    @inline(__always)
    public func end(ofWindowStarting start: Timestamp) -> Timestamp {
        Timestamp(milliseconds: start.milliseconds + sizeMilliseconds)
    }
}
