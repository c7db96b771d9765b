import UsagePricing
import UsageStandard

/// The columns of an exported FOCUS file, in file order. `docs/usage-tracking-standard.md` (section 13) lists them
/// with their FOCUS 1.2 definitions; what FOCUS has no column for is `x_`-prefixed as in the totals.
public enum FocusColumns {
    /// A column: its name and FOCUS data type.
    public struct Column: Sendable, Equatable, Codable {
        /// The column name (the header row's text).
        public var name: String
        /// The FOCUS data type: `DateTime`, `Decimal`, `String` or `Integer`.
        public var type: String
    }

    /// Every column, in file order: FOCUS 1.2's mandatory columns, the conditional ones that apply to ferrisDX
    /// (standard, sections 13 and 14), then the `x_` columns.
    public static let all: [Column] = [
        Column(name: "BillingAccountId", type: "String"),
        Column(name: "BillingAccountName", type: "String"),
        Column(name: "BillingPeriodStart", type: "DateTime"),
        Column(name: "BillingPeriodEnd", type: "DateTime"),
        Column(name: "ChargePeriodStart", type: "DateTime"),
        Column(name: "ChargePeriodEnd", type: "DateTime"),
        Column(name: "SubAccountId", type: "String"),
        Column(name: "SubAccountName", type: "String"),
        Column(name: "ResourceId", type: "String"),
        Column(name: "ResourceName", type: "String"),
        Column(name: "ResourceType", type: "String"),
        Column(name: "ProviderName", type: "String"),
        Column(name: "PublisherName", type: "String"),
        Column(name: "InvoiceIssuerName", type: "String"),
        Column(name: "InvoiceId", type: "String"),
        Column(name: "ServiceName", type: "String"),
        Column(name: "ServiceCategory", type: "String"),
        Column(name: "ServiceSubcategory", type: "String"),
        Column(name: "ChargeCategory", type: "String"),
        Column(name: "ChargeClass", type: "String"),
        Column(name: "ChargeFrequency", type: "String"),
        Column(name: "ChargeDescription", type: "String"),
        Column(name: "SkuId", type: "String"),
        Column(name: "SkuPriceId", type: "String"),
        Column(name: "SkuMeter", type: "String"),
        Column(name: "SkuPriceDetails", type: "JSON"),
        Column(name: "ConsumedQuantity", type: "Decimal"),
        Column(name: "ConsumedUnit", type: "String"),
        Column(name: "PricingQuantity", type: "Decimal"),
        Column(name: "PricingUnit", type: "String"),
        Column(name: "ListUnitPrice", type: "Decimal"),
        Column(name: "ContractedUnitPrice", type: "Decimal"),
        Column(name: "BillingCurrency", type: "String"),
        Column(name: "ListCost", type: "Decimal"),
        Column(name: "ContractedCost", type: "Decimal"),
        Column(name: "BilledCost", type: "Decimal"),
        Column(name: "EffectiveCost", type: "Decimal"),
        Column(name: "CommitmentDiscountStatus", type: "String"),
        Column(name: "x_HostProviderName", type: "String"),
        Column(name: "x_Metric", type: "String"),
        Column(name: "x_EventCount", type: "Integer"),
        Column(name: "x_Status", type: "String"),
        Column(name: "x_Revision", type: "Integer"),
        Column(name: "x_CostStatus", type: "String"),
        Column(name: "x_PriceBook", type: "String"),
        Column(name: "x_PriceBookRevision", type: "Integer"),
        Column(name: "x_ExactListCost", type: "Decimal"),
        Column(name: "x_ExactContractedCost", type: "Decimal"),
    ]

    /// The header row, CRLF-terminated.
    static let header: [UInt8] = Array((all.map(\.name).joined(separator: ",") + "\r\n").utf8)

    /// Who provides, publishes and invoices ferrisDX (FOCUS `ProviderName`, `PublisherName`, `InvoiceIssuerName`):
    /// the same, so `BilledCost` is what ferris labs invoices.
    public static let provider = "Ferris Labs"

    /// FOCUS `ResourceType` of a row's resource, the ferrisDX instance.
    public static let resourceType = "ferrisDX Instance"

    /// FOCUS `ServiceCategory` and `ServiceSubcategory` of the ferrisDX components (FOCUS 1.2's allowed pairs); any
    /// other component is `Other` / `Other (Other)`.
    public static let services: [String: (category: String, subcategory: String)] = [
        "argocd": ("Developer Tools", "Continuous Integration and Deployment"),
        "theia-ide": ("Developer Tools", "Development Environments"),
        "consul": ("Networking", "Application Networking"),
        "kafka": ("Integration", "Messaging"),
        "minio": ("Storage", "Object Storage"),
        "postgresql": ("Databases", "Relational Databases"),
        "elastic": ("Analytics", "Search"),
        "presto": ("Analytics", "Data Processing"),
        "trino": ("Analytics", "Data Processing"),
        "databricks-link": ("Analytics", "Analytics Platforms"),
        "jupyterhub": ("AI and Machine Learning", "Machine Learning"),
        "vault": ("Security", "Secret Management"),
        "keycloak": ("Identity", "Identity and Access Management"),
        "ferris-ui": ("Web", "Application Platforms"),
    ]

    /// The FOCUS `ServiceCategory` of a component.
    public static func serviceCategory(of component: String) -> String {
        services[component]?.category ?? "Other"
    }

