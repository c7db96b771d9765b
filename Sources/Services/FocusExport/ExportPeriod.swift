import UsageStandard

/// A UTC day or month whose totals are exported together: the totals whose window starts inside it.
public struct ExportPeriod: Hashable, Comparable, Sendable, CustomStringConvertible {
    /// How long the period is.
    public enum Granularity: String, Sendable, Codable {
        /// A UTC day, named `YYYY-MM-DD`.
        case day
        /// A UTC month, named `YYYY-MM`.
        case month
    }

    /// `YYYY-MM-DD` for a day, `YYYY-MM` for a month.
    public let name: String
    /// Day or month.
    public let granularity: Granularity
    /// The first instant (inclusive).
    public let start: Timestamp
    /// The end (exclusive): the start of the next day or month.
    public let end: Timestamp
    private let year: Int64, monthNumber: Int64

    /// Parses `YYYY-MM-DD` (a day) or `YYYY-MM` (a month); nil for anything else.
    public init?(_ name: String) {
        let parts = name.split(separator: "-", omittingEmptySubsequences: false)
        guard (2...3).contains(parts.count), parts[0].count == 4, parts.dropFirst().allSatisfy({ $0.count == 2 }),
              parts.allSatisfy({ $0.allSatisfy(\.isASCII) && $0.allSatisfy(\.isNumber) }),
              let year = Int64(parts[0]), let month = Int64(parts[1]), (1...12).contains(month) else { return nil }
        if parts.count == 3 {
            guard let day = Int64(parts[2]), day >= 1, day <= Self.daysIn(year: year, month: month) else { return nil }
            self.init(day: day, month: month, year: year)
        } else {
            self.init(month: month, year: year)
        }
    }

    private init(day: Int64, month: Int64, year: Int64) {
        let start = Self.daysFromCivil(year: year, month: month, day: day) * 86_400_000
        self.name = Self.pad(year, 4) + "-" + Self.pad(month, 2) + "-" + Self.pad(day, 2)
        self.granularity = .day
        self.start = Timestamp(milliseconds: start)
        self.end = Timestamp(milliseconds: start + 86_400_000)
        self.year = year
        self.monthNumber = month
    }

    private init(month: Int64, year: Int64) {
        let days = Self.daysFromCivil(year: year, month: month, day: 1)
        self.name = Self.pad(year, 4) + "-" + Self.pad(month, 2)
        self.granularity = .month
        self.start = Timestamp(milliseconds: days * 86_400_000)
        self.end = Timestamp(milliseconds: (days + Self.daysIn(year: year, month: month)) * 86_400_000)
        self.year = year
        self.monthNumber = month
    }

    /// The UTC day that `time` falls in.
    public static func day(containing time: Timestamp) -> ExportPeriod {
        // RFC 3339 text starts with the UTC date.
        let text = time.rfc3339.utf8.prefix(10).split(separator: UInt8(ascii: "-")).map { digits in
            digits.reduce(Int64(0)) { $0 * 10 + Int64($1 - 48) }
        }
        return ExportPeriod(day: text[2], month: text[1], year: text[0])
    }

    /// The month a day belongs to (a month is its own month).
    public var month: ExportPeriod { ExportPeriod(month: monthNumber, year: year) }

    /// Where rating the period starts: its month's start (tiers and rounding run over the calendar month).
    public var ratingStart: Timestamp { month.start }

    /// The days of a month (a day: itself).
    public var days: [ExportPeriod] {
        guard granularity == .month else { return [self] }
        return (1...Self.daysIn(year: year, month: monthNumber)).map { ExportPeriod(day: $0, month: monthNumber, year: year) }
    }

    public var description: String { name }

    /// Days before months, then by start.
    public static func < (a: ExportPeriod, b: ExportPeriod) -> Bool {
        (a.granularity == .month ? 1 : 0, a.start, a.name) < (b.granularity == .month ? 1 : 0, b.start, b.name)
    }

    private static func pad(_ value: Int64, _ width: Int) -> String {
        let text = String(value)
        return String(repeating: "0", count: max(0, width - text.count)) + text
    }

    // Calendar arithmetic (H. Hinnant's days-from-civil), as UsageStandard's Timestamp does internally; repeated here
    // because that helper is not public.
    private static func daysIn(year: Int64, month: Int64) -> Int64 {
        switch month {
        case 2: return (year % 4 == 0 && year % 100 != 0) || year % 400 == 0 ? 29 : 28
        case 4, 6, 9, 11: return 30
        default: return 31
        }
    }

    private static func daysFromCivil(year: Int64, month: Int64, day: Int64) -> Int64 {
        let y = month <= 2 ? year - 1 : year
        let era = (y >= 0 ? y : y - 399) / 400
        let yoe = y - era * 400
        let doy = (153 * (month + (month > 2 ? -3 : 9)) + 2) / 5 + day - 1
        let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy
        return era * 146_097 + doe - 719_468
    }
}

/// When a period counts as closed, i.e. may be exported: its end plus the topology's grace period plus its idle
/// timeout has passed on the wall clock (by then every partition that is caught up has closed the period's last
/// hour, also a quiet one that closes hours by wall clock), and every total of the period in the view is final.
/// A late change afterwards (a partition that was far behind, a replay) is found by comparing with the manifest and
/// exported as a new revision.
public struct ClosingRule: Sendable, Equatable {
    /// The topology's grace period: how long after a window's end its events are still accepted.
    public var graceMilliseconds: Int64
    /// The topology's idle timeout: how long a caught-up partition stays quiet before wall clock closes its windows.
    public var idleMilliseconds: Int64

    /// Creates a rule.
    public init(graceMilliseconds: Int64, idleMilliseconds: Int64) {
        self.graceMilliseconds = graceMilliseconds
        self.idleMilliseconds = idleMilliseconds
    }

    /// The earliest wall-clock time at which `period` may be exported.
    public func closesAt(_ period: ExportPeriod) -> Timestamp {
        Timestamp(milliseconds: period.end.milliseconds + graceMilliseconds + idleMilliseconds)
    }
}
