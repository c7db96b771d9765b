import Foundation
import TestSupport
import Testing
import UsageStandard

/// Every usage endpoint against PostgreSQL filled by the real pipeline with the demo day; expected results come from
/// the test's own SQL over the current-totals view (and, for day totals, from the simulator itself).
@Suite("Usage API over the demo day", .serialized)
struct UsageEndpointTests {
    static let cases: [(window: String, groupBy: [String], filters: [String: String])] = [
        ("hour", ["tenant", "instance", "component"], [:]),
        ("hour", ["component", "status"], ["tenant": "hybrid-corp"]),
        ("day", ["tenant", "provider"], [:]),
        ("day", [], ["metric": "cpu_core_seconds"]),
        ("month", ["tenant", "instance"], ["provider": "gcp"]),
        ("total", ["tenant", "component"], ["status": "final"]),
        ("total", ["instance"], ["component": "presto", "tenant": "hybrid-corp"]),
    ]

    @Test("/v1/usage equals the test's SQL for every window, grouping and filter; pages follow the cursor without loss",
          arguments: 0..<7)
    func usageEqualsSQL(_ index: Int) async throws {
        let fixture = try await Fixture.shared.value
        let admin = try await fixture.realm.token(tenant: nil, roles: [TestRealm.adminRole])
        let (window, groupBy, filters) = Self.cases[index]
        var query = "window=\(window)&pageSize=\(index % 2 == 0 ? 17 : 10000)"
        if !groupBy.isEmpty { query += "&groupBy=" + groupBy.joined(separator: ",") }
        for (name, value) in filters { query += "&\(name)=\(HTTP.encode(value))" }
        let (rows, pages) = try await fixture.allRows(query, token: admin)
        let got = try Fixture.comparable(rows, groupBy: groupBy)
        let expected = try await fixture.expectedRows(window: window, groupBy: groupBy, filters: filters)
        #expect(!expected.isEmpty)
        #expect(got.count == Set(got).count, "a row came twice across pages")
        #expect(Set(got) == Set(expected))
        let starts: [String] = got.map { $0.key[0] }
        #expect(starts == starts.sorted(), "rows are ordered by window start")
        if index % 2 == 0 { #expect(pages == expected.count / 17 + 1) }
    }

    @Test("a time range: hours starting in [from, to) only; window=total spans exactly the range")
    func timeRange() async throws {
        let fixture = try await Fixture.shared.value
        let admin = try await fixture.realm.token(tenant: nil, roles: [TestRealm.adminRole])
        let from = fixture.day + "T06:00:00Z", to = fixture.day + "T09:00:00Z"
        for window in ["hour", "total"] {
            let (rows, _) = try await fixture.allRows("window=\(window)&groupBy=tenant&from=\(from)&to=\(to)", token: admin)
            let got = try Fixture.comparable(rows, groupBy: ["tenant"])
            #expect(Set(got) == Set(try await fixture.expectedRows(window: window, groupBy: ["tenant"], from: from, to: to)))
            if window == "total" {
                #expect(rows.allSatisfy { $0["windowStart"] as? String == from && $0["windowEnd"] as? String == to })
            } else {
                #expect(Set(rows.compactMap { $0["windowStart"] as? String }).count == 3)
            }
        }
    }

    @Test("day totals equal the simulator's exact totals of the events (quantities exact to the last digit)")
    func dayTotalsEqualTheSimulator() async throws {
        let fixture = try await Fixture.shared.value
        let admin = try await fixture.realm.token(tenant: nil, roles: [TestRealm.adminRole])
        var sums: [[String]: (Quantity, Int64)] = [:]
        for (key, entry) in fixture.expected.entries {
            let id = [key.key.tenant, key.key.instance, key.key.component, key.key.metric]
            let current = sums[id] ?? (.zero, 0)
            sums[id] = (Quantity(micros: current.0.micros + entry.quantity.micros), current.1 + entry.eventCount)
        }
        let (rows, _) = try await fixture.allRows("window=day&groupBy=tenant,instance,component&pageSize=10000", token: admin)
        var got: [[String]: (Quantity, Int64)] = [:]
        for row in rows {
            let id = ["tenant", "instance", "component", "metric"].map { row[$0] as? String ?? "" }
            guard case .success(let quantity) = Quantity.parse(row["quantity"] as? String ?? "") else {
                Issue.record("not an exact decimal: \(row)")
                continue
            }
            #expect(row["windowStart"] as? String == fixture.day + "T00:00:00Z")
            got[id] = (quantity, Int64(row["eventCount"] as? Int ?? -1))
        }
        #expect(got.count == sums.count)
        for (id, value) in sums {
            #expect(got[id]?.0 == value.0 && got[id]?.1 == value.1, "\(id): API \(String(describing: got[id])), simulator \(value)")
        }
    }

    @Test("/v1/usage/focus returns the same rows under FOCUS names; CSV returns the same rows as JSON")
    func focusAndCSV() async throws {
        let fixture = try await Fixture.shared.value
        let token = try await fixture.realm.token(tenant: "hybrid-corp")
        let query = "window=day&groupBy=instance,component,provider&pageSize=10000"
        let (rows, _) = try await fixture.allRows(query, token: token)
        let (focus, _) = try await fixture.allRows(query, path: "/v1/usage/focus", token: token)
        #expect(rows.count == focus.count && !rows.isEmpty)
        for (row, focusRow) in zip(rows, focus) {
            #expect(focusRow["ChargeCategory"] as? String == "Usage")
            for (name, focusName) in [("windowStart", "ChargePeriodStart"), ("windowEnd", "ChargePeriodEnd"),
                                      ("instance", "ResourceId"), ("component", "ServiceName"), ("provider", "HostProviderName"),
                                      ("metric", "x_Metric"), ("quantity", "ConsumedQuantity"), ("unit", "ConsumedUnit"),
                                      ("status", "x_Status")] {
                #expect(row[name] as? String == focusRow[focusName] as? String, "\(name) vs \(focusName)")
            }
            #expect(row["eventCount"] as? Int == focusRow["x_EventCount"] as? Int)
            #expect(focusRow["SubAccountId"] == nil, "not grouped by tenant")
        }
        let csv = try await HTTP.get(fixture.api + "/v1/usage?" + query, token: token, headers: ["Accept": "text/csv"])
        #expect(csv.status == 200)
        #expect(csv.header("Content-Type")?.hasPrefix("text/csv") == true)
        let lines = csv.text.split(separator: "\r\n").map { $0.split(separator: ",", omittingEmptySubsequences: false).map(String.init) }
        #expect(lines.first == ["window_start", "window_end", "instance", "component", "provider", "metric", "quantity", "unit", "event_count",
                                "status", "currency", "cost", "list_cost", "cost_status", "unpriced_reasons"])
        let names = ["windowStart", "windowEnd", "instance", "component", "provider", "metric", "quantity", "unit"]
        let jsonLines: [[String]] = rows.map { row in
            let fields: [String] = names.map { row[$0] as? String ?? "" }
            let count = String(row["eventCount"] as? Int ?? -1)
            let costs = ["status", "currency", "cost", "listCost", "costStatus"].map { row[$0] as? String ?? "" }
            return fields + [count] + costs + [(row["unpricedReasons"] as? [String] ?? []).joined(separator: " ")]
        }
        #expect(Array(lines.dropFirst()) == jsonLines)
        let focusCSV = try await HTTP.get(fixture.api + "/v1/usage/focus?" + query, token: token, headers: ["Accept": "text/csv"])
        #expect(focusCSV.text.hasPrefix("ChargePeriodStart,ChargePeriodEnd,ChargeCategory,ResourceId,ServiceName,HostProviderName,x_Metric,ConsumedQuantity"))
        #expect(focusCSV.text.split(separator: "\r\n").count == lines.count)
    }

    @Test("/v1/metrics is the registry; /v1/instances are the view's instances with their providers")
    func metricsAndInstances() async throws {
        let fixture = try await Fixture.shared.value
        let admin = try await fixture.realm.token(tenant: nil, roles: [TestRealm.adminRole])
        let metrics = try await HTTP.get(fixture.api + "/v1/metrics", token: admin).json["metrics"] as? [[String: String]] ?? []
        #expect(metrics.map { $0["name"] ?? "" } == MetricRegistry.v1.metrics.keys.sorted())
        #expect(metrics.allSatisfy { MetricRegistry.v1[$0["name"] ?? ""]?.unit == $0["unit"] })
        let instances = try await HTTP.get(fixture.api + "/v1/instances", token: admin).json["instances"] as? [[String: Any]] ?? []
        let expected = try await fixture.sql("""
            SELECT tenant, instance, COALESCE(string_agg(DISTINCT host_provider, ','), '') FROM \(fixture.table)
            GROUP BY tenant, instance ORDER BY tenant, instance
            """)
        #expect(instances.map { [$0["tenant"] as? String ?? "", $0["instance"] as? String ?? "",
                                 ($0["providers"] as? [String] ?? []).joined(separator: ",")] }
                == expected.map { $0.values.map { $0 ?? "" } })
        #expect(instances.count == 4)
        #expect(instances.allSatisfy { ($0["firstWindowStart"] as? String)?.hasPrefix(fixture.day) == true })
    }

    @Test("every bad parameter gets a 400 problem naming it and saying what to do, without SQL", arguments: [
        ("metric=gpu_seconds", "metric", "unknown metric"),
        ("from=2026-11-25T10:00:00Z&to=2026-11-25T09:00:00Z", "to", "must be before"),
        ("window=hour&from=2026-11-25T10:30:00Z", "from", "window not aligned"),
        ("window=day&to=2026-11-25T10:00:00Z", "to", "window not aligned"),
        ("window=month&from=2026-11-02T00:00:00Z", "from", "window not aligned"),
        ("pageSize=10001", "pageSize", "out of range"),
        ("pageSize=0", "pageSize", "out of range"),
        ("window=week", "window", "use hour, day, month, total"),
        ("status=open", "status", "use final, provisional"),
        ("groupBy=tenant,color", "groupBy", "groupBy 'color' is not allowed"),
        ("groupBy=", "groupBy", "names no column"),
        ("from=yesterday", "from", "not an RFC 3339 time"),
        ("to=2026-11-25", "to", "not an RFC 3339 time"),
        ("pageSize=many", "pageSize", "not a whole number"),
        ("tenant=", "tenant", "must not be empty"),
        ("instance=" + String(repeating: "x", count: 201), "instance", "longer than 200 characters"),
        ("cursor=bm9wZQ", "cursor", "not one this API made"),
    ])
    func badParameters(_ query: String, _ parameter: String, _ phrase: String) async throws {
        let fixture = try await Fixture.shared.value
        let admin = try await fixture.realm.token(tenant: nil, roles: [TestRealm.adminRole])
        for path in ["/v1/usage", "/v1/usage/focus"] {
            let reply = try await HTTP.get(fixture.api + path + "?" + query, token: admin)
            #expect(reply.status == 400, "\(query): \(reply.status) \(reply.text)")
            #expect(reply.header("Content-Type") == "application/problem+json")
            #expect(reply.json["status"] as? Int == 400 && reply.json["title"] as? String == "Invalid parameter")
            #expect(reply.json["parameter"] as? String == parameter, "\(reply.text)")
            #expect((reply.json["detail"] as? String)?.contains(phrase) == true, "\(reply.text)")
            #expect(!reply.text.contains("SELECT") && !reply.text.contains("statement"))
        }
    }

    @Test("another method than GET on an API path: 405 with Allow: GET")
    func methodNotAllowed() async throws {
        let fixture = try await Fixture.shared.value
        for path in ["/v1/usage", "/", "/healthz"] {
            let reply = try await HTTP.get(fixture.api + path, method: "DELETE")
            #expect(reply.status == 405 && reply.header("Allow") == "GET", "\(path): \(reply.status)")
        }
        #expect(try await HTTP.get(fixture.api + "/v2/nothing").status == 404)
    }

    @Test("a cursor is refused with other parameters than the query that made it")
    func cursorBelongsToItsQuery() async throws {
        let fixture = try await Fixture.shared.value
        let admin = try await fixture.realm.token(tenant: nil, roles: [TestRealm.adminRole])
        let first = try await HTTP.get(fixture.api + "/v1/usage?window=hour&pageSize=5", token: admin)
        let cursor = try #require(first.json["nextCursor"] as? String)
        #expect(first.header("Next-Cursor") == cursor)
        let same = try await HTTP.get(fixture.api + "/v1/usage?window=hour&pageSize=5&cursor=\(cursor)", token: admin)
        #expect(same.status == 200)
        let other = try await HTTP.get(fixture.api + "/v1/usage?window=day&pageSize=5&cursor=\(cursor)", token: admin)
        #expect(other.status == 400 && other.json["parameter"] as? String == "cursor")
    }

    @Test("without PostgreSQL: /readyz is 503 and queries get a 503 problem without SQL or connection details")
    func databaseDown() async throws {
        let fixture = try await Fixture.shared.value
        let port = try TestServices.freePort()
        let api = try await Fixture.startAPI(realm: fixture.realm, databaseURL: "postgresql://nobody:secret@127.0.0.1:\(port)/none?connect_timeout=2",
                                             table: fixture.table)
        let ready = try await HTTP.get(api + "/readyz")
        #expect(ready.status == 503 && ready.text.hasPrefix("not ready: "))
        let token = try await fixture.realm.token(tenant: "solo")
        let reply = try await HTTP.get(api + "/v1/usage", token: token)
        #expect(reply.status == 503 && reply.json["status"] as? Int == 503)
        #expect(!reply.text.contains("secret") && !reply.text.contains("SELECT") && !reply.text.contains("127.0.0.1"))
        #expect(try await HTTP.get(fixture.api + "/readyz").status == 200)
    }
}
