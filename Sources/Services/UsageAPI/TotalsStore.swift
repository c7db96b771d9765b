import Logging
import NIOPosix
import PostgreSQL
import Synchronization
import UsagePostgres

/// Read-only access to the totals in PostgreSQL: the typed queries of `CurrentTotalsQueries`, run on a thread pool
/// whose every thread owns one libpq connection (libpq blocks, so it never runs on Swift's cooperative pool, and a
/// connection never changes threads), opened on the thread's first query; a connection that failed is dropped and
/// reopened by the thread's next query. Every session is read-only with a statement timeout.
final class TotalsStore: Sendable {
    /// The queries over the current totals (`usage_totals` unless the topology's `sinks.table` says otherwise).
    let queries: CurrentTotalsQueries
    /// The view of current totals, for messages.
    var view: String { queries.names.view }
    private let url: String
    private let threads: NIOThreadPool
    /// Each pool thread's own connection.
    private let connections = ThreadSpecificVariable<ConnectionBox>()
    private let statementTimeoutMilliseconds: Int
    private let logger: Logger

    /// A store over `view` at `url` with up to `connections` connections.
    init(url: String, view: String, connections: Int, statementTimeoutMilliseconds: Int = 15_000,
         logger: Logger) throws(APIConfigurationError) {
        do {
            queries = try CurrentTotalsQueries(table: view)
        } catch {
            throw APIConfigurationError(error.message)
        }
        guard connections >= 1 else { throw APIConfigurationError("the connection pool needs at least 1 connection") }
        self.url = url
        self.statementTimeoutMilliseconds = statementTimeoutMilliseconds
        self.logger = logger
        threads = NIOThreadPool(numberOfThreads: connections)
        threads.start()
    }

    /// Runs `body` (queries of `queries`) on a pool thread's connection and returns its result; database failures
    /// become 503 problems (the details go to the log, never to the client), a row of an unexpected shape a 500
    /// problem with `unexpectedRow`.
    func run<T: Sendable>(unexpectedRow: String = "the totals view returned an unexpected row",
                          _ body: @escaping @Sendable (CurrentTotalsQueries, PostgresConnection) throws(TotalsQueryError) -> T) async throws(APIProblem) -> T {
        do {
            return try await threads.runIfActive { [self] in try self.blockingRun(body) }
        } catch let error as TotalsQueryError {
            switch error.kind {
            case .unexpectedRow:
                logger.error("unexpected row from PostgreSQL", metadata: ["error": "\(error)"])
                throw APIProblem(.internalError, unexpectedRow)
            case .missingTables:
                logger.warning("PostgreSQL query failed", metadata: ["error": "\(error.postgres.map { "\($0)" } ?? error.message)"])
                throw APIProblem(.unavailable, "there are no totals in '\(view)' yet: is ferris-usage run writing to this database, with the same table?")
            case .timedOut:
                logger.warning("PostgreSQL query failed", metadata: ["error": "\(error.postgres.map { "\($0)" } ?? error.message)"])
                throw APIProblem(.unavailable, "the query took too long: narrow the time range or the grouping")
            case .database:
                logger.warning("PostgreSQL query failed", metadata: ["error": "\(error.postgres.map { "\($0)" } ?? error.message)"])
                throw APIProblem(.unavailable, "the totals database does not answer; try again shortly")
            }
        } catch let error as PostgresError {
            // Opening the connection failed.
            logger.warning("PostgreSQL query failed", metadata: ["error": "\(error)"])
            throw APIProblem(.unavailable, "the totals database does not answer; try again shortly")
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

    private func blockingRun<T: Sendable>(_ body: (CurrentTotalsQueries, PostgresConnection) throws(TotalsQueryError) -> T) throws -> T {
        let box = connections.currentValue ?? ConnectionBox()
        connections.currentValue = box
        // Only this thread ever takes this lock: the connection never leaves the box.
        return try box.connection.withLock { (held: inout PostgresConnection?) throws -> T in
            let connection: PostgresConnection
            if let existing = held { connection = existing } else { connection = try open() }
            held = connection
            do throws(TotalsQueryError) {
                return try body(queries, connection)
            } catch {
                // A statement the server refused (or a row of an unexpected shape) leaves the connection usable;
                // anything else drops it.
                if (error.postgres.map { $0.kind != .statement } ?? false) || !connection.isConnected { held = nil }
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
