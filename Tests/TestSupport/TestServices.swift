import DevelopmentServices
import Foundation
import Kafka
import Logging
import ProcessSupport

/// The real servers the tests talk to, started by `scripts/test.sh` (`ferris-usage services start`,
/// `scripts/seaweedfs.sh`, `scripts/prometheus.sh`) and passed in the environment, and what tests share around them.
public enum TestServices {
    /// The environment variable `name`; a set-up error that says how to run the tests when it is missing.
    public static func variable(_ name: String) throws -> String {
        guard let value = ProcessInfo.processInfo.environment[name], !value.isEmpty else {
            throw TestSetupError("\(name) is not set: run the tests with scripts/test.sh, which starts the broker, PostgreSQL, S3 and Prometheus")
        }
        return value
    }

    /// The broker (FERRIS_BROKERS).
    public static var brokers: String { get throws { try variable("FERRIS_BROKERS") } }

    /// PostgreSQL (FERRIS_DATABASE_URL).
    public static var databaseURL: String { get throws { try variable("FERRIS_DATABASE_URL") } }

    /// A client configuration for the broker.
    public static var kafka: KafkaConfiguration {
        get throws { KafkaConfiguration(["bootstrap.servers": try brokers]) }
    }

    /// A logger at FERRIS_LOG_LEVEL (default: warning, so that a passing run is quiet).
    public static func logger(_ label: String) -> Logger {
        var logger = Logger(label: label)
        logger.logLevel = ProcessInfo.processInfo.environment["FERRIS_LOG_LEVEL"].flatMap(Logger.Level.init(rawValue:)) ?? .warning
        return logger
    }

    /// The tests' logger.
    public static let logger = logger("it")

    /// A name no other test uses (letters, digits and underscores).
    public static func unique(_ prefix: String) -> String {
        "\(prefix)_\(UInt32.random(in: 0...UInt32.max))_\(getpid())"
    }

    /// Runs blocking client code off the cooperative pool.
    public static func blocking<T: Sendable>(_ body: @escaping @Sendable () throws -> T) async throws -> T {
        try await DedicatedThread.run(name: "test", body)
    }

    /// A free loopback TCP port.
    public static func freePort() throws -> Int {
        do {
            return try LocalServices.freePort()
        } catch {
            throw TestSetupError(error.description)
        }
    }
}

/// The test could not be set up (a server missing, a port taken): says what to do.
public struct TestSetupError: Error, CustomStringConvertible {
    public let description: String
    public init(_ description: String) { self.description = description }
}
