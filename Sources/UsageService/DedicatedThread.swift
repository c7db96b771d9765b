import Foundation

/// Runs blocking work (librdkafka and libpq calls) on its own thread, never on Swift's cooperative pool.
public enum DedicatedThread {
    /// Runs `body` on a new thread and returns its result.
    public static func run<T: Sendable>(name: String, _ body: @escaping @Sendable () throws -> T) async throws -> T {
        try await withCheckedThrowingContinuation { continuation in
            let thread = Thread {
                continuation.resume(with: Result { try body() })
            }
            thread.name = name
            thread.start()
        }
    }
}
