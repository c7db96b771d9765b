/// An error from PostgreSQL or libpq, saying what failed and what to do.
public struct PostgresError: Error, CustomStringConvertible, Sendable {
    /// What kind of failure this is.
    public enum Kind: Sendable, Equatable {
        /// The connection could not be made or was lost.
        case connection
        /// The server rejected a statement.
        case statement
        /// A result did not have the shape the caller expected.
        case result
    }

    /// What kind of failure this is.
    public let kind: Kind
    /// The SQLSTATE code, when the server sent one (e.g. "23505").
    public let sqlState: String?
    /// A message saying what was wrong and what to do.
    public let message: String

    /// Creates an error.
    public init(_ kind: Kind, sqlState: String? = nil, _ message: String) {
        self.kind = kind
        self.sqlState = sqlState
        self.message = message
    }

    public var description: String {
        "PostgreSQL \(kind)\(sqlState.map { " [\($0)]" } ?? ""): \(message)"
    }
}
