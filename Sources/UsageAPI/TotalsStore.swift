import Logging
import NIOPosix
import PostgreSQL
import Synchronization

/// Read-only access to the totals in PostgreSQL: a thread pool whose every thread owns one libpq connection
/// (libpq blocks, so it never runs on Swift's cooperative pool, and a connection never changes threads), opened on
/// the thread's first query; a connection that failed is dropped and reopened by the thread's next query. Every
/// session is read-only with a statement timeout.
final class TotalsStore: Sendable {
    /// The view of current totals (`usage_totals` unless the topology's `sinks.table` says otherwise).
    let view: String
    private let url: String
    private let threads: NIOThreadPool
    /// Each pool thread's own connection.
    private let connections = ThreadSpecificVariable<ConnectionBox>()
    private let statementTimeoutMilliseconds: Int
    private let logger: Logger

    /// A store over `view` at `url` with up to `connections` connections.
    init(url: String, view: String, connections: Int, statementTimeoutMilliseconds: Int = 15_000,
         logger: Logger) throws(APIConfigurationError) {
        guard view.allSatisfy({ $0.isASCII && ($0.isLetter || $0.isNumber || $0 == "_") }), view.first?.isLetter == true else {
            throw APIConfigurationError("invalid totals table name '\(view)': use letters, digits and underscores")
        }
        guard connections >= 1 else { throw APIConfigurationError("the connection pool needs at least 1 connection") }
        self.url = url
        self.view = view
        self.statementTimeoutMilliseconds = statementTimeoutMilliseconds
        self.logger = logger
        threads = NIOThreadPool(numberOfThreads: connections)
        threads.start()
    }

    /// Runs `sql` with `parameters` and returns its rows; database failures become 503 problems (the details go to
    /// the log, never to the client).
    func query(_ sql: String, _ parameters: [PostgresValue]) async throws(APIProblem) -> [PostgresRow] {
        do {
            return try await threads.runIfActive { [self] in try self.blockingQuery(sql, parameters) }
        } catch let error as PostgresError {
            logger.warning("PostgreSQL query failed", metadata: ["error": "\(error)"])
            switch error.sqlState {
            case "42P01":
                throw APIProblem(.unavailable, "there are no totals in '\(view)' yet: is ferris-usage run writing to this database, with the same table?")
            case "57014":
                throw APIProblem(.unavailable, "the query took too long: narrow the time range or the grouping")
            default:
                throw APIProblem(.unavailable, "the totals database does not answer; try again shortly")
            }
        } catch let problem as APIProblem {
            throw problem
        } catch {
            logger.error("query failed", metadata: ["error": "\(error)"])
            throw APIProblem(.unavailable, "the totals database does not answer; try again shortly")
        }
    }

    /// Stops the threads and closes the connections.
    func shutdown() async {
        // Each thread's connection closes as its thread ends.
        try? await threads.shutdownGracefully()
    }

    private func blockingQuery(_ sql: String, _ parameters: [PostgresValue]) throws(PostgresError) -> [PostgresRow] {
        let box = connections.currentValue ?? ConnectionBox()
        connections.currentValue = box
        // Only this thread ever takes this lock: the connection never leaves the box.
        return try box.connection.withLock { (held: inout PostgresConnection?) throws(PostgresError) -> [PostgresRow] in
            let connection: PostgresConnection
            if let existing = held { connection = existing } else { connection = try open() }
            held = connection
            do throws(PostgresError) {
                return try connection.query(sql, parameters)
            } catch {
                // A statement the server refused leaves the connection usable; anything else drops it.
                if error.kind != .statement || !connection.isConnected { held = nil }
                throw error
            }
        }
    }

    private func open() throws(PostgresError) -> PostgresConnection {
        let connection = try PostgresConnection(url: url)
        try connection.query("SET default_transaction_read_only = on")
        try connection.query("SELECT set_config('statement_timeout', $1, false)", [.text(String(statementTimeoutMilliseconds))])
        return connection
    }
}

/// A pool thread's connection (thread-specific values are objects).
private final class ConnectionBox: Sendable {
    let connection = Mutex<PostgresConnection?>(nil)
}

/// A configuration the API cannot start with, saying what to change.
public struct APIConfigurationError: Error, CustomStringConvertible, Sendable {
    /// What was wrong and what to do.
    public let description: String

    /// Creates an error.
    public init(_ description: String) { self.description = description }
}
