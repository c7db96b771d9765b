import UsageStandard

/// An exact decimal number: a signed 128-bit count of 10^-scale units.
///
/// Prices, quantities and costs are computed in it, never in binary floating point (`Double`, `Float`, or
/// Foundation's `Decimal` through its `Double` paths): `0.1 + 0.2` is `0.3` here, and the same inputs give the same
/// cost on every machine. Addition and multiplication are exact; only `rounded(toScale:)` loses digits, and it says
/// how (half to even). A result that does not fit is an error (`ExactDecimalError.overflow`), never a wrapped value.
///
/// Two values with different scales compare and add by their value: `1.50` equals `1.5`.
public struct ExactDecimal: Sendable, Hashable, Comparable, CustomStringConvertible {
    /// The value in units of 10^-scale.
    public let units: Int128
    /// The number of fractional decimal digits `units` counts in.
    public let scale: Int

    /// The most fractional digits a value may carry: unit prices (12) times a discount factor (6) times a quantity (6).
    public static let maximumScale = 24

    /// Creates `units` x 10^-scale.
    public init(units: Int128, scale: Int) {
        precondition((0...38).contains(scale), "a scale between 0 and 38")
        self.units = units
        self.scale = scale
    }

    /// A whole number.
    public init(_ integer: Int64) { self.init(units: Int128(integer), scale: 0) }

    /// A usage quantity, exactly (six decimals).
    public init(_ quantity: Quantity) { self.init(units: Int128(quantity.micros), scale: Quantity.scale) }

    /// Zero.
    public static let zero = ExactDecimal(units: 0, scale: 0)

    /// Whether the value is below zero.
    public var isNegative: Bool { units < 0 }

    /// Whether the value is zero.
    public var isZero: Bool { units == 0 }

    /// The same value with trailing fractional zeros dropped (the smallest scale that holds it exactly).
    public var normalized: ExactDecimal {
        var units = units
        var scale = scale
        while scale > 0, units % 10 == 0 {
            units /= 10
            scale -= 1
        }
        return ExactDecimal(units: units, scale: scale)
    }

    /// The value counted in 10^-scale units, exactly; nil if that loses digits or overflows.
    public func units(atScale target: Int) -> Int128? {
        if target >= scale {
            var value = units
            for _ in 0..<(target - scale) {
                let (product, overflow) = value.multipliedReportingOverflow(by: 10)
                if overflow { return nil }
                value = product
            }
            return value
        }
        let divisor = Self.power(of: scale - target)
        return units % divisor == 0 ? units / divisor : nil
    }

    /// The exact sum.
    public func adding(_ other: ExactDecimal) throws(ExactDecimalError) -> ExactDecimal {
        let target = max(scale, other.scale)
        guard let left = units(atScale: target), let right = other.units(atScale: target) else { throw .overflow }
        let (sum, overflow) = left.addingReportingOverflow(right)
        if overflow { throw .overflow }
        return ExactDecimal(units: sum, scale: target).normalized
    }

    /// The exact difference.
    public func subtracting(_ other: ExactDecimal) throws(ExactDecimalError) -> ExactDecimal {
        try adding(ExactDecimal(units: -other.units, scale: other.scale))
    }

    /// The exact product.
    public func multiplied(by other: ExactDecimal) throws(ExactDecimalError) -> ExactDecimal {
        let left = normalized
        let right = other.normalized
        let (product, overflow) = left.units.multipliedReportingOverflow(by: right.units)
        if overflow { throw .overflow }
        guard left.scale + right.scale <= 38 else { throw .tooPrecise }
        let result = ExactDecimal(units: product, scale: left.scale + right.scale).normalized
        guard result.scale <= Self.maximumScale else { throw .tooPrecise }
        return result
    }

    /// The value rounded to `target` fractional digits, half to even (banker's rounding: 0.125 -> 0.12,
    /// 0.135 -> 0.14, -0.125 -> -0.12), which is unbiased over many roundings.
    public func rounded(toScale target: Int) -> ExactDecimal {
        let target = max(target, 0)
        guard target < scale else { return self }
        let divisor = Self.power(of: scale - target)
        var quotient = units / divisor
        let remainder = (units % divisor).magnitude
        let twice = remainder * 2
        let half = divisor.magnitude
        if twice > half || (twice == half && quotient % 2 != 0) {
            quotient += units < 0 ? -1 : 1
        }
        return ExactDecimal(units: quotient, scale: target)
    }

