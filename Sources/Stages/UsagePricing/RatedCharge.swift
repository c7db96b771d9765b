import UsageStandard

/// The cost of a total's quantity in one price tier: one FOCUS cost row (section 14 of the standard).
///
/// A total that crosses a tier boundary has one charge per tier it touches, so that each row has one unit price and
/// `pricingQuantity x unit price = exact cost` holds row by row.
public struct RatedCharge: Sendable, Equatable {
    /// FOCUS `SkuId`: the SKU that priced the total (`Sku.id`).
    public var skuID: String
    /// FOCUS `SkuPriceId`: `<price book>:<version>:<SkuId>`, with `:tier=<n>` for a tier of a tiered price.
    public var skuPriceID: String
    /// The price version that was in effect at the hour's start.
    public var priceVersion: String
    /// The tier (1-based) for a tiered price, nil for a flat one.
    public var tier: Int?
    /// FOCUS `PricingQuantity`: the units rated here (the whole total, or its part in this tier).
    public var pricingQuantity: ExactDecimal
    /// FOCUS `PricingUnit`: the metric's unit.
    public var pricingUnit: String
    /// FOCUS `ListUnitPrice`.
    public var listUnitPrice: ExactDecimal
    /// FOCUS `ContractedUnitPrice`: the tenant's contracted price, the discounted list price, or the list price.
    public var contractedUnitPrice: ExactDecimal
    /// `pricingQuantity x listUnitPrice`, exactly.
    public var exactListCost: ExactDecimal
    /// `pricingQuantity x contractedUnitPrice`, exactly.
    public var exactContractedCost: ExactDecimal
    /// FOCUS `ListCost`: rounded to the currency's minor unit by the cumulative rule.
    public var listCost: Money
    /// FOCUS `ContractedCost`: rounded like `listCost`.
    public var contractedCost: Money

    /// Creates a charge (the rater makes them; other code builds them for tests and examples).
    public init(skuID: String, skuPriceID: String, priceVersion: String, tier: Int?, pricingQuantity: ExactDecimal,
                pricingUnit: String, listUnitPrice: ExactDecimal, contractedUnitPrice: ExactDecimal,
                exactListCost: ExactDecimal, exactContractedCost: ExactDecimal, listCost: Money, contractedCost: Money) {
        self.skuID = skuID
        self.skuPriceID = skuPriceID
        self.priceVersion = priceVersion
        self.tier = tier
        self.pricingQuantity = pricingQuantity
        self.pricingUnit = pricingUnit
        self.listUnitPrice = listUnitPrice
        self.contractedUnitPrice = contractedUnitPrice
        self.exactListCost = exactListCost
        self.exactContractedCost = exactContractedCost
        self.listCost = listCost
        self.contractedCost = contractedCost
    }

    /// FOCUS `BilledCost`: what is invoiced, the contracted cost (no commitments or credits in this version).
    public var billedCost: Money { contractedCost }
    /// FOCUS `EffectiveCost`: the contracted cost (nothing is amortised).
    public var effectiveCost: Money { contractedCost }
}

/// Why no price applies to a total. An unpriced total is reported, never rated as free.
public enum UnpricedReason: Error, Sendable, Equatable, CustomStringConvertible {
    /// No current price book rates the tenant (none names it, and there is no default book).
    case noPriceBook
    /// No version of the book is in effect at the hour's start.
    case noVersionInEffect
    /// Versions are in effect, but none prices the total's component and metric (with its provider and instance).
    case noMatchingSku
    /// The SKU's price is for another unit than the total's.
    case unitMismatch(priced: String)
    /// The total is negative (corrections outweighed usage); it cannot be rated against tiers.
    case negativeQuantity

    /// A stable code, e.g. for an `x_` column or a metric label.
    public var code: String {
        switch self {
        case .noPriceBook: return "no-price-book"
        case .noVersionInEffect: return "no-price-version"
        case .noMatchingSku: return "no-price"
        case .unitMismatch: return "unit-mismatch"
        case .negativeQuantity: return "negative-quantity"
        }
    }

    public var description: String {
        switch self {
        case .noPriceBook: return "no price book rates the tenant (none names it, and there is no default book)"
        case .noVersionInEffect: return "no version of the price book is in effect at the hour's start"
        case .noMatchingSku: return "no price in effect matches the component and metric (with the total's provider and instance)"
        case .unitMismatch(let unit): return "the matching price is per \(unit), not per the total's unit"
        case .negativeQuantity: return "the total is negative; it needs a correction, not a price"
        }
    }
}

/// What rating made of one total.
public enum RatingOutcome: Sendable, Equatable {
    /// Priced: one charge per tier touched (one for a flat price).
    case priced([RatedCharge])
    /// No price covers it, and why.
    case unpriced(UnpricedReason)
}

/// A total and its cost.
public struct RatedTotal: Sendable, Equatable {
    /// The total (its status tells whether the cost may still change: only final totals are invoiced).
    public var total: UsageTotal
    /// Its billing period.
    public var period: BillingPeriod
    /// Its charges, or why it has none.
    public var outcome: RatingOutcome

    /// The charges; empty when unpriced.
    public var charges: [RatedCharge] {
        if case .priced(let charges) = outcome { return charges }
        return []
    }
}

/// One invoice line: a tenant's usage of one metric of one component on one instance in one billing period, the
/// sum of its rows. Its costs equal the exact sum of the rows' exact costs rounded once, half to even, and they equal
/// the sum of its rows' rounded costs (the cumulative rounding rule).
public struct InvoiceLine: Sendable, Equatable {
    /// The billing period.
    public var period: BillingPeriod
    /// Tenant, instance, component and metric.
    public var key: UsageKey
    /// The unit.
    public var unit: String
    /// The priced quantity.
    public var quantity: ExactDecimal
    /// Sum of the rows' `ListCost`.
    public var listCost: Money
    /// Sum of the rows' `ContractedCost` (= `BilledCost`).
    public var contractedCost: Money
    /// `listCost` before rounding: the exact sum.
    public var exactListCost: ExactDecimal
    /// `contractedCost` before rounding: the exact sum.
    public var exactContractedCost: ExactDecimal
}

/// Rated totals of one price book.
public struct RatingResult: Sendable, Equatable {
    /// The price book's id and revision.
    public var priceBook: String
    /// The book revision used.
    public var revision: Int64
    /// The currency of every cost.
    public var currency: Currency
    /// Every total, in rating order (window start, then key, then unit).
    public var rated: [RatedTotal]
    /// Invoice lines, sorted by period, then key, then unit.
    public var lines: [InvoiceLine]

    /// The totals no price covers.
    public var unpriced: [RatedTotal] {
        rated.filter { if case .unpriced = $0.outcome { return true } else { return false } }
    }
}

/// Why totals could not be rated at all.
public struct RatingError: Error, Sendable, Equatable, CustomStringConvertible {
    /// What is wrong and what to do.
    public var message: String

    /// Creates the error.
    public init(_ message: String) { self.message = message }

    public var description: String { message }
}
