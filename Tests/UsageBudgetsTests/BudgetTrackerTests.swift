import Testing
import UsageBudgets
import UsagePricing
import UsageStandard

func at(_ text: String) -> Timestamp {
    guard let time = Timestamp.parse(text) else { preconditionFailure("not a time: \(text)") }
    return time
}

func decimal(_ text: String) -> ExactDecimal {
    guard let value = ExactDecimal.parse(text) else { preconditionFailure("not a decimal: \(text)") }
    return value
}

/// hybrid-corp's JupyterHub hours: at most 100 a month in UTC, thresholds 50/80/100.
func sessionBudget(thresholds: [String] = ["50", "80", "100"], forecast: Bool = false) -> Budget {
    Budget(id: "hybrid-corp-jupyter", revision: 1, tenant: "hybrid-corp",
           scope: BudgetScope(component: "jupyterhub", metric: "session_hours"), period: .month,
           limit: .quantity(decimal("100"), unit: "Hours"), thresholds: thresholds.map(decimal), forecast: forecast)
}

/// The figure of one hour (`2026-11-DDTHH`) of a subject.
func hour(_ day: Int, _ hour: Int, _ value: String, subject: String = "jupyterhub") -> BudgetFigure {
    let start = at("2026-11-\(day < 10 ? "0" : "")\(day)T\(hour < 10 ? "0" : "")\(hour):00:00Z")
    return BudgetFigure(subject: "\(subject)@\(start.milliseconds)", windowStart: start,
                        windowEnd: Timestamp(milliseconds: start.milliseconds + 3_600_000), value: decimal(value))
}

func ids(_ alerts: [BudgetAlert]) -> [String] { alerts.map(\.id) }

