import Foundation
import UsagePricing
import UsageStandard

/// The usage page: one tenant's UTC day as stacked hourly bars per component (inline SVG), a table of the day's
/// totals per component and metric with their costs, and the day's cost per component and in all. Plain HTML and
/// CSS: no scripts, fonts or anything else from outside, so it works in an air-gapped cluster. Quantities and costs
/// are printed exactly as the API returns them (costs are exact sums of `Money`); only bar heights are computed in
/// floating point. Unpriced usage is marked, never shown as free.
enum UsagePage {
    /// What the page shows.
    struct Model: Sendable {
        var tenant: String
        /// The UTC day, `YYYY-MM-DD`.
        var day: String
        /// The metric drawn as bars.
        var metric: Metric
        /// The tenants the picker offers.
        var tenants: [String]
        var metrics: [Metric]
        /// The day's hourly rows of `metric`, grouped by component.
        var hourly: [UsageRow]
        /// The day's totals, grouped by component (every metric), with their costs.
        var totals: [UsageRow]
        /// Why there are no costs, while the server has no price books.
        var pricesUnavailable: String?
    }

    /// The day's cost of one component (or of all): the sum of its rows' costs, and whether any of its usage is
    /// unpriced.
    struct CostSum: Sendable, Equatable {
        /// The priced part; nil when nothing is priced or the amounts are in different currencies.
        var amount: Money?
        /// Some usage has no price (unpriced or partly priced rows), or its costs could not be added up.
        var hasUnpriced: Bool
        /// Amounts of two currencies met (a tenant has one book, so only when the books changed in between).
        var mixedCurrencies: Bool
    }

    /// The sum of the costs of `rows` (nil costs count as unavailable and make the sum unpriced).
    static func costSum(_ rows: [UsageRow]) -> CostSum {
        var sum = CostSum(amount: nil, hasUnpriced: false, mixedCurrencies: false)
        for row in rows {
            let cost = row.cost ?? .unavailable
            switch cost.status {
            case .priced, .partlyPriced:
                if cost.status == .partlyPriced { sum.hasUnpriced = true }
                guard let billed = cost.billed, !sum.mixedCurrencies else { continue }
                do {
                    sum.amount = try (sum.amount ?? .zero(billed.currency)).adding(billed)
                } catch {
                    sum.mixedCurrencies = true
                    sum.amount = nil
                }
            case .mixedCurrencies:
                sum.mixedCurrencies = true
                sum.amount = nil
            case .unpriced, .unavailable:
                sum.hasUnpriced = true
            }
        }
        return sum
    }

    static let palette = ["#4e79a7", "#f28e2b", "#59a14f", "#e15759", "#76b7b2", "#edc948", "#b07aa1", "#ff9da7",
                          "#9c755f", "#bab0ac", "#1f77b4", "#8c564b", "#17becf", "#bcbd22"]

    /// The page.
    static func render(_ model: Model) -> String {
        let components = Set(model.hourly.compactMap(\.component) + model.totals.compactMap(\.component)).sorted()
        let previous = shift(model.day, by: -1), next = shift(model.day, by: 1)
        func link(_ day: String?) -> String {
            guard let day else { return "" }
            return "?tenant=\(query(model.tenant))&day=\(day)&metric=\(query(model.metric.name))"
        }
        var html = head("Usage of \(model.tenant) on \(model.day)")
        html += """
            <header><h1>Usage of <span id="tenant">\(escape(model.tenant))</span> on <span id="day">\(escape(model.day))</span> (UTC)</h1>
            <form method="get" action="/">
            <label>Tenant <select name="tenant">\(model.tenants.map { option($0, $0, selected: $0 == model.tenant) }.joined())</select></label>
            <label>Day <input type="date" name="day" value="\(escape(model.day))"></label>
            <label>Metric <select name="metric">\(model.metrics.map { option($0.name, "\($0.name) (\($0.unit))", selected: $0.name == model.metric.name) }.joined())</select></label>
            <button type="submit">Show</button>
            <a href="\(escape(link(previous)))">&larr; previous day</a> <a href="\(escape(link(next)))">next day &rarr;</a>
            </form></header>
            <section><h2>\(escape(model.metric.name)) per hour and component, in \(escape(model.metric.unit))</h2>
            \(chart(model.hourly, components: components, unit: model.metric.unit))
            \(legend(components))
            </section>
            <section><h2>Totals of the day per component and metric</h2>
            \(table(model.totals))
            </section>
            <section><h2>Costs of the day</h2>
            \(costs(model))
            </section></main></body></html>

            """
        return html
    }

