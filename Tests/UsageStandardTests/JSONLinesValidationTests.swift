import Testing
@testable import UsageStandard

@Suite("Validating JSON lines (the validate command)")
struct JSONLinesValidationTests {
    @Test("reports every problem with its line; blank lines and valid lines report nothing")
    func findings() {
        let valid = String(decoding: EventSpec().record(.structured).value ?? [], as: UTF8.self)
        let text = [
            valid,
            "",
            #"{"specversion":"1.0","id":"","source":"/s","type":"net.ferrislabs.usage.v1","time":"2026-11-25T13:00Z","tenant":"t","instance":"i","component":"c","data":{"metric":"cpu","quantity":-1,"unit":"x"}}"#,
            "not json",
            "   ",
            valid + "\r",
        ].joined(separator: "\n")
        let findings = UsageEventDecoder().findings(inJSONLines: Array(text.utf8), referenceTime: EventSpec().referenceTime)
        #expect(findings.map(\.line) == [3, 3, 3, 3, 4])
        // Values are checked against their types as they are read (time), presence once the event is read (id).
        #expect(findings.map(\.error.reason) == [.invalidTime, .missingAttribute, .unknownMetric, .negativeQuantity, .malformedJSON])
        #expect(findings.map(\.error.attribute).prefix(2) == ["time", "id"])
        #expect(UsageEventDecoder().findings(inJSONLines: Array((valid + "\n").utf8), referenceTime: EventSpec().referenceTime).isEmpty)
    }
}

extension ConformanceTests {
    @Test("the in-future message names the time it compared with, not a record that `validate` does not have")
    func inFutureMessage() {
        let now = Timestamp(milliseconds: 1_795_611_600_000 - 60 * 60_000)
        let line = #"{"specversion":"1.0","id":"e-1","source":"/ferris/gcp/solo-gcp/kafka","type":"net.ferrislabs.usage.v1","time":"2026-11-25T13:00:00Z","tenant":"solo","instance":"solo-gcp","component":"kafka","data":{"metric":"cpu_core_seconds","quantity":1,"unit":"Core-Seconds"}}"#
        let findings = UsageEventDecoder().findings(inJSONLines: Array(line.utf8), referenceTime: now)
        #expect(findings.map(\.error.reason) == [.inFuture])
        let problem = findings.first?.error.problem ?? ""
        #expect(problem.contains("2026-11-25T13:00:00.000Z") && problem.contains(now.rfc3339), "\(problem)")
        #expect(!problem.contains("after the record was produced"), "\(problem)")
        #expect(problem.contains("the current time") && problem.contains("the record's timestamp"), "\(problem)")
    }
}
