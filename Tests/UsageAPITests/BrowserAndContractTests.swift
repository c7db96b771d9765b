import Foundation
import TestSupport
import Testing

/// The usage page in a real browser (headless Chromium) and the running server against its OpenAPI document
/// (schemathesis), both on the demo day.
@Suite("Usage page in Chromium; schemathesis against the running API")
struct BrowserAndContractTests {
    @Test("Chromium renders the page: a bar per component and hour equal to the API's, the table equal to the API's totals, provisional hours marked; screenshot saved")
    func pageInChromium() async throws {
        let fixture = try await Fixture.shared.value
        let tenant = "hybrid-corp"
        let token = try await fixture.realm.token(tenant: tenant)
        let chromium = try Tool.find(["chromium", "chromium-browser", "google-chrome"])
        let page = fixture.api + "/?day=\(fixture.day)&metric=cpu_core_seconds"
        // The realm's sign-in hands the browser the token as a cookie, then sends it on to the page.
        let url = "http://127.0.0.1:\(fixture.realm.port)/login?token=\(token)&next=\(HTTP.encode(page))"
        let profile = FileManager.default.temporaryDirectory.appendingPathComponent("chromium-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: profile) }
        let flags = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--no-first-run",
                     "--user-data-dir=\(profile.path)", "--window-size=1100,1300", "--hide-scrollbars"]
        let (status, dom) = try await Tool.run(chromium, flags + ["--dump-dom", url], seconds: 120)
        #expect(status == 0)
        #expect(dom.contains("id=\"tenant\">\(tenant)<"), "\(dom.prefix(2000))")

        // Bars: one per component and hour with the API's exact quantity and status.
        let from = fixture.day + "T00:00:00Z"
        let to = try #require(UsagePageDay.next(fixture.day)) + "T00:00:00Z"
        let (hourly, _) = try await fixture.allRows("tenant=\(tenant)&metric=cpu_core_seconds&from=\(from)&to=\(to)&window=hour&groupBy=component&pageSize=10000", token: token)
        let expectedBars: Set<[String]> = Set(hourly.map { row -> [String] in
            let start = row["windowStart"] as? String ?? ""
            let hour = String(Int(start.dropFirst(11).prefix(2)) ?? -1)
            return [hour, row["component"] as? String ?? "", row["quantity"] as? String ?? "", row["status"] as? String ?? ""]
        })
        let bars = dom.matches(of: /<rect class="bar[^"]*" data-hour="(\d+)" data-component="([^"]*)" data-quantity="([^"]*)" data-status="([^"]*)"/)
            .map { [String($0.output.1), String($0.output.2), String($0.output.3), String($0.output.4)] }
        #expect(bars.count == hourly.count && Set(bars) == expectedBars)
        #expect(Set(bars.map { $0[1] }).count >= 10, "bars per component")
        let provisional = expectedBars.filter { $0[3] == "provisional" }
        #expect(!provisional.isEmpty, "the demo day's last hours are still open")
        let marked = Set(dom.matches(of: /class="axis provisional-mark" data-hour="(\d+)"/).map { String($0.output.1) })
        #expect(marked == Set(provisional.map { $0[0] }))

        // Table: the day's totals per component and metric, as the API sums them.
        let (totals, _) = try await fixture.allRows("tenant=\(tenant)&from=\(from)&to=\(to)&window=total&groupBy=component&pageSize=10000", token: token)
        let rows = dom.matches(of: /<tr data-component="([^"]*)" data-metric="([^"]*)">.*?<td class="quantity">([^<]*)<\/td><td class="unit">([^<]*)<\/td>/)
            .map { [String($0.output.1), String($0.output.2), String($0.output.3), String($0.output.4)] }
        let expectedRows: Set<[String]> = Set(totals.map { row -> [String] in
            ["component", "metric", "quantity", "unit"].map { row[$0] as? String ?? "" }
        })
        #expect(rows.count == totals.count && Set(rows) == expectedRows)

        let screenshot = TestServices.repository.appendingPathComponent(".build/artifacts/usage-page.png")
        try FileManager.default.createDirectory(at: screenshot.deletingLastPathComponent(), withIntermediateDirectories: true)
        try? FileManager.default.removeItem(at: screenshot)
        let shot = try await Tool.run(chromium, flags + ["--screenshot=\(screenshot.path)", url], seconds: 120)
        #expect(shot.status == 0)
        let png = try Data(contentsOf: screenshot)
        #expect(png.starts(with: [0x89, 0x50, 0x4E, 0x47]) && png.count > 20_000, "a real picture, not a blank page")
    }

    @Test("schemathesis against the running server (tenant and admin tokens, bounded examples): no 5xx, every response as documented")
    func schemathesis() async throws {
        let fixture = try await Fixture.shared.value
        let schemathesis = try Tool.find([Tool.toolsDirectory + "/venv/bin/schemathesis", "schemathesis"])
        let document = TestServices.repository.appendingPathComponent("docs/openapi.yaml").path
        for token in [try await fixture.realm.token(tenant: "hybrid-corp", expiresIn: 3600),
                      try await fixture.realm.token(tenant: nil, roles: [TestRealm.adminRole], expiresIn: 3600)] {
            let (status, output) = try await Tool.run(schemathesis, [
                "run", document, "--url", fixture.api, "--header", "Authorization: Bearer \(token)",
                "--exclude-tag", "operations", "--checks", "all",
                // Values valid by schema may still be refused by a documented rule (window alignment, another
                // tenant), so schema-valid input is not required to succeed.
                "--exclude-checks", "positive_data_acceptance",
                "--phases", "examples,coverage,fuzzing", "--max-examples", "40", "--seed", "7",
                "--workers", "2", "--request-timeout", "30", "--no-color", "--output-truncate", "true",
            ], seconds: 480)
            #expect(status == 0, "\(output.suffix(6000))")
            #expect(output.contains("passed"), "\(output.suffix(2000))")
        }
    }
}

/// Day arithmetic for the tests.
enum UsagePageDay {
    static func next(_ day: String) -> String? {
        guard let date = ISO8601DateFormatter().date(from: day + "T00:00:00Z") else { return nil }
        return String(ISO8601DateFormatter().string(from: date.addingTimeInterval(86_400)).prefix(10))
    }
}
