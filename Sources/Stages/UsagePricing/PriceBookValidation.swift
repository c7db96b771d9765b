import UsageStandard
import YAMLFiles

/// One thing wrong with a price book: what, and where (the file position when the book was read from a file, and
/// always a path of ids such as `version 2026-11, price kafka/cpu_core_seconds`).
public struct PriceBookIssue: Sendable, Equatable, CustomStringConvertible {
    /// Where in the file, when known.
    public var location: FilePosition?
    /// What is wrong and what to do.
    public var message: String

    /// Creates an issue.
    public init(_ location: FilePosition?, _ message: String) {
        self.location = location
        self.message = message
    }

    public var description: String { message }
}

extension PriceBook {
    /// The most fractional digits a unit price or a discount may have (finer prices would not change a cent).
    public static let maximumPriceDecimals = 12
    /// The most fractional digits a tier bound may have: a quantity's (six).
    public static let maximumTierDecimals = Quantity.scale

    /// Everything that makes the book unusable for rating, in file order; empty for a valid book. The rules (section
    /// 14 of the standard): versions with whole-hour ranges; per SKU, no two versions whose ranges overlap; no SKU
    /// twice in a version; metrics of the registry in their unit; prices and tier bounds not negative and not finer
    /// than allowed; tiers from 0, contiguous, each with an end except the last, which has none; one currency;
    /// contracts per tenant once per version, with discounts between 0 and 100 and prices for listed SKUs.
    public func issues() -> [PriceBookIssue] {
        var issues: [PriceBookIssue] = []
        if !Identifier.isID(id) {
            issues.append(PriceBookIssue(nil, "priceBook '\(id)' must be lower-case letters, digits, '.', '_' or '-', starting with a letter or digit"))
        }
        if revision < 0 { issues.append(PriceBookIssue(nil, "revision must be 0 or more")) }
        if versions.isEmpty { issues.append(PriceBookIssue(nil, "versions must list at least one price list")) }
        var named: Set<String> = []
        for tenant in tenants {
            if !Identifier.isID(tenant) {
                issues.append(PriceBookIssue(nil, "tenants: '\(tenant)' is not a tenant id (lower-case letters, digits, '.', '_' or '-')"))
            }
            if !named.insert(tenant).inserted {
                issues.append(PriceBookIssue(nil, "tenants: '\(tenant)' appears twice"))
            }
        }
        var versionIDs: Set<String> = []
        for version in versions {
            let context = "version '\(version.id)'"
            if !Identifier.isID(version.id) {
                issues.append(PriceBookIssue(version.location, "\(context): the id must be lower-case letters, digits, '.', '_' or '-'"))
            }
            if !versionIDs.insert(version.id).inserted {
                issues.append(PriceBookIssue(version.location, "\(context) appears twice; version ids are unique in a book"))
            }
            if let other = version.currency, other != currency {
                issues.append(PriceBookIssue(version.location, "\(context): mixed currencies: the version is in \(other.code) but the book in \(currency.code); a book has one currency (publish another book for \(other.code))"))
            }
            for (name, time) in [("effectiveFrom", Optional(version.effectiveFrom)), ("effectiveTo", version.effectiveTo)] {
                if let time, time.milliseconds % 3_600_000 != 0 {
                    issues.append(PriceBookIssue(version.location, "\(context): \(name) \(time) is not a whole UTC hour; an hour is rated with the prices in effect at its start, so prices change on the hour"))
                }
            }
            if let end = version.effectiveTo, end <= version.effectiveFrom {
                issues.append(PriceBookIssue(version.location, "\(context): effectiveTo \(end) must be after effectiveFrom \(version.effectiveFrom)"))
            }
            issues += priceIssues(version, context)
            issues += contractIssues(version, context)
        }
        issues += overlapIssues()
        return issues
    }

    private func priceIssues(_ version: PriceVersion, _ context: String) -> [PriceBookIssue] {
        var issues: [PriceBookIssue] = []
        var seen: Set<Sku> = []
        if version.prices.isEmpty { issues.append(PriceBookIssue(version.location, "\(context): prices must list at least one price")) }
        for price in version.prices {
            let here = "\(context), price \(price.sku.id)"
            issues += skuIssues(price.sku, price.location, here)
            if !seen.insert(price.sku).inserted {
                issues.append(PriceBookIssue(price.location, "\(here): duplicate SKU: the version already prices \(price.sku.id); merge the two entries"))
            }
            if let metric = MetricRegistry.v1[price.sku.metric], metric.unit != price.unit {
                issues.append(PriceBookIssue(price.location, "\(here): unit '\(price.unit)' is not the unit of \(metric.name), which is '\(metric.unit)'"))
            }
            issues += tierIssues(price, here)
        }
        return issues
    }

    private func skuIssues(_ sku: Sku, _ location: FilePosition?, _ here: String) -> [PriceBookIssue] {
        var issues: [PriceBookIssue] = []
        if MetricRegistry.v1[sku.metric] == nil {
            issues.append(PriceBookIssue(location, "\(here): '\(sku.metric)' is not in the metric registry (\(MetricRegistry.v1.metrics.keys.sorted().joined(separator: ", ")))"))
        }
        if sku.component != Sku.anyComponent, !Identifier.isName(sku.component) {
            issues.append(PriceBookIssue(location, "\(here): component '\(sku.component)' must be a component name (lower-case letters, digits and '-') or '*' for every component"))
        }
        if let provider = sku.provider, provider.isEmpty || !provider.utf8.allSatisfy({ Identifier.isLowerAlnum($0) }) {
            issues.append(PriceBookIssue(location, "\(here): provider '\(provider)' must be lower-case letters and digits, as the registry writes it (gcp, onprem, ...)"))
        }
        if let instance = sku.instance, !Identifier.isID(instance) {
            issues.append(PriceBookIssue(location, "\(here): instance '\(instance)' is not an instance id (lower-case letters, digits, '.', '_', '-')"))
        }
        return issues
    }

