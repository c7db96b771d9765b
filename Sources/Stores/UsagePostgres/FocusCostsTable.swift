import PostgreSQL
import UsageStandard

/// The table `<name>_focus_costs`: the rows of the current FOCUS export of every exported day, costs included, under
/// their FOCUS column names and types (standard, section 13), so that SQL tools see exactly what the files say. The
/// exporter replaces a day's rows, in one transaction, when it writes a new revision of the day; a month's export
/// repeats its days' rows and is not kept here. Its columns follow the export's: when they change (a new version of
/// the export), the table is created again and the next exports fill it.
public struct FocusCostsTable: Sendable {
    /// A column: its FOCUS name and data type (`DateTime`, `Decimal`, `String`, `Integer` or `JSON`).
    public struct Column: Sendable, Equatable {
        public var name: String
        public var focusType: String

        /// Creates a column.
        public init(name: String, focusType: String) {
            self.name = name
            self.focusType = focusType
        }

        /// The PostgreSQL type of the FOCUS type: exact `numeric` for decimals, never a floating-point type.
        var sqlType: String {
            switch focusType {
            case "DateTime": return "timestamptz"
            case "Decimal": return "numeric"
            case "Integer": return "bigint"
            case "JSON": return "jsonb"
            default: return "text"
            }
        }
    }

    /// The table's name.
    public let name: String
    /// The FOCUS columns, in file order.
    public let columns: [Column]

    /// The table of the totals `table` with `columns`; throws when a name cannot be spliced into SQL.
    public init(table: String, columns: [Column]) throws(TotalsStoreError) {
        name = try TotalsTableName(table).focusCosts
        for column in columns where !column.name.allSatisfy({ $0.isASCII && ($0.isLetter || $0.isNumber || $0 == "_") }) {
            throw TotalsStoreError("the FOCUS column name '\(column.name)' is not a plain identifier")
        }
        self.columns = columns
    }

    /// Rows per INSERT statement (each row binds one parameter per column; PostgreSQL allows 65,535).
    static let batchRows = 500

    /// Replaces the rows of `day` (`YYYY-MM-DD`) by `rows` (each the fields of one FOCUS row in column order, empty
    /// for null), as revision `revision`. Runs in its own transaction on `connection` (committed by `commit`):
    /// begin with `begin`, add rows with `add`, then `commit`; an error or a connection lost before `commit`
    /// leaves the table as it was.
    public func begin(day: String, on connection: PostgresConnection) throws(TotalsQueryError) {
        try run("starting to replace the FOCUS rows of \(day)", "BEGIN", on: connection)
        try createIfNeeded(on: connection)
        try run("replacing the FOCUS rows of \(day)", "DELETE FROM \(name) WHERE x_export_period = $1", [.text(day)], on: connection)
    }

    /// Adds rows of the day begun with `begin`.
    public func add(_ rows: [[String]], day: String, revision: Int64, firstRow: Int,
                    on connection: PostgresConnection) throws(TotalsQueryError) {
        var index = 0
        while index < rows.count {
            let batch = rows[index..<min(index + Self.batchRows, rows.count)]
            var parameters: [PostgresValue] = [.text(day), .text(String(revision))]
            var tuples: [String] = []
            tuples.reserveCapacity(batch.count)
            for (offset, row) in batch.enumerated() {
                guard row.count == columns.count else {
                    throw TotalsQueryError(.unexpectedRow, "a FOCUS row of \(day) has \(row.count) fields, the table \(name) \(columns.count) columns")
                }
                var placeholders = ["$1", "$2::bigint", "\(firstRow + index + offset)"]
                for (column, field) in zip(columns, row) {
                    parameters.append(field.isEmpty ? .null : .text(field))
                    placeholders.append("$\(parameters.count)::\(column.sqlType)")
                }
                tuples.append("(" + placeholders.joined(separator: ", ") + ")")
            }
            let names = (["x_export_period", "x_export_revision", "x_export_row"] + columns.map { "\"\($0.name)\"" }).joined(separator: ", ")
            try run("writing the FOCUS rows of \(day)", "INSERT INTO \(name) (\(names)) VALUES " + tuples.joined(separator: ", "),
                    parameters, on: connection)
            index += batch.count
        }
    }

    /// Commits the rows of the day begun with `begin`.
    public func commit(on connection: PostgresConnection) throws(TotalsQueryError) {
        try run("committing the FOCUS rows", "COMMIT", on: connection)
    }

    /// Creates the table unless it exists with these columns; a table of other columns (an older export's) is
    /// dropped first.
    func createIfNeeded(on connection: PostgresConnection) throws(TotalsQueryError) {
        // By the name PostgreSQL resolves (an unquoted name is folded to lower case), as the statements use it.
        let existing = try run("reading the columns of \(name)", """
            SELECT attname FROM pg_attribute WHERE attrelid = to_regclass($1) AND attnum > 0 AND NOT attisdropped
            ORDER BY attnum
            """, [.text(name)], on: connection).compactMap { $0[0] }
        let wanted = ["x_export_period", "x_export_revision", "x_export_row"] + columns.map(\.name)
        if existing == wanted { return }
        if !existing.isEmpty { try run("dropping the outdated \(name)", "DROP TABLE \(name)", on: connection) }
        let definitions = ["x_export_period text NOT NULL", "x_export_revision bigint NOT NULL", "x_export_row integer NOT NULL"]
            + columns.map { "\"\($0.name)\" \($0.sqlType)" }
        try run("creating \(name)", "CREATE TABLE \(name) (" + definitions.joined(separator: ", ")
                + ", PRIMARY KEY (x_export_period, x_export_row))", on: connection)
    }

    @discardableResult
    private func run(_ what: String, _ sql: String, _ parameters: [PostgresValue] = [],
                     on connection: PostgresConnection) throws(TotalsQueryError) -> [PostgresRow] {
        do {
            return try connection.query(sql, parameters)
        } catch {
            throw TotalsQueryError(.database, "\(what) in \(name): \(error.message)", postgres: error)
        }
    }
}
