import UsageStandard

/// The rounding rule of section 14: costs are exact per row and rounded **cumulatively per invoice line**.
///
/// An invoice line is one tenant's usage of one metric of one component on one instance in one billing period. Its
/// rows are taken in rating order; a row's rounded cost is the line's exact running sum after the row, rounded half
/// to even to the currency's minor unit, minus the same rounded sum before it. So:
///
/// - every row holds a whole number of minor units (a FOCUS row that tools can add up);
/// - the rows of a line, and of any set of lines, add up exactly to the line totals, and a line's total is its exact
///   cost rounded **once** (never more than half a minor unit from the exact cost, however many hours it has), where
///   rounding each row on its own would lose up to half a cent per hour (an hour of 0.004 EUR would bill 0.00 every
///   hour of the month);
/// - adding a later hour never changes the rounded cost of an earlier one (the rounded running sum before it is
///   fixed), so provisional rows keep their figures as the month fills up.
struct LineRounding {
    let currency: Currency
    private var running: [LineKey: Line] = [:]

    init(currency: Currency) { self.currency = currency }

    struct LineKey: Hashable, Comparable {
        var period: BillingPeriod
        var key: UsageKey
        var unit: String

        static func < (lhs: LineKey, rhs: LineKey) -> Bool { (lhs.period, lhs.key, lhs.unit) < (rhs.period, rhs.key, rhs.unit) }
    }

    struct Line {
        var quantity = ExactDecimal.zero
        var exactList = ExactDecimal.zero
        var exactContracted = ExactDecimal.zero
    }

    /// Adds one row's exact costs to its line and returns its rounded costs.
    mutating func add(period: BillingPeriod, total: UsageTotal, quantity: ExactDecimal, list: ExactDecimal,
                      contracted: ExactDecimal) throws(ExactDecimalError) -> (Money, Money) {
        let key = LineKey(period: period, key: total.key, unit: total.unit)
        var line = running[key] ?? Line()
        let listBefore = line.exactList.rounded(toScale: currency.minorUnit)
        let contractedBefore = line.exactContracted.rounded(toScale: currency.minorUnit)
        line.quantity = try line.quantity.adding(quantity)
        line.exactList = try line.exactList.adding(list)
        line.exactContracted = try line.exactContracted.adding(contracted)
        running[key] = line
        let listRow = try line.exactList.rounded(toScale: currency.minorUnit).subtracting(listBefore)
        let contractedRow = try line.exactContracted.rounded(toScale: currency.minorUnit).subtracting(contractedBefore)
        return (Money(listRow.rounded(toScale: currency.minorUnit), currency),
                Money(contractedRow.rounded(toScale: currency.minorUnit), currency))
    }

    /// The lines so far, sorted.
    func lines() -> [InvoiceLine] {
        running.keys.sorted().compactMap { key in
            guard let line = running[key] else { return nil }
            return InvoiceLine(period: key.period, key: key.key, unit: key.unit, quantity: line.quantity,
                               listCost: Money(line.exactList.rounded(toScale: currency.minorUnit), currency),
                               contractedCost: Money(line.exactContracted.rounded(toScale: currency.minorUnit), currency),
                               exactListCost: line.exactList, exactContractedCost: line.exactContracted)
        }
    }
}