    private func tierIssues(_ price: SkuPrice, _ here: String) -> [PriceBookIssue] {
        var issues: [PriceBookIssue] = []
        guard !price.tiers.isEmpty else {
            return [PriceBookIssue(price.location, "\(here): give unitPrice or a non-empty tiers list")]
        }
        var expectedFrom = ExactDecimal.zero
        for (index, tier) in price.tiers.enumerated() {
            let location = tier.location ?? price.location
            let name = price.isTiered ? "\(here), tier \(index + 1)" : here
            issues += amountIssues(tier.unitPrice, "unitPrice", location, name)
            if tier.from != expectedFrom {
                let problem = tier.from > expectedFrom ? "a gap" : "an overlap"
                issues.append(PriceBookIssue(location, "\(name): the tier table has \(problem): this tier starts at \(tier.from) but the previous one ends at \(expectedFrom) (tiers run from 0 and each starts where the previous one ends)"))
            }
            for (bound, value) in [("from", Optional(tier.from)), ("upTo", tier.upTo)] {
                guard let value else { continue }
                if value.isNegative { issues.append(PriceBookIssue(location, "\(name): \(bound) \(value) is negative")) }
                if value.hasMoreDecimals(than: Self.maximumTierDecimals) {
                    issues.append(PriceBookIssue(location, "\(name): \(bound) \(value) has more than \(Self.maximumTierDecimals) decimals (quantities have six)"))
                }
            }
            if let upTo = tier.upTo {
                if upTo <= tier.from { issues.append(PriceBookIssue(location, "\(name): upTo \(upTo) must be above from \(tier.from)")) }
                if index == price.tiers.count - 1 {
                    issues.append(PriceBookIssue(location, "\(name): the last tier must have no upTo, so that every quantity has a price"))
                }
                expectedFrom = upTo
            } else if index < price.tiers.count - 1 {
                issues.append(PriceBookIssue(location, "\(name): an unbounded tier (no upTo) must be the last one"))
            }
        }
        return issues
    }

    private func amountIssues(_ value: ExactDecimal, _ name: String, _ location: FilePosition?, _ here: String) -> [PriceBookIssue] {
        var issues: [PriceBookIssue] = []
        if value.isNegative {
            issues.append(PriceBookIssue(location, "\(here): negative price \(value): prices are 0 or more (a credit is a discount or a correction, not a price)"))
        }
        if value.hasMoreDecimals(than: Self.maximumPriceDecimals) {
            issues.append(PriceBookIssue(location, "\(here): \(name) \(value) has more than \(Self.maximumPriceDecimals) decimals"))
        }
        return issues
    }

    private func contractIssues(_ version: PriceVersion, _ context: String) -> [PriceBookIssue] {
        var issues: [PriceBookIssue] = []
        var tenants: Set<String> = []
        let listed = Set(version.prices.map(\.sku))
        for contract in version.contracts {
            let here = "\(context), contract of '\(contract.tenant)'"
            if contract.tenant.isEmpty || contract.tenant.unicodeScalars.contains(where: { $0.properties.generalCategory == .control }) {
                issues.append(PriceBookIssue(contract.location, "\(here): tenant must be a non-empty name without control characters"))
            }
            if !tenants.insert(contract.tenant).inserted {
                issues.append(PriceBookIssue(contract.location, "\(here): the tenant has two contracts in this version; merge them"))
            }
            if contract.discountPercent == nil, contract.prices.isEmpty {
                issues.append(PriceBookIssue(contract.location, "\(here): give discountPercent, prices or both"))
            }
            if let percent = contract.discountPercent {
                if percent.isNegative || percent > ExactDecimal(100) {
                    issues.append(PriceBookIssue(contract.location, "\(here): discountPercent \(percent) must be between 0 and 100"))
                }
                if percent.hasMoreDecimals(than: 4) {
                    issues.append(PriceBookIssue(contract.location, "\(here): discountPercent \(percent) has more than 4 decimals"))
                }
            }
            var seen: Set<Sku> = []
            for price in contract.prices {
                let name = "\(here), price \(price.sku.id)"
                issues += amountIssues(price.unitPrice, "unitPrice", price.location, name)
                if !seen.insert(price.sku).inserted {
                    issues.append(PriceBookIssue(price.location, "\(name): duplicate SKU in the contract"))
                }
                if !listed.contains(price.sku) {
                    issues.append(PriceBookIssue(price.location, "\(name): the version has no list price for this SKU; a contracted price replaces a list price of the same SKU (same component, metric, provider and instance)"))
                }
            }
        }
        return issues
    }

    /// Per SKU, versions whose ranges overlap: an hour would have two prices.
    private func overlapIssues() -> [PriceBookIssue] {
        var issues: [PriceBookIssue] = []
        for (index, version) in versions.enumerated() {
            for earlier in versions[..<index] where earlier.overlaps(version) {
                let shared = Set(earlier.prices.map(\.sku)).intersection(version.prices.map(\.sku)).sorted()
                for sku in shared {
                    let location = version.prices.first { $0.sku == sku }?.location ?? version.location
                    let until = earlier.effectiveTo.map { "until \($0)" } ?? "without end"
                    issues.append(PriceBookIssue(location, "version '\(version.id)', price \(sku.id): overlapping effective ranges: version '\(earlier.id)' (from \(earlier.effectiveFrom), \(until)) also prices it from \(version.effectiveFrom); end the earlier version with effectiveTo: \(version.effectiveFrom) or drop the SKU from one of them"))
                }
            }
        }
        return issues
    }
}
