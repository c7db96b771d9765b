import Foundation
import Testing
@testable import UsageAPI
@testable import UsagePostgres
import UsageStandard

@Suite("Usage query validation, cursor and SQL (no I/O)")
struct QueryTests {
    let tenant = Principal(subject: "u", scope: .tenant("acme"))
    let admin = Principal(subject: "a", scope: .allTenants)

    func date(_ text: String) -> Date { ISO8601DateFormatter().date(from: text) ?? Date.distantPast }

    func problem(_ parameters: UsageQuery.Parameters, as principal: Principal? = nil) -> APIProblem? {
        do {
            _ = try UsageQuery.validated(parameters, principal: principal ?? admin, registry: .v1)
            return nil
        } catch {
            return error
        }
    }

    @Test("aligned ranges pass; unaligned, reversed, unknown and out-of-range values are refused with the parameter named")
    func validation() {
        var ok = UsageQuery.Parameters(from: date("2026-11-01T00:00:00Z"), to: date("2026-12-01T00:00:00Z"), window: "month")
        #expect(problem(ok) == nil)
        ok.window = "day"
        #expect(problem(ok) == nil)
        let refused: [(UsageQuery.Parameters, String, String)] = [
            (.init(from: date("2026-11-25T13:30:00Z"), window: "hour"), "from", "start of an hour"),
            (.init(to: date("2026-11-25T13:00:00Z"), window: "day"), "to", "start of a day"),
            (.init(from: date("2026-11-02T00:00:00Z"), window: "month"), "from", "start of a month"),
            (.init(from: date("2026-11-25T13:00:00Z"), to: date("2026-11-25T13:00:00Z")), "to", "must be before"),
            (.init(metric: "gpu_seconds"), "metric", "unknown metric"),
            (.init(status: "open"), "status", "final or provisional"),
            (.init(window: "week"), "window", "hour, day, month or total"),
            (.init(groupBy: ["colour"]), "groupBy", "cannot group by"),
            (.init(pageSize: 10_001), "pageSize", "1 to 10000"),
            (.init(component: ""), "component", "must not be empty"),
        ]
        for (parameters, name, phrase) in refused {
            let found = problem(parameters)
            #expect(found?.kind == .invalidParameter && found?.parameter == name, "\(parameters)")
            #expect(found?.detail.contains(phrase) == true, "\(String(describing: found))")
        }
        // Any instant is fine for the whole range.
        #expect(problem(.init(from: date("2026-11-25T13:30:05Z"), to: date("2026-11-25T14:00:00Z"), window: "total")) == nil)
    }

    @Test("a tenant's user is limited to its tenant; naming another is 403; an admin may name any or none")
    func tenantScope() throws {
        #expect(try UsageQuery.validated(.init(), principal: tenant, registry: .v1).tenant == "acme")
        #expect(try UsageQuery.validated(.init(tenant: "acme"), principal: tenant, registry: .v1).tenant == "acme")
        #expect(problem(.init(tenant: "globex"), as: tenant)?.kind == .forbidden)
        #expect(try UsageQuery.validated(.init(), principal: admin, registry: .v1).tenant == nil)
        #expect(try UsageQuery.validated(.init(tenant: "globex"), principal: admin, registry: .v1).tenant == "globex")
    }

    @Test("groupBy is deduplicated and ordered; metric is always a group column")
    func grouping() throws {
        let query = try UsageQuery.validated(.init(groupBy: ["status", "metric", "tenant", "status"]), principal: admin, registry: .v1)
        #expect(query.groupBy == [.tenant, .status])
        #expect(query.totalsQuery.positionLength == 1 + 2 + 2)
    }

    @Test("a cursor round-trips with its own query only; a tampered one is refused")
    func cursor() throws {
        let query = try UsageQuery.validated(.init(window: "day", groupBy: ["component"]), principal: admin, registry: .v1)
        let cursor = PageCursor.encode(["2026-11-25T00:00:00Z", "kafka", "cpu_core_seconds", "Core-Seconds"], fingerprint: query.fingerprint)
        let again = try UsageQuery.validated(.init(window: "day", groupBy: ["component"], cursor: cursor), principal: admin, registry: .v1)
        #expect(again.after == ["2026-11-25T00:00:00Z", "kafka", "cpu_core_seconds", "Core-Seconds"])
        #expect(problem(.init(window: "hour", groupBy: ["component"], cursor: cursor))?.detail.contains("other parameters") == true)
        #expect(problem(.init(window: "day", groupBy: ["component"], cursor: "x" + cursor))?.parameter == "cursor")
        // The tenant scope is part of the query: an admin's cursor is not a tenant's.
        #expect(problem(.init(window: "day", groupBy: ["component"], cursor: cursor), as: tenant)?.parameter == "cursor")
    }

