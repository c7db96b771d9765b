import Foundation
import UsagePricing
import UsageStandard

/// An alert of a budget (standard, section 15): a threshold crossed, a threshold no longer crossed after a
/// correction lowered the figure, or the forecast reaching the limit.
public struct BudgetAlert: Sendable, Equatable {
    /// What the alert is about.
    public enum Kind: Sendable, Hashable {
        /// A threshold, in percent of the limit.
        case threshold(ExactDecimal)
        /// The period's projected figure reaching the limit.
        case forecast

        /// `threshold-<percent>` or `forecast`: part of the alert id.
        public var name: String {
            switch self {
            case .threshold(let percent): return "threshold-\(percent)"
            case .forecast: return "forecast"
            }
        }
    }

    /// Fired, or resolved (the figure fell below the threshold again: only a correction lowers a figure).
    public enum State: String, Sendable {
        case fired, resolved
    }

    public var budget: String
    public var budgetRevision: Int64
    public var tenant: String
    public var period: BudgetPeriod
    public var kind: Kind
    public var state: State
    /// The how-manieth firing of the kind in the period (a threshold fired again after it was resolved: 2, ...);
    /// a resolution has the number of the firing it resolves.
    public var sequence: Int
    /// The period's figure when the alert was decided (quantity in the limit's unit, or cost).
    public var figure: ExactDecimal
    /// The limit.
    public var limit: BudgetLimit
    /// The projected figure for the whole period, when the period has enough data to project.
    public var projected: ExactDecimal?
    /// How many hourly totals the figure adds up, and the end of the latest hour among them.
    public var totals: Int
    public var latestHourEnd: Timestamp?

    /// The deterministic id: `<budget>/<period>/<kind>/<state>/<sequence>`. The same alert decided again (after a
    /// restart) has the same id; a consumer may deduplicate on it.
    public var id: String { "\(budget)/\(period.name)/\(kind.name)/\(state.rawValue)/\(sequence)" }
}

/// One figure a budget counts: the current value of one hourly total in the budget's scope (its quantity, or its
/// cost), which replaces what the same subject counted before.
public struct BudgetFigure: Sendable, Equatable {
    /// The total's subject (`tenant/instance/component/metric/<hour start>`) and unit: what a later value replaces.
    public var subject: String
    /// The hour.
    public var windowStart, windowEnd: Timestamp
    /// The value it counts.
    public var value: ExactDecimal

    /// Creates a figure.
    public init(subject: String, windowStart: Timestamp, windowEnd: Timestamp, value: ExactDecimal) {
        self.subject = subject
        self.windowStart = windowStart
        self.windowEnd = windowEnd
        self.value = value
    }
}

/// Why a budget cannot be tracked.
public struct BudgetError: Error, Sendable, Equatable, CustomStringConvertible {
    /// What is wrong and what to do.
    public var message: String

    /// Creates the error.
    public init(_ message: String) { self.message = message }

    public var description: String { message }
}

/// Turns the figures of one budget into alerts: pure and deterministic, so that the same figures (and the alerts
/// published before, `restore`) always give the same alerts.
///
/// Per period: the figure is the sum of the current values of its subjects. After each change, thresholds are
/// checked in ascending order: a threshold not active whose percentage the figure reaches fires (`figure x 100 >=
/// threshold x limit`, exact); an active one the figure no longer reaches is resolved. A resolved threshold reached
/// again fires again with the next sequence number. The forecast fires at most once per period, while the figure is
/// still below the limit and the projection reaches it; it is never resolved (it is a warning about a trend).
///
/// **Projection** (deterministic: from the data, never from the wall clock): "now" is the end of the latest hour
/// counted; the trailing rate is the usage of the last `trailingHours` hours before it (24 for a month, 3 for a day),
/// and `projected = figure + rate x hours left in the period`. A period is projected only once that many hours of
/// it have passed.
public struct BudgetTracker: Sendable {
    /// The budget.
    public let budget: Budget
    private let calendar: Calendar
    private var periods: [BudgetPeriod: PeriodState] = [:]

    struct PeriodState: Sendable {
        var values: [String: (hour: Int64, end: Int64, value: ExactDecimal)] = [:]
        var figure = ExactDecimal.zero
        var hourly: [Int64: ExactDecimal] = [:]
        var latestEnd: Int64?
        /// Per threshold index: the sequence of its latest firing (0: never fired).
        var sequence: [Int]
        /// Threshold indexes whose latest firing is not resolved.
        var active: Set<Int> = []
        var forecastFired = false

        init(thresholds: Int) { sequence = Array(repeating: 0, count: thresholds) }
    }

    /// A tracker with nothing counted; throws when the budget's time zone is unknown.
    public init(budget: Budget) throws(BudgetError) {
        guard let calendar = BudgetPeriod.calendar(timeZone: budget.timeZone) else {
            throw BudgetError("budget \(budget.id): '\(budget.timeZone)' is not an IANA time zone (e.g. UTC, Europe/Berlin)")
        }
        self.budget = budget
        self.calendar = calendar
    }

    /// Hours of trailing usage a projection needs and uses.
    public var trailingHours: Int64 { budget.period == .month ? 24 : 3 }

    /// The period that holds `time`.
    public func period(containing time: Timestamp) -> BudgetPeriod {
        BudgetPeriod(budget.period, containing: time, calendar: calendar)
    }

