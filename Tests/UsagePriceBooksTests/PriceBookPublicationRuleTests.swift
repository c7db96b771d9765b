import Testing
import UsagePriceBooks
import UsagePricing
import UsageStandard

/// The publication rule (standard, section 14, history) at 2026-12-01 09:30, when both versions of the example book
/// have been in effect (2026-11a ended on the 16th, 2026-11b is open).
@Suite("A new revision keeps the past of the highest one on the topic")
struct PriceBookPublicationRuleTests {
    let now = at("2026-12-01T09:30:00Z")
    let published: PriceBook

    init() throws {
        published = try exampleBook()
    }

    /// The published book as revision `revision`, changed by `change`.
    func revision(_ revision: Int64, _ change: (inout PriceBook) -> Void = { _ in }) -> PriceBook {
        var book = published
        book.revision = revision
        change(&book)
        return book
    }

    func price(_ text: String) -> ExactDecimal {
        guard let value = ExactDecimal.parse(text) else { preconditionFailure("not a decimal: \(text)") }
        return value
    }

    /// The version `id` of `book`, changed by `change`.
    func change(_ book: inout PriceBook, version id: String, _ change: (inout PriceVersion) -> Void) {
        guard let index = book.versions.firstIndex(where: { $0.id == id }) else { preconditionFailure("no version \(id)") }
        change(&book.versions[index])
    }

    /// The problems of publishing `book`, empty when it may be published.
    func problems(_ book: PriceBook, corrections: Set<String> = []) -> [String] {
        switch PriceBookPublicationRule.check(book, over: published, at: now, corrections: corrections) {
        case .success: []
        case .failure(let refusal): refusal.problems
        }
    }

    /// January's prices: 2026-11b ends at the new year, a new version starts there.
    func january(_ book: inout PriceBook) {
        change(&book, version: "2026-11b") { $0.effectiveTo = at("2027-01-01T00:00:00Z") }
        guard var next = book.versions.last else { return }
        next.id = "2027-01"
        next.effectiveFrom = at("2027-01-01T00:00:00Z")
        next.effectiveTo = nil
        book.versions.append(next)
    }

    @Test("a new book is published; the same revision again is already published")
    func firstAndRepeat() {
        #expect(PriceBookPublicationRule.check(published, over: nil, at: now) == .success(.publish))
        #expect(PriceBookPublicationRule.check(published, over: published, at: now) == .success(.alreadyPublished))
    }

    @Test("a revision not higher than the highest on the topic is refused")
    func revisionNotHigher() {
        let same = problems(revision(1) { $0.summary = "changed" })
        #expect(same.count == 1 && same.first?.contains("revision 1 is not higher than revision 1") == true, "\(same)")
        #expect(problems(revision(0)).first?.contains("raise revision to 2") == true)
    }

    @Test("a price change from the next whole hour on, ending the open version, is an ordinary revision")
    func futureChange() {
        #expect(problems(revision(2, january)) == [])
        // Ending the open version at the next whole hour keeps every started hour.
        #expect(problems(revision(2) { change(&$0, version: "2026-11b") { $0.effectiveTo = at("2026-12-01T10:00:00Z") } }) == [])
    }

    @Test("a version that has been in effect is never dropped, even as a correction")
    func droppedVersion() {
        let book = revision(2) { $0.versions.removeAll { $0.id == "2026-11a" } }
        let found = problems(book)
        #expect(found.count == 1 && found.first?.contains("version '2026-11a' has been in effect since 2026-11-01T00:00:00.000Z and is missing") == true,
                "\(found)")
        #expect(problems(book, corrections: ["2026-11b"]).count == 1)
    }

    @Test("changing a started version's past prices needs --correct naming it")
    func correctedPrice() {
        let book = revision(2) { book in
            change(&book, version: "2026-11a") { version in
                guard let index = version.prices.firstIndex(where: { $0.sku.id == "*/cpu_core_seconds/provider=gcp" }) else { return }
                version.prices[index] = SkuPrice(sku: version.prices[index].sku, unit: "Core-Seconds", unitPrice: price("0.000012"))
            }
        }
        let found = problems(book)
        #expect(found.count == 1, "\(found)")
        #expect(found.first?.contains("version '2026-11a' has been in effect since 2026-11-01T00:00:00.000Z and this revision changes its past (the prices of */cpu_core_seconds/provider=gcp)") == true)
        #expect(found.first?.contains("pass --correct 2026-11a") == true)
        #expect(problems(book, corrections: ["2026-11a"]) == [])
        #expect(problems(book, corrections: ["2026-11a", "2026-12"]).first?.contains("the correction '2026-12' names no version of the book") == true)
    }

    @Test("changing a started version's contracts or its range before now is a change of the past")
    func contractsAndRange() {
        let contract = problems(revision(2) { change(&$0, version: "2026-11b") { $0.contracts = [] } })
        #expect(contract.first?.contains("the contracts of hybrid-corp") == true, "\(contract)")
        let ended = problems(revision(2) { change(&$0, version: "2026-11b") { $0.effectiveTo = at("2026-12-01T09:00:00Z") } })
        #expect(ended.first?.contains("effectiveTo (open) becomes 2026-12-01T09:00:00.000Z") == true, "\(ended)")
        let moved = problems(revision(2) { change(&$0, version: "2026-11b") { $0.effectiveFrom = at("2026-11-17T00:00:00Z") } })
        #expect(moved.first?.contains("effectiveFrom 2026-11-16T00:00:00.000Z becomes 2026-11-17T00:00:00.000Z") == true, "\(moved)")
    }

    @Test("a new version starting before the publication needs --correct; reordering prices changes nothing")
    func newVersionInThePast() {
        let book = revision(2) { book in
            book.versions.append(PriceVersion(id: "2026-12-kafka", effectiveFrom: at("2026-12-01T00:00:00Z"), prices: [
                SkuPrice(sku: Sku(component: "kafka", metric: "requests"), unit: "Requests", unitPrice: price("0.000001")),
            ]))
        }
        let found = problems(book)
        #expect(found.count == 1 && found.first?.contains("start it at 2026-12-01T10:00:00.000Z or later, or pass --correct 2026-12-kafka") == true,
                "\(found)")
        #expect(problems(book, corrections: ["2026-12-kafka"]) == [])
        #expect(problems(revision(2) { change(&$0, version: "2026-11a") { $0.prices.reverse() } }) == [])
    }

    @Test("versions that have not started may change or go; the currency stays once a version has started")
    func futureVersionsAndCurrency() throws {
        let withJanuary = revision(2, january)
        var withoutJanuary = withJanuary
        withoutJanuary.revision = 3
        withoutJanuary.versions.removeAll { $0.id == "2027-01" }
        #expect(PriceBookPublicationRule.check(withoutJanuary, over: withJanuary, at: now) == .success(.publish))
        let dollars = revision(2) { $0.currency = Currency(code: "USD") ?? $0.currency }
        #expect(problems(dollars).first?.contains("the currency changes from EUR to USD") == true)
    }
}