@Suite struct BudgetTracking {
    @Test func eachThresholdFiresOnceInOrderWithItsFigure() throws {
        var tracker = try BudgetTracker(budget: sessionBudget())
        var alerts: [BudgetAlert] = []
        // 10 hours a day: 50 on the 5th, 80 on the 8th, 100 on the 10th.
        for day in 1...12 { alerts += try tracker.apply(hour(day, 9, "10")) }
        #expect(ids(alerts) == ["hybrid-corp-jupyter/2026-11/threshold-50/fired/1", "hybrid-corp-jupyter/2026-11/threshold-80/fired/1",
                                "hybrid-corp-jupyter/2026-11/threshold-100/fired/1"])
        #expect(alerts.map(\.figure) == [decimal("50"), decimal("80"), decimal("100")])
        #expect(alerts.map(\.totals) == [5, 8, 10])
        #expect(alerts.last?.latestHourEnd == at("2026-11-10T10:00:00Z"))
        #expect(alerts.allSatisfy { $0.period.name == "2026-11" && $0.tenant == "hybrid-corp" && $0.budgetRevision == 1 })
    }

    @Test func aFigureCrossingTwoThresholdsAtOnceFiresBothAscending() throws {
        var tracker = try BudgetTracker(budget: sessionBudget())
        #expect(try tracker.apply(hour(1, 0, "40")).isEmpty)
        #expect(ids(try tracker.apply(hour(1, 1, "45"))).map { $0.split(separator: "/")[2] } == ["threshold-50", "threshold-80"])
    }

    @Test func aProvisionalTotalThatGrowsReplacesItsValueAndNeverFiresTwice() throws {
        var tracker = try BudgetTracker(budget: sessionBudget())
        var alerts: [BudgetAlert] = []
        for value in ["10", "30", "49.999999", "50", "55", "60"] { alerts += try tracker.apply(hour(3, 7, value)) }
        #expect(ids(alerts) == ["hybrid-corp-jupyter/2026-11/threshold-50/fired/1"])
        #expect(alerts.first?.figure == decimal("50"), "the value replaced, not added")
    }

    @Test func aCorrectionBelowAThresholdResolvesItAndARecrossingFiresAgain() throws {
        var tracker = try BudgetTracker(budget: sessionBudget())
        #expect(ids(try tracker.apply(hour(2, 0, "55"))) == ["hybrid-corp-jupyter/2026-11/threshold-50/fired/1"])
        // A re-accounting lowers the hour: resolved, nothing else.
        #expect(ids(try tracker.apply(hour(2, 0, "20"))) == ["hybrid-corp-jupyter/2026-11/threshold-50/resolved/1"])
        #expect(try tracker.apply(hour(2, 0, "20")).isEmpty)
        #expect(ids(try tracker.apply(hour(3, 0, "31"))) == ["hybrid-corp-jupyter/2026-11/threshold-50/fired/2"])
    }

    @Test func periodsAreSeparate() throws {
        var tracker = try BudgetTracker(budget: sessionBudget())
        #expect(ids(try tracker.apply(hour(30, 23, "60"))) == ["hybrid-corp-jupyter/2026-11/threshold-50/fired/1"])
        let december = BudgetFigure(subject: "jupyterhub@dec", windowStart: at("2026-12-01T00:00:00Z"),
                                    windowEnd: at("2026-12-01T01:00:00Z"), value: decimal("60"))
        #expect(ids(try tracker.apply(december)) == ["hybrid-corp-jupyter/2026-12/threshold-50/fired/1"])
    }

    @Test func afterARestoreTheSameFiguresDecideNothingAgain() throws {
        let figures = (1...10).map { hour($0, 9, "10") } + [hour(4, 9, "1")]
        var first = try BudgetTracker(budget: sessionBudget())
        var all: [BudgetAlert] = []
        for figure in figures { all += try first.apply(figure) }
        #expect(all.count == 4, "50, 80, 100 fired; the correction of the 4th (10 -> 1) resolves 100 (100 - 9 = 91)")
        #expect(all.last?.id == "hybrid-corp-jupyter/2026-11/threshold-100/resolved/1")
        // A restart after the first two alerts were published with the figures up to the 8th (80 %, offsets
        // committed with them): the figures are counted again without deciding, the alerts restored, and the rest
        // applied: the two later alerts, nothing twice.
        var restarted = try BudgetTracker(budget: sessionBudget())
        for figure in figures.prefix(8) { try restarted.count(figure) }
        restarted.restore(Array(all.prefix(2)))
        #expect(try restarted.settle().isEmpty)
        var again: [BudgetAlert] = []
        for figure in figures.dropFirst(8) { again += try restarted.apply(figure) }
        #expect(ids(again) == ids(Array(all.dropFirst(2))))
        // Everything published: nothing new.
        var caughtUp = try BudgetTracker(budget: sessionBudget())
        for figure in figures { try caughtUp.count(figure) }
        caughtUp.restore(all)
        #expect(try caughtUp.settle().isEmpty)
        // Alerts lost (e.g. the alerts topic's retention): settling decides what the figures call for, once.
        var lost = try BudgetTracker(budget: sessionBudget())
        for figure in figures { try lost.count(figure) }
        lost.restore(Array(all.prefix(1)))
        #expect(ids(try lost.settle()) == ["hybrid-corp-jupyter/2026-11/threshold-80/fired/1"])
        #expect(try lost.settle().isEmpty)
    }

    @Test func theForecastFiresOnceFromTheTrailingDayWhileTheFigureIsBelowTheLimit() throws {
        var tracker = try BudgetTracker(budget: sessionBudget(thresholds: [], forecast: true))
        // 0.1 hours every hour of the 1st: after 24 hours the figure is 2.4, the trailing rate 0.1 an hour, the
        // projection 2.4 + 0.1 x 696 hours left = 72: below 100, nothing.
        var alerts: [BudgetAlert] = []
        for h in 0..<24 { alerts += try tracker.apply(hour(1, h, "0.1")) }
        #expect(alerts.isEmpty)
        // A runaway on the 2nd: 1 an hour. After its first hour: figure 3.4, trailing 24 h = 23 x 0.1 + 1 = 3.3,
        // 695 hours left: 3.4 + 3.3 x 695 / 24 = 98.9625, still below. After the second: figure 4.4, trailing 4.2,
        // 694 hours left: 4.4 + 4.2 x 694 / 24 = 125.85.
        alerts += try tracker.apply(hour(2, 0, "1"))
        #expect(alerts.isEmpty)
        alerts += try tracker.apply(hour(2, 1, "1"))
        #expect(ids(alerts) == ["hybrid-corp-jupyter/2026-11/forecast/fired/1"])
        #expect(alerts.first?.projected == decimal("125.85"))
        #expect(alerts.first?.figure == decimal("4.4"))
        for h in 2..<24 { alerts += try tracker.apply(hour(2, h, "1")) }
        #expect(alerts.count == 1, "the forecast fires once a period")
    }

    @Test func noProjectionBeforeTheTrailingWindowHasPassed() throws {
        var tracker = try BudgetTracker(budget: sessionBudget(thresholds: [], forecast: true))
        // 90 hours of usage in the month's first hour: projected enormously, but one hour is no trend.
        #expect(try tracker.apply(hour(1, 0, "90")).isEmpty)
        #expect(tracker.trailingHours == 24)
    }

    @Test func anUnknownTimeZoneCannotBeTracked() {
        var budget = sessionBudget()
        budget.timeZone = "Mars/Olympus"
        #expect(throws: BudgetError.self) { try BudgetTracker(budget: budget) }
    }
}

@Suite struct BudgetPeriods {
    @Test func aDayInBerlinStartsAt23UTCInWinter() throws {
        let berlin = try #require(BudgetPeriod.calendar(timeZone: "Europe/Berlin"))
        let period = BudgetPeriod(.day, containing: at("2026-11-24T23:00:00Z"), calendar: berlin)
        #expect(period.name == "2026-11-25")
        #expect(period.start == at("2026-11-24T23:00:00Z") && period.end == at("2026-11-25T23:00:00Z"))
        #expect(BudgetPeriod(.day, containing: at("2026-11-24T22:00:00Z"), calendar: berlin).name == "2026-11-24")
    }

