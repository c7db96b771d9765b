/// An exact amount of one currency.
///
/// A cost is kept at full precision (`amount` may have more decimals than the currency's minor unit) until the
/// rounding rule of the standard (section 14) rounds it; amounts of different currencies never add up.
public struct Money: Sendable, Hashable, CustomStringConvertible {
    /// The exact amount.
    public var amount: ExactDecimal
    /// Its currency.
    public var currency: Currency

    /// Creates an amount.
    public init(_ amount: ExactDecimal, _ currency: Currency) {
        self.amount = amount
        self.currency = currency
    }

    /// Zero of `currency`.
    public static func zero(_ currency: Currency) -> Money { Money(.zero, currency) }

    /// The exact sum; an error for another currency or an overflow.
    public func adding(_ other: Money) throws(MoneyError) -> Money {
        guard other.currency == currency else { throw .currencyMismatch(currency, other.currency) }
        do {
            return Money(try amount.adding(other.amount), currency)
        } catch {
            throw .arithmetic(error)
        }
    }

    /// The amount rounded half to even to the currency's minor unit (EUR: cents).
    public var roundedToMinorUnit: Money { Money(amount.rounded(toScale: currency.minorUnit), currency) }

    /// The amount with exactly the minor unit's decimals when it has no more (`12.50 EUR`), else all of its digits.
    public var text: String { amount.text(minimumScale: currency.minorUnit) }

    public var description: String { "\(text) \(currency.code)" }
}

/// Why two amounts could not be combined.
public enum MoneyError: Error, Sendable, Equatable, CustomStringConvertible {
    /// Amounts of two currencies: they are never added (convert first, outside ferris-usage).
    case currencyMismatch(Currency, Currency)
    /// The exact result does not fit.
    case arithmetic(ExactDecimalError)

    public var description: String {
        switch self {
        case .currencyMismatch(let left, let right): return "cannot add \(right.code) to \(left.code): amounts of two currencies"
        case .arithmetic(let error): return error.description
        }
    }
}