    /// A page saying why the usage page cannot be shown.
    static func errorPage(_ problem: APIProblem) -> String {
        head("Usage: \(problem.title)") + """
            <h1>\(escape(problem.title))</h1><p id="problem">\(escape(problem.detail))</p></main></body></html>

            """
    }

    private static func head(_ title: String) -> String {
        """
        <!DOCTYPE html>
        <html lang="en"><head><meta charset="utf-8"><title>\(escape(title))</title>
        <meta name="viewport" content="width=device-width, initial-scale=1">
        <style>
        body{font-family:system-ui,-apple-system,"Segoe UI",sans-serif;margin:0;color:#222;background:#fafafa}
        main{max-width:1040px;margin:0 auto;padding:16px 24px}
        h1{font-size:1.4em;margin:.2em 0 .6em} h2{font-size:1.1em;margin:1.2em 0 .4em}
        form{display:flex;gap:12px;align-items:center;flex-wrap:wrap;font-size:.95em}
        svg{background:#fff;border:1px solid #ddd} .axis{font-size:11px;fill:#555} .grid{stroke:#eee}
        rect.provisional{fill-opacity:.45;stroke:#333;stroke-dasharray:3 2;stroke-width:.6}
        .legend{display:flex;gap:14px;flex-wrap:wrap;font-size:.9em;margin:.4em 0}
        .swatch{display:inline-block;width:12px;height:12px;margin-right:4px;vertical-align:middle}
        .swatch.provisional{background:#ccc;opacity:.6;outline:1px dashed #333}
        table{border-collapse:collapse;background:#fff;font-size:.92em} td,th{border:1px solid #ddd;padding:4px 10px}
        td.quantity,td.events{text-align:right;font-variant-numeric:tabular-nums}
        .badge{font-size:.8em;padding:1px 6px;border-radius:8px;background:#fde2b8}
        td.cost{text-align:right;font-variant-numeric:tabular-nums} tr.day-total td{font-weight:600}
        .unpriced{font-size:.85em;font-weight:600;padding:1px 6px;border-radius:8px;background:#f8c9c4;color:#7a1008;white-space:nowrap}
        </style></head><body><main>

        """
    }

