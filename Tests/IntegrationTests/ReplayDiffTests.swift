import TestSupport
import Testing
import UsagePostgres
import UsageStandard

/// The replay's diff in PostgreSQL, part by part: single parts, several parts per figure, parts that move between
/// input partitions, retractions, a window outside the range, and a second replay over a published one.
@Suite("Replay diff against a real PostgreSQL")
struct ReplayDiffTests {
    static let hour: Int64 = 3_600_000
    static let start = Timestamp(milliseconds: 1_795_611_600_000)

    static func part(_ name: String, _ quantity: Int64, _ count: Int64, partition: Int, window: Int64 = 0,
                     revision: Int64 = 0) -> UsageTotal {
        UsageTotal(key: UsageKey(tenant: "tenant", instance: "i", component: name, metric: "m"),
                   windowStart: Timestamp(milliseconds: start.milliseconds + window * hour),
                   windowEnd: Timestamp(milliseconds: start.milliseconds + (window + 1) * hour),
                   quantity: Quantity(micros: quantity * 1_000_000), unit: "u", eventCount: count, status: .final,
                   sourcePartition: "events:\(partition)", lastOffset: 10, revision: revision)
    }

    /// Changed figures as `component old->new status`.
    static func changes(_ diff: ReplayDiff) -> [String] {
        diff.changes.map { change in
            "\(change.new.key.component) \(change.old.map { "\($0.quantity)" } ?? "none")->\(change.new.quantity) \(change.new.status)"
        }.sorted()
    }

    @Test("only the figures that change are written: new parts, retractions of parts gone; equal figures of several or moved parts are unchanged; a second replay compares with the published one")
    func diff() async throws {
        let url = try TestServices.databaseURL
        let table = TestServices.unique("it_diff")
        let (first, firstDiff, secondDiff, current, outside) = try await TestServices.blocking {
            let live = try TotalsTable(url: url, table: table)
            try live.write([
                Self.part("a", 5, 5, partition: 0), Self.part("b", 5, 5, partition: 0), Self.part("c", 5, 5, partition: 0),
                Self.part("e", 2, 2, partition: 0), Self.part("e", 3, 3, partition: 1),
                Self.part("f", 2, 2, partition: 0), Self.part("f", 3, 3, partition: 1),
                Self.part("g", 4, 4, partition: 0),
                Self.part("a", 7, 7, partition: 0, window: 5), // outside the replayed range: never retracted
            ])
            let store = try ReplayStore(url: url, table: table)
            let to = Timestamp(milliseconds: Self.start.milliseconds + 2 * Self.hour)
            func replay(_ staged: [UsageTotal]) throws -> (Int64, ReplayDiff) {
                let revision = try store.begin(from: Self.start, to: to, tenant: nil, fingerprint: "test").number
                try store.stage(staged.map { var total = $0; total.revision = revision; return total }, revision: revision,
                                partition: InputPartition(topic: "events", partition: 0), records: staged.count)
                let diff = try store.diff(revision: revision, from: Self.start, to: to, tenant: nil)
                try store.markPublished(revision: revision)
                return (revision, diff)
            }
            let unchangedParts = [
                Self.part("a", 5, 5, partition: 0),
                Self.part("e", 2, 2, partition: 0), Self.part("e", 3, 3, partition: 1),
                Self.part("f", 5, 5, partition: 0), // two parts became one, same figure
                Self.part("g", 4, 4, partition: 1), // moved to another partition, same figure
            ]
            let (first, firstDiff) = try replay(unchangedParts + [Self.part("b", 6, 6, partition: 0), Self.part("d", 3, 3, partition: 1)])
            let (_, secondDiff) = try replay(unchangedParts + [Self.part("b", 5, 5, partition: 0), Self.part("d", 3, 3, partition: 1)])
            let written = try live.current(from: Self.start, to: to).map { "\($0.key.component) \($0.quantity) \($0.revision)" }.sorted()
            let outside = try live.current(from: to).map { "\($0.key.component) \($0.quantity) \($0.revision)" }
            return (first, firstDiff, secondDiff, written, outside)
        }
        #expect(ReplayDiffTests.changes(firstDiff) == ["b 5->6 final", "c 5->0 retracted", "d none->3 final"])
        #expect(firstDiff.unchanged == 4)
        #expect(firstDiff.totals == 3, "b's and d's staged parts and c's retraction")
        // Against the published first replay: b goes back to 5; c stays retracted, d stays as published.
        #expect(ReplayDiffTests.changes(secondDiff) == ["b 6->5 final"])
        #expect(secondDiff.unchanged == 5)
        #expect(secondDiff.totals == 1)
        #expect(current == ["a 5 0", "b 5 \(first + 1)", "d 3 \(first)", "e 5 0", "f 5 0", "g 4 0"])
        #expect(outside == ["a 7 0"])
    }
}
