/// How a usage event is laid out on a Kafka record (CloudEvents Kafka protocol binding).
public enum CloudEventMode: String, Sendable, CaseIterable {
    /// Attributes in `ce_` headers, data as the value.
    case binary
    /// `content-type: application/cloudevents+json`, the whole event as the value.
    case structured
}

/// A usage event laid out for a Kafka record: header names and values, and the value bytes.
public struct EncodedUsageEvent: Sendable, Equatable {
    /// Headers in order (name, UTF-8 value).
    public var headers: [(name: String, value: String)]
    /// The record value.
    public var value: [UInt8]

    public static func == (lhs: EncodedUsageEvent, rhs: EncodedUsageEvent) -> Bool {
        lhs.value == rhs.value && lhs.headers.map(\.name) == rhs.headers.map(\.name)
            && lhs.headers.map(\.value) == rhs.headers.map(\.value)
    }
}

/// Encodes usage events as CloudEvents for Kafka, the way emitters must publish them.
public enum UsageEventEncoder {
    /// Encodes `event` in `mode`.
    public static func encode(_ event: UsageEvent, mode: CloudEventMode) -> EncodedUsageEvent {
        var attributes: [(String, String)] = [
            ("specversion", UsageStandard.specVersion), ("id", event.id), ("source", event.source),
            ("type", event.type), ("time", event.time.rfc3339), ("tenant", event.tenant),
            ("instance", event.instance), ("component", event.component),
        ]
        if event.scope != .billable { attributes.append(("scope", event.scope.rawValue)) }
        if let corrects = event.corrects { attributes.append(("corrects", corrects)) }
        if let provider = event.provider { attributes.append(("provider", provider)) }
        if let subject = event.subject { attributes.append(("subject", subject)) }
        switch mode {
        case .binary:
            var headers = [(name: "content-type", value: "application/json")]
            headers += attributes.map { (name: "ce_" + $0.0, value: $0.1) }
            var json = JSONWriter()
            writeData(event, into: &json)
            return EncodedUsageEvent(headers: headers, value: json.bytes)
        case .structured:
            var json = JSONWriter()
            json.beginObject()
            for (name, value) in attributes { json.field(name, value) }
            json.field("datacontenttype", "application/json")
            json.key("data")
            writeData(event, into: &json)
            json.endObject()
            return EncodedUsageEvent(headers: [(name: "content-type", value: UsageStandard.structuredContentType)],
                                     value: json.bytes)
        }
    }

    private static func writeData(_ event: UsageEvent, into json: inout JSONWriter) {
        json.beginObject()
        json.field("metric", event.metric)
        json.field("quantity", raw: event.quantity.description)
        json.field("unit", event.unit)
        json.endObject()
    }
}
