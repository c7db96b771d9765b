import Foundation
import Kafka
import Logging
import Testing
import UsageService

/// The real broker and PostgreSQL the integration tests talk to, started by `scripts/test.sh`
/// (`ferris-usage services start`) and passed in FERRIS_BROKERS / FERRIS_DATABASE_URL.
enum TestServices {
    static var brokers: String {
        get throws {
            guard let value = ProcessInfo.processInfo.environment["FERRIS_BROKERS"], !value.isEmpty else {
                throw TestSetupError("FERRIS_BROKERS is not set: run the tests with scripts/test.sh, which starts a broker and PostgreSQL")
            }
            return value
        }
    }

    static var databaseURL: String {
        get throws {
            guard let value = ProcessInfo.processInfo.environment["FERRIS_DATABASE_URL"], !value.isEmpty else {
                throw TestSetupError("FERRIS_DATABASE_URL is not set: run the tests with scripts/test.sh")
            }
            return value
        }
    }

    static var kafka: KafkaConfiguration {
        get throws { KafkaConfiguration(["bootstrap.servers": try brokers]) }
    }

    static let logger: Logger = {
        var logger = Logger(label: "it")
        logger.logLevel = ProcessInfo.processInfo.environment["FERRIS_LOG_LEVEL"].flatMap(Logger.Level.init(rawValue:)) ?? .warning
        return logger
    }()

    /// A name no other test uses (letters, digits and underscores).
    static func unique(_ prefix: String) -> String {
        "\(prefix)_\(UInt32.random(in: 0...UInt32.max))_\(getpid())"
    }

    /// Runs blocking client code off the cooperative pool.
    static func blocking<T: Sendable>(_ body: @escaping @Sendable () throws -> T) async throws -> T {
        try await DedicatedThread.run(name: "test", body)
    }

    /// Runs the pipeline until it has caught up, failing the test if that takes longer than `seconds`.
    static func runUntilCaughtUp(_ pipeline: UsagePipeline, seconds: Int = 90) async throws {
        try await withThrowingTaskGroup(of: Bool.self) { group in
            group.addTask { try await pipeline.run(); return true }
            group.addTask {
                try await Task.sleep(for: .seconds(seconds))
                pipeline.requestStop()
                return false
            }
            let finished = try await group.next() ?? false
            group.cancelAll()
            if !finished {
                Issue.record("pipeline did not catch up within \(seconds) s")
                _ = try await group.next()
            }
        }
    }
}

struct TestSetupError: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}
