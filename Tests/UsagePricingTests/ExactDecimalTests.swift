import Testing
import UsageStandard
@testable import UsagePricing

@Suite struct ExactDecimalArithmetic {
    @Test func parsesAndPrintsExactly() {
        #expect(dec("0.0000123").text() == "0.0000123")
        #expect(dec("12.50").text() == "12.5")
        #expect(dec("12.5").text(minimumScale: 2) == "12.50")
        #expect(dec("-3").text() == "-3")
        for bad in ["", "1e-5", "+1", "1.", ".5", "1,5", " 1", "0x10", "1.0000000000000000000000001"] {
            #expect(ExactDecimal.parse(bad) == nil, "\(bad)")
        }
    }

    @Test func addsAndMultipliesWithoutBinaryFloatingPoint() throws {
        // 0.1 + 0.2 is 0.3, exactly.
        #expect(try dec("0.1").adding(dec("0.2")) == dec("0.3"))
        // 3600 Core-Seconds at 0.0000123 EUR: 0.04428 EUR.
        #expect(try dec("3600").multiplied(by: dec("0.0000123")) == dec("0.04428"))
        // A 12.5 % discount: 0.000014 x 0.875 = 0.00001225.
        #expect(try dec("0.000014").multiplied(by: dec("0.875")) == dec("0.00001225"))
        #expect(dec("1.50") == dec("1.5"))
        #expect(dec("0.5") < dec("1"))
        #expect(dec("-0.5") < dec("0.3"))
        #expect(dec("2") > dec("1.999999999999999999"))
    }

    @Test func overflowIsAnErrorNotAWrap() {
        let big = ExactDecimal(units: Int128.max / 2 + 1, scale: 0)
        #expect(throws: ExactDecimalError.overflow) { try big.adding(big) }
        #expect(throws: ExactDecimalError.overflow) { try big.multiplied(by: dec("3")) }
    }

    @Test func roundsHalfToEven() {
        #expect(dec("0.125").rounded(toScale: 2) == dec("0.12"))
        #expect(dec("0.135").rounded(toScale: 2) == dec("0.14"))
        #expect(dec("0.1251").rounded(toScale: 2) == dec("0.13"))
        #expect(dec("-0.125").rounded(toScale: 2) == dec("-0.12"))
        #expect(dec("-0.135").rounded(toScale: 2) == dec("-0.14"))
        #expect(dec("2.5").rounded(toScale: 0) == dec("2"))
        #expect(dec("3.5").rounded(toScale: 0) == dec("4"))
        #expect(dec("0.0049999").rounded(toScale: 2) == dec("0"))
    }

    @Test func roundsToEachCurrencysMinorUnit() throws {
        // EUR has cents, JPY none, KWD fils (three decimals).
        let jpy = try #require(Currency(code: "JPY"))
        let kwd = try #require(Currency(code: "KWD"))
        #expect(eur.minorUnit == 2 && jpy.minorUnit == 0 && kwd.minorUnit == 3)
        #expect(Money(dec("2.5"), jpy).roundedToMinorUnit.text == "2")
        #expect(Money(dec("0.0005"), kwd).roundedToMinorUnit.text == "0.000")
        #expect(Money(dec("0.0015"), kwd).roundedToMinorUnit.text == "0.002")
        #expect(Money(dec("1.005"), eur).roundedToMinorUnit.text == "1.00")
        #expect(Currency(code: "XAU") == nil, "a precious metal has no minor unit")
        #expect(Currency(code: "eur") == nil && Currency(code: "EURO") == nil)
        #expect(throws: MoneyError.currencyMismatch(eur, jpy)) { try Money(dec("1"), eur).adding(Money(dec("1"), jpy)) }
    }

    @Test func billingPeriodsAreUTCMonths() {
        let november = BillingPeriod(containing: at("2026-11-30T23:59:59.999Z"))
        #expect(november.description == "2026-11")
        #expect(november.start == at("2026-11-01T00:00:00Z") && november.end == at("2026-12-01T00:00:00Z"))
        #expect(BillingPeriod(containing: at("2026-12-01T00:00:00Z")).end == at("2027-01-01T00:00:00Z"))
        #expect(BillingPeriod(containing: at("2028-02-29T12:00:00Z")).end == at("2028-03-01T00:00:00Z"))
        #expect(BillingPeriod(containing: at("1969-12-31T23:00:00Z")).description == "1969-12")
    }
}
