import UsagePricing
import UsageStandard

/// A budget alert as a CloudEvent of type `net.ferrislabs.usage.alert.v1` (standard, section 15): structured mode,
/// record key `<budget>/<period>` (a period's alerts stay in order on one partition), and every value
/// deterministic, `time` included (the end of the latest hour counted, not the wall clock), so the same alert
/// decided again is the same bytes.
public enum AlertEvent {
    /// The CloudEvents type.
    public static let type = "net.ferrislabs.usage.alert.v1"
    /// The `source` of the events the service publishes.
    public static let source = "/ferris-usage/alerts"

    /// The record key, headers and value of `alert`.
    public static func encode(_ alert: BudgetAlert) -> (key: [UInt8], headers: [(name: String, value: String)], value: [UInt8]) {
        let time = alert.latestHourEnd ?? alert.period.start
        let value = JSONValue.object([
            ("specversion", .string(UsageStandard.specVersion)), ("id", .string(alert.id)), ("source", .string(source)),
            ("type", .string(type)), ("time", .string(time.rfc3339)), ("subject", .string(alert.budget)),
            ("datacontenttype", .string("application/json")), ("data", data(of: alert)),
        ])
        return (Array("\(alert.budget)/\(alert.period.name)".utf8),
                [(name: "content-type", value: UsageStandard.structuredContentType)], value.bytes)
    }

    /// The alert's `data`: every decimal as exact text.
    public static func data(of alert: BudgetAlert) -> JSONValue {
        var members: [(key: String, value: JSONValue)] = [
            ("budget", .string(alert.budget)), ("budgetRevision", .number(String(alert.budgetRevision))),
            ("tenant", .string(alert.tenant)),
            ("period", .object([("name", .string(alert.period.name)), ("start", .string(alert.period.start.rfc3339)),
                                ("end", .string(alert.period.end.rfc3339))])),
        ]
        switch alert.kind {
        case .threshold(let percent):
            members += [("kind", .string("threshold")), ("threshold", .string(percent.description))]
        case .forecast:
            members.append(("kind", .string("forecast")))
        }
        members += [("state", .string(alert.state.rawValue)), ("sequence", .number(String(alert.sequence))),
                    ("figure", .string(alert.figure.description)), ("limit", .string(alert.limit.amount.description))]
        switch alert.limit {
        case .quantity(_, let unit): members.append(("unit", .string(unit)))
        case .cost(let money): members.append(("currency", .string(money.currency.code)))
        }
        if let projected = alert.projected { members.append(("projected", .string(projected.description))) }
        members.append(("totals", .number(String(alert.totals))))
        if let end = alert.latestHourEnd { members.append(("latestHourEnd", .string(end.rfc3339))) }
        return .object(members)
    }

    /// Reads an alert back from a record value (what a restart restores from the alerts topic); why not, when it is
    /// not an alert event of this standard.
    public static func decode(_ value: [UInt8]) -> Result<BudgetAlert, BudgetError> {
        guard case .success(let event) = JSONValue.parse(value), event.members != nil else {
            return .failure(BudgetError("not a JSON object: an alert event is a structured-mode CloudEvent"))
        }
        guard event["type"]?.string == type else {
            return .failure(BudgetError("type '\(event["type"]?.string ?? "")' is not \(type)"))
        }
        guard let data = event["data"], let budget = data["budget"]?.string, let tenant = data["tenant"]?.string,
              let revision = data["budgetRevision"].flatMap(number).flatMap({ Int64($0) }),
              let name = data["period"]?["name"]?.string, let start = data["period"]?["start"]?.string.flatMap(Timestamp.parse),
              let end = data["period"]?["end"]?.string.flatMap(Timestamp.parse),
              let state = data["state"]?.string.flatMap(BudgetAlert.State.init(rawValue:)),
              let sequence = data["sequence"].flatMap(number).flatMap({ Int($0) }),
              let figure = data["figure"]?.string.flatMap(ExactDecimal.parse),
              let limitAmount = data["limit"]?.string.flatMap(ExactDecimal.parse),
              let totals = data["totals"].flatMap(number).flatMap({ Int($0) }) else {
            return .failure(BudgetError("data lacks a member of an alert (budget, budgetRevision, tenant, period, state, sequence, figure, limit, totals) or has one of another type"))
        }
        let kind: BudgetAlert.Kind
        switch data["kind"]?.string {
        case "forecast": kind = .forecast
        case "threshold":
            guard let percent = data["threshold"]?.string.flatMap(ExactDecimal.parse) else {
                return .failure(BudgetError("a threshold alert needs its threshold"))
            }
            kind = .threshold(percent)
        default: return .failure(BudgetError("kind must be threshold or forecast"))
        }
        let limit: BudgetLimit
        if let code = data["currency"]?.string {
            guard let currency = Currency(code: code) else { return .failure(BudgetError("currency '\(code)' is not ISO 4217")) }
            limit = .cost(Money(limitAmount, currency))
        } else {
            limit = .quantity(limitAmount, unit: data["unit"]?.string ?? "")
        }
        let alert = BudgetAlert(budget: budget, budgetRevision: revision, tenant: tenant,
                                period: BudgetPeriod(name: name, start: start, end: end), kind: kind, state: state,
                                sequence: sequence, figure: figure, limit: limit,
                                projected: data["projected"]?.string.flatMap(ExactDecimal.parse), totals: totals,
                                latestHourEnd: data["latestHourEnd"]?.string.flatMap(Timestamp.parse))
        guard event["id"]?.string == alert.id else {
            return .failure(BudgetError("id '\(event["id"]?.string ?? "")' is not the alert's id '\(alert.id)'"))
        }
        return .success(alert)
    }

    private static func number(_ value: JSONValue) -> String? {
        if case .number(let text) = value { return text }
        return nil
    }
}
