import Testing
@testable import UsageStandard

/// Headers as a test double of a Kafka record's header list (pure data, no broker involved).
struct Headers: CloudEventHeaderSource {
    var list: [(String, String?)]

    func forEachHeader(_ body: (UnsafeRawBufferPointer, UnsafeRawBufferPointer?) -> Void) {
        for (name, value) in list {
            Array(name.utf8).withUnsafeBytes { nameBytes in
                if let value {
                    Array(value.utf8).withUnsafeBytes { body(nameBytes, $0) }
                } else {
                    body(nameBytes, nil)
                }
            }
        }
    }
}

func decode(_ headers: [(String, String?)], _ value: String?) -> Result<UsageEvent, UsageDecodeError> {
    let decoder = UsageEventDecoder()
    guard let value else { return decoder.decode(headers: Headers(list: headers), value: nil) }
    return Array(value.utf8).withUnsafeBytes { decoder.decode(headers: Headers(list: headers), value: $0) }
}

let sample = UsageEvent(id: "e-1", source: "/ferris/gcp/solo-gcp/kafka", time: Timestamp(milliseconds: 1_795_611_600_000),
                        tenant: "solo", instance: "solo-gcp", component: "kafka", metric: "cpu_core_seconds",
                        quantity: Quantity(micros: 12_500_000), unit: "Core-Seconds")

func binaryHeaders(_ overrides: [String: String?] = [:]) -> [(String, String?)] {
    var base: [(String, String?)] = [
        ("ce_specversion", "1.0"), ("ce_id", "e-1"), ("ce_source", "/ferris/gcp/solo-gcp/kafka"),
        ("ce_type", UsageStandard.eventType), ("ce_time", "2026-11-25T13:00:00Z"), ("ce_tenant", "solo"),
        ("ce_instance", "solo-gcp"), ("ce_component", "kafka"), ("content-type", "application/json"),
    ]
    for (name, value) in overrides {
        base.removeAll { $0.0 == name }
        if let value { base.append((name, value)) }
    }
    return base
}

let sampleData = #"{"metric":"cpu_core_seconds","quantity":12.5,"unit":"Core-Seconds"}"#

@Suite("UsageEventDecoder")
struct UsageEventDecoderTests {
    @Test("binary mode: attributes from ce_ headers, data from the value")
    func binaryMode() {
        #expect(decode(binaryHeaders(), sampleData) == .success(sample))
    }

    @Test("structured mode: the whole event in the value, detected case-insensitively")
    func structuredMode() {
        let value = """
            {"specversion":"1.0","id":"e-1","source":"/ferris/gcp/solo-gcp/kafka","type":"\(UsageStandard.eventType)",
             "time":"2026-11-25T14:00:00+01:00","tenant":"solo","instance":"solo-gcp","component":"kafka",
             "datacontenttype":"application/json","unknownext":42,"flag":true,"note":"x",
             "data":{"metric":"cpu_core_seconds","extra":{"nested":[1,2,{"x":null}]},"quantity":12.5,"unit":"Core-Seconds"}}
            """
        #expect(decode([("Content-Type", "Application/CloudEvents+JSON; charset=utf-8")], value) == .success(sample))
    }

    @Test("the encoder's output decodes back to the same event in both modes", arguments: CloudEventMode.allCases)
    func roundTrip(mode: CloudEventMode) {
        var event = sample
        event.scope = .outOfScope
        event.tenant = "t\"quoted\\ \u{1F600}"
        let encoded = UsageEventEncoder.encode(event, mode: mode)
        let value = String(decoding: encoded.value, as: UTF8.self)
        #expect(decode(encoded.headers.map { ($0.name, $0.value) }, value) == .success(event))
    }

    @Test("out-of-scope tag")
    func scope() throws {
        let event = try decode(binaryHeaders(["ce_scope": "out"]), sampleData).get()
        #expect(event.scope == .outOfScope)
        #expect(throws: UsageDecodeError.self) { try decode(binaryHeaders(["ce_scope": "maybe"]), sampleData).get() }
    }