    private static func chart(_ rows: [UsageRow], components: [String], unit: String) -> String {
        let (width, height, left, top, bottom) = (960.0, 300.0, 70.0, 12.0, 36.0)
        let slot = (width - left - 10) / 24
        var perHour = [Int: [UsageRow]]()
        for row in rows {
            guard let hour = Int(row.windowStart.dropFirst(11).prefix(2)) else { continue }
            perHour[hour, default: []].append(row)
        }
        let maximum = perHour.values.map { $0.reduce(0.0) { $0 + max(0, Double($1.quantity) ?? 0) } }.max() ?? 0
        let scale = maximum > 0 ? (height - top - bottom) / maximum : 0
        var svg = "<svg id=\"chart\" xmlns=\"http://www.w3.org/2000/svg\" width=\"\(Int(width))\" height=\"\(Int(height))\" viewBox=\"0 0 \(Int(width)) \(Int(height))\" role=\"img\" aria-label=\"hourly usage per component\">"
        for step in 0...4 {
            let value = maximum * Double(step) / 4
            let y = height - bottom - value * scale
            svg += "<line class=\"grid\" x1=\"\(left)\" x2=\"\(width - 10)\" y1=\"\(format(y))\" y2=\"\(format(y))\"/>"
            svg += "<text class=\"axis\" x=\"\(left - 6)\" y=\"\(format(y + 4))\" text-anchor=\"end\">\(axisLabel(value))</text>"
        }
        for hour in 0..<24 {
            let x = left + Double(hour) * slot
            let open = perHour[hour]?.contains { $0.status == "provisional" } == true
            svg += "<text class=\"axis\" x=\"\(format(x + slot / 2))\" y=\"\(format(height - bottom + 14))\" text-anchor=\"middle\">\(hour)</text>"
            if open {
                svg += "<text class=\"axis provisional-mark\" data-hour=\"\(hour)\" x=\"\(format(x + slot / 2))\" y=\"\(format(height - bottom + 28))\" text-anchor=\"middle\">open</text>"
            }
            var y = height - bottom
            for row in (perHour[hour] ?? []).sorted(by: { ($0.component ?? "") < ($1.component ?? "") }) {
                let component = row.component ?? ""
                let barHeight = max(0, Double(row.quantity) ?? 0) * scale
                y -= barHeight
                let color = palette[(components.firstIndex(of: component) ?? 0) % palette.count]
                let provisional = row.status == "provisional"
                svg += "<rect class=\"bar\(provisional ? " provisional" : "")\" data-hour=\"\(hour)\" data-component=\"\(escape(component))\" data-quantity=\"\(escape(row.quantity))\" data-status=\"\(row.status)\" x=\"\(format(x + slot * 0.15))\" y=\"\(format(y))\" width=\"\(format(slot * 0.7))\" height=\"\(format(barHeight))\" fill=\"\(color)\"><title>\(String(format: "%02d", hour)):00 \(escape(component)): \(escape(row.quantity)) \(escape(unit))\(provisional ? " (provisional)" : "")</title></rect>"
            }
        }
        svg += "<text class=\"axis\" x=\"\(format(left + (width - left) / 2))\" y=\"\(format(height - 4))\" text-anchor=\"middle\">hour (UTC)</text></svg>"
        return svg
    }

    private static func legend(_ components: [String]) -> String {
        "<div class=\"legend\">" + components.enumerated().map { index, component in
            "<span><span class=\"swatch\" style=\"background:\(palette[index % palette.count])\"></span>\(escape(component))</span>"
        }.joined() + "<span><span class=\"swatch provisional\"></span>provisional (hour still open; marked &ldquo;open&rdquo;)</span></div>"
    }

