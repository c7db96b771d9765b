@testable import FocusExport
import Testing
import UsageStandard

@Suite("FOCUS file content: columns, CSV, exact decimals, periods, layout, manifest")
struct FocusFileTests {
    func row(tenant: String = "acme", quantity: String = "119.750000", provider: String? = "gcp", component: String = "kafka") -> FocusRow {
        FocusRow(chargePeriodStart: "2026-11-25T13:00:00Z", chargePeriodEnd: "2026-11-25T14:00:00Z", quantity: quantity,
                 unit: "Core-Seconds", tenant: tenant, instance: "acme-gcp", component: component, hostProvider: provider,
                 metric: "cpu_core_seconds", eventCount: "2", status: "final", revision: "0")
    }

    func csv(_ row: FocusRow) -> String {
        var bytes: [UInt8] = []
        row.appendCSV(to: &bytes)
        return String(decoding: bytes, as: UTF8.self)
    }

    @Test("a row is one CRLF-terminated CSV line in header order, with the FOCUS constants and the component's category")
    func rowLayout() {
        #expect(String(decoding: FocusColumns.header, as: UTF8.self) ==
            "ChargePeriodStart,ChargePeriodEnd,ChargeCategory,ChargeFrequency,ConsumedQuantity,ConsumedUnit,SubAccountId,ResourceId,ServiceName,ServiceCategory,HostProviderName,x_Metric,x_EventCount,x_Status,x_Revision\r\n")
        #expect(csv(row()) == "2026-11-25T13:00:00Z,2026-11-25T14:00:00Z,Usage,Usage-Based,119.75,Core-Seconds,acme,acme-gcp,kafka,Integration,gcp,cpu_core_seconds,2,final,0\r\n")
        #expect(csv(row(provider: nil, component: "new-thing")).contains(",new-thing,Other,,cpu_core_seconds,"))
        #expect(FocusColumns.all.count == csv(row()).split(separator: ",").count)
    }

    @Test("RFC 4180: fields with a comma, quote, CR or LF are quoted and quotes doubled; UTF-8 passes through")
    func quoting() {
        #expect(csv(row(tenant: "a,b")).contains(",\"a,b\","))
        #expect(csv(row(tenant: "say \"hi\"")).contains(",\"say \"\"hi\"\"\","))
        #expect(csv(row(tenant: "two\nlines")).contains(",\"two\nlines\","))
        #expect(csv(row(tenant: "Zürich-€")).contains(",Zürich-€,"))
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