    /// The FOCUS `ServiceSubcategory` of a component.
    public static func serviceSubcategory(of component: String) -> String {
        services[component]?.subcategory ?? "Other (Other)"
    }
}

/// One row of an exported file: a charge of a rated total (one per price tier it touches), or an unpriced total
/// with zero costs and its reason (standard, section 14).
struct FocusRow: Equatable {
    var total: UsageTotal
    var period: BillingPeriod
    /// The charge; nil when the total is unpriced.
    var charge: RatedCharge?
    /// `priced`, or the unpriced reason's code.
    var costStatus: String
    /// The book that rated the total, nil when no book rates its tenant.
    var book: PriceBook?
    /// The currency of the row: the book's, or the fallback (`FocusRows`) for a tenant without a book.
    var currency: Currency
    /// Whether this is the total's first row (the row that carries its event count, so event counts add up).
    var isFirstOfTotal: Bool

    /// The rows of a rated total.
    static func rows(of entry: RatedTotals.Entry, fallbackCurrency: Currency) -> [FocusRow] {
        let currency = entry.book?.currency ?? fallbackCurrency
        switch entry.rated.outcome {
        case .unpriced(let reason):
            return [FocusRow(total: entry.rated.total, period: entry.rated.period, charge: nil, costStatus: reason.code,
                             book: entry.book, currency: currency, isFirstOfTotal: true)]
        case .priced(let charges):
            return charges.enumerated().map { index, charge in
                FocusRow(total: entry.rated.total, period: entry.rated.period, charge: charge, costStatus: "priced",
                         book: entry.book, currency: currency, isFirstOfTotal: index == 0)
            }
        }
    }

    /// The CSV line (RFC 4180: fields with a comma, quote, CR or LF quoted, quotes doubled; CRLF at the end).
    func appendCSV(to bytes: inout [UInt8]) {
        Self.appendCSV(fields(), to: &bytes)
    }

    /// The CSV line of `fields`.
    static func appendCSV(_ fields: [String], to bytes: inout [UInt8]) {
        for (index, field) in fields.enumerated() {
            if index > 0 { bytes.append(UInt8(ascii: ",")) }
            Self.appendField(field, to: &bytes)
        }
        bytes.append(contentsOf: [13, 10])
    }

    /// The row's fields in column order, as text (empty for null).
    func fields() -> [String] {
        let key = total.key
        let quantity = charge.map { $0.pricingQuantity.description } ?? total.quantity.description
        let unit = charge?.pricingUnit ?? total.unit
        let zero = "0"
        let tier = charge?.tier.map { ", tier \($0)" } ?? ""
        let fields: [String] = [
            key.tenant, key.tenant,
            FocusExporter.seconds(period.start), FocusExporter.seconds(period.end),
            FocusExporter.seconds(total.windowStart), FocusExporter.seconds(total.windowEnd),
            key.tenant, key.tenant, key.instance, key.instance, FocusColumns.resourceType,
            FocusColumns.provider, FocusColumns.provider, FocusColumns.provider, "",
            key.component, FocusColumns.serviceCategory(of: key.component), FocusColumns.serviceSubcategory(of: key.component),
            "Usage", "", "Usage-Based",
            "\(key.metric) of \(key.component) on \(key.instance)\(tier)",
            // SkuPriceDetails stays null: the SkuPriceId names the version and tier already (and the validator 2.2.1
            // fails its nullability rule on any value).
            // SkuMeter is null with SkuId (an unpriced total has no SKU).
            charge?.skuID ?? "", charge?.skuPriceID ?? "", charge == nil ? "" : key.metric, "",
            quantity, unit, quantity, unit,
            charge.map { $0.listUnitPrice.description } ?? "", charge.map { $0.contractedUnitPrice.description } ?? "",
            currency.code,
            charge.map { $0.listCost.amount.description } ?? zero, charge.map { $0.contractedCost.amount.description } ?? zero,
            charge.map { $0.billedCost.amount.description } ?? zero, charge.map { $0.effectiveCost.amount.description } ?? zero,
            "",
            total.provider ?? "", key.metric, isFirstOfTotal ? String(total.eventCount) : zero, total.status.rawValue,
            String(total.revision), costStatus, book?.id ?? "", book.map { String($0.revision) } ?? "",
            charge.map { $0.exactListCost.description } ?? zero, charge.map { $0.exactContractedCost.description } ?? zero,
        ]
        return fields
    }

    static func appendField(_ field: String, to bytes: inout [UInt8]) {
        let needsQuotes = field.utf8.contains { $0 == UInt8(ascii: ",") || $0 == UInt8(ascii: "\"") || $0 == 13 || $0 == 10 }
        guard needsQuotes else {
            bytes.append(contentsOf: field.utf8)
            return
        }
        bytes.append(UInt8(ascii: "\""))
        for byte in field.utf8 {
            if byte == UInt8(ascii: "\"") { bytes.append(byte) }
            bytes.append(byte)
        }
        bytes.append(UInt8(ascii: "\""))
    }

    /// A decimal's text without trailing fractional zeros (`119.750000` -> `119.75`, `42.000000` -> `42`); the value is
    /// unchanged: this only removes digits that are zero.
    static func normalizedDecimal(_ text: String) -> String {
        guard text.contains(".") else { return text }
        var result = Substring(text)
        while result.last == "0" { result.removeLast() }
        if result.last == "." { result.removeLast() }
        if result == "-0" || result.isEmpty { return "0" }
        return String(result)
    }
}
