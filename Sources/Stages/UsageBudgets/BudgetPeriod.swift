import Foundation
import UsageStandard

/// One period of a budget: a calendar day or month in the budget's time zone, as UTC instants `[start, end)`.
///
/// Totals are hourly in UTC; an hour counts in the period that holds its start. In a time zone whose offset is not
/// whole hours (e.g. Asia/Kolkata, +05:30) a period's first and last hours straddle its bounds: each counts in
/// the period its start falls in.
public struct BudgetPeriod: Sendable, Hashable, Comparable, CustomStringConvertible {
    /// Day or month.
    public enum Kind: String, Sendable, CaseIterable {
        case day, month
    }

    /// `YYYY-MM-DD` or `YYYY-MM` in the time zone.
    public let name: String
    /// The first instant.
    public let start: Timestamp
    /// The first instant after it.
    public let end: Timestamp

    public var description: String { name }

    public static func < (lhs: BudgetPeriod, rhs: BudgetPeriod) -> Bool { lhs.start < rhs.start }

    /// Hours in the period (whole or partial hours counted up: 23, 24 or 25 for a day around a clock change).
    public var hours: Int64 { (end.milliseconds - start.milliseconds + 3_599_999) / 3_600_000 }

    /// A period as an alert names it (read back from an alert event).
    public init(name: String, start: Timestamp, end: Timestamp) {
        self.name = name
        self.start = start
        self.end = end
    }

    /// The calendar of an IANA time zone; nil when the zone is unknown.
    public static func calendar(timeZone identifier: String) -> Calendar? {
        guard let zone = TimeZone(identifier: identifier) else { return nil }
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = zone
        return calendar
    }

    /// The period of `kind` in `calendar` that holds `time`.
    public init(_ kind: Kind, containing time: Timestamp, calendar: Calendar) {
        let date = Date(timeIntervalSince1970: Double(time.milliseconds) / 1000)
        let parts = calendar.dateComponents([.year, .month, .day], from: date)
        let year = parts.year ?? 1970, month = parts.month ?? 1, day = parts.day ?? 1
        var first = DateComponents(year: year, month: month, day: kind == .day ? day : 1)
        first.timeZone = calendar.timeZone
        let startDate = calendar.date(from: first) ?? date
        let endDate = calendar.date(byAdding: kind == .day ? .day : .month, value: 1, to: startDate) ?? startDate
        start = Timestamp(milliseconds: Int64((startDate.timeIntervalSince1970 * 1000).rounded()))
        end = Timestamp(milliseconds: Int64((endDate.timeIntervalSince1970 * 1000).rounded()))
        func padded(_ value: Int) -> String { value < 10 ? "0\(value)" : "\(value)" }
        name = kind == .day ? "\(year)-\(padded(month))-\(padded(day))" : "\(year)-\(padded(month))"
    }
}