    @Test("values are bound as parameters, never spliced into the SQL text")
    func sqlParameters() throws {
        let evil = "x'; DROP TABLE usage_totals; --"
        let query = try UsageQuery.validated(.init(instance: evil, component: evil, provider: evil, window: "day",
                                                   groupBy: ["provider"]), principal: tenant, registry: .v1)
        let (sql, parameters) = query.totalsQuery.statement(view: "usage_totals")
        #expect(!sql.contains("DROP"))
        #expect(parameters.filter { $0 == .text(evil) }.count == 3)
        #expect(parameters.contains(.text("acme")))
        #expect(sql.contains("LIMIT 1001"))
    }

    @Test("CSV quotes fields with commas, quotes and line breaks (RFC 4180)")
    func csv() throws {
        let query = try UsageQuery.validated(.init(groupBy: ["tenant"]), principal: admin, registry: .v1)
        let row = UsageRow(windowStart: "2026-11-25T13:00:00Z", windowEnd: "2026-11-25T14:00:00Z", tenant: "a,\"b\"\nc",
                           metric: "requests", unit: "Requests", quantity: "-1.5", eventCount: 3, status: "final", sortKey: [])
        #expect(UsageCSV.render([row], of: query, focus: false)
            == "window_start,window_end,tenant,metric,quantity,unit,event_count,status,currency,cost,list_cost,cost_status,unpriced_reasons\r\n2026-11-25T13:00:00Z,2026-11-25T14:00:00Z,\"a,\"\"b\"\"\nc\",requests,-1.5,Requests,3,final,,,,unavailable,\r\n")
        #expect(UsageCSV.render([row], of: query, focus: true)
            == "ChargePeriodStart,ChargePeriodEnd,ChargeCategory,SubAccountId,x_Metric,ConsumedQuantity,ConsumedUnit,x_EventCount,x_Status\r\n2026-11-25T13:00:00Z,2026-11-25T14:00:00Z,Usage,\"a,\"\"b\"\"\nc\",requests,-1.5,Requests,3,final\r\n")
    }

    @Test("CSV is chosen only when preferred over JSON")
    func negotiation() {
        #expect(UsageHandler.wantsCSV([("text/csv", 1)]))
        #expect(!UsageHandler.wantsCSV([]))
        #expect(!UsageHandler.wantsCSV([("application/json", 1), ("text/csv", 0.5)]))
        #expect(UsageHandler.wantsCSV([("application/json", 0.2), ("text/csv", 0.9)]))
    }
}

@Suite("JWKS cache state machine (no I/O)")
struct JWKSCacheStateTests {
    typealias State = JWKSCacheState<ContinuousClock.Instant>
    let start = ContinuousClock.now

    @Test("first use fetches; concurrent callers wait for that fetch; then the keys are used until they expire")
    func cachesUntilExpiry() {
        var state = State(timeToLive: .seconds(300), minimumInterval: .seconds(10))
        #expect(state.decide(keyID: "k1", now: start) == .fetch)
        #expect(state.decide(keyID: "k1", now: start) == .awaitFetch)
        state.fetched(keyIDs: ["k1"], at: start + .seconds(1))
        #expect(state.decide(keyID: "k1", now: start + .seconds(1), mayFetch: false) == .useCached)
        #expect(state.decide(keyID: "k1", now: start + .seconds(200)) == .useCached)
        #expect(state.decide(keyID: "k1", now: start + .seconds(302)) == .fetch)
    }

    @Test("an unknown key id fetches at once (rotation), but at most once per minimum interval")
    func rotationIsRateLimited() {
        var state = State(timeToLive: .seconds(300), minimumInterval: .seconds(10))
        _ = state.decide(keyID: "k1", now: start)
        state.fetched(keyIDs: ["k1"], at: start)
        #expect(state.decide(keyID: "k2", now: start + .seconds(5)) == .unknownKey)
        #expect(state.decide(keyID: "k2", now: start + .seconds(11)) == .fetch)
        state.fetched(keyIDs: ["k2"], at: start + .seconds(11))
        #expect(state.decide(keyID: "k2", now: start + .seconds(11), mayFetch: false) == .useCached)
        #expect(state.decide(keyID: "k1", now: start + .seconds(12)) == .unknownKey, "the retired key is gone")
    }

