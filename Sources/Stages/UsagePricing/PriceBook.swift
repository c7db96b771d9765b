import UsageStandard
import YAMLFiles

/// A price book: one currency's versioned price lists, as ferris labs publishes them (standard, section 14).
///
/// The book is always published whole (like an instance registration): a new revision repeats every version,
/// including past ones, so the latest revision alone says what every past hour cost, and a corrected past price is
/// a new revision whose re-rating yields correction charges.
public struct PriceBook: Sendable, Equatable {
    /// The book's id, the record key on the prices topic, e.g. `ferris-list-eur`.
    public var id: String
    /// Counts the book's publications: each publication raises it, and the highest revision is the current book.
    public var revision: Int64
    /// The one currency of every price in the book (invoice lines add up rows, so a book never mixes currencies).
    public var currency: Currency
    /// What the book is for, for people.
    public var summary: String
    /// The tenants the book rates; empty for the default book, which rates every tenant no other book names
    /// (`PriceBookSet`).
    public var tenants: [String]
    /// The price lists, each with the time range it is in effect.
    public var versions: [PriceVersion]

    /// Creates a price book.
    public init(id: String, revision: Int64, currency: Currency, summary: String = "", tenants: [String] = [],
                versions: [PriceVersion]) {
        self.id = id
        self.revision = revision
        self.currency = currency
        self.summary = summary
        self.tenants = tenants
        self.versions = versions
    }
}

/// One price list of a book, in effect from `effectiveFrom` (inclusive) until `effectiveTo` (exclusive; open when
/// nil). An hour is rated with the prices in effect at its start.
public struct PriceVersion: Sendable, Equatable {
    /// The version's id, unique in the book, e.g. `2026-11`; part of every SKU price id.
    public var id: String
    /// The first hour it applies to (a whole UTC hour).
    public var effectiveFrom: Timestamp
    /// The end of its range (a whole UTC hour), or nil while it has no end.
    public var effectiveTo: Timestamp?
    /// The list prices.
    public var prices: [SkuPrice]
    /// Tenants' contracted terms while the version is in effect.
    public var contracts: [Contract]
    /// A currency the version names; it must be the book's (checked: mixed currencies are an error).
    public var currency: Currency?
    /// Where the version starts in its file.
    public var location: FilePosition?

    /// Creates a version.
    public init(id: String, effectiveFrom: Timestamp, effectiveTo: Timestamp? = nil, prices: [SkuPrice],
                contracts: [Contract] = [], currency: Currency? = nil, location: FilePosition? = nil) {
        self.id = id
        self.effectiveFrom = effectiveFrom
        self.effectiveTo = effectiveTo
        self.prices = prices
        self.contracts = contracts
        self.currency = currency
        self.location = location
    }

    /// Whether the version is in effect at `time`.
    public func isInEffect(at time: Timestamp) -> Bool {
        effectiveFrom <= time && (effectiveTo.map { time < $0 } ?? true)
    }

    /// Whether the version's range shares an instant with `other`'s.
    public func overlaps(_ other: PriceVersion) -> Bool {
        let endsAfterOtherStarts = effectiveTo.map { $0 > other.effectiveFrom } ?? true
        let otherEndsAfterThisStarts = other.effectiveTo.map { $0 > effectiveFrom } ?? true
        return endsAfterOtherStarts && otherEndsAfterThisStarts
    }
}

/// A list price: what one unit of a SKU costs, flat or in graduated tiers.
public struct SkuPrice: Sendable, Equatable {
    /// What is priced.
    public var sku: Sku
    /// The unit priced: the metric's unit (the registry's), so that a price can never apply to another unit.
    public var unit: String
    /// The tiers, in order; a flat price is one tier from 0 without end.
    public var tiers: [Tier]
    /// Where the price starts in its file.
    public var location: FilePosition?

    /// A flat price.
    public init(sku: Sku, unit: String, unitPrice: ExactDecimal, location: FilePosition? = nil) {
        self.init(sku: sku, unit: unit, tiers: [Tier(from: .zero, upTo: nil, unitPrice: unitPrice)], location: location)
    }

    /// A tiered price.
    public init(sku: Sku, unit: String, tiers: [Tier], location: FilePosition? = nil) {
        self.sku = sku
        self.unit = unit
        self.tiers = tiers
        self.location = location
    }

    /// Whether the price has more than one tier (then each charge names its tier).
    public var isTiered: Bool { tiers.count > 1 }
}

/// One step of a graduated price: the units whose position in the billing period's cumulative quantity of the SKU
/// lies in `from ..< upTo` cost `unitPrice` each. A free allowance is a first tier at price 0.
public struct Tier: Sendable, Equatable {
    /// Where the tier starts (cumulative quantity, inclusive).
    public var from: ExactDecimal
    /// Where it ends (exclusive); nil for the last tier, which has no end.
    public var upTo: ExactDecimal?
    /// The list price of one unit in the tier.
    public var unitPrice: ExactDecimal
    /// Where the tier stands in its file.
    public var location: FilePosition?

    /// Creates a tier.
    public init(from: ExactDecimal, upTo: ExactDecimal?, unitPrice: ExactDecimal, location: FilePosition? = nil) {
        self.from = from
        self.upTo = upTo
        self.unitPrice = unitPrice
        self.location = location
    }
}

/// A tenant's negotiated terms within a version: contracted unit prices for some SKUs and a discount on the list
/// price of the others.
public struct Contract: Sendable, Equatable {
    /// The tenant (the totals' `SubAccountId`).
    public var tenant: String
    /// A discount in percent (0 to 100) on the list price, tier by tier, of every SKU without a contracted price.
    public var discountPercent: ExactDecimal?
    /// Contracted flat unit prices; each names a SKU the version lists and replaces its whole list price (tiers and
    /// free allowance included) for this tenant.
    public var prices: [ContractPrice]
    /// Where the contract starts in its file.
    public var location: FilePosition?

    /// Creates a contract.
    public init(tenant: String, discountPercent: ExactDecimal? = nil, prices: [ContractPrice] = [],
                location: FilePosition? = nil) {
        self.tenant = tenant
        self.discountPercent = discountPercent
        self.prices = prices
        self.location = location
    }
}

/// A contracted flat unit price for one SKU.
public struct ContractPrice: Sendable, Equatable {
    /// The SKU, as the version's list price names it.
    public var sku: Sku
    /// The price of one unit for the contract's tenant.
    public var unitPrice: ExactDecimal
    /// Where the price stands in its file.
    public var location: FilePosition?

    /// Creates a contracted price.
    public init(sku: Sku, unitPrice: ExactDecimal, location: FilePosition? = nil) {
        self.sku = sku
        self.unitPrice = unitPrice
        self.location = location
    }
}
