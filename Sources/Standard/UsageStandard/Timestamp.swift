/// Event time as milliseconds since the Unix epoch, UTC.
public struct Timestamp: Hashable, Comparable, Sendable, CustomStringConvertible {
    /// Milliseconds since 1970-01-01T00:00:00Z.
    public var milliseconds: Int64

    /// Creates a timestamp.
    public init(milliseconds: Int64) { self.milliseconds = milliseconds }

    public static func < (lhs: Timestamp, rhs: Timestamp) -> Bool { lhs.milliseconds < rhs.milliseconds }

    /// RFC 3339 text in UTC with milliseconds, e.g. "2026-11-25T13:00:00.000Z".
    public var description: String { rfc3339 }

    /// RFC 3339 text in UTC with milliseconds, e.g. "2026-11-25T13:00:00.000Z".
    public var rfc3339: String {
        var bytes: [UInt8] = []
        bytes.reserveCapacity(24)
        appendRFC3339(to: &bytes)
        return String(decoding: bytes, as: UTF8.self)
    }

    /// Appends the RFC 3339 text (`rfc3339`) to `bytes`.
    public func appendRFC3339(to bytes: inout [UInt8]) {
        let days = Self.floorDiv(milliseconds, 86_400_000)
        let msOfDay = milliseconds - days * 86_400_000
        let (year, month, day) = Self.civil(fromDays: days)
        bytes.append(decimal: year, width: 4)
        bytes.append(UInt8(ascii: "-"))
        bytes.append(decimal: month, width: 2)
        bytes.append(UInt8(ascii: "-"))
        bytes.append(decimal: day, width: 2)
        bytes.append(UInt8(ascii: "T"))
        bytes.append(decimal: msOfDay / 3_600_000, width: 2)
        bytes.append(UInt8(ascii: ":"))
        bytes.append(decimal: msOfDay / 60_000 % 60, width: 2)
        bytes.append(UInt8(ascii: ":"))
        bytes.append(decimal: msOfDay / 1000 % 60, width: 2)
        bytes.append(UInt8(ascii: "."))
        bytes.append(decimal: msOfDay % 1000, width: 3)
        bytes.append(UInt8(ascii: "Z"))
    }

    /// Parses RFC 3339 date-time text: `YYYY-MM-DDTHH:MM:SS[.fraction](Z|±HH:MM)`. Seconds are required;
    /// the offset is applied so the result is UTC. Fractions finer than a millisecond are truncated.
    ///
    /// Second 60 is refused. RFC 3339 allows it only for a leap second (23:59:60 UTC at the end of a month that
    /// had one), which a count of milliseconds since the epoch cannot hold; the Usage Tracking Standard refuses leap
    /// seconds outright (POSIX clocks never show one, and none is planned before they are abolished in 2035).
    public static func parse(_ bytes: UnsafeRawBufferPointer) -> Timestamp? {
        let count = bytes.count
        guard count >= 20 else { return nil }
        func number(_ start: Int, _ width: Int) -> Int64? {
            var value: Int64 = 0
            for index in start..<(start + width) {
                let byte = bytes[index]
                guard byte >= 48, byte <= 57 else { return nil }
                value = value * 10 + Int64(byte - 48)
            }
            return value
        }
        guard let year = number(0, 4), bytes[4] == UInt8(ascii: "-"),
              let month = number(5, 2), bytes[7] == UInt8(ascii: "-"),
              let day = number(8, 2), bytes[10] == UInt8(ascii: "T") || bytes[10] == UInt8(ascii: "t"),
              let hour = number(11, 2), bytes[13] == UInt8(ascii: ":"),
              let minute = number(14, 2), bytes[16] == UInt8(ascii: ":"),
              let second = number(17, 2) else { return nil }
        guard (1...12).contains(month), day >= 1, day <= daysInMonth(year: year, month: month),
              hour <= 23, minute <= 59, second <= 59 else { return nil }
        var index = 19
        var millis: Int64 = 0
        if index < count, bytes[index] == UInt8(ascii: ".") {
            index += 1
            var digits = 0
            while index < count, bytes[index] >= 48, bytes[index] <= 57 {
                if digits < 3 { millis = millis * 10 + Int64(bytes[index] - 48) }
                digits += 1
                index += 1
            }
            guard digits > 0 else { return nil }
            for _ in digits..<max(digits, 3) { millis *= 10 }
        }
        guard index < count else { return nil }
        var offsetMinutes: Int64 = 0
        switch bytes[index] {
        case UInt8(ascii: "Z"), UInt8(ascii: "z"):
            index += 1
        case UInt8(ascii: "+"), UInt8(ascii: "-"):
            guard index + 6 == count, let offsetHour = number(index + 1, 2), bytes[index + 3] == UInt8(ascii: ":"),
                  let offsetMinute = number(index + 4, 2), offsetHour <= 23, offsetMinute <= 59 else { return nil }
            offsetMinutes = offsetHour * 60 + offsetMinute
            if bytes[index] == UInt8(ascii: "-") { offsetMinutes = -offsetMinutes }
            index += 6
        default:
            return nil
        }
        guard index == count else { return nil }
        let days = daysFromCivil(year: year, month: month, day: day)
        let seconds = days * 86_400 + hour * 3600 + minute * 60 + second - offsetMinutes * 60
        return Timestamp(milliseconds: seconds * 1000 + millis)
    }

    /// Parses RFC 3339 text.
    public static func parse(_ text: String) -> Timestamp? {
        var text = text
        return text.withUTF8 { parse(UnsafeRawBufferPointer($0)) }
    }

    static func floorDiv(_ a: Int64, _ b: Int64) -> Int64 {
        let q = a / b
        return (a % b != 0 && (a < 0) != (b < 0)) ? q - 1 : q
    }

    static func daysInMonth(year: Int64, month: Int64) -> Int64 {
        switch month {
        case 2: return (year % 4 == 0 && year % 100 != 0) || year % 400 == 0 ? 29 : 28
        case 4, 6, 9, 11: return 30
        default: return 31
        }
    }

    /// Days since 1970-01-01 for a proleptic Gregorian date (H. Hinnant's algorithm).
    static func daysFromCivil(year: Int64, month: Int64, day: Int64) -> Int64 {
        let y = month <= 2 ? year - 1 : year
        let era = floorDiv(y, 400)
        let yoe = y - era * 400
        let doy = (153 * (month + (month > 2 ? -3 : 9)) + 2) / 5 + day - 1
        let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy
        return era * 146_097 + doe - 719_468
    }

    static func civil(fromDays days: Int64) -> (Int64, Int64, Int64) {
        let z = days + 719_468
        let era = floorDiv(z, 146_097)
        let doe = z - era * 146_097
        let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365
        let doy = doe - (365 * yoe + yoe / 4 - yoe / 100)
        let mp = (5 * doy + 2) / 153
        let day = doy - (153 * mp + 2) / 5 + 1
        let month = mp < 10 ? mp + 3 : mp - 9
        return (yoe + era * 400 + (month <= 2 ? 1 : 0), month, day)
    }
}
