import Foundation

/// Runs blocking work (librdkafka, libpq and libcurl calls) on a thread of its own, never on Swift's cooperative pool,
/// whose few threads a blocking call would take away from every other task of the process.
public enum DedicatedThread {
    /// Runs `body` on a new thread named `name` and returns its result (or throws its error).
    public static func run<T: Sendable, Failure: Error>(name: String, _ body: @escaping @Sendable () throws(Failure) -> T)
        async throws(Failure) -> T {
        let result: Result<T, Failure> = await withCheckedContinuation { continuation in
            let thread = Thread {
                do throws(Failure) {
                    continuation.resume(returning: .success(try body()))
                } catch {
                    continuation.resume(returning: .failure(error))
                }
            }
            thread.name = name
            thread.start()
        }
        return try result.get()
    }
}
