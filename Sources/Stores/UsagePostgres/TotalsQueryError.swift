import PostgreSQL
import UsageStandard

/// Why a query over the totals failed: what was wrong and what to do, with PostgreSQL's own error when it had one.
public struct TotalsQueryError: Error, CustomStringConvertible, Sendable {
    /// The kinds of failure a caller may answer differently.
    public enum Kind: Sendable, Equatable {
        /// The view or a table it reads does not exist: the database or the table name is not the service's, or the
        /// service has not written any totals there yet (PostgreSQL's 42P01).
        case missingTables
        /// The statement ran longer than the session's `statement_timeout` (PostgreSQL's 57014).
        case timedOut
        /// PostgreSQL refused the statement, or the connection failed.
        case database
        /// A row did not have the shape the query reads (a column NULL or unreadable): the schema is not this
        /// version's.
        case unexpectedRow
    }

    /// The kind of failure.
    public let kind: Kind
    /// What was wrong and what to do.
    public let message: String
    /// PostgreSQL's error, if the failure was one.
    public let postgres: PostgresError?

    /// Creates an error.
    public init(_ kind: Kind, _ message: String, postgres: PostgresError? = nil) {
        self.kind = kind
        self.message = message
        self.postgres = postgres
    }

    /// The error of `what` (a phrase such as "reading the published replays") on the totals `names`, by its cause.
    init(_ what: String, _ error: PostgresError, names: TotalsTableName) {
        switch error.sqlState {
        case "42P01":
            self.init(.missingTables, "\(what): the totals \(names) do not exist in this database (\(error.message)): point the database URL at the service's database and the table name at the topology's sinks.table", postgres: error)
        case "57014":
            self.init(.timedOut, "\(what): the query took too long (\(error.message)): narrow the time range or the grouping", postgres: error)
        default:
            self.init(.database, "\(what): \(error)", postgres: error)
        }
    }

    /// A row of `what` that does not have the expected shape.
    static func unexpectedRow(_ what: String, _ row: PostgresRow, names: TotalsTableName) -> TotalsQueryError {
        TotalsQueryError(.unexpectedRow, "\(what): unexpected row from \(names): \(row.values)")
    }

    public var description: String { message }
}
