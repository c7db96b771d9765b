import PostgreSQL
import TestSupport
import Testing
import UsagePostgres
import UsageStandard

/// The typed queries of `CurrentTotalsQueries` against a real PostgreSQL: the usage API's (sums per window and group,
/// keyset pages, instances, owners, tenants, latest day) and the FOCUS export's (day and period summaries, sums per
/// unit, replay revision, the figures' cursor), their exact decimals, and their typed errors.
@Suite("Typed queries over the current totals against a real PostgreSQL")
struct TotalsQueriesTests {
    static let hour: Int64 = 3_600_000
    /// 2026-11-25T00:00:00Z.
    static let day = Timestamp(milliseconds: 1_795_564_800_000)

    static func total(_ tenant: String, _ instance: String, _ component: String, hour: Int64, _ text: String,
                      unit: String = "Core-Seconds", status: TotalStatus = .final, partition: Int = 0,
                      provider: String? = "gcp") -> UsageTotal {
        let quantity: Quantity
        if case .success(let value) = Quantity.parse(text) { quantity = value } else { quantity = .zero }
        return UsageTotal(key: UsageKey(tenant: tenant, instance: instance, component: component, metric: "cpu_core_seconds"),
                          windowStart: Timestamp(milliseconds: day.milliseconds + hour * Self.hour),
                          windowEnd: Timestamp(milliseconds: day.milliseconds + (hour + 1) * Self.hour),
                          quantity: quantity, unit: unit, eventCount: 2, status: status, sourcePartition: "events:\(partition)",
                          lastOffset: 10, provider: provider, revision: 0)
    }

    static let totals = [
        total("acme", "i1", "kafka", hour: 0, "0.1"),
        total("acme", "i1", "kafka", hour: 0, "0.2", partition: 1), // a second part of the same figure
        total("acme", "i1", "consul", hour: 1, "1.000001"),
        total("acme", "i2", "kafka", hour: 25, "3", status: .provisional, provider: nil), // the next day
        total("zeta", "z1", "kafka", hour: 2, "7.5", provider: "aws"),
    ]

    /// Runs `body` on a fresh totals table holding `totals`, with a connection of its own.
    static func withTotals<T: Sendable>(_ prefix: String,
                                        _ body: @escaping @Sendable (CurrentTotalsQueries, PostgresConnection) throws -> T) async throws -> T {
        let url = try TestServices.databaseURL
        let table = TestServices.unique(prefix)
        return try await TestServices.blocking {
            try TotalsTable(url: url, table: table).write(Self.totals)
            return try body(try CurrentTotalsQueries(table: table), try PostgresConnection(url: url))
        }
    }