    @Test("rejections name the reason and the attribute", arguments: [
        (binaryHeaders(["ce_id": nil]), sampleData, UsageDecodeError.Reason.missingAttribute, "id"),
        (binaryHeaders(["ce_id": ""]), sampleData, .missingAttribute, "id"),
        (binaryHeaders(["ce_tenant": nil]), sampleData, .missingAttribute, "tenant"),
        (binaryHeaders(["ce_specversion": "0.3"]), sampleData, .unsupportedSpecVersion, "specversion"),
        (binaryHeaders(["ce_type": "com.example.other"]), sampleData, .unsupportedType, "type"),
        (binaryHeaders(["ce_time": "2026-11-25T13:00Z"]), sampleData, .invalidTime, "time"),
        (binaryHeaders(["ce_time": nil]), sampleData, .invalidTime, "time"),
        (binaryHeaders(), #"{"metric":"requests","quantity":"12","unit":"Requests"}"#, .invalidQuantity, "data.quantity"),
        (binaryHeaders(), #"{"metric":"requests","quantity":1e-9,"unit":"Requests"}"#, .invalidQuantity, "data.quantity"),
        (binaryHeaders(), #"{"metric":"requests","unit":"Requests"}"#, .invalidQuantity, "data.quantity"),
        (binaryHeaders(), #"{"quantity":1,"unit":"Requests"}"#, .missingAttribute, "data.metric"),
        (binaryHeaders(), #"{"metric":"requests","quantity":1,"unit":"Requests"} x"#, .malformedJSON, "data"),
        (binaryHeaders(), #"{"metric":"requests","quantity":1,"#, .malformedJSON, ""),
        (binaryHeaders(), "", .missingData, "data"),
        (binaryHeaders(["ce_id": "x", "ce_tenant": "a"]) + [("ce_tenant", "b")], sampleData, .duplicateAttribute, "tenant"),
        (binaryHeaders(["ce_instance": nil]) + [("ce_instance", nil)], sampleData, .invalidEncoding, "instance"),
    ] as [([(String, String?)], String, UsageDecodeError.Reason, String)])
    func rejects(headers: [(String, String?)], value: String, reason: UsageDecodeError.Reason, attribute: String) {
        switch decode(headers, value) {
        case .success(let event): Issue.record("accepted \(event)")
        case .failure(let error):
            #expect(error.reason == reason)
            #expect(error.attribute == attribute)
            #expect(!error.problem.isEmpty)
        }
    }

    @Test("a tombstone (null value) is rejected, not a crash")
    func tombstone() {
        #expect(throws: UsageDecodeError.self) { try decode(binaryHeaders(), nil).get() }
    }

    @Test("invalid UTF-8 in a header is rejected")
    func invalidUTF8Header() {
        struct RawHeaders: CloudEventHeaderSource {
            func forEachHeader(_ body: (UnsafeRawBufferPointer, UnsafeRawBufferPointer?) -> Void) {
                for (name, value) in binaryHeaders() where name != "ce_tenant" {
                    Array(name.utf8).withUnsafeBytes { n in Array((value ?? "").utf8).withUnsafeBytes { body(n, $0) } }
                }
                Array("ce_tenant".utf8).withUnsafeBytes { n in [UInt8]([0xC3, 0x28]).withUnsafeBytes { body(n, $0) } }
            }
        }
        let result = Array(sampleData.utf8).withUnsafeBytes { UsageEventDecoder().decode(headers: RawHeaders(), value: $0) }
        #expect(throws: UsageDecodeError.self) { try result.get() }
    }

    @Test("structured events with a non-object data or deep nesting are rejected")
    func structuredShape() {
        let header = [("content-type", UsageStandard.structuredContentType)] as [(String, String?)]
        #expect(throws: UsageDecodeError.self) { try decode(header, #"{"data":[1]}"#).get() }
        let deep = #"{"x":"# + String(repeating: "[", count: 10_000) + String(repeating: "]", count: 10_000) + "}"
        #expect(throws: UsageDecodeError.self) { try decode(header, deep).get() }
        #expect(throws: UsageDecodeError.self) { try decode(header, "[]").get() }
    }
}

@Suite("UsageTotalCodec")
struct UsageTotalCodecTests {
    @Test("a total round-trips through its CloudEvent and has a stable key and id")
    func roundTrip() throws {
        let total = UsageTotal(key: UsageKey(tenant: "a/b", instance: "i", component: "c", metric: "m"),
                               windowStart: Timestamp(milliseconds: 1_795_611_600_000),
                               windowEnd: Timestamp(milliseconds: 1_795_615_200_000), quantity: Quantity(micros: 1_500_001),
                               unit: "GiB-hours", eventCount: 3, status: .provisional, sourcePartition: "t:0", lastOffset: 42,
                               provider: "onprem")
        #expect(total.subject == "a%2Fb/i/c/m/2026-11-25T13:00:00.000Z")
        #expect(total.recordKey == "a%2Fb/i/c/m/2026-11-25T13:00:00.000Z@t:0", "one compaction key per part")
        #expect(total.eventID == "a%2Fb/i/c/m/2026-11-25T13:00:00.000Z@t:0#42")
        #expect(try UsageTotalCodec.decode(UsageTotalCodec.encode(total, source: "/ferris-usage/g")).get() == total)
    }

    @Test("the direct byte encoder writes exactly the JSON a general JSON writer writes, escapes included")
    func sameAsJSONWriter() throws {
        func reference(_ total: UsageTotal, source: String) -> [UInt8] {
            var json = JSONWriter()
            json.beginObject()
            json.field("specversion", "1.0")
            json.field("id", total.eventID)
            json.field("source", source)
            json.field("type", UsageStandard.totalType)
            json.field("subject", total.subject)
            json.field("time", total.windowEnd.rfc3339)
            json.field("datacontenttype", "application/json")
            json.field("tenant", total.key.tenant)
            json.field("partitionkey", total.key.tenant)
            json.key("data")
            json.beginObject()
            json.field("ChargePeriodStart", total.windowStart.rfc3339)
            json.field("ChargePeriodEnd", total.windowEnd.rfc3339)
            json.field("ChargeCategory", "Usage")
            json.field("ConsumedQuantity", raw: total.quantity.description)
            json.field("ConsumedUnit", total.unit)
            json.field("SubAccountId", total.key.tenant)
            json.field("ResourceId", total.key.instance)
            json.field("ServiceName", total.key.component)
            if let provider = total.provider { json.field("HostProviderName", provider) }
            json.field("x_Metric", total.key.metric)
            json.field("x_EventCount", raw: String(total.eventCount))
            json.field("x_Status", total.status.rawValue)
            json.field("x_SourcePartition", total.sourcePartition)
            json.field("x_LastOffset", raw: String(total.lastOffset))
            if total.revision > 0 { json.field("x_Revision", raw: String(total.revision)) }
            json.endObject()
            json.endObject()
            return json.bytes
        }
        let names = ["solo", "a/b%c", #"quo"te"#, "back\\slash", "tab\tnew\nline", "ünïcödé", "ctl\u{01}"]
        let quantities: [Int64] = [0, 1, -1, 1_500_001, 12_000_000, -999_999, .max, .min + 1]
        for (index, name) in names.enumerated() {
            let total = UsageTotal(key: UsageKey(tenant: name, instance: names[(index + 1) % names.count], component: "c",
                                                 metric: names[(index + 2) % names.count]),
                                   windowStart: Timestamp(milliseconds: -86_400_000 + Int64(index) * 977_000_123_000),
                                   windowEnd: Timestamp(milliseconds: 1_795_615_200_000 + Int64(index)),
                                   quantity: Quantity(micros: quantities[index % quantities.count]), unit: name,
                                   eventCount: Int64(index * 1000), status: [.provisional, .final, .retracted][index % 3],
                                   sourcePartition: "t:\(index)", lastOffset: Int64(index) * 123_456_789,
                                   provider: index % 2 == 0 ? name : nil, revision: Int64(index % 3))
            let encoded = UsageTotalCodec.encode(total, source: "/ferris-usage/\(name)")
            #expect(String(decoding: encoded, as: UTF8.self) == String(decoding: reference(total, source: "/ferris-usage/\(name)"), as: UTF8.self))
            #expect(try UsageTotalCodec.decode(encoded).get() == total)
        }
    }

    @Test("a revision round-trips and changes the id; retracted is a status")
    func revision() throws {
        var total = UsageTotal(key: UsageKey(tenant: "t", instance: "i", component: "c", metric: "m"),
                               windowStart: Timestamp(milliseconds: 1_795_611_600_000),
                               windowEnd: Timestamp(milliseconds: 1_795_615_200_000), quantity: .zero, unit: "Requests",
                               eventCount: 0, status: .retracted, sourcePartition: "t:0", lastOffset: 7, revision: 3)
        #expect(total.eventID.hasSuffix("#7~r3"))
        #expect(try UsageTotalCodec.decode(UsageTotalCodec.encode(total, source: "/ferris-usage/g")).get() == total)
        total.revision = 0
        #expect(!String(decoding: UsageTotalCodec.encode(total, source: "/ferris-usage/g"), as: UTF8.self).contains("x_Revision"))
    }

    @Test("which total supersedes: revision first, then the later offset, then final over provisional")
    func supersedes() {
        func total(_ revision: Int64, _ offset: Int64, _ status: TotalStatus) -> UsageTotal {
            UsageTotal(key: UsageKey(tenant: "t", instance: "i", component: "c", metric: "m"),
                       windowStart: Timestamp(milliseconds: 0), windowEnd: Timestamp(milliseconds: 3_600_000),
                       quantity: Quantity(micros: offset), unit: "Requests", eventCount: offset, status: status,
                       sourcePartition: "t:0", lastOffset: offset, revision: revision)
        }
        #expect(total(1, 5, .final).supersedes(total(0, 90, .final)))
        #expect(!total(0, 90, .final).supersedes(total(1, 5, .provisional)))
        #expect(total(0, 9, .provisional).supersedes(total(0, 8, .final)))
        #expect(!total(0, 8, .final).supersedes(total(0, 9, .provisional)), "a stale record read late does not win")
        #expect(total(0, 9, .final).supersedes(total(0, 9, .provisional)))
        #expect(!total(0, 9, .provisional).supersedes(total(0, 9, .final)))
    }
}
