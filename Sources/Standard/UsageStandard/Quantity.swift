/// An exact decimal usage quantity with six fractional digits, stored as an integer count of millionths.
///
/// Sums of quantities are exact and independent of order, which floating point cannot promise.
public struct Quantity: Hashable, Comparable, Sendable, CustomStringConvertible {
    /// The number of fractional decimal digits kept.
    public static let scale = 6
    /// 10^scale.
    public static let unit: Int64 = 1_000_000

    /// The value in millionths.
    public var micros: Int64

    /// Creates a quantity from millionths.
    public init(micros: Int64) { self.micros = micros }

    /// Zero.
    public static let zero = Quantity(micros: 0)

    /// Adds two quantities; nil on overflow.
    public func adding(_ other: Quantity) -> Quantity? {
        let (sum, overflow) = micros.addingReportingOverflow(other.micros)
        return overflow ? nil : Quantity(micros: sum)
    }

    public static func < (lhs: Quantity, rhs: Quantity) -> Bool { lhs.micros < rhs.micros }

    /// The shortest exact decimal text, e.g. "12.5", "3", "-0.000001".
    public var description: String {
        var bytes: [UInt8] = []
        appendDecimal(to: &bytes)
        return String(decoding: bytes, as: UTF8.self)
    }

    /// Appends the shortest exact decimal text (`description`) to `bytes`.
    public func appendDecimal(to bytes: inout [UInt8]) {
        let magnitude = micros.magnitude
        if micros < 0 { bytes.append(UInt8(ascii: "-")) }
        bytes.append(decimal: Int64(magnitude / UInt64(Self.unit)))
        var fraction = magnitude % UInt64(Self.unit)
        guard fraction != 0 else { return }
        var digits = Self.scale
        while fraction % 10 == 0 { fraction /= 10; digits -= 1 }
        bytes.append(UInt8(ascii: "."))
        bytes.append(decimal: Int64(fraction), width: digits)
    }

    /// Parses JSON number text exactly (e.g. `12.5`, `-3`, `1.5e3`).
    public static func parse(_ bytes: UnsafeRawBufferPointer) -> Result<Quantity, QuantityError> {
        var index = 0
        let count = bytes.count
        var negative = false
        if index < count, bytes[index] == UInt8(ascii: "-") { negative = true; index += 1 }
        var digits: UInt64 = 0
        var significant = 0
        var fractionDigits = 0
        var sawDigit = false
        var droppedNonZero = false
        func take(_ digit: UInt64, fractional: Bool) -> Bool {
            if digits == 0 && digit == 0 {
                if fractional { fractionDigits += 1 }
                return true
            }
            guard significant < 19 else {
                // More precision than an Int64 can hold: only zeros may be dropped.
                if digit != 0 { droppedNonZero = true }
                if !fractional { fractionDigits -= 1 }
                return true
            }
            digits = digits * 10 + digit
            significant += 1
            if fractional { fractionDigits += 1 }
            return true
        }
        while index < count, let digit = Self.digit(bytes[index]) {
            sawDigit = true
            _ = take(digit, fractional: false)
            index += 1
        }
        guard sawDigit else { return .failure(.notANumber) }
        if index < count, bytes[index] == UInt8(ascii: ".") {
            index += 1
            var sawFraction = false
            while index < count, let digit = Self.digit(bytes[index]) {
                sawFraction = true
                _ = take(digit, fractional: true)
                index += 1
            }
            guard sawFraction else { return .failure(.notANumber) }
        }
        var exponent = 0
        if index < count, bytes[index] == UInt8(ascii: "e") || bytes[index] == UInt8(ascii: "E") {
            index += 1
            var exponentNegative = false
            if index < count, bytes[index] == UInt8(ascii: "+") || bytes[index] == UInt8(ascii: "-") {
                exponentNegative = bytes[index] == UInt8(ascii: "-")
                index += 1
            }
            var sawExponent = false
            while index < count, let digit = Self.digit(bytes[index]) {
                sawExponent = true
                guard exponent < 10_000 else { return .failure(.outOfRange) }
                exponent = exponent * 10 + Int(digit)
                index += 1
            }
            guard sawExponent else { return .failure(.notANumber) }
            if exponentNegative { exponent = -exponent }
        }
        guard index == count else { return .failure(.notANumber) }
        if droppedNonZero { return .failure(.tooPrecise) }
        if digits == 0 { return .success(.zero) }
        // value = digits * 10^(exponent - fractionDigits); in millionths: shift by scale.
        var shift = exponent - fractionDigits + scale
        var value = digits
        while shift < 0 {
            guard value % 10 == 0 else { return .failure(.tooPrecise) }
            value /= 10
            shift += 1
        }
        while shift > 0 {
            let (product, overflow) = value.multipliedReportingOverflow(by: 10)
            guard !overflow else { return .failure(.outOfRange) }
            value = product
            shift -= 1
        }
        guard value <= UInt64(Int64.max) else { return .failure(.outOfRange) }
        return .success(Quantity(micros: negative ? -Int64(value) : Int64(value)))
    }

    /// Parses decimal text exactly.
    public static func parse(_ text: String) -> Result<Quantity, QuantityError> {
        var text = text
        return text.withUTF8 { parse(UnsafeRawBufferPointer($0)) }
    }

    @inline(__always)
    private static func digit(_ byte: UInt8) -> UInt64? {
        byte >= UInt8(ascii: "0") && byte <= UInt8(ascii: "9") ? UInt64(byte - UInt8(ascii: "0")) : nil
    }
}

/// Why a quantity could not be read.
public enum QuantityError: Error, Sendable, Equatable {
    /// The text is not a JSON number.
    case notANumber
    /// The number has more than six decimal places.
    case tooPrecise
    /// The number is too large to account exactly.
    case outOfRange

    /// Human-readable explanation.
    public var explanation: String {
        switch self {
        case .notANumber: return "is not a JSON number"
        case .tooPrecise: return "has more than \(Quantity.scale) decimal places"
        case .outOfRange: return "is too large (at most 9223372036854.775807)"
        }
    }
}
