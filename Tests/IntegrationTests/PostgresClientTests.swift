import PostgreSQL
import TestSupport
import Testing
import UsagePostgres
import UsageService

@Suite("PostgreSQL wrapper against a real server")
struct PostgresClientTests {
    @Test("values are parameters, never SQL text; transactions roll back on error")
    func parametersAndTransactions() async throws {
        let url = try TestServices.databaseURL
        let table = TestServices.unique("it_pg")
        try await TestServices.blocking {
            let db = try PostgresConnection(url: url)
            try db.query("CREATE TABLE \(table) (name text PRIMARY KEY, n numeric)")
            let hostile = "x'); DROP TABLE \(table); --\"\\ \u{1F600}"
            try db.query("INSERT INTO \(table) VALUES ($1, $2)", [.text(hostile), .null])
            #expect(try db.query("SELECT name, n FROM \(table)").map(\.values) == [[hostile, nil]])
            do throws(PostgresError) {
                try db.transaction { tx throws(PostgresError) in
                    try tx.query("INSERT INTO \(table) VALUES ($1, 1)", ["inside"])
                    try tx.query("INSERT INTO \(table) VALUES ($1, 1)", ["inside"]) // duplicate key
                }
                Issue.record("the duplicate insert did not fail")
            } catch {
                #expect(error.sqlState == "23505")
            }
            #expect(try db.query("SELECT count(*) FROM \(table)")[0][0] == "1")
            try db.query("DROP TABLE \(table)")
        }
    }

    @Test("the totals schema migration is idempotent and the upsert keeps the newest total")
    func migrationAndGuard() async throws {
        let url = try TestServices.databaseURL
        let table = TestServices.unique("it_totals")
        try await TestServices.blocking {
            _ = try TotalsTable(url: url, table: table)
            let sink = try TotalsTable(url: url, table: table)
            let newer = sampleTotal(quantity: 5_000_000, count: 5, offset: 10)
            try sink.write([newer])
            try sink.write([sampleTotal(quantity: 3_000_000, count: 3, offset: 7)]) // older: ignored
            #expect(try TotalsReader.fromPostgres(url: url, table: table) == [newer])
            let final = sampleTotal(quantity: 6_000_000, count: 6, offset: 11, status: .final)
            try sink.write([final])
            #expect(try TotalsReader.fromPostgres(url: url, table: table) == [final])
        }
    }
}
