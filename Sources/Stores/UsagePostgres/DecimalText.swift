import UsageStandard

/// An exact decimal as PostgreSQL prints a `numeric` (a sum of quantities): unbounded, never floating point. A sum
/// over many totals can exceed the range of `Quantity`, so sums are kept as the text the database printed (answers
/// repeat it unchanged); `quantity` converts when it fits. Arithmetic on money is `UsagePricing`'s `ExactDecimal`.
public struct DecimalText: Hashable, Sendable, CustomStringConvertible {
    /// The decimal text, e.g. `17487.6` or `739.440000` (as the query printed it: trailing zeros are kept unless
    /// the query trims them).
    public let text: String

    /// Wraps decimal text.
    public init(_ text: String) { self.text = text }

    /// The value as a `Quantity`; nil when it has more than six decimals or is out of its range.
    public var quantity: Quantity? {
        guard case .success(let value) = Quantity.parse(text) else { return nil }
        return value
    }

    public var description: String { text }
}
