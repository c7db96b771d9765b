import CLibPQ

/// One row of a query result, as text values (nil for SQL NULL).
public struct PostgresRow: Sendable, Equatable {
    /// The column values in text form, nil for NULL.
    public var values: [String?]

    /// The value of column `index` as text, or nil for NULL or an index past the end.
    public subscript(index: Int) -> String? { index < values.count ? values[index] : nil }
}

/// A value bound to a statement parameter; values are never spliced into SQL text.
public enum PostgresValue: Sendable, Equatable {
    /// SQL NULL.
    case null
    /// A value in PostgreSQL's text input format (numbers, timestamps, text).
    case text(String)
}

extension PostgresValue: ExpressibleByStringLiteral {
    /// Creates a text value from a literal.
    public init(stringLiteral value: String) { self = .text(value) }
}

/// A blocking libpq connection. Not `Sendable`: use it from the one thread that made it, off Swift's cooperative pool.
public final class PostgresConnection {
    private var connection: OpaquePointer?
    private let url: String

    /// Connects using a libpq connection string: a URL, e.g. `postgresql://user@127.0.0.1:5432/db?sslmode=disable`,
    /// or `keyword=value` pairs. No message of this connection shows its password (see `redacted(_:)`).
    public init(url: String) throws(PostgresError) {
        self.url = url
        try connect()
    }

    deinit { PQfinish(connection) }

    private func connect() throws(PostgresError) {
        PQfinish(connection)
        connection = nil
        let failure = "could not connect to \(Self.redacted(url))"
        if let problem = ConnectionString.problem(url) { throw PostgresError(.connection, "\(failure): \(problem)") }
        connection = PQconnectdb(url)
        guard let connection, PQstatus(connection) == CONNECTION_OK else {
            let reason = connection.map { libpqText(PQerrorMessage($0)) } ?? "out of memory"
            throw PostgresError(.connection, "\(failure): \(reason); check the database URL and that PostgreSQL is running")
        }
        // Keep the server from emitting NOTICE text onto stderr.
        PQsetNoticeProcessor(connection, { _, _ in }, nil)
    }

    /// Whether the connection is usable.
    public var isConnected: Bool { connection.map { PQstatus($0) == CONNECTION_OK } ?? false }

    /// Reconnects when the connection was lost.
    public func reconnectIfNeeded() throws(PostgresError) {
        if !isConnected { try connect() }
    }

    /// Runs one statement with `$1`, `$2`, ... parameters and returns its rows.
    @discardableResult
    public func query(_ sql: String, _ parameters: [PostgresValue] = []) throws(PostgresError) -> [PostgresRow] {
        guard let connection else { throw PostgresError(.connection, "not connected") }
        let result = Self.withCStrings(parameters) { values in
            PQexecParams(connection, sql, Int32(parameters.count), nil, values, nil, nil, 0)
        }
        defer { PQclear(result) }
        try check(result, sql: sql)
        return rows(of: result)
    }

    /// Runs `body` inside a transaction: committed when it returns, rolled back when it throws.
    @discardableResult
    public func transaction<T>(_ body: (PostgresConnection) throws(PostgresError) -> T) throws(PostgresError) -> T {
        try query("BEGIN")
        do {
            let value = try body(self)
            try query("COMMIT")
            return value
        } catch {
            if isConnected { _ = try? query("ROLLBACK") }
            throw error
        }
    }

    /// The libpq connection, or an error when there is none.
    func connected() throws(PostgresError) -> OpaquePointer {
        guard let connection else { throw PostgresError(.connection, "not connected") }
        return connection
    }

    /// Checks that `result` has `status` (an error result throws its message), and clears it.
    func check(_ result: OpaquePointer?, expecting status: ExecStatusType, sql: String) throws(PostgresError) {
        defer { PQclear(result) }
        try check(result, sql: sql)
        guard PQresultStatus(result) == status else {
            throw PostgresError(.result, "unexpected result status \(PQresultStatus(result).rawValue) (statement: \(sql.prefix(120)))")
        }
    }

    private func check(_ result: OpaquePointer?, sql: String) throws(PostgresError) {
        guard let result else {
            throw PostgresError(.connection, "no result (connection lost?): \(libpqText(connection.flatMap { PQerrorMessage($0) }))")
        }
        switch PQresultStatus(result) {
        case PGRES_COMMAND_OK, PGRES_TUPLES_OK, PGRES_COPY_IN:
            return
        default:
            let state = PQresultErrorField(result, Int32(UInt8(ascii: "C"))).map { String(cString: $0) }
            let message = libpqText(PQresultErrorMessage(result))
            let kind: PostgresError.Kind = isConnected ? .statement : .connection
            throw PostgresError(kind, sqlState: state, "\(message) (statement: \(sql.prefix(120)))")
        }
    }

    private func rows(of result: OpaquePointer?) -> [PostgresRow] {
        let rowCount = PQntuples(result)
        let columnCount = PQnfields(result)
        return (0..<rowCount).map { row in
            PostgresRow(values: (0..<columnCount).map { column in
                PQgetisnull(result, row, column) == 1 ? nil : PQgetvalue(result, row, column).map { String(cString: $0) }
            })
        }
    }

    /// Lays every text value NUL-terminated in one buffer and hands libpq pointers into it.
    private static func withCStrings<R>(_ values: [PostgresValue], _ body: ([UnsafePointer<CChar>?]) -> R) -> R {
        var bytes: [CChar] = []
        var offsets: [Int?] = []
        for value in values {
            if case .text(let text) = value {
                offsets.append(bytes.count)
                bytes.append(contentsOf: text.utf8CString)
            } else {
                offsets.append(nil)
            }
        }
        return bytes.withUnsafeBufferPointer { buffer in
            body(offsets.map { offset in
                guard let offset, let base = buffer.baseAddress else { return nil }
                return UnsafePointer(base + offset)
            })
        }
    }

    /// Text from libpq (nil-safe), trimmed, with every form of this connection's password removed: libpq may quote
    /// parts of the connection string in it.
    private func libpqText(_ text: UnsafePointer<CChar>?) -> String {
        ConnectionString.scrub(text.map { String(cString: $0) }?.trimmed ?? "(no message from libpq)", conninfo: url)
    }

    /// A libpq connection string (URL or `keyword=value` pairs) with every password replaced by `***`, for messages
    /// and logs: URL user information, `password` query parameters (also percent-encoded) and `password` keywords
    /// (also quoted, with escapes).
    public static func redacted(_ url: String) -> String { ConnectionString.redacted(url) }
}

extension String {
    var trimmed: String {
        var text = Substring(self)
        while let last = text.last, last.isWhitespace { text.removeLast() }
        return String(text)
    }
}