    @Test func theDayTheClocksGoBackHas25Hours() throws {
        let berlin = try #require(BudgetPeriod.calendar(timeZone: "Europe/Berlin"))
        #expect(BudgetPeriod(.day, containing: at("2026-10-25T12:00:00Z"), calendar: berlin).hours == 25)
        #expect(BudgetPeriod(.month, containing: at("2026-10-31T23:30:00Z"), calendar: berlin).name == "2026-11")
    }

    @Test func inAHalfHourZoneAnHourCountsWhereItStarts() throws {
        let kolkata = try #require(BudgetPeriod.calendar(timeZone: "Asia/Kolkata"))
        // 18:00Z is 23:30 in Kolkata (the 24th); 19:00Z is 00:30 on the 25th.
        #expect(BudgetPeriod(.day, containing: at("2026-11-24T18:00:00Z"), calendar: kolkata).name == "2026-11-24")
        #expect(BudgetPeriod(.day, containing: at("2026-11-24T19:00:00Z"), calendar: kolkata).name == "2026-11-25")
    }

    @Test func utcMonths() throws {
        let utc = try #require(BudgetPeriod.calendar(timeZone: "UTC"))
        let february = BudgetPeriod(.month, containing: at("2028-02-29T23:00:00Z"), calendar: utc)
        #expect(february.name == "2028-02" && february.hours == 29 * 24)
    }
}

@Suite struct ExactDivision {
    @Test func dividesOnceHalfToEven() throws {
        #expect(try decimal("1").divided(by: 3, toScale: 6) == decimal("0.333333"))
        #expect(try decimal("0.125").divided(by: 1, toScale: 2) == decimal("0.12"))
        #expect(try decimal("0.135").divided(by: 1, toScale: 2) == decimal("0.14"))
        #expect(try decimal("4947.9").divided(by: 24, toScale: 6) == decimal("206.1625"))
        #expect(try decimal("-1").divided(by: 8, toScale: 2) == decimal("-0.12"))
        #expect(throws: ExactDecimalError.self) { try decimal("1").divided(by: 0, toScale: 2) }
    }
}

@Suite struct AlertEvents {
    @Test func anAlertRoundTripsAndIsTheSameBytesWhenDecidedAgain() throws {
        var tracker = try BudgetTracker(budget: sessionBudget())
        let alert = try #require(try tracker.apply(hour(7, 3, "55")).first)
        let encoded = AlertEvent.encode(alert)
        #expect(String(decoding: encoded.key, as: UTF8.self) == "hybrid-corp-jupyter/2026-11")
        #expect(encoded.headers.first?.value == "application/cloudevents+json")
        let text = String(decoding: encoded.value, as: UTF8.self)
        for member in [#""id":"hybrid-corp-jupyter/2026-11/threshold-50/fired/1""#, #""type":"net.ferrislabs.usage.alert.v1""#,
                       #""time":"2026-11-07T04:00:00.000Z""#, #""figure":"55""#, #""limit":"100""#, #""unit":"Hours""#,
                       #""threshold":"50""#, #""state":"fired""#] {
            #expect(text.contains(member), "\(member) in \(text)")
        }
        #expect(AlertEvent.decode(encoded.value) == .success(alert))
        var again = try BudgetTracker(budget: sessionBudget())
        #expect(AlertEvent.encode(try #require(try again.apply(hour(7, 3, "55")).first)).value == encoded.value)
    }

    @Test func aCostAlertKeepsItsCurrency() throws {
        let eur = try #require(Currency(code: "EUR"))
        var tracker = try BudgetTracker(budget: Budget(id: "acme", revision: 2, tenant: "acme", period: .day,
                                                       limit: .cost(Money(decimal("10"), eur)), forecast: false))
        let alerts = try tracker.apply(hour(3, 1, "8.5"))
        #expect(alerts.map(\.id) == ["acme/2026-11-03/threshold-50/fired/1", "acme/2026-11-03/threshold-80/fired/1"])
        for alert in alerts { #expect(AlertEvent.decode(AlertEvent.encode(alert).value) == .success(alert)) }
    }

    @Test func somethingElseIsNotReadAsAnAlert() {
        #expect(throws: BudgetError.self) { try AlertEvent.decode(Array("{\"type\":\"net.ferrislabs.usage.total.v1\"}".utf8)).get() }
        #expect(throws: BudgetError.self) { try AlertEvent.decode(Array("[]".utf8)).get() }
    }
}

@Suite struct BudgetRestarts {
    @Test func aPeriodOnlyNamedByPublishedAlertsIsNotResolvedBySettling() throws {
        var first = try BudgetTracker(budget: sessionBudget())
        let october = BudgetFigure(subject: "jupyterhub@oct", windowStart: at("2026-10-31T23:00:00Z"),
                                   windowEnd: at("2026-11-01T00:00:00Z"), value: decimal("85"))
        let published = try first.apply(october)
        #expect(published.count == 2)
        // After a restart only November's figures are read again (October's input is gone).
        var restarted = try BudgetTracker(budget: sessionBudget())
        try restarted.count(hour(2, 0, "10"))
        restarted.restore(published)
        #expect(try restarted.settle().isEmpty)
    }
}
