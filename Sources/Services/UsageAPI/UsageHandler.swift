import Foundation
import OpenAPIRuntime
import UsagePostgres
import UsageStandard

/// The operations of `docs/openapi.yaml` (tags usage, page, probes): `APIProtocol` is generated from it. Every
/// operation runs under the request's `Principal` (set by `AuthenticationMiddleware`); problems are thrown as
/// `APIProblem` and rendered by `ProblemMiddleware`.
struct UsageHandler: APIProtocol {
    let store: TotalsStore
    let registry: MetricRegistry

    private var principal: Principal {
        get throws(APIProblem) {
            guard let principal = Principal.current else { throw APIProblem(.unauthorized, "no token") }
            return principal
        }
    }

    func getUsage(_ input: Operations.GetUsage.Input) async throws -> Operations.GetUsage.Output {
        let query = try await validated(Self.parameters(input.query))
        let (rows, next) = try await page(query)
        if Self.wantsCSV(input.headers.accept.map { ($0.contentType.rawValue, $0.quality.doubleValue) }) {
            return .ok(.init(headers: .init(nextCursor: next), body: .csv(HTTPBody(UsageCSV.render(rows, of: query, focus: false)))))
        }
        return .ok(.init(headers: .init(nextCursor: next), body: .json(.init(rows: try rows.map(Self.usageRow), nextCursor: next))))
    }

    func getUsageFocus(_ input: Operations.GetUsageFocus.Input) async throws -> Operations.GetUsageFocus.Output {
        let query = try await validated(Self.parameters(input.query))
        let (rows, next) = try await page(query)
        if Self.wantsCSV(input.headers.accept.map { ($0.contentType.rawValue, $0.quality.doubleValue) }) {
            return .ok(.init(headers: .init(nextCursor: next), body: .csv(HTTPBody(UsageCSV.render(rows, of: query, focus: true)))))
        }
        return .ok(.init(headers: .init(nextCursor: next), body: .json(.init(rows: try rows.map(Self.focusRow), nextCursor: next))))
    }

    func listMetrics(_ input: Operations.ListMetrics.Input) async throws -> Operations.ListMetrics.Output {
        _ = try principal
        let metrics = registry.metrics.values.sorted { $0.name < $1.name }
            .map { Components.Schemas.Metric(name: $0.name, unit: $0.unit, meaning: $0.meaning) }
        return .ok(.init(body: .json(.init(metrics: metrics))))
    }

    func listInstances(_ input: Operations.ListInstances.Input) async throws -> Operations.ListInstances.Output {
        try UsageQuery.checkName("tenant", input.query.tenant)
        let tenant = try principal.tenantFilter(requested: input.query.tenant)
        let instances = try await store.run(unexpectedRow: "the totals view returned an unexpected instance row") { queries, db throws(TotalsQueryError) in
            try queries.instances(tenant: tenant, on: db)
        }.map { instance in
            Components.Schemas.Instance(tenant: instance.tenant, instance: instance.instance, providers: instance.providers,
                                        firstWindowStart: Self.date(instance.firstWindowStart),
                                        lastWindowEnd: Self.date(instance.lastWindowEnd))
        }
        return .ok(.init(body: .json(.init(instances: instances))))
    }

    func usagePage(_ input: Operations.UsagePage.Input) async throws -> Operations.UsagePage.Output {
        let principal = try principal
        let model = try await pageModel(principal: principal, tenant: input.query.tenant, day: input.query.day,
                                        metric: input.query.metric)
        return .ok(.init(body: .html(HTTPBody(UsagePage.render(model)))))
    }

    func liveness(_ input: Operations.Liveness.Input) async throws -> Operations.Liveness.Output {
        .ok(.init(body: .plainText(HTTPBody("ok\n"))))
    }

    func readiness(_ input: Operations.Readiness.Input) async throws -> Operations.Readiness.Output {
        do {
            try await store.run { queries, db throws(TotalsQueryError) in try queries.probe(on: db) }
            return .ok(.init(body: .plainText(HTTPBody("ready: PostgreSQL answers and \(store.view) exists\n"))))
        } catch {
            return .serviceUnavailable(.init(body: .plainText(HTTPBody("not ready: \(error.detail)\n"))))
        }
    }

    // MARK: - Shared steps

