import Foundation
import UsageStandard

/// A validated usage query: which totals (filters, time range), summed over which windows, grouped by which
/// columns, and which page. Built from request parameters by `validated`, which refuses every bad one with a
/// clear 400; pure, so every rule is unit-tested without a database.
struct UsageQuery: Sendable, Equatable {
    /// The UTC window hourly totals are summed over; `total` sums the whole range into one row per group.
    enum Window: String, Sendable, CaseIterable {
        case hour, day, month, total
    }

    /// A column rows can be grouped by besides the metric (always a group column).
    enum Column: String, Sendable, CaseIterable, Comparable {
        case tenant, instance, component, provider, status

        static func < (a: Column, b: Column) -> Bool {
            allCases.firstIndex(of: a) ?? 0 < allCases.firstIndex(of: b) ?? 0
        }
    }

    /// The request's parameters before validation.
    struct Parameters: Sendable, Equatable {
        var tenant, instance, component, metric, provider, status: String?
        var from, to: Date?
        var window: String?
        var groupBy: [String] = []
        var pageSize: Int?
        var cursor: String?
    }

    /// The largest page.
    static let maximumPageSize = 10_000
    /// The page size when none is asked for.
    static let defaultPageSize = 1_000

    /// Only this tenant (the principal's own for a tenant's user).
    var tenant: String?
    var instance, component, metric, provider: String?
    /// Only final or only provisional totals.
    var status: String?
    /// The range of hour starts, [from, to), in milliseconds since the epoch.
    var from, to: Int64?
    var window: Window = .hour
    /// The group columns, each once, in canonical order.
    var groupBy: [Column] = []
    var pageSize = defaultPageSize
    /// The sort key of the last row of the previous page.
    var after: [String]?

    /// Validates `parameters` for `principal`: filters non-empty, known metric, from before to, both aligned to the
    /// window, page size in range, a cursor of this same query. The tenant filter is the principal's (403 for
    /// another tenant).
    static func validated(_ parameters: Parameters, principal: Principal,
                          registry: MetricRegistry) throws(APIProblem) -> UsageQuery {
        var query = UsageQuery()
        for (name, value) in [("tenant", parameters.tenant), ("instance", parameters.instance),
                              ("component", parameters.component), ("metric", parameters.metric),
                              ("provider", parameters.provider)] {
            try checkName(name, value)
        }
        if let cursor = parameters.cursor, cursor.count > 2000 {
            throw .invalid("cursor", "the cursor is longer than 2000 characters: pass nextCursor from the previous page unchanged")
        }
        query.tenant = try principal.tenantFilter(requested: parameters.tenant)
        query.instance = parameters.instance
        query.component = parameters.component
        query.provider = parameters.provider
        if let metric = parameters.metric, registry[metric] == nil {
            throw .invalid("metric", "unknown metric '\(metric)'; known metrics: \(registry.metrics.keys.sorted().joined(separator: ", ")) (GET /v1/metrics)")
        }
        query.metric = parameters.metric
        if let status = parameters.status {
            guard status == "final" || status == "provisional" else {
                throw .invalid("status", "unknown status '\(status)': use final or provisional")
            }
            query.status = status
        }
        if let text = parameters.window {
            guard let window = Window(rawValue: text) else {
                throw .invalid("window", "unknown window '\(text)': use hour, day, month or total")
            }
            query.window = window
        }
        query.from = try parameters.from.map { date throws(APIProblem) in try milliseconds(date, "from", query.window) }
        query.to = try parameters.to.map { date throws(APIProblem) in try milliseconds(date, "to", query.window) }
        if let from = query.from, let to = query.to, from >= to {
            throw .invalid("to", "'from' (\(rfc3339(from))) must be before 'to' (\(rfc3339(to)))")
        }
        var columns = Set<Column>()
        for name in parameters.groupBy where name != "metric" {
            guard let column = Column(rawValue: name) else {
                throw .invalid("groupBy", "cannot group by '\(name)': use tenant, instance, component, metric, provider or status")
            }
            columns.insert(column)
        }
        query.groupBy = columns.sorted()
        if let size = parameters.pageSize {
            guard (1...maximumPageSize).contains(size) else {
                throw .invalid("pageSize", "pageSize \(size) is out of range: ask for 1 to \(maximumPageSize) rows and follow nextCursor")
            }
            query.pageSize = size
        }
        if let cursor = parameters.cursor {
            query.after = try PageCursor.decode(cursor, fingerprint: query.fingerprint, keyCount: query.totalsQuery.positionLength)
        }
        return query
    }

    /// The longest name a filter may hold (the document's maxLength).
    static let maximumNameLength = 200

