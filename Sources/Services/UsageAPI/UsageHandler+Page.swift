import Foundation
import ProcessSupport
import UsagePostgres
import UsageStandard

extension UsageHandler {
    /// Why there are no costs, while the server has no price books.
    private var pricesUnavailable: String? {
        if case .unavailable(let reason) = prices.current { return reason }
        return nil
    }

    /// The metric the page draws when none is asked for.
    static let defaultPageMetric = "cpu_core_seconds"

    /// What the usage page shows for `tenant` (default: the principal's, or an administrator's first), `day`
    /// (default: the tenant's latest day with totals) and `metric`, read with the same queries and checks as
    /// `/v1/usage`.
    func pageModel(principal: Principal, tenant requested: String?, day requestedDay: String?,
                   metric requestedMetric: String?) async throws(APIProblem) -> UsagePage.Model {
        for (name, value) in [("tenant", requested), ("day", requestedDay), ("metric", requestedMetric)] {
            try UsageQuery.checkName(name, value)
        }
        let metricName = requestedMetric ?? Self.defaultPageMetric
        guard let metric = registry[metricName] else {
            throw .invalid("metric", "unknown metric '\(metricName)'; known metrics: \(registry.metrics.keys.sorted().joined(separator: ", "))")
        }
        var tenants: [String]
        if let own = principal.ownTenant {
            tenants = [own]
        } else {
            tenants = try await store.run { queries, db throws(TotalsQueryError) in try queries.tenants(on: db) }
        }
        let tenant = try principal.tenantFilter(requested: requested) ?? tenants.first ?? ""
        if !tenants.contains(tenant) { tenants.append(tenant) }

        let day: String
        if let requestedDay {
            guard requestedDay.count == 10, Timestamp.parse(requestedDay + "T00:00:00Z") != nil else {
                throw .invalid("day", "'day' (\(requestedDay)) is not a date like 2026-11-25")
            }
            day = requestedDay
        } else {
            let latest = try await store.run { queries, db throws(TotalsQueryError) in try queries.latestDay(of: tenant, on: db) }
            day = latest ?? String(Timestamp(milliseconds: WallClock.milliseconds()).rfc3339.prefix(10))
        }
        guard let start = Timestamp.parse(day + "T00:00:00Z") else { throw .invalid("day", "'day' is not a date") }
        let from = Date(timeIntervalSince1970: Double(start.milliseconds) / 1000)
        let to = from.addingTimeInterval(86_400)
        let metrics = registry.metrics.values.sorted { $0.name < $1.name }
        guard !tenant.isEmpty else {
            return UsagePage.Model(tenant: tenant, day: day, metric: metric, tenants: tenants, metrics: metrics, hourly: [], totals: [],
                                   pricesUnavailable: pricesUnavailable)
        }
        let hourly = UsageQuery.Parameters(tenant: tenant, metric: metric.name, from: from, to: to, window: "hour",
                                           groupBy: ["component"], pageSize: UsageQuery.maximumPageSize)
        var totals = hourly
        totals.metric = nil
        totals.window = "total"
        return UsagePage.Model(tenant: tenant, day: day, metric: metric, tenants: tenants, metrics: metrics,
                               hourly: try await page(try await validated(hourly)).0,
                               totals: try await page(try await validated(totals), costs: true).0,
                               pricesUnavailable: pricesUnavailable)
    }
}