    private static func table(_ rows: [UsageRow]) -> String {
        guard !rows.isEmpty else { return "<p id=\"empty\">No totals for this tenant and day.</p>" }
        let sorted = rows.sorted { ($0.component ?? "", $0.metric) < ($1.component ?? "", $1.metric) }
        return "<table id=\"totals\"><thead><tr><th>Component</th><th>Metric</th><th>Quantity</th><th>Unit</th><th>Events</th><th>Status</th><th>Cost</th></tr></thead><tbody>"
            + sorted.map { row in
                let component = escape(row.component ?? "")
                let cost = row.cost ?? .unavailable
                return "<tr data-component=\"\(component)\" data-metric=\"\(escape(row.metric))\"><td>\(component)</td><td>\(escape(row.metric))</td><td class=\"quantity\">\(escape(row.quantity))</td><td class=\"unit\">\(escape(row.unit))</td><td class=\"events\">\(row.eventCount)</td><td class=\"status\">\(row.status == "final" ? "final" : "<span class=\"badge\">provisional</span>")</td><td class=\"cost\" data-cost-status=\"\(cost.status.rawValue)\">\(costText(cost))</td></tr>"
            }.joined() + "</tbody></table>"
    }

    /// A row's cost as the table shows it: the amount, and the unpriced mark with its reasons.
    private static func costText(_ cost: RowCost) -> String {
        let amount = cost.billed.map { escape($0.description) } ?? ""
        let reasons = cost.unpricedReasons.isEmpty ? "" : " (\(escape(cost.unpricedReasons.joined(separator: ", "))))"
        switch cost.status {
        case .priced: return amount
        case .partlyPriced: return amount + " " + unpricedMark("partly unpriced" + reasons)
        case .unpriced: return unpricedMark("unpriced" + reasons)
        case .mixedCurrencies: return unpricedMark("mixed currencies")
        case .unavailable: return "<span class=\"cost-unavailable\">n/a</span>"
        }
    }

    private static func unpricedMark(_ text: String) -> String {
        "<span class=\"unpriced\" title=\"no price covers this usage: it is not free, the price book lacks it\">&#9888; \(text)</span>"
    }

    /// The day's cost per component and in all, in the tenant's currency.
    private static func costs(_ model: Model) -> String {
        if let reason = model.pricesUnavailable {
            return "<p id=\"costs-unavailable\">Costs are unavailable: \(escape(reason))</p>"
        }
        guard !model.totals.isEmpty else { return "<p>No costs: no totals for this tenant and day.</p>" }
        func cell(_ sum: CostSum) -> String {
            if sum.mixedCurrencies { return unpricedMark("mixed currencies") }
            let amount = sum.amount.map { escape($0.description) } ?? ""
            return sum.hasUnpriced ? (amount.isEmpty ? "" : amount + " ") + unpricedMark(amount.isEmpty ? "unpriced" : "+ unpriced usage") : amount
        }
        let byComponent = Dictionary(grouping: model.totals) { $0.component ?? "" }
        let rows = byComponent.keys.sorted().map { component in
            let sum = costSum(byComponent[component] ?? [])
            return "<tr data-cost-component=\"\(escape(component))\"><td>\(escape(component))</td><td class=\"cost\">\(cell(sum))</td></tr>"
        }.joined()
        let total = costSum(model.totals)
        return "<table id=\"costs\"><thead><tr><th>Component</th><th>Cost</th></tr></thead><tbody>\(rows)"
            + "<tr class=\"day-total\" id=\"day-total\"><td>Day total</td><td class=\"cost\">\(cell(total))</td></tr></tbody></table>"
            + (total.hasUnpriced ? "<p class=\"unpriced-note\">\(unpricedMark("unpriced")) usage has no price in the price book: its cost is missing from these sums, not zero.</p>" : "")
    }

    private static func option(_ value: String, _ label: String, selected: Bool) -> String {
        "<option value=\"\(escape(value))\"\(selected ? " selected" : "")>\(escape(label))</option>"
    }

    /// The day `offset` days from `day` (`YYYY-MM-DD`), nil when `day` is not a date.
    static func shift(_ day: String, by offset: Int) -> String? {
        guard let start = Timestamp.parse(day + "T00:00:00Z") else { return nil }
        return String(Timestamp(milliseconds: start.milliseconds + Int64(offset) * 86_400_000).rfc3339.prefix(10))
    }

    private static func axisLabel(_ value: Double) -> String {
        value >= 100 ? String(Int(value.rounded())) : String(format: "%.2f", value)
    }

    private static func format(_ value: Double) -> String { String(format: "%.1f", value) }

    private static func query(_ text: String) -> String {
        text.addingPercentEncoding(withAllowedCharacters: .alphanumerics.union(CharacterSet(charactersIn: "-._~"))) ?? ""
    }

    /// `text` with HTML's special characters escaped.
    static func escape(_ text: String) -> String {
        var result = ""
        result.reserveCapacity(text.count)
        for character in text {
            switch character {
            case "&": result += "&amp;"
            case "<": result += "&lt;"
            case ">": result += "&gt;"
            case "\"": result += "&quot;"
            case "'": result += "&#39;"
            default: result.append(character)
            }
        }
        return result
    }
}
