import UsageStandard

/// What one pass of the schedule knows from earlier passes (kept in memory; after a restart the first pass checks
/// every candidate against its manifest once).
public struct ExportMemory: Sendable {
    /// Per period, the fingerprint of the totals its latest export was found to hold.
    var verified: [ExportPeriod: ExportManifest.Source] = [:]
    /// Replay revisions whose ranges were checked.
    var seenReplays: Set<Int64> = []

    /// Empty memory.
    public init() {}
}

/// What a pass did.
public struct ExportPassReport: Sendable, Equatable {
    /// Another process holds the destination's export lock: this one did nothing.
    public var standby = false
    /// The periods written.
    public var written: [ExportOutcome] = []
    /// Periods past their closing time whose totals are not all final yet.
    public var waiting: [ExportPeriod] = []
    /// Periods found unchanged since their latest export.
    public var unchanged = 0
}

/// Which periods a pass looks at: pure, unit-tested.
enum ExportPlan {
    /// The periods to check, in order (days first, then months): every day in `summaries` (totals by day) and every
    /// day of `replayDays` (covered by a replay not seen before, also when it has no totals left), if closed by the
    /// clock; and every month whose days are all closed by the clock and final. A period whose fingerprint equals
    /// what `memory` verified is skipped.
    static func candidates(summaries: [String: TotalsSource.Summary], replayDays: Set<ExportPeriod>,
                           replays: [TotalsSource.Replay], memory: ExportMemory, closing: ClosingRule, table: String,
                           priceBooks: [String], now: Timestamp) -> (check: [ExportPeriod], waiting: [ExportPeriod]) {
        var days = Set(summaries.keys.compactMap(ExportPeriod.init))
        days.formUnion(replayDays)
        days = days.filter { closing.closesAt($0) <= now }
        var months: [ExportPeriod: TotalsSource.Summary] = [:]
        for day in days {
            months[day.month, default: TotalsSource.Summary()].add(summaries[day.name] ?? TotalsSource.Summary())
        }
        var check: [ExportPeriod] = []
        var waiting: [ExportPeriod] = []
        let periods = days.map { ($0, summaries[$0.name] ?? TotalsSource.Summary()) }
            + months.filter { closing.closesAt($0.key) <= now }.map { ($0.key, $0.value) }
        for (period, summary) in periods.sorted(by: { $0.0 < $1.0 }) {
            if summary.provisional > 0 {
                waiting.append(period)
                continue
            }
            var prior = TotalsSource.Summary()
            if period.granularity == .day {
                for (name, day) in summaries where name.hasPrefix(period.month.name + "-") && name < period.name { prior.add(day) }
            }
            let fingerprint = summary.fingerprint(table: table, replayRevision: replayRevision(of: period, in: replays),
                                                  prior: prior, priceBooks: priceBooks)
            if memory.verified[period] != fingerprint { check.append(period) }
        }
        return (check, waiting)
    }

    /// The highest replay revision whose range overlaps `period` or its month before it (0 for none).
    static func replayRevision(of period: ExportPeriod, in replays: [TotalsSource.Replay]) -> Int64 {
        replays.filter { $0.start < period.end && $0.end > period.ratingStart }.map(\.revision).max() ?? 0
    }

    /// The UTC days a replay's range touches.
    static func days(of replay: TotalsSource.Replay) -> [ExportPeriod] {
        guard replay.end > replay.start else { return [] }
        let first = ExportPeriod.day(containing: replay.start).start.milliseconds
        return stride(from: first, to: replay.end.milliseconds, by: 86_400_000).map {
            ExportPeriod.day(containing: Timestamp(milliseconds: $0))
        }
    }
}

extension FocusExporter {
    /// One pass of the schedule: unless another process holds the destination's lock, aborts uploads an interrupted
    /// export left behind, then exports every closed day and month whose totals changed since their latest export
    /// (see `ExportPlan`). Fails on the first period that cannot be exported; `memory` keeps what succeeded.
    public func pass(now: Timestamp, memory: inout ExportMemory) throws(ExportError) -> ExportPassReport {
        guard try source.tryLock(lockKey) else { return ExportPassReport(standby: true) }
        defer { source.unlock(lockKey) }
        try abandonPendingUploads()
        let replays = try source.publishedReplays()
        let newReplays = replays.filter { !memory.seenReplays.contains($0.revision) }
        let replayDays = Set(newReplays.flatMap(ExportPlan.days))
        let recheckFrom = ExportPeriod.day(containing: Timestamp(milliseconds: now.milliseconds - configuration.recheckMilliseconds)).month.start
        let from = ([recheckFrom] + replayDays.map { $0.month.start }).min() ?? recheckFrom
        let summaries = try source.daySummaries(from: from, to: ExportPeriod.day(containing: now).end)
        let books = try configuration.prices.read(logger: logger)
        let plan = ExportPlan.candidates(summaries: summaries, replayDays: replayDays, replays: replays, memory: memory,
                                         closing: configuration.closing, table: configuration.table,
                                         priceBooks: books.revisions, now: now)
        var report = ExportPassReport(waiting: plan.waiting)
        for period in plan.check {
            let (outcome, fingerprint) = try exportLocked(period, books: books, now: now)
            switch outcome {
            case .written: report.written.append(outcome)
            case .unchanged, .empty: report.unchanged += 1
            case .notClosed: report.waiting.append(period)
            }
            if let fingerprint { memory.verified[period] = fingerprint }
        }
        memory.seenReplays.formUnion(newReplays.map(\.revision))
        return report
    }
}
