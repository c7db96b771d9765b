/// The usage rows as CSV (RFC 4180: header line, CRLF line ends, fields quoted when they hold a comma, a quote or a
/// line break), with the same columns as the JSON rows: the window, the grouped columns, the metric and its sum, and
/// (for `/v1/usage`) its cost.
enum UsageCSV {
    /// The CSV of `rows` of `query`, with `/v1/usage` column names or, for `focus`, FOCUS names.
    static func render(_ rows: [UsageRow], of query: UsageQuery, focus: Bool) -> String {
        let grouped = query.groupBy.filter { $0 != .status }
        var header = focus ? ["ChargePeriodStart", "ChargePeriodEnd", "ChargeCategory"] : ["window_start", "window_end"]
        header += grouped.map { column in
            switch column {
            case .tenant: focus ? "SubAccountId" : "tenant"
            case .instance: focus ? "ResourceId" : "instance"
            case .component: focus ? "ServiceName" : "component"
            case .provider: focus ? "HostProviderName" : "provider"
            case .status: ""
            }
        }
        header += focus ? ["x_Metric", "ConsumedQuantity", "ConsumedUnit", "x_EventCount", "x_Status"]
            : ["metric", "quantity", "unit", "event_count", "status", "currency", "cost", "list_cost", "cost_status", "unpriced_reasons"]
        var lines = [header.joined(separator: ",")]
        for row in rows {
            var fields = [row.windowStart, row.windowEnd] + (focus ? ["Usage"] : [])
            fields += grouped.map { column in
                switch column {
                case .tenant: row.tenant ?? ""
                case .instance: row.instance ?? ""
                case .component: row.component ?? ""
                case .provider: row.provider ?? ""
                case .status: ""
                }
            }
            fields += [row.metric, row.quantity, row.unit, String(row.eventCount), row.status]
            if !focus {
                let cost = row.cost ?? .unavailable
                fields += [cost.billed?.currency.code ?? "", cost.billed?.text ?? "", cost.list?.text ?? "", cost.status.rawValue,
                           cost.unpricedReasons.joined(separator: " ")]
            }
            lines.append(fields.map(field).joined(separator: ","))
        }
        return lines.map { $0 + "\r\n" }.joined()
    }

    static func field(_ text: String) -> String {
        guard text.contains(where: { $0 == "," || $0 == "\"" || $0 == "\n" || $0 == "\r" }) else { return text }
        return "\"" + text.replacingOccurrences(of: "\"", with: "\"\"") + "\""
    }
}
