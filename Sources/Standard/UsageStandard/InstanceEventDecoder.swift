/// Decodes and validates records of the instance topic (`ferris.instances`): CloudEvents of type
/// `net.ferrislabs.instance.v1` in binary or structured mode, keyed by the instance id, or tombstones.
public enum InstanceEventDecoder {
    /// The largest record value accepted.
    public static let maxBytes = 65_536

    /// Decodes one record. Headers are (name, value) pairs as on the record; a nil value is a tombstone.
    public static func decode(key: [UInt8]?, value: [UInt8]?,
                              headers: [(name: String, value: [UInt8]?)]) -> Result<InstanceRecord, InstanceEventError> {
        do throws(InstanceEventError) {
            return .success(try decodeThrowing(key: key, value: value, headers: headers))
        } catch {
            return .failure(error)
        }
    }

    private static func decodeThrowing(key: [UInt8]?, value: [UInt8]?,
                                       headers: [(name: String, value: [UInt8]?)]) throws(InstanceEventError) -> InstanceRecord {
        guard let keyBytes = key, !keyBytes.isEmpty else {
            throw InstanceEventError(.missingKey, "key", "the record has no key; the key must be the instance id")
        }
        guard let keyText = String(validating: keyBytes, as: UTF8.self) else {
            throw InstanceEventError(.invalidEncoding, "key", "the record key is not UTF-8")
        }
        guard let value else { return .tombstone(instanceID: keyText) }
        guard value.count <= maxBytes else {
            throw InstanceEventError(.tooLarge, "", "the value has \(value.count) bytes; at most \(maxBytes) are allowed")
        }
        var attributes: [String: JSONValue] = [:]
        var contentType: String?
        var binaryHeaders: [String: String] = [:]
        for header in headers {
            // Header names as the usage event decoder reads them: `content-type` and the `ce_` prefix in any case,
            // the attribute name as it is (so an upper-case one is refused by the naming rule).
            let isContentType = header.name.lowercased() == "content-type"
            guard isContentType || header.name.lowercased().hasPrefix("ce_") else { continue }
            guard let bytes = header.value, let text = String(validating: bytes, as: UTF8.self) else {
                throw InstanceEventError(.invalidEncoding, header.name, "the header value is absent or not UTF-8")
            }
            if isContentType {
                guard contentType == nil else { throw InstanceEventError(.duplicateAttribute, "content-type", "the header appears twice") }
                contentType = text
                continue
            }
            guard binaryHeaders.updateValue(text, forKey: String(header.name.dropFirst(3))) == nil else {
                throw InstanceEventError(.duplicateAttribute, String(header.name.dropFirst(3)), "the header \(header.name) appears twice")
            }
        }
        let data: JSONValue
        if let contentType, contentType.lowercased().hasPrefix("application/cloudevents") {
            guard let (type, subtype) = MediaType.parse(contentType), type == "application", subtype == "cloudevents+json" else {
                throw InstanceEventError(.unsupportedContentType, "content-type",
                                         "'\(contentType)' is not a single JSON CloudEvent (\(UsageStandard.structuredContentType))")
            }
            guard case .object(let members) = try parse(value, "the value") else {
                throw InstanceEventError(.malformedJSON, "", "a structured-mode event must be a JSON object")
            }
            var body: JSONValue?
            for member in members {
                switch member.key {
                case "data": body = member.value
                case "data_base64":
                    throw InstanceEventError(.unsupportedContentType, "data_base64", "instance events carry their data as JSON in 'data'")
                case _ where member.value == .null:
                    continue  // JSON format section 2.2: null is the same as an absent attribute
                default: attributes[member.key] = member.value
                }
            }
            guard let body, body != .null else { throw InstanceEventError(.missingData, "data", "the event has no data") }
            data = body
        } else {
            if let contentType {
                try check("datacontenttype", contentType, as: "content-type")
                guard MediaType.isJSON(contentType) else {
                    throw InstanceEventError(.unsupportedContentType, "content-type", "'\(contentType)' is not a JSON media type")
                }
            }
            for (name, text) in binaryHeaders { attributes[name] = .string(text) }
            guard !value.isEmpty else { throw InstanceEventError(.missingData, "data", "the event has no data") }
            data = try parse(value, "data")
        }
        let event = try envelope(attributes, data: data)
        guard event.instanceID == keyText else {
            throw InstanceEventError(.partitionKeyMismatch, "key",
                                     "the record key '\(keyText)' is not the instance id '\(event.instanceID)'")
        }
        return .event(event)
    }

