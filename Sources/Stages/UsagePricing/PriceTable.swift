extension PriceBook {
    /// The resolved price table, for people (`ferris-usage prices show`): per version in effective order, its range,
    /// every SKU id with its unit and list price or tiers, and the contracts. Prices are printed exactly as rated.
    public func table() -> String {
        var lines = ["price book \(id), revision \(revision), \(currency.code)" + (summary.isEmpty ? "" : ": \(summary)")]
        lines.append(tenants.isEmpty ? "rates every tenant no other book names (the default book)"
                                     : "rates the tenants " + tenants.joined(separator: ", "))
        let ordered = versions.sorted { ($0.effectiveFrom, $0.id) < ($1.effectiveFrom, $1.id) }
        for version in ordered {
            let end = version.effectiveTo.map(\.description) ?? "(open)"
            lines.append("")
            lines.append("version \(version.id): \(version.effectiveFrom) .. \(end)")
            let width = version.prices.map(\.sku.id.count).max() ?? 0
            for price in version.prices.sorted(by: { $0.sku < $1.sku }) {
                let name = price.sku.id.padding(to: width)
                if price.isTiered {
                    lines.append("  \(name)  per unit (\(price.unit)), graduated over the month:")
                    for (index, tier) in price.tiers.enumerated() {
                        let range = "\(tier.from) to " + (tier.upTo.map(\.description) ?? "no end")
                        lines.append("    tier \(index + 1): \(range): \(tier.unitPrice) \(currency.code)")
                    }
                } else if let tier = price.tiers.first {
                    lines.append("  \(name)  \(tier.unitPrice) \(currency.code) per unit (\(price.unit))")
                }
            }
            for contract in version.contracts.sorted(by: { $0.tenant < $1.tenant }) {
                var terms: [String] = []
                if let percent = contract.discountPercent { terms.append("\(percent)% off list prices") }
                for price in contract.prices.sorted(by: { $0.sku < $1.sku }) {
                    terms.append("\(price.sku.id) at \(price.unitPrice) \(currency.code)")
                }
                lines.append("  contract \(contract.tenant): " + terms.joined(separator: "; "))
            }
        }
        return lines.joined(separator: "\n")
    }
}

extension String {
    /// The text padded with spaces to `width` characters.
    fileprivate func padding(to width: Int) -> String {
        count >= width ? self : self + String(repeating: " ", count: width - count)
    }
}
