import UsageStandard

/// A billing period: a calendar month in UTC, `[start, end)`.
///
/// Tiers count the quantity of a SKU from the period's start, and an invoice line covers one period, so every total
/// belongs to exactly one period: the month of its hour's start.
public struct BillingPeriod: Sendable, Hashable, Comparable, CustomStringConvertible {
    /// The year, e.g. 2026.
    public let year: Int64
    /// The month, 1 to 12.
    public let month: Int64

    /// The period holding `time`.
    public init(containing time: Timestamp) {
        let days = Self.floorDivision(time.milliseconds, 86_400_000)
        let (year, month) = Self.yearAndMonth(fromDays: days)
        self.year = year
        self.month = month
    }

    /// The period of `year` and `month` (1 to 12).
    public init?(year: Int64, month: Int64) {
        guard (1...12).contains(month) else { return nil }
        self.year = year
        self.month = month
    }

    /// The first instant of the period.
    public var start: Timestamp { Timestamp(milliseconds: Self.days(year: year, month: month) * 86_400_000) }

    /// The first instant after the period.
    public var end: Timestamp {
        month == 12 ? Timestamp(milliseconds: Self.days(year: year + 1, month: 1) * 86_400_000)
            : Timestamp(milliseconds: Self.days(year: year, month: month + 1) * 86_400_000)
    }

    /// `YYYY-MM`, e.g. `2026-11` (FOCUS `BillingPeriodStart` is `start`).
    public var description: String {
        let monthText = month < 10 ? "0\(month)" : "\(month)"
        return "\(year)-\(monthText)"
    }

    public static func < (lhs: BillingPeriod, rhs: BillingPeriod) -> Bool { (lhs.year, lhs.month) < (rhs.year, rhs.month) }

    static func floorDivision(_ a: Int64, _ b: Int64) -> Int64 {
        let quotient = a / b
        return (a % b != 0 && (a < 0) != (b < 0)) ? quotient - 1 : quotient
    }

    /// Days since 1970-01-01 of the first day of a month of the proleptic Gregorian calendar (H. Hinnant's
    /// `days_from_civil`).
    static func days(year: Int64, month: Int64) -> Int64 {
        let y = month <= 2 ? year - 1 : year
        let era = floorDivision(y, 400)
        let yearOfEra = y - era * 400
        let dayOfYear = (153 * (month + (month > 2 ? -3 : 9)) + 2) / 5
        let dayOfEra = yearOfEra * 365 + yearOfEra / 4 - yearOfEra / 100 + dayOfYear
        return era * 146_097 + dayOfEra - 719_468
    }

    /// The year and month of a day counted from 1970-01-01 (H. Hinnant's `civil_from_days`).
    static func yearAndMonth(fromDays days: Int64) -> (Int64, Int64) {
        let z = days + 719_468
        let era = floorDivision(z, 146_097)
        let dayOfEra = z - era * 146_097
        let yearOfEra = (dayOfEra - dayOfEra / 1460 + dayOfEra / 36_524 - dayOfEra / 146_096) / 365
        let dayOfYear = dayOfEra - (365 * yearOfEra + yearOfEra / 4 - yearOfEra / 100)
        let shiftedMonth = (5 * dayOfYear + 2) / 153
        let month = shiftedMonth < 10 ? shiftedMonth + 3 : shiftedMonth - 9
        return (yearOfEra + era * 400 + (month <= 2 ? 1 : 0), month)
    }
}
