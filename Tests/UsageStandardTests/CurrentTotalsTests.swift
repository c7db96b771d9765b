import Testing
import UsageStandard

@Suite("Current figures from parts")
struct CurrentTotalsTests {
    static let start = Timestamp(milliseconds: 1_795_611_600_000)

    func part(_ partition: String, _ micros: Int64, count: Int64 = 1, offset: Int64, status: TotalStatus = .provisional,
              revision: Int64 = 0, unit: String = "Requests", tenant: String = "acme") -> UsageTotal {
        UsageTotal(key: UsageKey(tenant: tenant, instance: "i", component: "c", metric: "requests"), windowStart: Self.start,
                   windowEnd: Timestamp(milliseconds: Self.start.milliseconds + 3_600_000), quantity: Quantity(micros: micros),
                   unit: unit, eventCount: count, status: status, sourcePartition: partition, lastOffset: offset, revision: revision)
    }

    func figures(_ totals: [UsageTotal]) throws -> [UsageTotal] {
        var current = CurrentTotals()
        for total in totals { current.add(total) }
        return try current.figures().sorted { ($0.key.tenant, $0.unit) < ($1.key.tenant, $1.unit) }
    }

    @Test("the parts of a subject from different partitions are added up, whatever their offsets")
    func partsAddUp() throws {
        // Partition 3 has far higher offsets than partition 0: under a rule that compared offsets across partitions,
        // its partial sum would win. Here both count.
        let result = try figures([part("t:0", 108_000_000, count: 108, offset: 200), part("t:3", 292_000_000, count: 292, offset: 9_000)])
        #expect(result.count == 1)
        #expect(result.first?.quantity == Quantity(micros: 400_000_000))
        #expect(result.first?.eventCount == 400)
        #expect(result.first?.sourcePartition == "t:0,t:3")
    }

    @Test("within a part the later offset wins, in any reading order; final over provisional at equal offsets")
    func withinAPart() throws {
        let older = part("t:0", 1_000_000, offset: 5), newer = part("t:0", 3_000_000, count: 3, offset: 9)
        #expect(try figures([older, newer]).first?.quantity == Quantity(micros: 3_000_000))
        #expect(try figures([newer, older]).first?.quantity == Quantity(micros: 3_000_000))
        let final = part("t:0", 3_000_000, count: 3, offset: 9, status: .final)
        #expect(try figures([final, newer]).first?.status == .final)
    }

    @Test("a figure is final only once every part is")
    func finality() throws {
        #expect(try figures([part("t:0", 1, offset: 1, status: .final), part("t:1", 1, offset: 1)]).first?.status == .provisional)
        #expect(try figures([part("t:0", 1, offset: 1, status: .final), part("t:1", 1, offset: 1, status: .final)]).first?.status == .final)
    }

    @Test("the highest revision any part has makes the figure; its retracted parts count nothing")
    func revisions() throws {
        let live = [part("t:0", 5_000_000, offset: 7, status: .final), part("t:1", 2_000_000, offset: 3, status: .final)]
        // Revision 1 keeps t:0 (corrected) and retracts t:1.
        let replayed = [part("t:0", 4_000_000, offset: 7, status: .final, revision: 1),
                        part("t:1", 0, count: 0, offset: 3, status: .retracted, revision: 1)]
        #expect(try figures(live + replayed).map(\.quantity) == [Quantity(micros: 4_000_000)])
        // A subject whose current parts are all retracted has no figure; a part of an older revision does not revive it.
        let gone = [part("t:0", 0, count: 0, offset: 7, status: .retracted, revision: 2)]
        #expect(try figures(live + replayed + gone).isEmpty)
    }

    @Test("parts in different units are never added; a tombstone removes a part")
    func unitsAndTombstones() throws {
        let result = try figures([part("t:0", 1_000_000, offset: 1), part("t:1", 2_000_000, offset: 1, unit: "Other")])
        #expect(result.map(\.unit) == ["Other", "Requests"])
        var current = CurrentTotals()
        let removed = part("t:1", 2_000_000, offset: 1)
        current.add(part("t:0", 1_000_000, offset: 1))
        current.add(removed)
        current.remove(recordKey: removed.recordKey)
        #expect(try current.figures().map(\.quantity) == [Quantity(micros: 1_000_000)])
    }

    @Test("a sum of parts beyond the largest quantity is an error, never a clipped or missing figure")
    func overflow() {
        let huge = Int64.max - 1
        #expect(throws: UsageDecodeError.self) { try figures([part("t:0", huge, offset: 1), part("t:1", huge, offset: 1)]) }
    }
}
