#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// The attributes of one event as read, before they are checked as a whole.
struct Attributes {
    var specversion: String?
    var id: String?
    var source: String?
    var type: String?
    var datacontenttype: String?
    var dataschema: String?
    var subject: String?
    var time: String?
    var tenant: String?
    var instance: String?
    var component: String?
    var scope: String?
    var corrects: String?
    var partitionkey: String?
    var provider: String?
    var contentTypeHeader: String?
    var structured = false
    /// The known attributes whose value was already refused (by its type), so that it is not reported again.
    var refused: Set<Slot> = []
    /// The extensions seen (a header repeated is an attribute given twice).
    var extensions: Set<String> = []

    var metric: String?
    var unit: String?
    var quantity: Quantity?
    var quantityProblem: String?
    var sawData = false

    /// The attributes the standard reads. `datacontenttype` is read from the `content-type` header in binary
    /// mode, so `ce_datacontenttype` is accepted there as a fallback only.
    enum Slot: Int, CaseIterable {
        case specversion, id, source, type, datacontenttype, dataschema, subject, time
        case tenant, instance, component, scope, corrects, partitionkey, provider

        var name: StaticString {
            switch self {
            case .specversion: "specversion"
            case .id: "id"
            case .source: "source"
            case .type: "type"
            case .datacontenttype: "datacontenttype"
            case .dataschema: "dataschema"
            case .subject: "subject"
            case .time: "time"
            case .tenant: "tenant"
            case .instance: "instance"
            case .component: "component"
            case .scope: "scope"
            case .corrects: "corrects"
            case .partitionkey: "partitionkey"
            case .provider: "provider"
            }
        }

        /// The slot named exactly `name`, if any.
        static func named(_ name: UnsafeRawBufferPointer) -> Slot? {
            guard let base = name.baseAddress else { return nil }
            for slot in allCases {
                let literal = slot.name
                if name.count == literal.utf8CodeUnitCount, memcmp(base, literal.utf8Start, name.count) == 0 { return slot }
            }
            return nil
        }
    }

    /// Attributes whose JSON value must be a string (the context attributes and the standard's extensions).
    static func isStringAttribute(_ name: String) -> Bool {
        var name = name
        return name.withUTF8 { Slot.named(UnsafeRawBufferPointer($0)) != nil }
    }

    subscript(slot: Slot) -> String? {
        get {
            switch slot {
            case .specversion: specversion
            case .id: id
            case .source: source
            case .type: type
            case .datacontenttype: datacontenttype
            case .dataschema: dataschema
            case .subject: subject
            case .time: time
            case .tenant: tenant
            case .instance: instance
            case .component: component
            case .scope: scope
            case .corrects: corrects
            case .partitionkey: partitionkey
            case .provider: provider
            }
        }
        set {
            switch slot {
            case .specversion: specversion = newValue
            case .id: id = newValue
            case .source: source = newValue
            case .type: type = newValue
            case .datacontenttype: datacontenttype = newValue
            case .dataschema: dataschema = newValue
            case .subject: subject = newValue
            case .time: time = newValue
            case .tenant: tenant = newValue
            case .instance: instance = newValue
            case .component: component = newValue
            case .scope: scope = newValue
            case .corrects: corrects = newValue
            case .partitionkey: partitionkey = newValue
            case .provider: provider = newValue
            }
        }
    }

    /// CloudEvents attribute naming as the standard requires it: lower-case ASCII letters and digits, starting with
    /// a letter, at most 20 characters, and not `data`. (`data_base64` is a structured-mode member, not an attribute.)
    static func isValidName(_ name: UnsafeRawBufferPointer) -> Bool {
        guard let first = name.first, (UInt8(ascii: "a")...UInt8(ascii: "z")).contains(first), name.count <= 20 else { return false }
        guard name.allSatisfy({ (UInt8(ascii: "a")...UInt8(ascii: "z")).contains($0) || (UInt8(ascii: "0")...UInt8(ascii: "9")).contains($0) }) else {
            return false
        }
        return !(name.count == 4 && name.elementsEqual("data".utf8))
    }

    /// Sets an attribute read from a header or a JSON string, checking it against its CloudEvents type
    /// (`CloudEventsTypes.problem`). Known attributes are kept for `validate`; extensions are checked, then ignored.
    mutating func set(_ name: UnsafeRawBufferPointer, _ value: String, findings: inout Findings) {
        let slot = Slot.named(name)
        let text = String(decoding: name, as: UTF8.self)
        guard slot.map({ self[$0] == nil }) ?? extensions.insert(text).inserted else {
            findings.add(.duplicateAttribute, text, "appears twice")
            return
        }
        if let (reason, problem) = CloudEventsTypes.problem(attribute: text, value: value) {
            findings.add(reason, text, problem)
            if let slot { refused.insert(slot) }
        }
        if let slot { self[slot] = value }
    }

