import ArgumentParser
import Foundation

/// Option types whose optional options fall back to a `FERRIS_*` environment variable when the flag is not given
/// (a flag always wins), declared as one table per type. The table is applied in `validate()`, which the argument
/// parser calls after parsing a command and every `@OptionGroup`, so by the time `run()` starts an option holds the
/// flag's value, else the variable's, else nil (its default is applied where it is used, as for a flag not given).
///
/// A variable that does not parse (a port that is not a number, a log level that is not one) is an error naming the
/// variable and what it allows; an empty variable counts as unset.
protocol EnvironmentDefaults: ParsableArguments {
    /// Which option falls back to which variable.
    static var environmentDefaults: [EnvironmentDefault<Self>] { get }
}

extension EnvironmentDefaults {
    /// Fills every option that was not given from its environment variable.
    mutating func validate() throws {
        for entry in Self.environmentDefaults { try entry.apply(&self) }
    }
}

/// One row of an `EnvironmentDefaults` table: an optional option and the variable it falls back to.
struct EnvironmentDefault<Options>: Sendable {
    /// The environment variable, e.g. `FERRIS_BROKERS`.
    let variable: String
    /// Sets the option from the variable when the option is nil and the variable is set.
    let apply: @Sendable (inout Options) throws -> Void

    /// A text option.
    static func string(_ variable: String, _ option: WritableKeyPath<Options, String?> & Sendable) -> Self {
        parsed(variable, option, expecting: "text")
    }

    /// A whole-number option, e.g. a port.
    static func int(_ variable: String, _ option: WritableKeyPath<Options, Int?> & Sendable) -> Self {
        parsed(variable, option, expecting: "a whole number")
    }

    /// An option with a fixed set of values (an enumeration): an error lists them.
    static func choice<Value: ExpressibleByArgument & CaseIterable>(
        _ variable: String, _ option: WritableKeyPath<Options, Value?> & Sendable
    ) -> Self {
        parsed(variable, option, expecting: "one of " + Value.allValueStrings.joined(separator: ", "))
    }

    private static func parsed<Value: ExpressibleByArgument>(
        _ variable: String, _ option: WritableKeyPath<Options, Value?> & Sendable, expecting: String
    ) -> Self {
        EnvironmentDefault(variable: variable) { options in
            guard options[keyPath: option] == nil, let text = environment(variable) else { return }
            guard let value = Value(argument: text) else {
                throw ValidationError("environment variable \(variable)='\(text)' is not valid: expected \(expecting)")
            }
            options[keyPath: option] = value
        }
    }
}

/// The value of the environment variable `name`, or nil when it is unset or empty. Every variable the CLI reads
/// goes through here (or `environment(prefix:)`).
func environment(_ name: String) -> String? {
    guard let value = ProcessInfo.processInfo.environment[name], !value.isEmpty else { return nil }
    return value
}

/// The non-empty environment variables whose names start with `prefix`, keyed by the rest of the name
/// (e.g. `FERRIS_KAFKA_SASL_PASSWORD` is `SASL_PASSWORD` for the prefix `FERRIS_KAFKA_`).
func environment(prefix: String) -> [String: String] {
    var result: [String: String] = [:]
    for (name, value) in ProcessInfo.processInfo.environment where name.hasPrefix(prefix) && !value.isEmpty {
        result[String(name.dropFirst(prefix.count))] = value
    }
    return result
}