    /// The query, validated for the principal; a tenant's user naming an instance that only other tenants have
    /// is refused (403), as naming another tenant is.
    func validated(_ parameters: UsageQuery.Parameters) async throws(APIProblem) -> UsageQuery {
        let principal = try principal
        let query = try UsageQuery.validated(parameters, principal: principal, registry: registry)
        if let own = principal.ownTenant, let instance = query.instance {
            let owners = try await store.run { queries, db throws(TotalsQueryError) in
                try queries.owners(of: instance, tenant: own, on: db)
            }
            if !owners.tenant && owners.others {
                throw APIProblem(.forbidden, "instance '\(instance)' belongs to another tenant; this token may only see tenant '\(own)'")
            }
        }
        return query
    }

    /// One page of rows of `query` and the cursor of the next page, if any.
    func page(_ query: UsageQuery) async throws(APIProblem) -> ([UsageRow], String?) {
        let totalsQuery = query.totalsQuery
        let page = try await store.run { queries, db throws(TotalsQueryError) in try queries.summaries(totalsQuery, on: db) }
        return (page.rows.map(UsageRow.init), page.next.map { PageCursor.encode($0, fingerprint: query.fingerprint) })
    }

    static func parameters(_ query: Operations.GetUsage.Input.Query) -> UsageQuery.Parameters {
        UsageQuery.Parameters(tenant: query.tenant, instance: query.instance, component: query.component,
                              metric: query.metric, provider: query.provider, status: query.status?.rawValue,
                              from: query.from, to: query.to, window: query.window?.rawValue,
                              groupBy: query.groupBy?.map(\.rawValue) ?? [], pageSize: query.pageSize.map(Int.init),
                              cursor: query.cursor)
    }

    static func parameters(_ query: Operations.GetUsageFocus.Input.Query) -> UsageQuery.Parameters {
        UsageQuery.Parameters(tenant: query.tenant, instance: query.instance, component: query.component,
                              metric: query.metric, provider: query.provider, status: query.status?.rawValue,
                              from: query.from, to: query.to, window: query.window?.rawValue,
                              groupBy: query.groupBy?.map(\.rawValue) ?? [], pageSize: query.pageSize.map(Int.init),
                              cursor: query.cursor)
    }

    /// Whether the client prefers CSV to JSON (by the Accept header's quality values; JSON when equal or absent).
    static func wantsCSV(_ accept: [(String, Double)]) -> Bool {
        let csv = accept.filter { $0.0 == "text/csv" }.map(\.1).max() ?? -1
        let json = accept.filter { $0.0 == "application/json" || $0.0 == "*/*" }.map(\.1).max() ?? -1
        return csv > 0 && csv > json
    }

    static func usageRow(_ row: UsageRow) throws(APIProblem) -> Components.Schemas.UsageRow {
        Components.Schemas.UsageRow(windowStart: try date(row.windowStart), windowEnd: try date(row.windowEnd),
                                    tenant: row.tenant, instance: row.instance, component: row.component,
                                    provider: row.provider, metric: row.metric, unit: row.unit, quantity: row.quantity,
                                    eventCount: row.eventCount, status: row.status == "final" ? .final : .provisional)
    }

    static func focusRow(_ row: UsageRow) throws(APIProblem) -> Components.Schemas.FocusRow {
        Components.Schemas.FocusRow(chargePeriodStart: try date(row.windowStart), chargePeriodEnd: try date(row.windowEnd),
                                    chargeCategory: .usage, subAccountId: row.tenant, resourceId: row.instance,
                                    serviceName: row.component, hostProviderName: row.provider, xMetric: row.metric,
                                    consumedQuantity: row.quantity, consumedUnit: row.unit, xEventCount: row.eventCount,
                                    xStatus: row.status == "final" ? .final : .provisional)
    }

    static func date(_ text: String) throws(APIProblem) -> Date {
        guard let timestamp = Timestamp.parse(text) else {
            throw APIProblem(.internalError, "the totals view returned an unreadable time")
        }
        return Date(timeIntervalSince1970: Double(timestamp.milliseconds) / 1000)
    }

    static func date(_ time: Timestamp) -> Date {
        Date(timeIntervalSince1970: Double(time.milliseconds) / 1000)
    }
}