    /// Checks everything read against CloudEvents and the standard; returns the event when there is no problem.
    func validate(policy: UsageEventDecoder.Policy, key: UnsafeRawBufferPointer?, referenceTime: Timestamp?,
                  findings: inout Findings) -> UsageEvent? {
        /// The value of a required attribute; nil when absent or empty (reported) or already refused by its type.
        func required(_ slot: Slot) -> String? {
            guard !refused.contains(slot) else { return nil }
            guard let value = self[slot], !value.isEmpty else {
                findings.add(.missingAttribute, "\(slot.name)", "is required and must not be empty")
                return nil
            }
            return value
        }
        func required(_ value: String?, _ name: String) -> String? {
            guard let value, !value.isEmpty else {
                findings.add(.missingAttribute, name, "is required and must not be empty")
                return nil
            }
            return value
        }
        if let specversion = required(.specversion), specversion != UsageStandard.specVersion {
            findings.add(.unsupportedSpecVersion, "specversion", "is '\(specversion)', expected '1.0'")
        }
        let id = required(.id)
        let source = required(.source)
        if let type = required(.type), type != UsageStandard.eventType {
            findings.add(.unsupportedType, "type", "is '\(type)', expected '\(UsageStandard.eventType)'")
        }
        if let subject, subject.isEmpty { findings.add(.invalidAttribute, "subject", "must not be empty when present") }
        if let datacontenttype, !refused.contains(.datacontenttype), !MediaType.isJSON(datacontenttype) {
            findings.add(.unsupportedContentType, structured ? "datacontenttype" : "content-type",
                         "usage data is JSON (application/json, or a media type with subtype json or a +json suffix), got '\(datacontenttype)'")
        }
        if self.time == nil { findings.add(.invalidTime, "time", "is required for usage events") }
        let time = self.time.flatMap(Timestamp.parse)
        let tenant = required(.tenant)
        let instance = required(.instance)
        let component = required(.component)
        var scope = UsageScope.billable
        if let value = self.scope, !refused.contains(.scope) {
            if let parsed = UsageScope(rawValue: value) { scope = parsed } else {
                findings.add(.invalidAttribute, "scope", "is '\(value)', expected 'in' or 'out'")
            }
        }
        if let corrects, corrects.isEmpty { findings.add(.invalidAttribute, "corrects", "must not be empty when present") }
        if let provider, provider.isEmpty { findings.add(.invalidAttribute, "provider", "must not be empty when present") }
        if let partitionkey, let tenant, !refused.contains(.partitionkey), partitionkey != tenant {
            findings.add(.partitionKeyMismatch, "partitionkey", "is '\(partitionkey)' but the partition key must be the tenant '\(tenant)'")
        }
        if let key, let tenant, !key.elementsEqual(tenant.utf8) {
            findings.add(.partitionKeyMismatch, "key", "the record key '\(String(decoding: key, as: UTF8.self))' must be the tenant '\(tenant)'")
        }
        guard sawData else {
            findings.add(.missingData, "data", "is required for usage events")
            return nil
        }
        let metric = required(self.metric, "data.metric")
        let unit = required(self.unit, "data.unit")
        if let metric {
            if let known = policy.registry[metric] {
                if let unit, unit != known.unit {
                    findings.add(.unitMismatch, "data.unit", "is '\(unit)' but metric '\(metric)' is measured in '\(known.unit)'")
                }
            } else {
                findings.add(.unknownMetric, "data.metric", "'\(metric)' is not in the metric registry")
            }
        }
        if let quantityProblem {
            findings.add(.invalidQuantity, "data.quantity", quantityProblem)
        } else if let quantity {
            if quantity.micros < 0 && corrects == nil {
                findings.add(.negativeQuantity, "data.quantity", "is negative; only corrections (with a 'corrects' attribute) may be")
            }
        } else {
            findings.add(.invalidQuantity, "data.quantity", "is required")
        }
        if let time, let referenceTime {
            if time.milliseconds < referenceTime.milliseconds - policy.maxEventAgeMilliseconds {
                findings.add(.tooOld, "time", "\(time) is more than \(policy.maxEventAgeMilliseconds / 86_400_000) days before the record was produced (\(referenceTime))")
            } else if time.milliseconds > referenceTime.milliseconds + policy.maxFutureSkewMilliseconds {
                findings.add(.inFuture, "time", "\(time) is more than \(policy.maxFutureSkewMilliseconds / 60_000) minutes after \(referenceTime), the time it is checked against (the record's timestamp; in `ferris-usage validate`, the current time)")
            }
        }
        guard findings.all.isEmpty, let id, let source, let time, let tenant, let instance, let component,
              let metric, let unit, let quantity else { return nil }
        return UsageEvent(id: id, source: source, type: UsageStandard.eventType, time: time, tenant: tenant,
                          instance: instance, component: component, metric: metric, quantity: quantity, unit: unit,
                          scope: scope, corrects: corrects, provider: provider, subject: subject)
    }
}

extension UInt8 {
    var isLetter: Bool { (UInt8(ascii: "a")...UInt8(ascii: "z")).contains(self | 0x20) }
    var isDigit: Bool { (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(self) }
    var isHexDigit: Bool { isDigit || (UInt8(ascii: "a")...UInt8(ascii: "f")).contains(self | 0x20) }
}

/// Standard base64 (RFC 4648 section 4) with padding, as CloudEvents' `data_base64` uses.
enum Base64 {
    static func decode(_ text: String) -> [UInt8]? {
        var bytes = Array(text.utf8)
        guard bytes.count % 4 == 0 else { return nil }
        var padding = 0
        while bytes.last == UInt8(ascii: "="), padding < 2 { bytes.removeLast(); padding += 1 }
        var output: [UInt8] = []
        output.reserveCapacity(bytes.count * 3 / 4)
        var buffer: UInt32 = 0
        var bits = 0
        for byte in bytes {
            let value: UInt8
            switch byte {
            case UInt8(ascii: "A")...UInt8(ascii: "Z"): value = byte - UInt8(ascii: "A")
            case UInt8(ascii: "a")...UInt8(ascii: "z"): value = byte - UInt8(ascii: "a") + 26
            case UInt8(ascii: "0")...UInt8(ascii: "9"): value = byte - UInt8(ascii: "0") + 52
            case UInt8(ascii: "+"): value = 62
            case UInt8(ascii: "/"): value = 63
            default: return nil
            }
            buffer = buffer << 6 | UInt32(value)
            bits += 6
            if bits >= 8 {
                bits -= 8
                output.append(UInt8(truncatingIfNeeded: buffer >> UInt32(bits)))
            }
        }
        return output
    }
}