    /// Takes the alerts already published for this budget (read back from the alerts topic after a restart), so
    /// that what they decided is not decided again: fired thresholds stay active, resolutions and sequence numbers
    /// carry on, a fired forecast is not fired again. In publication order.
    ///
    /// A restart restores in three steps: `count` the figures up to the position the published alerts were decided
    /// at (the offsets committed with them), `restore` those alerts, then `settle` (which decides nothing when the
    /// two agree) and `apply` what comes after.
    public mutating func restore(_ published: [BudgetAlert]) {
        for alert in published where alert.budget == budget.id {
            var state = periods[alert.period] ?? PeriodState(thresholds: budget.thresholds.count)
            switch alert.kind {
            case .forecast:
                state.forecastFired = true
            case .threshold(let percent):
                guard let index = budget.thresholds.firstIndex(of: percent) else { continue }
                state.sequence[index] = max(state.sequence[index], alert.sequence)
                if alert.state == .fired { state.active.insert(index) } else { state.active.remove(index) }
            }
            periods[alert.period] = state
        }
    }

    /// Counts `figure` (replacing its subject's previous value) and returns the alerts it decides, in order.
    public mutating func apply(_ figure: BudgetFigure) throws(BudgetError) -> [BudgetAlert] {
        let period = try count(figure)
        return try decide(period)
    }

    /// Counts `figure` without deciding anything (rebuilding the figures after a restart); returns its period.
    @discardableResult
    public mutating func count(_ figure: BudgetFigure) throws(BudgetError) -> BudgetPeriod {
        let period = self.period(containing: figure.windowStart)
        var state = periods[period] ?? PeriodState(thresholds: budget.thresholds.count)
        do throws(ExactDecimalError) {
            let hour = figure.windowStart.milliseconds
            let previous = state.values[figure.subject]
            state.figure = try state.figure.subtracting(previous?.value ?? .zero).adding(figure.value)
            if let previous {
                state.hourly[previous.hour] = try (state.hourly[previous.hour] ?? .zero).subtracting(previous.value)
            }
            state.hourly[hour] = try (state.hourly[hour] ?? .zero).adding(figure.value)
            state.values[figure.subject] = (hour, figure.windowEnd.milliseconds, figure.value)
            state.latestEnd = max(state.latestEnd ?? figure.windowEnd.milliseconds, figure.windowEnd.milliseconds)
        } catch {
            throw BudgetError("budget \(budget.id), period \(period): the figure cannot be computed exactly (\(error))")
        }
        periods[period] = state
        return period
    }

    /// Decides every period whose figures were counted on its current figure (after `count` and `restore`): the
    /// alerts the published ones did not already decide, in period order. A period only named by published alerts
    /// (its totals no longer read) is left as they left it: a figure of 0 would resolve what was never undone.
    public mutating func settle() throws(BudgetError) -> [BudgetAlert] {
        var alerts: [BudgetAlert] = []
        for period in periods.keys.sorted() where !(periods[period]?.values.isEmpty ?? true) { alerts += try decide(period) }
        return alerts
    }

    /// The projected figure of a period, nil while it has fewer than `trailingHours` hours behind it.
    func projection(_ state: PeriodState, period: BudgetPeriod) throws(ExactDecimalError) -> ExactDecimal? {
        guard let now = state.latestEnd else { return nil }
        let hour: Int64 = 3_600_000
        let elapsed = (now - period.start.milliseconds) / hour
        guard elapsed >= trailingHours else { return nil }
        let windowStart = now - trailingHours * hour
        var trailing = ExactDecimal.zero
        for (start, value) in state.hourly where start >= windowStart && start < now {
            trailing = try trailing.adding(value)
        }
        let left = max(0, (period.end.milliseconds - now) / hour)
        return try state.figure.adding(trailing.multiplied(by: ExactDecimal(left)).divided(by: trailingHours, toScale: 6))
    }

    private mutating func decide(_ period: BudgetPeriod) throws(BudgetError) -> [BudgetAlert] {
        guard var state = periods[period] else { return [] }
        do throws(ExactDecimalError) {
            let alerts = try decide(&state, period: period)
            periods[period] = state
            return alerts
        } catch {
            throw BudgetError("budget \(budget.id), period \(period): the figure cannot be compared exactly (\(error))")
        }
    }

    private func decide(_ state: inout PeriodState, period: BudgetPeriod) throws(ExactDecimalError) -> [BudgetAlert] {
        var alerts: [BudgetAlert] = []
        let limit = budget.limit.amount
        let hundredTimesFigure = try state.figure.multiplied(by: ExactDecimal(100))
        let projected = try projection(state, period: period)
        func alert(_ kind: BudgetAlert.Kind, _ alertState: BudgetAlert.State, _ sequence: Int) -> BudgetAlert {
            BudgetAlert(budget: budget.id, budgetRevision: budget.revision, tenant: budget.tenant, period: period, kind: kind,
                        state: alertState, sequence: sequence, figure: state.figure, limit: budget.limit, projected: projected,
                        totals: state.values.count, latestHourEnd: state.latestEnd.map(Timestamp.init(milliseconds:)))
        }
        for (index, percent) in budget.thresholds.enumerated() {
            let reached = hundredTimesFigure >= (try percent.multiplied(by: limit))
            if reached && !state.active.contains(index) {
                state.sequence[index] += 1
                state.active.insert(index)
                alerts.append(alert(.threshold(percent), .fired, state.sequence[index]))
            } else if !reached && state.active.contains(index) {
                state.active.remove(index)
                alerts.append(alert(.threshold(percent), .resolved, state.sequence[index]))
            }
        }
        if budget.forecast, !state.forecastFired, let projected, state.figure < limit, projected >= limit {
            state.forecastFired = true
            alerts.append(alert(.forecast, .fired, 1))
        }
        return alerts
    }
}
