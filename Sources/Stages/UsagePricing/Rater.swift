import UsageStandard

/// Rates hourly totals with a price book: exact, reproducible costs (section 14 of the standard).
///
/// - The price version in effect at the hour's start applies; among its SKUs matching the total, the most specific.
/// - Tiers are graduated over the billing period (a calendar month, UTC): per tenant and SKU, the period's totals are
///   consumed in a fixed order (window start, then key, then unit), each unit priced by the tier its position in the
///   cumulative quantity falls in. The order is the rater's, never the input's, so the same totals and book always give
///   the same costs.
/// - Costs are exact products; rounding to the currency's minor unit is cumulative per invoice line (`LineRounding`).
public struct Rater: Sendable {
    /// The price book.
    public let book: PriceBook

    /// A rater for a valid book; a book with issues is refused with them.
    public init(book: PriceBook) throws(RatingError) {
        let issues = book.issues()
        guard issues.isEmpty else {
            throw RatingError("the price book \(book.id) cannot rate: " + issues.map(\.message).joined(separator: "; "))
        }
        self.book = book
    }

    /// Rates `totals` (current figures, one per key, hour and unit, of any tenants and periods, in any order).
    /// Throws on two totals of the same key, hour and unit (pass `CurrentTotals.figures()`, not raw parts) and on a
    /// cost too large to compute exactly.
    public func rate(_ totals: [UsageTotal]) throws(RatingError) -> RatingResult {
        var session = RatingSession(rater: self)
        var rated: [RatedTotal] = []
        rated.reserveCapacity(totals.count)
        for total in totals.sorted(by: RatingSession.precedes) {
            rated.append(try session.rate(total))
        }
        return RatingResult(priceBook: book.id, revision: book.revision, currency: book.currency, rated: rated,
                            lines: session.lines())
    }

    /// Tiers count per billing period, tenant and SKU.
    struct CounterKey: Hashable {
        var period: BillingPeriod
        var tenant: String
        var sku: Sku
    }

    /// The price that applies to `total`, with its version, or why none does.
    func price(for total: UsageTotal) -> Result<(PriceVersion, SkuPrice), UnpricedReason> {
        let versions = book.versions.filter { $0.isInEffect(at: total.windowStart) }
        guard !versions.isEmpty else { return .failure(.noVersionInEffect) }
        var best: (PriceVersion, SkuPrice)?
        for version in versions {
            for price in version.prices where price.sku.matches(component: total.key.component, metric: total.key.metric,
                                                                 provider: total.provider, instance: total.key.instance) {
                if best.map({ price.sku.specificity > $0.1.sku.specificity }) ?? true { best = (version, price) }
            }
        }
        guard let best else { return .failure(.noMatchingSku) }
        guard best.1.unit == total.unit else { return .failure(.unitMismatch(priced: best.1.unit)) }
        return .success(best)
    }

    func rate(_ total: UsageTotal, period: BillingPeriod, consumed: inout [CounterKey: ExactDecimal],
                      rounding: inout LineRounding) throws(ExactDecimalError) -> RatingOutcome {
        let quantity = ExactDecimal(total.quantity)
        guard !quantity.isNegative else { return .unpriced(.negativeQuantity) }
        let version: PriceVersion
        let price: SkuPrice
        switch self.price(for: total) {
        case .failure(let reason): return .unpriced(reason)
        case .success(let found): (version, price) = found
        }
        let counter = CounterKey(period: period, tenant: total.key.tenant, sku: price.sku)
        let before = consumed[counter] ?? .zero
        let after = try before.adding(quantity)
        consumed[counter] = after
        let contract = version.contracts.first { $0.tenant == total.key.tenant }
        let contracted = contract?.prices.first { $0.sku == price.sku }?.unitPrice
        var factor: ExactDecimal?
        if let percent = contract?.discountPercent {
            factor = try ExactDecimal(100).subtracting(percent).multiplied(by: ExactDecimal(units: 1, scale: 2))
        }
        var charges: [RatedCharge] = []
        for (index, tier) in price.tiers.enumerated() {
            // The part of [before, after) in [tier.from, tier.upTo); a zero total is charged (at 0) in the tier its
            // position falls in.
            let start = max(before, tier.from)
            let end = tier.upTo.map { min(after, $0) } ?? after
            let inTier = quantity.isZero ? (before >= tier.from && tier.upTo.map { before < $0 } ?? true) : start < end
            guard inTier else { continue }
            let part = quantity.isZero ? ExactDecimal.zero : try end.subtracting(start)
            let listUnitPrice = tier.unitPrice
            var contractedUnitPrice = listUnitPrice
            if let contracted {
                contractedUnitPrice = contracted
            } else if let factor {
                contractedUnitPrice = try listUnitPrice.multiplied(by: factor)
            }
            let exactList = try part.multiplied(by: listUnitPrice)
            let exactContracted = try part.multiplied(by: contractedUnitPrice)
            let (listCost, contractedCost) = try rounding.add(period: period, total: total, quantity: part,
                                                              list: exactList, contracted: exactContracted)
            let tierNumber = price.isTiered ? index + 1 : nil
            charges.append(RatedCharge(
                skuID: price.sku.id,
                skuPriceID: "\(book.id):\(version.id):\(price.sku.id)" + (tierNumber.map { ":tier=\($0)" } ?? ""),
                priceVersion: version.id, tier: tierNumber, pricingQuantity: part, pricingUnit: price.unit,
                listUnitPrice: listUnitPrice.normalized, contractedUnitPrice: contractedUnitPrice.normalized,
                exactListCost: exactList, exactContractedCost: exactContracted, listCost: listCost,
                contractedCost: contractedCost))
        }
        return .priced(charges)
    }
}

