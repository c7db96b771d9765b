@testable import FocusExport
import Testing
import UsagePricing
import UsageStandard

@Suite("FOCUS file content: columns, CSV, exact decimals, periods, layout, manifest")
struct FocusFileTests {
    /// A rated row of `tenant` (flat price 0.000014 per Core-Second, contracted 0.0000125), or unpriced without `book`.
    func row(tenant: String = "acme", quantity: Int64 = 119_750_000, provider: String? = "gcp", component: String = "kafka",
             priced: Bool = true) throws -> FocusRow {
        let start = try #require(Timestamp.parse("2026-11-25T13:00:00Z"))
        let total = UsageTotal(key: UsageKey(tenant: tenant, instance: "acme-gcp", component: component, metric: "cpu_core_seconds"),
                               windowStart: start, windowEnd: Timestamp(milliseconds: start.milliseconds + 3_600_000),
                               quantity: Quantity(micros: quantity), unit: "Core-Seconds", eventCount: 2, status: .final,
                               sourcePartition: "", lastOffset: 0, provider: provider, revision: 0)
        let eur = try #require(Currency(code: "EUR"))
        let book = PriceBook(id: "list-eur", revision: 3, currency: eur, versions: [])
        guard priced else {
            return FocusRow(total: total, period: BillingPeriod(containing: start), charge: nil, costStatus: "no-price",
                            book: book, currency: eur, isFirstOfTotal: true)
        }
        let quantityDecimal = ExactDecimal(total.quantity)
        let list = try #require(ExactDecimal.parse("0.000014")), contracted = try #require(ExactDecimal.parse("0.0000125"))
        let charge = RatedCharge(skuID: "*/cpu_core_seconds", skuPriceID: "list-eur:v1:*/cpu_core_seconds", priceVersion: "v1",
                                 tier: nil, pricingQuantity: quantityDecimal, pricingUnit: "Core-Seconds", listUnitPrice: list,
                                 contractedUnitPrice: contracted, exactListCost: try quantityDecimal.multiplied(by: list),
                                 exactContractedCost: try quantityDecimal.multiplied(by: contracted),
                                 listCost: Money(try #require(ExactDecimal.parse("0")), eur),
                                 contractedCost: Money(try #require(ExactDecimal.parse("0")), eur))
        return FocusRow(total: total, period: BillingPeriod(containing: start), charge: charge, costStatus: "priced",
                        book: book, currency: eur, isFirstOfTotal: true)
    }

    func csv(_ row: FocusRow) -> String {
        var bytes: [UInt8] = []
        row.appendCSV(to: &bytes)
        return String(decoding: bytes, as: UTF8.self)
    }

    @Test("a row is one CRLF-terminated CSV line in header order: FOCUS constants, the component's category, costs")
    func rowLayout() throws {
        #expect(String(decoding: FocusColumns.header, as: UTF8.self).hasPrefix(
            "BillingAccountId,BillingAccountName,BillingPeriodStart,BillingPeriodEnd,ChargePeriodStart,ChargePeriodEnd,SubAccountId,"))
        #expect(try csv(row()) == "acme,acme,2026-11-01T00:00:00Z,2026-12-01T00:00:00Z,2026-11-25T13:00:00Z,2026-11-25T14:00:00Z,"
            + "acme,acme,acme-gcp,acme-gcp,ferrisDX Instance,Ferris Labs,Ferris Labs,Ferris Labs,,kafka,Integration,Messaging,"
            + "Usage,,Usage-Based,cpu_core_seconds of kafka on acme-gcp,*/cpu_core_seconds,list-eur:v1:*/cpu_core_seconds,"
            + "cpu_core_seconds,,119.75,Core-Seconds,119.75,Core-Seconds,0.000014,0.0000125,EUR,0,0,0,0,,gcp,cpu_core_seconds,2,"
            + "final,0,priced,list-eur,3,0.0016765,0.001496875\r\n")
        // Unpriced: zero costs, no SKU or unit prices, the reason; an unknown component is Other / Other (Other).
        let unpriced = try csv(row(provider: nil, component: "new-thing", priced: false))
        #expect(unpriced.contains(",new-thing,Other,Other (Other),"))
        #expect(unpriced.contains(",,,,,119.75,Core-Seconds,119.75,Core-Seconds,,,EUR,0,0,0,0,,,cpu_core_seconds,2,final,0,no-price,list-eur,3,0,0\r\n"))
        let fields = try csv(row()).split(separator: ",", omittingEmptySubsequences: false)
        #expect(FocusColumns.all.count == fields.count)
    }

