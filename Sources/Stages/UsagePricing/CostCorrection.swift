import UsageStandard

/// The change of a total's cost between two ratings of the same period: what a re-rate after a price correction
/// (a new revision of the book) bills on top of what was billed before (FOCUS `ChargeClass` `Correction`).
public struct CostCorrection: Sendable, Equatable {
    /// The total's subject (`tenant/instance/component/metric/<hour start>`).
    public var subject: String
    /// Its billing period.
    public var period: BillingPeriod
    /// Its key.
    public var key: UsageKey
    /// Its hour's start.
    public var windowStart: Timestamp
    /// New `ListCost` minus the billed one.
    public var listCost: Money
    /// New `ContractedCost` (= `BilledCost`) minus the billed one.
    public var contractedCost: Money
}

extension RatingResult {
    /// The corrections that turn `billed` (an earlier rating, e.g. with the book's previous revision) into this
    /// rating: per total, the difference of its rounded costs over all its charges, for every total whose costs
    /// changed, in rating order. Because both ratings round cumulatively per invoice line, the corrections of a line
    /// add up to the difference of its line totals, so the invoice after the correction equals a fresh rating.
    public func corrections(from billed: RatingResult) throws(RatingError) -> [CostCorrection] {
        guard billed.currency == currency else {
            throw RatingError("cannot correct a rating in \(billed.currency.code) with one in \(currency.code)")
        }
        struct Costs {
            var total: RatedTotal
            var list: ExactDecimal = .zero
            var contracted: ExactDecimal = .zero
        }
        func costs(_ result: RatingResult) throws(ExactDecimalError) -> [String: Costs] {
            var bySubject: [String: Costs] = [:]
            for rated in result.rated {
                let name = rated.total.subject + "\u{0}" + rated.total.unit
                var entry = bySubject[name] ?? Costs(total: rated)
                for charge in rated.charges {
                    entry.list = try entry.list.adding(charge.listCost.amount)
                    entry.contracted = try entry.contracted.adding(charge.contractedCost.amount)
                }
                bySubject[name] = entry
            }
            return bySubject
        }
        do {
            let before = try costs(billed)
            let after = try costs(self)
            var corrections: [CostCorrection] = []
            for name in Set(before.keys).union(after.keys) {
                guard let total = (after[name] ?? before[name])?.total else { continue }
                let list = try (after[name]?.list ?? .zero).subtracting(before[name]?.list ?? .zero)
                let contracted = try (after[name]?.contracted ?? .zero).subtracting(before[name]?.contracted ?? .zero)
                guard !list.isZero || !contracted.isZero else { continue }
                corrections.append(CostCorrection(subject: total.total.subject, period: total.period, key: total.total.key,
                                                  windowStart: total.total.windowStart, listCost: Money(list, currency),
                                                  contractedCost: Money(contracted, currency)))
            }
            return corrections.sorted { ($0.windowStart, $0.key) < ($1.windowStart, $1.key) }
        } catch {
            throw RatingError("the corrections cannot be computed exactly: \(error)")
        }
    }
}
