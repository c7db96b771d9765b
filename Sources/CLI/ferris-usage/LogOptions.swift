import ArgumentParser
import Foundation
import Logging

/// How a command logs: the level and the format, for every command that logs.
struct LogOptions: EnvironmentDefaults {
    /// The log levels of swift-log, as `--log-level` accepts them.
    enum Level: String, ExpressibleByArgument, CaseIterable, Sendable {
        case trace, debug, info, notice, warning, error, critical

        var level: Logger.Level {
            switch self {
            case .trace: .trace
            case .debug: .debug
            case .info: .info
            case .notice: .notice
            case .warning: .warning
            case .error: .error
            case .critical: .critical
            }
        }
    }

    /// Text on standard error, or JSON lines for log collectors.
    enum Format: String, ExpressibleByArgument, CaseIterable, Sendable {
        case text, json
    }

    @Option(help: "Log level (env FERRIS_LOG_LEVEL). Default: info.")
    var logLevel: Level?

    @Option(help: "Log format: text, or json (one object per line, for log collectors) (env FERRIS_LOG_FORMAT). Default: text.")
    var logFormat: Format?

    static let environmentDefaults: [EnvironmentDefault<Self>] = [
        .choice("FERRIS_LOG_LEVEL", \.logLevel),
        .choice("FERRIS_LOG_FORMAT", \.logFormat),
    ]

    /// A logger at the chosen level; the first logger of the process chooses the log handler.
    func makeLogger(label: String) -> Logger {
        Self.makeLogger(label: label, level: logLevel ?? .info, format: logFormat ?? .text)
    }

    /// A logger for a command without log options (text, info).
    static func makeLogger(label: String, level: Level = .info, format: Format = .text) -> Logger {
        LoggingBootstrap.once(format: format)
        var logger = Logger(label: label)
        logger.logLevel = level.level
        return logger
    }
}

private enum LoggingBootstrap {
    private static let lock = NSLock()
    nonisolated(unsafe) private static var done = false

    /// Chooses the log handler, once per process (text on standard error, or JSON lines).
    static func once(format: LogOptions.Format) {
        lock.lock()
        defer { lock.unlock() }
        guard !done else { return }
        done = true
        switch format {
        case .json: LoggingSystem.bootstrap { label in JSONLogHandler(label: label) }
        case .text: LoggingSystem.bootstrap { label in StreamLogHandler.standardError(label: label) }
        }
    }
}
