import Foundation
import Testing
import UsageStandard
import UsagePricing

@Suite struct ExamplePriceBook {
    let book: PriceBook

    init() throws {
        let path = repositoryRoot.appendingPathComponent("examples/price-book.yaml").path
        let text = try String(contentsOfFile: path, encoding: .utf8)
        book = try PriceBook.parse(text, file: path)
    }

    /// The worked examples' totals (docs/examples), as the service publishes them.
    func seedTotals() throws -> [UsageTotal] {
        let folder = repositoryRoot.appendingPathComponent("docs/examples")
        var totals: [UsageTotal] = []
        for name in ["single-user-gcp", "team-databricks", "hybrid-onprem-gcp"] {
            let text = try String(contentsOf: folder.appendingPathComponent("\(name).totals.jsonl"), encoding: .utf8)
            for line in text.split(separator: "\n") where !line.isEmpty {
                totals.append(try UsageTotalCodec.decode(Array(line.utf8)).get())
            }
        }
        return totals
    }

    @Test func loadsWithAPriceChangeMidMonth() {
        #expect(book.id == "ferris-list-eur" && book.currency.code == "EUR")
        #expect(book.versions.map(\.id) == ["2026-11a", "2026-11b"])
        #expect(book.versions.first?.effectiveTo == at("2026-11-16T00:00:00Z"))
        #expect(book.table().contains("version 2026-11b: 2026-11-16T00:00:00.000Z .. (open)"))
        #expect(book.table().contains("contract hybrid-corp: 12.5% off list prices; jupyterhub/session_hours/provider=gcp at 0.07 EUR"))
    }

    @Test func pricesEverySeedTotal() throws {
        let result = try Rater(book: book).rate(try seedTotals())
        #expect(result.unpriced.isEmpty, "\(result.unpriced.map(\.total.subject))")
        func row(_ instance: String, _ component: String, _ metric: String) -> [String] {
            result.rated.first { $0.total.key.instance == instance && $0.total.key.component == component && $0.total.key.metric == metric }
                .map(costs) ?? []
        }
        // Hybrid (2026-11-25, version 2026-11b; hybrid-corp's contract: 12.5 % off, JupyterHub at 0.07):
        //   JupyterHub on GCP, 1 Hour: list 0.09, contracted 0.07.
        //   Theia on-prem, 1.25 Hours: list 1.25 x 0.04 = 0.05; contracted 1.25 x 0.035 = 0.04375 -> 0.04.
        //   Presto scanned 3.75 GiB: list 0.01875 -> 0.02; contracted 3.75 x 0.004375 = 0.01640625 -> 0.02.
        //   Kafka on-prem, 30 Core-Seconds: 30 x 0.0000095 = 0.000285 -> 0.00 (on-prem price, not GCP's).
        #expect(row("hybrid-gcp", "jupyterhub", "session_hours") == ["0.09/0.07"])
        #expect(row("hybrid-onprem", "theia-ide", "session_hours") == ["0.05/0.04"])
        #expect(row("hybrid-gcp", "presto", "scanned_gib") == ["0.02/0.02"])
        #expect(result.rated.first { $0.total.key.instance == "hybrid-onprem" && $0.total.key.component == "kafka" }?
                    .charges.first?.listUnitPrice == dec("0.0000095"))
        // Team: Keycloak 7 User-Hours x 0.02 = 0.14. Solo: 42 requests, inside the free allowance.
        #expect(row("team-gcp", "keycloak", "active_user_hours") == ["0.14/0.14"])
        #expect(row("solo-gcp", "ferris-ui", "requests") == ["0.00/0.00"])
        #expect(result.rated.first { $0.total.key.metric == "requests" }?.charges.first?.tier == 1)
    }
}