    /// The quotient by a positive whole number, rounded once, half to even, to `target` fractional digits (e.g. a
    /// projection: a sum times hours over hours). Throws on a divisor that is not positive and on overflow.
    public func divided(by divisor: Int64, toScale target: Int) throws(ExactDecimalError) -> ExactDecimal {
        guard divisor > 0, (0...38).contains(target) else { throw .overflow }
        // units / 10^scale / divisor = numerator / denominator at 10^-target.
        var numerator = units
        var denominator = Int128(divisor)
        if target >= scale {
            guard let scaled = units(atScale: target) else { throw .overflow }
            numerator = scaled
        } else {
            let (product, overflow) = denominator.multipliedReportingOverflow(by: Self.power(of: scale - target))
            if overflow { throw .overflow }
            denominator = product
        }
        var quotient = numerator / denominator
        let twice = (numerator % denominator).magnitude * 2
        let whole = denominator.magnitude
        if twice > whole || (twice == whole && quotient % 2 != 0) {
            quotient += numerator < 0 ? -1 : 1
        }
        return ExactDecimal(units: quotient, scale: target).normalized
    }

    /// Whether the value has more than `digits` fractional digits that are not zero.
    public func hasMoreDecimals(than digits: Int) -> Bool { normalized.scale > digits }

    public static func == (lhs: ExactDecimal, rhs: ExactDecimal) -> Bool {
        let left = lhs.normalized
        let right = rhs.normalized
        return left.units == right.units && left.scale == right.scale
    }

    public func hash(into hasher: inout Hasher) {
        let value = normalized
        hasher.combine(value.units)
        hasher.combine(value.scale)
    }

    public static func < (lhs: ExactDecimal, rhs: ExactDecimal) -> Bool {
        // Whole parts first (truncated toward zero), then the fractions, which are below 10^scale in magnitude and so
        // never overflow when brought to a common scale.
        let (leftWhole, leftFraction) = lhs.units.quotientAndRemainder(dividingBy: power(of: lhs.scale))
        let (rightWhole, rightFraction) = rhs.units.quotientAndRemainder(dividingBy: power(of: rhs.scale))
        if leftWhole != rightWhole { return leftWhole < rightWhole }
        let target = max(lhs.scale, rhs.scale)
        return leftFraction * power(of: target - lhs.scale) < rightFraction * power(of: target - rhs.scale)
    }

    /// Exact decimal text: at least `minimumScale` fractional digits (padded with zeros), more only where the value
    /// has them, no exponent: `0.0000123`, `12.50` (with `minimumScale` 2), `-3`.
    public func text(minimumScale: Int = 0) -> String {
        let value = normalized
        var shownScale = max(value.scale, minimumScale)
        var scaled = value.units
        if let padded = value.units(atScale: shownScale) { scaled = padded } else { shownScale = value.scale }
        let magnitude = scaled.magnitude
        let divisor = Self.power(of: shownScale).magnitude
        var result = scaled < 0 ? "-" : ""
        result += String(magnitude / divisor)
        if shownScale > 0 {
            let fraction = String(magnitude % divisor)
            result += "." + String(repeating: "0", count: shownScale - fraction.count) + fraction
        }
        return result
    }

    /// The shortest exact text (`text()`).
    public var description: String { text() }

    /// Parses plain decimal text exactly: an optional `-`, digits, optionally `.` and digits (`0.0000123`, `12`,
    /// `-1.5`). No exponent, no `+`, no spaces, at most `maximumScale` fractional digits: a price file's numbers are
    /// read from their text, so `0.1` is exactly one tenth.
    public static func parse(_ text: String) -> ExactDecimal? {
        var units: Int128 = 0
        var scale = 0
        var sawDigit = false
        var inFraction = false
        var negative = false
        for (index, character) in text.utf8.enumerated() {
            switch character {
            case UInt8(ascii: "-") where index == 0:
                negative = true
            case UInt8(ascii: ".") where !inFraction && sawDigit:
                inFraction = true
                sawDigit = false
            case UInt8(ascii: "0")...UInt8(ascii: "9"):
                let (shifted, overflow1) = units.multipliedReportingOverflow(by: 10)
                let (next, overflow2) = shifted.addingReportingOverflow(Int128(character - UInt8(ascii: "0")))
                guard !overflow1, !overflow2 else { return nil }
                units = next
                sawDigit = true
                if inFraction { scale += 1 }
            default:
                return nil
            }
        }
        guard sawDigit, scale <= maximumScale else { return nil }
        return ExactDecimal(units: negative ? -units : units, scale: scale)
    }

    /// 10^exponent.
    static func power(of exponent: Int) -> Int128 {
        var result: Int128 = 1
        for _ in 0..<max(exponent, 0) { result *= 10 }
        return result
    }
}

/// Why an exact computation has no result.
public enum ExactDecimalError: Error, Sendable, Equatable, CustomStringConvertible {
    /// The result does not fit in 128 bits at its scale.
    case overflow
    /// The exact result needs more than `ExactDecimal.maximumScale` fractional digits.
    case tooPrecise

    public var description: String {
        switch self {
        case .overflow: return "the exact result is too large to compute (more than 38 significant digits)"
        case .tooPrecise: return "the exact result needs more than \(ExactDecimal.maximumScale) decimal places"
        }
    }
}
