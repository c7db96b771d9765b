import Testing
@testable import UsageStandard

@Suite("Quantity")
struct QuantityTests {
    @Test("parses JSON numbers exactly", arguments: [
        ("0", 0), ("12", 12_000_000), ("12.5", 12_500_000), ("-3.25", -3_250_000), ("0.000001", 1),
        ("1.5e3", 1_500_000_000), ("2E-6", 2), ("1.000000000", 1_000_000), ("100e-2", 1_000_000),
    ] as [(String, Int64)])
    func parses(text: String, micros: Int64) {
        #expect(Quantity.parse(text) == .success(Quantity(micros: micros)))
    }

    @Test("rejects what it cannot account exactly", arguments: [
        ("0.0000001", QuantityError.tooPrecise), ("1e-7", .tooPrecise), ("abc", .notANumber), ("1.", .notANumber),
        ("", .notANumber), ("1e", .notANumber), ("9223372036855", .outOfRange), ("1e400", .outOfRange), ("--1", .notANumber),
    ])
    func rejects(text: String, error: QuantityError) {
        #expect(Quantity.parse(text) == .failure(error))
    }

    @Test("prints the shortest exact decimal and round-trips")
    func printsAndRoundTrips() {
        for micros: Int64 in [0, 1, -1, 12_500_000, 3_000_000, 123_456_789, -7_000_010, Int64.max, Int64.min + 1] {
            let quantity = Quantity(micros: micros)
            #expect(Quantity.parse(quantity.description) == .success(quantity), "\(quantity)")
        }
        #expect(Quantity(micros: 12_500_000).description == "12.5")
        #expect(Quantity(micros: -10).description == "-0.00001")
    }

    @Test("addition reports overflow")
    func overflow() {
        #expect(Quantity(micros: .max).adding(Quantity(micros: 1)) == nil)
        #expect(Quantity(micros: 2).adding(Quantity(micros: 3)) == Quantity(micros: 5))
    }
}

@Suite("Timestamp")
struct TimestampTests {
    @Test("parses RFC 3339 and normalises offsets to UTC", arguments: [
        ("1970-01-01T00:00:00Z", 0),
        ("2026-11-25T13:00:00Z", 1_795_611_600_000),
        ("2026-11-25T13:00:00.5Z", 1_795_611_600_500),
        ("2026-11-25T13:59:59.999999Z", 1_795_615_199_999),
        ("2026-11-25T14:00:00+01:00", 1_795_611_600_000),
        ("2026-11-25T12:30:00-00:30", 1_795_611_600_000),
        ("2024-02-29T00:00:00z", 1_709_164_800_000),
        ("1969-12-31T23:59:59.999Z", -1),
    ] as [(String, Int64)])
    func parses(text: String, milliseconds: Int64) {
        #expect(Timestamp.parse(text)?.milliseconds == milliseconds)
    }

    @Test("rejects what RFC 3339 does not allow", arguments: [
        "2018-04-05T18:31Z", "2018-04-05 18:31:00Z", "2018-04-05T18:31:00", "2018-13-05T18:31:00Z",
        "2023-02-29T00:00:00Z", "2018-04-05T24:00:00Z", "2018-04-05T18:31:00.Z", "2018-04-05T18:31:00+0100",
        "2018-04-05T18:31:00+01:00x", "", "not a time",
        // Second 60: never at an ordinary minute, and the standard refuses leap seconds too (23:59:60 UTC).
        "2026-11-25T10:00:60Z", "2026-11-25T10:59:60+01:00", "2016-12-31T23:59:60Z", "2016-12-31T18:59:60-05:00",
    ])
    func rejects(text: String) {
        #expect(Timestamp.parse(text) == nil)
    }

    @Test("formats UTC with milliseconds and round-trips")
    func formats() {
        for ms: Int64 in [0, 1_795_611_600_000, 1_795_615_199_999, -1, 951_782_400_000] {
            let time = Timestamp(milliseconds: ms)
            #expect(Timestamp.parse(time.rfc3339) == time)
        }
        #expect(Timestamp(milliseconds: 1_795_615_199_999).rfc3339 == "2026-11-25T13:59:59.999Z")
    }
}
