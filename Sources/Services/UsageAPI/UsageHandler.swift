import Foundation
import Logging
import OpenAPIRuntime
import PostgreSQL
import UsagePostgres
import UsagePriceBooks
import UsagePricing
import UsageStandard

/// The operations of `docs/openapi.yaml` (tags usage, page, probes): `APIProtocol` is generated from it. Every
/// operation runs under the request's `Principal` (set by `AuthenticationMiddleware`); problems are thrown as
/// `APIProblem` and rendered by `ProblemMiddleware`.
struct UsageHandler: APIProtocol {
    let store: TotalsStore
    let registry: MetricRegistry
    /// The price books costs are rated with.
    let prices: PriceBooks
    let logger: Logger

    private var principal: Principal {
        get throws(APIProblem) {
            guard let principal = Principal.current else { throw APIProblem(.unauthorized, "no token") }
            return principal
        }
    }

    func getUsage(_ input: Operations.GetUsage.Input) async throws -> Operations.GetUsage.Output {
        let query = try await validated(Self.parameters(input.query))
        let (rows, next) = try await page(query, costs: true)
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

    func listPrices(_ input: Operations.ListPrices.Input) async throws -> Operations.ListPrices.Output {
        let principal = try principal
        guard case .ready(let set, let readAt) = prices.current else {
            if case .unavailable(let reason) = prices.current { throw APIProblem(.unavailable, "no price books: \(reason)") }
            throw APIProblem(.unavailable, "no price books")
        }
        var books = set.books
        if let own = principal.ownTenant {
            books = set.book(for: own).map { [Self.visible($0, to: own)] } ?? []
        }
        return .ok(.init(body: .json(.init(books: try books.map(Self.priceBook), readAt: Self.date(readAt)))))
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

    /// One page of rows of `query` and the cursor of the next page, if any; with `costs`, each row with its cost.
    ///
    /// For costs, the page and the figures it is rated from are read in one snapshot (so that they agree while
    /// totals are being written): the hourly figures of the page's tenant (or of every tenant when the page spans
    /// tenants) from the start of the month of the page's first hour to its last, rated with the current books
    /// (`UsageCosts`).
    func page(_ query: UsageQuery, costs: Bool = false) async throws(APIProblem) -> ([UsageRow], String?) {
        let totalsQuery = query.totalsQuery
        let books = costs ? prices.set : nil
        let (page, figures) = try await store.run { queries, db throws(TotalsQueryError) -> (TotalsSummaryPage, [CurrentFigure]) in
            guard books != nil else { return (try queries.summaries(totalsQuery, on: db), []) }
            return try queries.inSnapshot(on: db, failure: { $0 }) { () throws(TotalsQueryError) -> (TotalsSummaryPage, [CurrentFigure]) in
                let page = try queries.summaries(totalsQuery, on: db)
                let rows = page.rows.map(UsageRow.init)
                guard let range = UsageCosts.ratingRange(of: rows, query: query) else { return (page, []) }
                let cursor = try queries.figures(from: range.start, to: range.end, tenant: UsageCosts.tenant(of: rows, query: query), on: db)
                let relevant = UsageCosts.relevance(of: rows, query: query)
                var figures: [CurrentFigure] = []
                while true {
                    let batch = try cursor.next()
                    if batch.isEmpty { break }
                    figures += batch.filter { relevant($0.tenant, $0.metric) }
                }
                return (page, figures)
            }
        }
        var rows = page.rows.map(UsageRow.init)
        if costs {
            let rowCosts = books.map { rate(figures, with: $0, rows: rows, query: query) } ?? rows.map { _ in .unavailable }
            for index in rows.indices { rows[index].cost = rowCosts[index] }
        }
        return (rows, page.next.map { PageCursor.encode($0, fingerprint: query.fingerprint) })
    }

    /// The costs of `rows` of `query` from `figures` rated with `books`. Rating is exact and only fails on a defect
    /// (an amount beyond 128-bit decimals, two figures of one hour): then costs are unavailable and the log says why.
    private func rate(_ figures: [CurrentFigure], with books: PriceBookSet, rows: [UsageRow], query: UsageQuery) -> [RowCost] {
        var totals: [UsageTotal] = []
        var unreadable: [CostKey] = []
        totals.reserveCapacity(figures.count)
        for figure in figures {
            if let total = figure.usageTotal {
                totals.append(total)
            } else if let key = UsageCosts.key(of: Self.zeroTotal(figure), query: query) {
                unreadable.append(key)
            }
        }
        do {
            return try UsageCosts.costs(of: rows, query: query, rated: try books.rate(totals), unreadable: unreadable)
        } catch {
            logger.error("rating the usage failed; answering without costs", metadata: ["error": "\(error)"])
            return rows.map { _ in .unavailable }
        }
    }

    /// `figure` with a zero quantity: to find the row of a figure whose quantity rating cannot read.
    private static func zeroTotal(_ figure: CurrentFigure) -> UsageTotal {
        UsageTotal(key: UsageKey(tenant: figure.tenant, instance: figure.instance, component: figure.component, metric: figure.metric),
                   windowStart: figure.windowStart, windowEnd: figure.windowEnd, quantity: .zero, unit: figure.unit,
                   eventCount: figure.eventCount, status: figure.status, sourcePartition: "", lastOffset: 0,
                   provider: figure.provider, revision: figure.revision)
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
        let cost = row.cost ?? .unavailable
        return Components.Schemas.UsageRow(
            windowStart: try date(row.windowStart), windowEnd: try date(row.windowEnd), tenant: row.tenant,
            instance: row.instance, component: row.component, provider: row.provider, metric: row.metric, unit: row.unit,
            quantity: row.quantity, eventCount: row.eventCount, status: row.status == "final" ? .final : .provisional,
            currency: cost.billed?.currency.code, cost: cost.billed?.text, listCost: cost.list?.text,
            costStatus: Components.Schemas.CostStatus(rawValue: cost.status.rawValue) ?? .unavailable,
            unpricedReasons: cost.unpricedReasons.isEmpty ? nil : cost.unpricedReasons)
    }

    /// `book` as a tenant's token may see it: only its own tenant among `tenants` and only its own contracts.
    static func visible(_ book: PriceBook, to tenant: String) -> PriceBook {
        var book = book
        book.tenants = book.tenants.filter { $0 == tenant }
        book.versions = book.versions.map { version in
            var version = version
            version.contracts = version.contracts.filter { $0.tenant == tenant }
            return version
        }
        return book
    }

    /// `book` in the document's form: its JSON form as the prices topic carries it (`PriceBookEventEncoder.data`).
    static func priceBook(_ book: PriceBook) throws(APIProblem) -> Components.Schemas.PriceBook {
        guard case .object(let members) = PriceBookEventEncoder.data(of: book),
              case .array(let versions)? = members.first(where: { $0.key == "versions" })?.value else {
            throw APIProblem(.internalError, "the price book \(book.id) has no JSON form")
        }
        do {
            return Components.Schemas.PriceBook(
                priceBook: book.id, revision: book.revision, currency: book.currency.code,
                description: book.summary.isEmpty ? nil : book.summary, tenants: book.tenants.isEmpty ? nil : book.tenants,
                versions: try versions.map { version in
                    guard let object = plain(version) as? [String: (any Sendable)?] else {
                        throw APIProblem(.internalError, "a version of the price book \(book.id) is not a JSON object")
                    }
                    return try OpenAPIObjectContainer(unvalidatedValue: object)
                })
        } catch {
            throw APIProblem(.internalError, "the price book \(book.id) could not be written as JSON: \(error)")
        }
    }

    /// A JSON value as plain Swift values: every number of a book's JSON form is a whole number (decimals are
    /// strings), so a number that is not one stays its exact text.
    private static func plain(_ value: JSONValue) -> (any Sendable)? {
        switch value {
        case .object(let members):
            var object: [String: (any Sendable)?] = [:]
            for member in members { object[member.key] = plain(member.value) }
            return object
        case .array(let items): return items.map(plain)
        case .string(let text): return text
        case .number(let text): return Int64(text).map { $0 as any Sendable } ?? text
        case .bool(let flag): return flag
        case .null: return nil
        }
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