    @Test("a failed fetch keeps the stale keys; with no keys at all it is unavailable, not unauthorized")
    func failures() {
        var state = State(timeToLive: .seconds(300), minimumInterval: .seconds(10))
        #expect(state.decide(keyID: "k1", now: start) == .fetch)
        state.fetchFailed()
        #expect(state.decide(keyID: "k1", now: start, mayFetch: false) == .unavailable)
        #expect(state.decide(keyID: "k1", now: start + .seconds(11)) == .fetch)
        state.fetched(keyIDs: ["k1"], at: start + .seconds(11))
        #expect(state.decide(keyID: "k1", now: start + .seconds(400)) == .fetch)
        state.fetchFailed()
        #expect(state.decide(keyID: "k1", now: start + .seconds(400), mayFetch: false) == .useCached)
        #expect(state.decide(keyID: "k1", now: start + .seconds(405)) == .useCached, "stale keys until the next try")
    }
}

@Suite("Token claims to principal (no I/O)")
struct PrincipalTests {
    func verifier(tenantClaim: String = "tenant") throws -> TokenVerifier {
        var configuration = OIDCConfiguration(jwksURL: try #require(URL(string: "http://127.0.0.1:1/certs")),
                                              issuer: "https://kc/realms/ferris", audience: "ferris-usage")
        configuration.tenantClaim = tenantClaim
        return TokenVerifier(configuration: configuration,
                             keys: JWKSCache(timeToLive: .seconds(1), minimumInterval: .seconds(1), logger: .init(label: "t")) { Data() })
    }

    @Test("tenant claim (also nested), admin role in realm or client roles, neither: 403")
    func principals() throws {
        #expect(try verifier().principal(["sub": .string("u"), "tenant": .string("acme")]).scope == .tenant("acme"))
        #expect(try verifier(tenantClaim: "ferris.tenant").principal(["ferris": .object(["tenant": .string("acme")])]).scope == .tenant("acme"))
        #expect(try verifier().principal(["tenant": .string("acme"), "realm_access": .object(["roles": .array([.string("ferris-usage-admin")])])]).scope == .allTenants)
        #expect(try verifier().principal(["resource_access": .object(["ferris-usage": .object(["roles": .array([.string("ferris-usage-admin")])])])]).scope == .allTenants)
        #expect(throws: APIProblem.self) { try verifier().principal(["sub": .string("u")]) }
        #expect(throws: APIProblem.self) { try verifier().principal(["tenant": .string("")]) }
    }

    @Test("Keycloak's JWKS: only RS256 signing keys are taken, its encryption key is left out")
    func jwksFilter() async throws {
        let document = #"{"keys":[{"kid":"enc","kty":"RSA","alg":"RSA-OAEP","use":"enc","n":"AQAB","e":"AQAB"},{"kid":"ec","kty":"EC","crv":"P-256","x":"AA","y":"AA"}]}"#
        let (_, ids) = try await JWKSCache.collection(from: Data(document.utf8))
        #expect(ids.isEmpty)
    }
}

@Suite("Usage page rendering (no I/O)")
struct PageRenderingTests {
    @Test("names are escaped; provisional hours are marked; the picker keeps the choice")
    func rendering() throws {
        let metric = try #require(MetricRegistry.v1["cpu_core_seconds"])
        let rows = [
            UsageRow(windowStart: "2026-11-25T22:00:00Z", windowEnd: "2026-11-25T23:00:00Z", component: "<script>x</script>",
                     metric: "cpu_core_seconds", unit: "Core-Seconds", quantity: "12.345678", eventCount: 2, status: "provisional", sortKey: []),
            UsageRow(windowStart: "2026-11-25T03:00:00Z", windowEnd: "2026-11-25T04:00:00Z", component: "kafka",
                     metric: "cpu_core_seconds", unit: "Core-Seconds", quantity: "7", eventCount: 1, status: "final", sortKey: []),
        ]
        let html = UsagePage.render(.init(tenant: "a\"b", day: "2026-11-25", metric: metric, tenants: ["a\"b"],
                                          metrics: [metric], hourly: rows, totals: rows))
        #expect(!html.contains("<script>") && html.contains("&lt;script&gt;"))
        #expect(html.contains("data-hour=\"22\" data-component=\"&lt;script&gt;x&lt;/script&gt;\" data-quantity=\"12.345678\" data-status=\"provisional\""))
        #expect(html.contains("class=\"axis provisional-mark\" data-hour=\"22\""))
        #expect(!html.contains("provisional-mark\" data-hour=\"3\""))
        #expect(html.contains("<option value=\"a&quot;b\" selected>"))
        #expect(html.contains("day=2026-11-24") && html.contains("day=2026-11-26"))
        #expect(!html.contains("<script") && !html.contains("src=") && !html.contains("href=\"http") && !html.contains("@import"),
                "nothing loaded from elsewhere")
    }
}
