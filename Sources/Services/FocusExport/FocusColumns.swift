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

    /// Every column, in file order.
    public static let all: [Column] = [
        Column(name: "ChargePeriodStart", type: "DateTime"),
        Column(name: "ChargePeriodEnd", type: "DateTime"),
        Column(name: "ChargeCategory", type: "String"),
        Column(name: "ChargeFrequency", type: "String"),
        Column(name: "ConsumedQuantity", type: "Decimal"),
        Column(name: "ConsumedUnit", type: "String"),
        Column(name: "SubAccountId", type: "String"),
        Column(name: "ResourceId", type: "String"),
        Column(name: "ServiceName", type: "String"),
        Column(name: "ServiceCategory", type: "String"),
        Column(name: "HostProviderName", type: "String"),
        Column(name: "x_Metric", type: "String"),
        Column(name: "x_EventCount", type: "Integer"),
        Column(name: "x_Status", type: "String"),
        Column(name: "x_Revision", type: "Integer"),
    ]

    /// The header row, CRLF-terminated.
    static let header: [UInt8] = Array((all.map(\.name).joined(separator: ",") + "\r\n").utf8)

    /// FOCUS `ServiceCategory` of the ferrisDX components; any other component is `Other`.
    public static let serviceCategories: [String: String] = [
        "argocd": "Developer Tools",
        "theia-ide": "Developer Tools",
        "consul": "Networking",
        "kafka": "Integration",
        "minio": "Storage",
        "postgresql": "Databases",
        "elastic": "Analytics",
        "presto": "Analytics",
        "trino": "Analytics",
        "databricks-link": "Analytics",
        "jupyterhub": "AI and Machine Learning",
        "vault": "Security",
        "keycloak": "Identity",
        "ferris-ui": "Web",
    ]

    /// The FOCUS `ServiceCategory` of a component.
    public static func serviceCategory(of component: String) -> String {
        serviceCategories[component] ?? "Other"
    }
}

/// One total of the `usage_totals` view as read for the export; every value is text as PostgreSQL printed it, so
/// quantities stay exact (numeric to text, never through a binary floating-point number).
struct FocusRow: Equatable {
    var chargePeriodStart: String
    var chargePeriodEnd: String
    var quantity: String
    var unit: String
    var tenant: String
    var instance: String
    var component: String
    var hostProvider: String?
    var metric: String
    var eventCount: String
    var status: String
    var revision: String

    /// The CSV line (RFC 4180: fields with a comma, quote, CR or LF quoted, quotes doubled; CRLF at the end).
    func appendCSV(to bytes: inout [UInt8]) {
        let fields: [String] = [
            chargePeriodStart, chargePeriodEnd, "Usage", "Usage-Based", Self.normalizedDecimal(quantity), unit, tenant, instance,
            component, FocusColumns.serviceCategory(of: component), hostProvider ?? "", metric, eventCount, status, revision,
        ]
        for (index, field) in fields.enumerated() {
            if index > 0 { bytes.append(UInt8(ascii: ",")) }
            Self.appendField(field, to: &bytes)
        }
        bytes.append(contentsOf: [13, 10])
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