/// Rates totals one at a time in rating order (window start, then tenant, instance, component, metric and unit in
/// byte order: the order of the totals' SQL cursor), so that a month can be rated streaming, keeping only the tier
/// counters and the invoice lines' running sums. The same totals give the same costs as `Rater.rate`.
public struct RatingSession: Sendable {
    /// The rater.
    public let rater: Rater
    private var consumed: [Rater.CounterKey: ExactDecimal] = [:]
    private var rounding: LineRounding
    private var last: UsageTotal?

    /// A session with nothing rated yet.
    public init(rater: Rater) {
        self.rater = rater
        rounding = LineRounding(currency: rater.book.currency)
    }

    /// Rates the next total; throws when it does not come after the previous one in rating order (a duplicate, or
    /// input in another order) or when its cost is too large to compute exactly.
    public mutating func rate(_ total: UsageTotal) throws(RatingError) -> RatedTotal {
        if let last, !Self.precedes(last, total) {
            let problem = last.windowStart == total.windowStart && last.key == total.key && last.unit == total.unit
                ? "two totals for \(total.subject) in \(total.unit): rate the current figures (one per key and hour; CurrentTotals adds up parts and picks revisions)"
                : "\(total.subject) comes after \(last.subject): rate totals in rating order (window start, then key and unit in byte order)"
            throw RatingError(problem)
        }
        last = total
        let period = BillingPeriod(containing: total.windowStart)
        do {
            let outcome = try rater.rate(total, period: period, consumed: &consumed, rounding: &rounding)
            return RatedTotal(total: total, period: period, outcome: outcome)
        } catch {
            throw RatingError("\(total.subject): \(error); the cost cannot be computed exactly")
        }
    }

    /// The invoice lines so far, sorted by period, then key, then unit.
    public func lines() -> [InvoiceLine] { rounding.lines() }

    /// Rating order: window start, then tenant, instance, component, metric and unit, text compared byte by byte in
    /// UTF-8 (as PostgreSQL's `COLLATE "C"`).
    public static func precedes(_ lhs: UsageTotal, _ rhs: UsageTotal) -> Bool {
        if lhs.windowStart != rhs.windowStart { return lhs.windowStart < rhs.windowStart }
        if lhs.key.tenant != rhs.key.tenant { return bytesPrecede(lhs.key.tenant, rhs.key.tenant) }
        if lhs.key.instance != rhs.key.instance { return bytesPrecede(lhs.key.instance, rhs.key.instance) }
        if lhs.key.component != rhs.key.component { return bytesPrecede(lhs.key.component, rhs.key.component) }
        if lhs.key.metric != rhs.key.metric { return bytesPrecede(lhs.key.metric, rhs.key.metric) }
        return bytesPrecede(lhs.unit, rhs.unit)
    }

    private static func bytesPrecede(_ lhs: String, _ rhs: String) -> Bool { lhs.utf8.lexicographicallyPrecedes(rhs.utf8) }
}