    @Test("sums per window and group are exact, pages follow each other, filters and owners apply")
    func usageQueries() async throws {
        let (days, pages, providers, owners, others) = try await Self.withTotals("it_q_api") { queries, db in
            let byDay = TotalsSummaryQuery(filter: CurrentTotalsFilter(tenant: "acme"), window: .day,
                                           groupBy: [.instance, .component], pageSize: 10)
            let days = try queries.summaries(byDay, on: db)
            // One row per page, following `next`.
            var paged: [TotalsSummaryRow] = []
            var query = byDay
            query.pageSize = 1
            while true {
                let page = try queries.summaries(query, on: db)
                paged += page.rows
                guard let next = page.next else { break }
                query.after = next
            }
            let providers = try queries.summaries(TotalsSummaryQuery(
                filter: CurrentTotalsFilter(status: .final, from: Self.day, to: Timestamp(milliseconds: Self.day.milliseconds + 24 * Self.hour)),
                window: .total, groupBy: [.provider], pageSize: 10), on: db)
            return (days, paged, providers, try queries.owners(of: "i1", tenant: "acme", on: db),
                    try queries.owners(of: "z1", tenant: "acme", on: db))
        }
        #expect(days.next == nil)
        #expect(days.rows.map { "\($0.windowStart.rfc3339) \($0.instance ?? "-") \($0.component ?? "-") \($0.quantity) \($0.eventCount) \($0.status)" } == [
            "2026-11-25T00:00:00.000Z i1 consul 1.000001 2 final",
            "2026-11-25T00:00:00.000Z i1 kafka 0.3 4 final",
            "2026-11-26T00:00:00.000Z i2 kafka 3 2 provisional",
        ])
        #expect(days.rows.first?.windowEnd.rfc3339 == "2026-11-26T00:00:00.000Z")
        #expect(pages == days.rows)
        #expect(providers.rows.map { "\($0.provider ?? "none") \($0.quantity) \($0.windowStart.rfc3339)" } == [
            "aws 7.5 2026-11-25T00:00:00.000Z", "gcp 1.300001 2026-11-25T00:00:00.000Z",
        ])
        #expect(owners == CurrentTotalsQueries.InstanceOwners(tenant: true, others: false))
        #expect(others == CurrentTotalsQueries.InstanceOwners(tenant: false, others: true))
    }

    @Test("instances, tenants, the latest day and the probe")
    func listings() async throws {
        let (instances, tenants, latest, none) = try await Self.withTotals("it_q_list") { queries, db in
            try queries.probe(on: db)
            return (try queries.instances(tenant: "acme", on: db), try queries.tenants(on: db),
                    try queries.latestDay(of: "acme", on: db), try queries.latestDay(of: "nobody", on: db))
        }
        #expect(instances.map { "\($0.instance) \($0.providers) \($0.firstWindowStart.rfc3339) \($0.lastWindowEnd.rfc3339)" } == [
            "i1 [\"gcp\"] 2026-11-25T00:00:00.000Z 2026-11-25T02:00:00.000Z",
            "i2 [] 2026-11-26T01:00:00.000Z 2026-11-26T02:00:00.000Z",
        ])
        #expect(tenants == ["acme", "zeta"])
        #expect(latest == "2026-11-26")
        #expect(none == nil)
    }

    @Test("the export's period summaries, sums, replay revision and the figures' cursor")
    func periodQueries() async throws {
        let end = Timestamp(milliseconds: Self.day.milliseconds + 24 * Self.hour)
        let (days, summary, sums, replay, figures) = try await Self.withTotals("it_q_export") { queries, db in
            let days = try queries.daySummaries(from: Self.day, to: Timestamp(milliseconds: Self.day.milliseconds + 48 * Self.hour), on: db)
            try db.query("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY")
            let summary = try queries.summary(from: Self.day, to: end, on: db)
            let sums = try queries.sumsPerUnit(from: Self.day, to: end, on: db)
            let replay = try queries.replayRevision(overlapping: Self.day, to: end, on: db)
            let cursor = try queries.figures(from: Self.day, to: end, on: db)
            var figures: [[CurrentFigure]] = []
            while true {
                let batch = try cursor.next(2)
                if batch.isEmpty { break }
                figures.append(batch)
            }
            try db.query("COMMIT")
            return (days, summary, sums, replay, figures)
        }
        #expect(days == ["2026-11-25": TotalsSummary(rows: 3, provisional: 0, events: 8),
                         "2026-11-26": TotalsSummary(rows: 1, provisional: 1, events: 2)])
        #expect(summary == TotalsSummary(rows: 3, provisional: 0, events: 8))
        #expect(sums == ["Core-Seconds": DecimalText("8.800001")])
        #expect(replay == 0)
        #expect(figures.map(\.count) == [2, 1])
        #expect(figures.joined().map { "\($0.windowStart.rfc3339) \($0.tenant) \($0.component) \($0.quantity) \($0.status) \($0.provider ?? "-") \($0.revision)" } == [
            "2026-11-25T00:00:00.000Z acme kafka 0.300000 final gcp 0",
            "2026-11-25T01:00:00.000Z acme consul 1.000001 final gcp 0",
            "2026-11-25T02:00:00.000Z zeta kafka 7.500000 final aws 0",
        ])
        #expect(figures.first?.first?.quantity.quantity == Quantity(micros: 300_000))
    }

    @Test("one table-name rule; a missing table is a typed error that says what to do")
    func errors() async throws {
        #expect(throws: TotalsStoreError.self) { try CurrentTotalsQueries(table: "usage_totals; DROP") }
        #expect(throws: TotalsStoreError.self) { try TotalsTableName("1totals") }
        #expect(throws: TotalsStoreError.self) { try TotalsTableName(String(repeating: "t", count: 41)) }
        #expect(try TotalsTableName("usage_totals").replays == "usage_totals_replays")
        let url = try TestServices.databaseURL
        let missing = TestServices.unique("it_q_missing")
        let error = try await TestServices.blocking { () throws -> TotalsQueryError? in
            let queries = try CurrentTotalsQueries(table: missing)
            do {
                _ = try queries.tenants(on: try PostgresConnection(url: url))
                return nil
            } catch let error as TotalsQueryError {
                return error
            }
        }
        #expect(error?.kind == .missingTables)
        #expect(error?.message.contains("sinks.table") == true)
        #expect(error?.postgres?.sqlState == "42P01")
    }
}
