import Testing
@testable import UsageStandard

/// An event under test, as attribute name -> JSON text, laid out in either Kafka mode.
struct EventSpec {
    var attributes: [(String, String)] = [
        ("specversion", #""1.0""#), ("id", #""e-1""#), ("source", #""/ferris/gcp/solo-gcp/kafka""#),
        ("type", #""net.ferrislabs.usage.v1""#), ("time", #""2026-11-25T13:00:00Z""#), ("tenant", #""solo""#),
        ("instance", #""solo-gcp""#), ("component", #""kafka""#),
    ]
    var data: String? = #"{"metric":"cpu_core_seconds","quantity":12.5,"unit":"Core-Seconds"}"#
    /// Extra structured-mode members written verbatim (e.g. `"data_base64":"..."`).
    var rawMembers: [String] = []
    var contentType: String?
    var key: String? = "solo"
    var referenceTime = Timestamp(milliseconds: 1_795_611_600_000 + 3_600_000)
    var extraHeaders: [(String, [UInt8]?)] = []

    mutating func set(_ name: String, _ json: String?) {
        attributes.removeAll { $0.0 == name }
        if let json { attributes.append((name, json)) }
    }

    /// Headers and value of the record in `mode`.
    func record(_ mode: CloudEventMode) -> (headers: [(String, [UInt8]?)], value: [UInt8]?) {
        switch mode {
        case .binary:
            var headers: [(String, [UInt8]?)] = []
            for (name, json) in attributes where name != "datacontenttype" {
                headers.append(("ce_" + name, Array(Self.headerText(json).utf8)))
            }
            if let type = attributes.first(where: { $0.0 == "datacontenttype" }) {
                headers.append(("content-type", Array(Self.headerText(type.1).utf8)))
            } else if let contentType {
                headers.append(("content-type", Array(contentType.utf8)))
            }
            return (headers + extraHeaders, data.map { Array($0.utf8) })
        case .structured:
            var members = attributes.map { "\"\($0.0)\":\($0.1)" } + rawMembers
            if let data { members.append("\"data\":\(data)") }
            let value = "{" + members.joined(separator: ",") + "}"
            return ([("content-type", Array((contentType ?? "application/cloudevents+json").utf8))] + extraHeaders,
                    Array(value.utf8))
        }
    }

    /// A header's text for an attribute given as JSON: a string's text (escapes decoded), other values as written.
    static func headerText(_ json: String) -> String {
        (try? JSONValue.parse(Array(json.utf8)).get())?.string ?? json
    }
}

struct RawHeaders: CloudEventHeaderSource {
    var list: [(String, [UInt8]?)]
    func forEachHeader(_ body: (UnsafeRawBufferPointer, UnsafeRawBufferPointer?) -> Void) {
        for (name, value) in list {
            Array(name.utf8).withUnsafeBytes { nameBytes in
                if let value { value.withUnsafeBytes { body(nameBytes, $0) } } else { body(nameBytes, nil) }
            }
        }
    }
}

/// Decodes `spec` in `mode` with both entry points and checks they agree.
func check(_ spec: EventSpec, _ mode: CloudEventMode, policy: UsageEventDecoder.Policy = .init()) -> Result<UsageEvent, UsageDecodeError> {
    let (headers, value) = spec.record(mode)
    let decoder = UsageEventDecoder(policy: policy)
    let key = spec.key.map { Array($0.utf8) }
    func run<R>(_ body: (UnsafeRawBufferPointer?, UnsafeRawBufferPointer?) -> R) -> R {
        withOptional(key) { keyBytes in withOptional(value) { valueBytes in body(keyBytes, valueBytes) } }
    }
    let result = run { decoder.decode(headers: RawHeaders(list: headers), key: $0, value: $1, referenceTime: spec.referenceTime) }
    let all = run { decoder.findings(headers: RawHeaders(list: headers), key: $0, value: $1, referenceTime: spec.referenceTime) }
    _ = run { expectFastPathAgrees(decoder, RawHeaders(list: headers), key: $0, value: $1, referenceTime: spec.referenceTime, result) }
    switch result {
    case .success: #expect(all.isEmpty, "findings reports \(all) for an accepted event")
    case .failure(let error): #expect(all.first == error, "findings and decode disagree: \(all) vs \(error)")
    }
    return result
}

/// The allocation-free path either declines or gives exactly what the general decoder gives.
@discardableResult
func expectFastPathAgrees(_ decoder: UsageEventDecoder, _ headers: RawHeaders, key: UnsafeRawBufferPointer?,
                          value: UnsafeRawBufferPointer?, referenceTime: Timestamp?,
                          _ general: Result<UsageEvent, UsageDecodeError>) -> Bool {
    var symbols = Symbols()
    guard let fast = decoder.decodeInterned(headers: headers, key: key, value: value, referenceTime: referenceTime,
                                            symbols: &symbols) else { return false }
    switch general {
    case .success(let event): #expect(symbols.intern(event) == fast, "the fast path decoded \(event) differently")
    case .failure(let error): Issue.record("the fast path accepted a record the decoder refuses: \(error)")
    }
    return true
}

func withOptional<R>(_ bytes: [UInt8]?, _ body: (UnsafeRawBufferPointer?) -> R) -> R {
    guard let bytes else { return body(nil) }
    return bytes.withUnsafeBytes { body($0) }
}

struct ConformanceCase: CustomTestStringConvertible, Sendable {
    let name: String
    let modes: [CloudEventMode]
    let expected: UsageDecodeError.Reason?
    let mutate: @Sendable (inout EventSpec) -> Void

    init(_ name: String, _ modes: [CloudEventMode] = CloudEventMode.allCases, valid: Bool,
         _ mutate: @escaping @Sendable (inout EventSpec) -> Void) {
        self.name = name
        self.modes = modes
        self.expected = nil
        self.mutate = mutate
    }

    init(_ name: String, _ modes: [CloudEventMode] = CloudEventMode.allCases, rejects expected: UsageDecodeError.Reason,
         _ mutate: @escaping @Sendable (inout EventSpec) -> Void) {
        self.name = name
        self.modes = modes
        self.expected = expected
        self.mutate = mutate
    }

    var testDescription: String { name }
}

let day: Int64 = 86_400_000

/// CloudEvents 1.0.2 (JSON format, Kafka binding) and the Usage Tracking Standard v1, case by case.
let conformanceCases: [ConformanceCase] = [
    // Valid events.
    .init("a minimal usage event", valid: true) { _ in },
    .init("time with an offset", valid: true) { $0.set("time", #""2026-11-25T14:00:00+01:00""#) },
    .init("time with a fraction", valid: true) { $0.set("time", #""2026-11-25T13:00:00.123456Z""#) },
    .init("time with lower-case t and z", valid: true) { $0.set("time", #""2026-11-25t13:00:00z""#) },
    .init("scope out", valid: true) { $0.set("scope", #""out""#) },
    .init("scope in", valid: true) { $0.set("scope", #""in""#) },
    .init("a subject", valid: true) { $0.set("subject", #""namespace/ferris""#) },
    .init("an absolute dataschema", valid: true) { $0.set("dataschema", #""https://ferrislabs.net/schemas/usage-event-data.v1.json""#) },
    .init("an unknown string extension", valid: true) { $0.set("region", #""europe-west3""#) },
    .init("an Integer extension", [.structured], valid: true) { $0.set("sequence", "42") },
    .init("a Boolean extension", [.structured], valid: true) { $0.set("sampled", "true") },
    .init("datacontenttype with parameters", valid: true) { $0.set("datacontenttype", #""application/json; charset=utf-8""#) },
    .init("a +json datacontenttype", valid: true) { $0.set("datacontenttype", #""application/vnd.ferris.usage+json""#) },
    .init("partitionkey equal to the tenant", valid: true) { $0.set("partitionkey", #""solo""#) },
    .init("a correction with a negative quantity", valid: true) {
        $0.set("corrects", #""/ferris/gcp/solo-gcp/kafka#e-0""#)
        $0.data = #"{"metric":"cpu_core_seconds","quantity":-2.5,"unit":"Core-Seconds"}"#
    },
    .init("a zero quantity", valid: true) { $0.data = #"{"metric":"requests","quantity":0,"unit":"Requests"}"# },
    .init("a quantity with an exponent", valid: true) { $0.data = #"{"metric":"requests","quantity":1.5e2,"unit":"Requests"}"# },
    .init("a quantity with six decimals", valid: true) { $0.data = #"{"metric":"scanned_gib","quantity":0.000001,"unit":"GiB"}"# },
    .init("unknown data fields", valid: true) {
        $0.data = #"{"pod":"kafka-0","metric":"requests","labels":{"a":[1,{"b":null}]},"quantity":3,"unit":"Requests"}"#
    },
    .init("data_base64 holding JSON", [.structured], valid: true) {
        $0.data = nil
        // {"metric":"requests","quantity":3,"unit":"Requests"}
        $0.rawMembers = [#""data_base64":"eyJtZXRyaWMiOiJyZXF1ZXN0cyIsInF1YW50aXR5IjozLCJ1bml0IjoiUmVxdWVzdHMifQ==""#]
    },
    .init("upper-case structured content type", [.structured], valid: true) { $0.contentType = "APPLICATION/CLOUDEVENTS+JSON" },
    .init("an absolute URI as source", valid: true) { $0.set("source", #""https://ferris.example/instances/solo-gcp""#) },
    .init("a Unicode id", valid: true) { $0.set("id", #""ereignis-\u00fc-1""#) },
    .init("a 20-character extension name", valid: true) { $0.set("abcdefghijklmnopqrst", #""x""#) },
    .init("binary mode without content-type", [.binary], valid: true) { _ in },
    .init("no record key (tools)", valid: true) { $0.key = nil },
    .init("an event 34 days old", valid: true) { $0.referenceTime = Timestamp(milliseconds: 1_795_611_600_000 + 34 * day - 1) },
    .init("an event 15 minutes ahead", valid: true) { $0.referenceTime = Timestamp(milliseconds: 1_795_611_600_000 - 15 * 60_000) },
    .init("every metric of the registry with its unit", valid: true) {
        $0.data = #"{"metric":"active_user_hours","quantity":2,"unit":"User-Hours"}"#
    },
    // Required context attributes.
    .init("no specversion", rejects: .missingAttribute) { $0.set("specversion", nil) },
    .init("specversion 0.3", rejects: .unsupportedSpecVersion) { $0.set("specversion", #""0.3""#) },
    .init("no id", rejects: .missingAttribute) { $0.set("id", nil) },
    .init("an empty id", rejects: .missingAttribute) { $0.set("id", #""""#) },
    .init("no source", rejects: .missingAttribute) { $0.set("source", nil) },
    .init("a source with a space", rejects: .invalidAttribute) { $0.set("source", #""/ferris/solo gcp""#) },
    .init("a source with a bad escape", rejects: .invalidAttribute) { $0.set("source", #""/ferris/%zz""#) },
    .init("no type", rejects: .missingAttribute) { $0.set("type", nil) },
    .init("a foreign type", rejects: .unsupportedType) { $0.set("type", #""com.example.object.created""#) },
    .init("a future major version", rejects: .unsupportedType) { $0.set("type", #""net.ferrislabs.usage.v2""#) },
    // Time.
    .init("no time", rejects: .invalidTime) { $0.set("time", nil) },
    .init("time without seconds", rejects: .invalidTime) { $0.set("time", #""2026-11-25T13:00Z""#) },
    .init("time without an offset", rejects: .invalidTime) { $0.set("time", #""2026-11-25T13:00:00""#) },
    .init("time on February 30", rejects: .invalidTime) { $0.set("time", #""2026-02-30T13:00:00Z""#) },
    .init("time at hour 24", rejects: .invalidTime) { $0.set("time", #""2026-11-25T24:00:00Z""#) },
    .init("time as a date only", rejects: .invalidTime) { $0.set("time", #""2026-11-25""#) },
    .init("time at second 60 of an ordinary minute", rejects: .invalidTime) { $0.set("time", #""2026-11-25T13:00:60Z""#) },
    .init("a leap second", rejects: .invalidTime) {
        $0.set("time", #""2016-12-31T23:59:60Z""#)
        $0.referenceTime = Timestamp(milliseconds: 1_483_228_800_000)  // 2017-01-01T00:00:00Z
    },
    .init("an event older than the horizon", rejects: .tooOld) { $0.referenceTime = Timestamp(milliseconds: 1_795_611_600_000 + 34 * day + 1) },
    .init("an event too far in the future", rejects: .inFuture) { $0.referenceTime = Timestamp(milliseconds: 1_795_611_600_000 - 15 * 60_000 - 1) },
    // Optional context attributes.
    .init("an empty subject", rejects: .invalidAttribute) { $0.set("subject", #""""#) },
    .init("a relative dataschema", rejects: .invalidAttribute) { $0.set("dataschema", #""schemas/usage.json""#) },
    .init("non-JSON data", rejects: .unsupportedContentType) { $0.set("datacontenttype", #""text/plain""#) },
    .init("XML data", rejects: .unsupportedContentType) { $0.set("datacontenttype", #""application/xml""#) },
    // The standard's extensions.
    .init("no tenant", rejects: .missingAttribute) { $0.set("tenant", nil) },
    .init("no instance", rejects: .missingAttribute) { $0.set("instance", nil) },
    .init("no component", rejects: .missingAttribute) { $0.set("component", nil) },
    .init("an unknown scope", rejects: .invalidAttribute) { $0.set("scope", #""maybe""#) },
    .init("an empty corrects", rejects: .invalidAttribute) { $0.set("corrects", #""""#) },
    .init("partitionkey other than the tenant", rejects: .partitionKeyMismatch) { $0.set("partitionkey", #""someone-else""#) },
    .init("a record key other than the tenant", rejects: .partitionKeyMismatch) { $0.key = "kafka-0" },
    // Extension names.
    .init("an upper-case extension name", rejects: .invalidExtensionName) { $0.set("Region", #""x""#) },
    .init("an extension name with an underscore", rejects: .invalidExtensionName) { $0.set("cloud_region", #""x""#) },
    .init("an extension name starting with a digit", rejects: .invalidExtensionName) { $0.set("1region", #""x""#) },
    .init("a 21-character extension name", rejects: .invalidExtensionName) { $0.set("abcdefghijklmnopqrstu", #""x""#) },
    // Data.
    .init("no data", rejects: .missingData) { $0.data = nil },
    .init("data as an array", rejects: .malformedJSON) { $0.data = "[1,2]" },
    .init("data as a string", rejects: .malformedJSON) { $0.data = #""twelve""# },
    .init("truncated data", rejects: .malformedJSON) { $0.data = #"{"metric":"requests","quantity":1"# },
    .init("an unknown metric", rejects: .unknownMetric) { $0.data = #"{"metric":"gpu_seconds","quantity":1,"unit":"Seconds"}"# },
    .init("a unit that does not match the metric", rejects: .unitMismatch) { $0.data = #"{"metric":"requests","quantity":1,"unit":"Calls"}"# },
    .init("no unit", rejects: .missingAttribute) { $0.data = #"{"metric":"requests","quantity":1}"# },
    .init("no metric", rejects: .missingAttribute) { $0.data = #"{"quantity":1,"unit":"Requests"}"# },
    .init("a metric that is not a string", rejects: .invalidAttribute) { $0.data = #"{"metric":7,"quantity":1,"unit":"Requests"}"# },
    .init("a quantity as a string", rejects: .invalidQuantity) { $0.data = #"{"metric":"requests","quantity":"1","unit":"Requests"}"# },
    .init("a quantity with seven decimals", rejects: .invalidQuantity) { $0.data = #"{"metric":"requests","quantity":0.0000001,"unit":"Requests"}"# },
    .init("a huge quantity", rejects: .invalidQuantity) { $0.data = #"{"metric":"requests","quantity":1e30,"unit":"Requests"}"# },
    .init("no quantity", rejects: .invalidQuantity) { $0.data = #"{"metric":"requests","unit":"Requests"}"# },
    .init("a negative quantity outside a correction", rejects: .negativeQuantity) { $0.data = #"{"metric":"requests","quantity":-1,"unit":"Requests"}"# },
    .init("NaN is not JSON", rejects: .malformedJSON) { $0.data = #"{"metric":"requests","quantity":NaN,"unit":"Requests"}"# },
    .init("Infinity is not JSON", rejects: .malformedJSON) { $0.data = #"{"metric":"requests","quantity":Infinity,"unit":"Requests"}"# },
    .init("a duplicate data field", rejects: .duplicateAttribute) { $0.data = #"{"metric":"requests","quantity":1,"quantity":2,"unit":"Requests"}"# },
    // Structured mode only.
    .init("tenant as a number", [.structured], rejects: .invalidAttribute) { $0.set("tenant", "7") },
    .init("specversion as a number", [.structured], rejects: .invalidAttribute) { $0.set("specversion", "1.0") },
    .init("data and data_base64 together", [.structured], rejects: .duplicateAttribute) { $0.rawMembers = [#""data_base64":"e30=""#] },
    .init("data_base64 that is not base64", [.structured], rejects: .invalidEncoding) {
        $0.data = nil
        $0.rawMembers = [#""data_base64":"%%%%""#]
    },
    .init("a duplicate JSON member", [.structured], rejects: .duplicateAttribute) { $0.attributes.append(("id", #""e-2""#)) },
    .init("an object extension", [.structured], rejects: .invalidAttribute) { $0.set("labels", #"{"a":"b"}"#) },
    .init("an Integer extension beyond 32 bits", [.structured], rejects: .invalidAttribute) { $0.set("sequence", "4294967296") },
    .init("a fractional Integer extension", [.structured], rejects: .invalidAttribute) { $0.set("sequence", "1.5") },
    .init("a batch content type", [.structured], rejects: .unsupportedContentType) { $0.contentType = "application/cloudevents-batch+json" },
    .init("an Avro structured event", [.structured], rejects: .unsupportedContentType) { $0.contentType = "application/cloudevents+avro" },
    .init("trailing bytes after the event", [.structured], rejects: .malformedJSON) { $0.rawMembers = [#""x":"y"} {"#] },
    // Binary mode only.
    .init("a header value that is not UTF-8", [.binary], rejects: .invalidEncoding) { $0.extraHeaders = [("ce_region", [0xC3, 0x28])] },
    .init("a null attribute header", [.binary], rejects: .invalidEncoding) { $0.extraHeaders = [("ce_region", nil)] },
    .init("a repeated attribute header", [.binary], rejects: .duplicateAttribute) { $0.extraHeaders = [("ce_tenant", Array("solo".utf8))] },
    .init("a repeated extension header", [.binary], rejects: .duplicateAttribute) { $0.extraHeaders = [("ce_x", [0x61]), ("ce_x", [0x61])] },
    .init("a repeated content-type header", [.binary], rejects: .duplicateAttribute) {
        $0.extraHeaders = [("content-type", Array("application/json".utf8)), ("content-type", Array("application/json".utf8))]
    },
    .init("a ce_data header", [.binary], rejects: .invalidExtensionName) { $0.extraHeaders = [("ce_data", Array("x".utf8))] },
    .init("an upper-case attribute header", [.binary], rejects: .invalidExtensionName) { $0.extraHeaders = [("ce_Region", Array("x".utf8))] },
    .init("a content-type that is not UTF-8", [.binary], rejects: .invalidEncoding) { $0.extraHeaders = [("content-type", [0xFF])] },
]

@Suite("CloudEvents and Usage Tracking Standard conformance")
struct ConformanceTests {
    @Test("each case in each Kafka mode", arguments: conformanceCases)
    func conformance(_ testCase: ConformanceCase) {
        for mode in testCase.modes {
            var spec = EventSpec()
            testCase.mutate(&spec)
            let result = check(spec, mode)
            switch (result, testCase.expected) {
            case (.success, nil):
                break
            case (.success(let event), let reason?):
                Issue.record("\(mode): accepted \(event), expected \(reason)")
            case (.failure(let error), nil):
                Issue.record("\(mode): rejected a valid event: \(error.reason.rawValue) \(error)")
            case (.failure(let error), let reason?):
                #expect(error.reason == reason, "\(mode): \(error)")
                #expect(!error.problem.isEmpty)
            }
        }
    }

    @Test("there are at least 60 cases and both modes are covered")
    func coverage() {
        #expect(conformanceCases.count >= 60)
        #expect(conformanceCases.filter { $0.expected == nil }.count >= 20)
        #expect(conformanceCases.filter { $0.modes.contains(.binary) }.count >= 60)
        #expect(conformanceCases.filter { $0.modes.contains(.structured) }.count >= 60)
    }

    @Test("every metric in the registry is accepted with its unit and refused with another")
    func registry() {
        for metric in MetricRegistry.v1.metrics.values {
            var spec = EventSpec()
            spec.data = #"{"metric":"\#(metric.name)","quantity":1,"unit":"\#(metric.unit)"}"#
            #expect((try? check(spec, .binary).get()) != nil, "\(metric.name)")
            spec.data = #"{"metric":"\#(metric.name)","quantity":1,"unit":"Widgets"}"#
            #expect(throws: UsageDecodeError.self) { try check(spec, .structured).get() }
        }
    }

    @Test("plain events take the allocation-free path in both modes; rare attributes, escapes and data_base64 do not")
    func fastPath() {
        func takesFastPath(_ spec: EventSpec, _ mode: CloudEventMode) -> Bool {
            let (headers, value) = spec.record(mode)
            let key = spec.key.map { Array($0.utf8) }
            return withOptional(key) { keyBytes in
                withOptional(value) { valueBytes in
                    let decoder = UsageEventDecoder()
                    let general = decoder.decode(headers: RawHeaders(list: headers), key: keyBytes, value: valueBytes,
                                                 referenceTime: spec.referenceTime)
                    return expectFastPathAgrees(decoder, RawHeaders(list: headers), key: keyBytes, value: valueBytes,
                                                referenceTime: spec.referenceTime, general)
                }
            }
        }
        var spec = EventSpec()
        spec.contentType = "application/json"
        #expect(takesFastPath(spec, .binary))
        spec.set("provider", #""gcp""#)
        spec.set("subject", #""user-7""#)
        spec.set("scope", #""out""#)
        #expect(takesFastPath(spec, .binary))
        var structured = spec
        structured.contentType = nil
        #expect(takesFastPath(structured, .structured))
        // The record key is the tenant; in structured mode the `ce_` headers are not part of the event.
        structured.extraHeaders = [("ce_tenant", Array("solo".utf8))]
        #expect(!takesFastPath(structured, .structured))
        spec.set("corrects", #""/s#1""#)
        #expect(!takesFastPath(spec, .binary))
        structured = spec
        structured.contentType = nil
        #expect(!takesFastPath(structured, .structured))
        var escaped = EventSpec()
        escaped.data = #"{"metric":"cpu_core_seconds","quantity":1,"unit":"Core\u002dSeconds"}"#
        #expect(!takesFastPath(escaped, .binary))
        #expect(!takesFastPath(escaped, .structured))
        escaped = EventSpec()
        escaped.set("id", #""e\u002d1""#)
        #expect(!takesFastPath(escaped, .structured))
        var base64 = EventSpec()
        base64.data = nil
        base64.rawMembers = [#""data_base64":"eyJtZXRyaWMiOiJjcHVfY29yZV9zZWNvbmRzIiwicXVhbnRpdHkiOjEsInVuaXQiOiJDb3JlLVNlY29uZHMifQ==""#]
        #expect((try? check(base64, .structured).get()) != nil)
        #expect(!takesFastPath(base64, .structured))
    }

    @Test("interned events share names: the same name is the same symbol, and names come back as text")
    func symbols() {
        var symbols = Symbols()
        let event = UsageEvent(id: "1", source: "/ferris/gcp/solo-gcp/kafka", time: Timestamp(milliseconds: 0), tenant: "solo",
                               instance: "solo-gcp", component: "kafka", metric: "cpu_core_seconds",
                               quantity: Quantity(micros: 1), unit: "Core-Seconds", provider: "gcp")
        let first = symbols.intern(event)
        var other = event
        other.id = "2"
        let second = symbols.intern(other)
        #expect(first.tenant == second.tenant && first.source == second.source)
        #expect(first.identity != second.identity)
        #expect(symbols[first.tenant] == "solo" && symbols[first.source] == "/ferris/gcp/solo-gcp/kafka")
        #expect(symbols[Symbol.wildcard] == "*")
        let before = symbols.count
        for index in 0..<10_000 { _ = symbols.intern("tenant-\(index)") }
        #expect(symbols.count == before + 10_000)
        for index in stride(from: 0, to: 10_000, by: 997) {
            #expect(symbols.existing("tenant-\(index)").map { symbols[$0] } == "tenant-\(index)")
        }
        #expect(symbols.existing("tenant-10000") == nil)
    }

    @Test("a valid event decodes to the same values in both modes")
    func sameInBothModes() throws {
        let binary = try check(EventSpec(), .binary).get()
        let structured = try check(EventSpec(), .structured).get()
        #expect(binary == structured)
        #expect(binary.quantity == Quantity(micros: 12_500_000))
        #expect(binary.time.milliseconds == 1_795_611_600_000)
    }
}
