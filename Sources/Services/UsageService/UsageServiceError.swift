/// An error of the service, saying what failed and what to do.
public struct UsageServiceError: Error, CustomStringConvertible, Sendable {
    /// What was wrong and what to do.
    public let message: String

    /// Creates an error.
    public init(_ message: String) { self.message = message }

    public var description: String { message }
}
