import Foundation

/// The wall clock, in the units the project's timestamps use (Unix time in whole milliseconds, UTC), for decisions
/// that belong to real time: idle windows, export passes, collection intervals. Measured durations use
/// `ContinuousClock` instead, which never jumps.
public enum WallClock {
    /// Now, in milliseconds since 1970-01-01T00:00:00Z, rounded down.
    public static func milliseconds() -> Int64 {
        Int64((Date().timeIntervalSince1970 * 1000).rounded(.down))
    }
}