    private static func parse(_ bytes: [UInt8], _ what: String) throws(InstanceEventError) -> JSONValue {
        switch JSONValue.parse(bytes) {
        case .success(let value): return value
        case .failure(let error) where error.isEncodingProblem:
            throw InstanceEventError(.invalidEncoding, what == "data" ? "data" : "", "\(what) holds text that is not Unicode: \(error)")
        case .failure(let error): throw InstanceEventError(.malformedJSON, what == "data" ? "data" : "", "\(what) is not JSON: \(error)")
        }
    }

    /// CloudEvents' attribute naming, made mandatory as for usage events: `[a-z][a-z0-9]{0,19}`, not `data`.
    private static func isAttributeName(_ name: String) -> Bool {
        Array(name.utf8).withUnsafeBytes(Attributes.isValidName)
    }

    /// Refuses `value` when it is not of `name`'s CloudEvents type (`CloudEventsTypes.problem`).
    private static func check(_ name: String, _ value: String, as label: String? = nil) throws(InstanceEventError) {
        guard let (reason, problem) = CloudEventsTypes.problem(attribute: name, value: value) else { return }
        throw InstanceEventError(InstanceEventError.Reason(rawValue: reason.rawValue) ?? .invalidAttribute, label ?? name, problem)
    }

    private static func envelope(_ attributes: [String: JSONValue], data: JSONValue) throws(InstanceEventError) -> InstanceEvent {
        func text(_ name: String) throws(InstanceEventError) -> String {
            guard let value = attributes[name] else { throw InstanceEventError(.missingAttribute, name, "is required") }
            guard let string = value.string else { throw InstanceEventError(.invalidAttribute, name, "must be a string, not \(value.kind)") }
            guard !string.isEmpty else { throw InstanceEventError(.missingAttribute, name, "is required and must not be empty") }
            return string
        }
        let contextAttributes: Set = ["specversion", "id", "source", "type", "time", "datacontenttype", "dataschema", "subject"]
        for (name, value) in attributes.sorted(by: { $0.key < $1.key }) {
            guard Self.isAttributeName(name) else {
                throw InstanceEventError(.invalidExtensionName, name,
                                         "attribute names are lower-case letters and digits, start with a letter, at most 20 characters")
            }
            switch value {
            case .string(let text): try check(name, text)
            case .bool where !contextAttributes.contains(name): continue
            case .number(let text) where !contextAttributes.contains(name):
                guard CloudEventsTypes.isInteger(text.utf8) else {
                    throw InstanceEventError(.invalidAttribute, name, "'\(text)' is not an Integer: a whole number within 32 bits, without fraction or exponent")
                }
            default:
                throw InstanceEventError(.invalidAttribute, name, contextAttributes.contains(name)
                                         ? "must be a string, not \(value.kind)" : "must be a string, a boolean or an integer, not \(value.kind)")
            }
        }
        for name in ["datacontenttype", "dataschema", "subject"] {
            if let value = attributes[name], value.string?.isEmpty ?? true {
                throw InstanceEventError(.invalidAttribute, name, "must be a non-empty string when present")
            }
        }
        if let declared = attributes["datacontenttype"]?.string, !MediaType.isJSON(declared) {
            throw InstanceEventError(.unsupportedContentType, "datacontenttype", "'\(declared)' is not a JSON media type")
        }
        let specVersion = try text("specversion")
        guard specVersion == UsageStandard.specVersion else {
            throw InstanceEventError(.unsupportedSpecVersion, "specversion", "'\(specVersion)' is not 1.0")
        }
        let id = try text("id")
        let source = try text("source")
        let type = try text("type")
        guard type == UsageStandard.instanceEventType else {
            throw InstanceEventError(.unsupportedType, "type", "'\(type)' is not \(UsageStandard.instanceEventType)")
        }
        guard let timeValue = attributes["time"], let timeText = timeValue.string else {
            throw InstanceEventError(.invalidTime, "time", "is required (RFC 3339 with seconds, e.g. 2026-11-25T13:00:00Z)")
        }
        guard let time = Timestamp.parse(timeText) else {
            throw InstanceEventError(.invalidTime, "time", "'\(timeText)' is not an RFC 3339 date-time with seconds")
        }
        let reader = InstanceDataReader(data: data)
        let (change, instanceID, description) = try reader.read()
        if let subject = attributes["subject"], subject.string != instanceID {
            throw InstanceEventError(.invalidAttribute, "subject", "must be the instance id '\(instanceID)' when present")
        }
        switch change {
        case .deleted:
            return InstanceEvent(deleted: instanceID, id: id, source: source, time: time, last: description)
        case .created, .updated:
            guard let description else {
                throw InstanceEventError(.missingAttribute, "data.tenant", "a \(change.rawValue) event describes the whole instance")
            }
            return InstanceEvent(id: id, source: source, time: time, change: change, instance: description)
        }
    }
}
