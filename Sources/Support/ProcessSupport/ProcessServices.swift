import Dispatch
import Foundation
import Logging
import ServiceLifecycle
import Synchronization

/// How every long-running command (`run`, `collect`, `api`, ...) runs its services.
public enum ProcessServices {
    /// Runs `services` in one `ServiceGroup` until SIGTERM or SIGINT, or until any of them ends (which shuts the
    /// others down gracefully, in reverse order: put first what must stop last). After the first signal the process
    /// exits after `shutdownTimeout` even if a service has not finished (whatever a service had not committed is
    /// done again after the restart); a second signal exits at once.
    public static func run(_ services: [any Service], shutdownTimeout: Duration, logger: Logger) async throws {
        let watchdog = ShutdownWatchdog(timeout: shutdownTimeout, logger: logger)
        defer { watchdog.cancel() }
        let group = ServiceGroup(configuration: .init(
            services: services.map {
                ServiceGroupConfiguration.ServiceConfiguration(service: $0, successTerminationBehavior: .gracefullyShutdownGroup,
                                                               failureTerminationBehavior: .gracefullyShutdownGroup)
            },
            gracefulShutdownSignals: [.sigterm, .sigint], logger: logger))
        try await group.run()
    }
}

/// Bounds a graceful shutdown: after the first SIGTERM or SIGINT the process exits after `timeout` (blocking calls
/// into librdkafka or libpq do not see Swift's cancellation), and a second signal exits at once.
final class ShutdownWatchdog {
    private final class SignalCount: Sendable {
        let value = Atomic<Int>(0)
    }

    private let sources: [any DispatchSourceSignal]

    init(timeout: Duration, logger: Logger) {
        let queue = DispatchQueue(label: "ferris-usage.shutdown-watchdog")
        let signals = SignalCount()
        sources = [SIGTERM, SIGINT].map { number in
            let source = DispatchSource.makeSignalSource(signal: number, queue: queue)
            source.setEventHandler {
                let count = signals.value.add(Int(source.data), ordering: .relaxed).newValue
                if count > 1 {
                    logger.warning("second stop signal: exiting now")
                    exit(2)
                }
                queue.asyncAfter(deadline: .now() + .milliseconds(Int(timeout.wholeMilliseconds))) {
                    logger.error("graceful shutdown took longer than \(timeout): exiting")
                    exit(2)
                }
            }
            source.resume()
            return source
        }
    }

    func cancel() { for source in sources { source.cancel() } }
}