    @Test("every ferrisDX component has a FOCUS 1.2 category and a subcategory of that category")
    func services() {
        for (component, service) in FocusColumns.services {
            #expect(service.subcategory.hasPrefix("Other (") ? service.subcategory == "Other (\(service.category))" : true, "\(component)")
        }
        #expect(FocusColumns.serviceSubcategory(of: "postgresql") == "Relational Databases")
    }

    @Test("RFC 4180: fields with a comma, quote, CR or LF are quoted and quotes doubled; UTF-8 passes through")
    func quoting() throws {
        #expect(try csv(row(tenant: "a,b")).contains(",\"a,b\","))
        #expect(try csv(row(tenant: "say \"hi\"")).contains(",\"say \"\"hi\"\"\","))
        #expect(try csv(row(tenant: "two\nlines")).contains(",\"two\nlines\","))
        #expect(try csv(row(tenant: "Zürich-€")).contains(",Zürich-€,"))
    }

    @Test("decimals lose only trailing fractional zeros: the value never changes and never passes through a float")
    func decimals() {
        #expect(FocusRow.normalizedDecimal("119.750000") == "119.75")
        #expect(FocusRow.normalizedDecimal("42.000000") == "42")
        #expect(FocusRow.normalizedDecimal("0.000000") == "0")
        #expect(FocusRow.normalizedDecimal("0.000001") == "0.000001")
        #expect(FocusRow.normalizedDecimal("-3.500000") == "-3.5")
        #expect(FocusRow.normalizedDecimal("100") == "100")
        // Beyond what a Double holds exactly.
        #expect(FocusRow.normalizedDecimal("12345678901234567890123456789012.123450") == "12345678901234567890123456789012.12345")
    }

    @Test("days and months: names, bounds, leap years, the days of a month, order")
    func periods() throws {
        let day = try #require(ExportPeriod("2028-02-29"))
        #expect(day.granularity == .day)
        #expect(day.start.rfc3339 == "2028-02-29T00:00:00.000Z")
        #expect(day.end.rfc3339 == "2028-03-01T00:00:00.000Z")
        #expect(day.month.name == "2028-02")
        let month = try #require(ExportPeriod("2026-12"))
        #expect(month.end.rfc3339 == "2027-01-01T00:00:00.000Z")
        #expect(month.days.count == 31)
        #expect(month.days.last?.name == "2026-12-31")
        #expect(try #require(ExportPeriod("2028-02")).days.count == 29)
        for bad in ["2026-02-29", "2026-13", "2026-1-01", "2026-11-25T00", "", "abcd-ef", "2026-00"] {
            #expect(ExportPeriod(bad) == nil, "\(bad)")
        }
        #expect(ExportPeriod.day(containing: Timestamp(milliseconds: try #require(Timestamp.parse("2026-11-25T23:59:59.999Z")).milliseconds)).name == "2026-11-25")
        #expect([month, try #require(ExportPeriod("2026-12-31")), try #require(ExportPeriod("2026-12-01"))].sorted().map(\.name)
                == ["2026-12-01", "2026-12-31", "2026-12"])
    }

    @Test("a period closes at its end plus grace plus idle timeout")
    func closing() throws {
        let rule = ClosingRule(graceMilliseconds: 3_600_000, idleMilliseconds: 600_000)
        #expect(rule.closesAt(try #require(ExportPeriod("2026-11-25"))).rfc3339 == "2026-11-26T01:10:00.000Z")
        #expect(rule.closesAt(try #require(ExportPeriod("2026-11"))).rfc3339 == "2026-12-01T01:10:00.000Z")
    }

    @Test("the revision is the accounting revision, always above the previous export")
    func revisions() {
        #expect(RevisionRule.next(accountingRevision: 0, previous: nil) == 0)
        #expect(RevisionRule.next(accountingRevision: 3, previous: nil) == 3)
        #expect(RevisionRule.next(accountingRevision: 3, previous: 0) == 3)
        // A late total without a replay, and a replay whose number an earlier late change already used.
        #expect(RevisionRule.next(accountingRevision: 0, previous: 0) == 1)
        #expect(RevisionRule.next(accountingRevision: 1, previous: 1) == 2)
        #expect(RevisionRule.next(accountingRevision: 2, previous: 5) == 6)
    }
}