    /// Refuses an empty or overlong name filter.
    static func checkName(_ name: String, _ value: String?) throws(APIProblem) {
        guard let value else { return }
        if value.isEmpty { throw .invalid(name, "'\(name)' must not be empty: leave it out to include every \(name)") }
        if value.count > maximumNameLength {
            throw .invalid(name, "'\(name)' is longer than \(maximumNameLength) characters: no \(name) has such a name")
        }
    }

    /// Identifies everything but the page, so that a cursor is only used with the query that made it.
    var fingerprint: String {
        let parts: [String?] = [tenant, instance, component, metric, provider, status, from.map(String.init),
                                to.map(String.init), window.rawValue, groupBy.map(\.rawValue).joined(separator: ",")]
        return PageCursor.hash(parts.map { $0 ?? "\u{0}" }.joined(separator: "\u{1f}"))
    }

    /// `date` in milliseconds, refused unless it starts a window (hour, UTC day or UTC month).
    private static func milliseconds(_ date: Date, _ name: String, _ window: Window) throws(APIProblem) -> Int64 {
        let seconds = date.timeIntervalSince1970
        guard seconds.isFinite, abs(seconds) < 1e11 else { throw .invalid(name, "'\(name)' is out of range") }
        let millis = Int64((seconds * 1000).rounded())
        let hour: Int64 = 3_600_000
        let aligned: Bool
        let unit: String
        switch window {
        case .total:
            return millis
        case .hour:
            (aligned, unit) = (millis % hour == 0, "an hour")
        case .day:
            (aligned, unit) = (millis % (24 * hour) == 0, "a day (00:00 UTC)")
        case .month:
            let parts = Calendar.utc.dateComponents([.day, .hour, .minute, .second, .nanosecond], from: date)
            (aligned, unit) = (parts.day == 1 && parts.hour == 0 && parts.minute == 0 && parts.second == 0
                               && (parts.nanosecond ?? 0) < 1_000_000, "a month (the 1st, 00:00 UTC)")
        }
        guard aligned else {
            throw .invalid(name, "window not aligned: '\(name)' (\(rfc3339(millis))) must be the start of \(unit) for window=\(window.rawValue)")
        }
        return millis
    }

    /// Milliseconds since the epoch as RFC 3339 UTC text (seconds precision unless there are milliseconds).
    static func rfc3339(_ millis: Int64) -> String {
        let text = Timestamp(milliseconds: millis).rfc3339
        return text.hasSuffix(".000Z") ? String(text.dropLast(5)) + "Z" : text
    }
}

extension Calendar {
    /// The Gregorian calendar in UTC.
    static let utc: Calendar = {
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = TimeZone(identifier: "UTC") ?? TimeZone(secondsFromGMT: 0) ?? calendar.timeZone
        return calendar
    }()
}

/// The opaque page cursor: the sort key of the last row served and the fingerprint of its query, as base64url JSON.
enum PageCursor {
    /// The cursor after a row with sort key `key`.
    static func encode(_ key: [String], fingerprint: String) -> String {
        let object: [String: Any] = ["f": fingerprint, "k": key]
        let data = (try? JSONSerialization.data(withJSONObject: object, options: [.sortedKeys])) ?? Data()
        return data.base64EncodedString().replacingOccurrences(of: "+", with: "-")
            .replacingOccurrences(of: "/", with: "_").replacingOccurrences(of: "=", with: "")
    }

    /// The sort key in `cursor`, refused when it is malformed or was made by another query.
    static func decode(_ cursor: String, fingerprint: String, keyCount: Int) throws(APIProblem) -> [String] {
        var base64 = cursor.replacingOccurrences(of: "-", with: "+").replacingOccurrences(of: "_", with: "/")
        base64 += String(repeating: "=", count: (4 - base64.count % 4) % 4)
        guard let data = Data(base64Encoded: base64),
              let object = try? JSONSerialization.jsonObject(with: data) as? [String: Any],
              let key = object["k"] as? [String], let made = object["f"] as? String, key.count == keyCount else {
            throw .invalid("cursor", "the cursor is not one this API made: pass nextCursor from the previous page unchanged")
        }
        guard made == fingerprint else {
            throw .invalid("cursor", "the cursor belongs to a query with other parameters: repeat the previous page's parameters with it, or leave it out to start again")
        }
        return key
    }

    /// FNV-1a (64 bit) of `text`, as hex: tells queries apart; not a security measure (the tenant filter is
    /// applied to every page whatever the cursor says).
    static func hash(_ text: String) -> String {
        var hash: UInt64 = 0xcbf2_9ce4_8422_2325
        for byte in text.utf8 {
            hash ^= UInt64(byte)
            hash = hash &* 0x0000_0100_0000_01b3
        }
        return String(hash, radix: 16)
    }
}
