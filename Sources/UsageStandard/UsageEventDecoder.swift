/// Something that carries Kafka-style record headers (name and value bytes, in order).
public protocol CloudEventHeaderSource {
    /// Calls `body` for each header with its name and value (nil for a null value).
    func forEachHeader(_ body: (UnsafeRawBufferPointer, UnsafeRawBufferPointer?) -> Void)
}

/// Why a record is not a usable usage event. `reason` is a stable code; the message names the attribute
/// and the problem so the sender can fix it.
public struct UsageDecodeError: Error, Sendable, Equatable, CustomStringConvertible {
    /// Stable reason codes.
    public enum Reason: String, Sendable, CaseIterable {
        /// The value is not well-formed JSON, or not the expected JSON shape.
        case malformedJSON = "malformed-json"
        /// A required attribute is absent or empty.
        case missingAttribute = "missing-attribute"
        /// An attribute is present but its value is not allowed.
        case invalidAttribute = "invalid-attribute"
        /// `specversion` is not 1.0.
        case unsupportedSpecVersion = "unsupported-specversion"
        /// `type` is not a usage event type.
        case unsupportedType = "unsupported-type"
        /// `time` is absent or not RFC 3339 with seconds.
        case invalidTime = "invalid-time"
        /// `data.quantity` is not an exact, representable number.
        case invalidQuantity = "invalid-quantity"
        /// The event carries no data.
        case missingData = "missing-data"
        /// An attribute appears twice.
        case duplicateAttribute = "duplicate-attribute"
    }

    /// The stable reason code.
    public var reason: Reason
    /// The attribute concerned (e.g. `time`, `data.quantity`), or empty.
    public var attribute: String
    /// What is wrong.
    public var problem: String

    /// Creates an error.
    public init(_ reason: Reason, _ attribute: String, _ problem: String) {
        self.reason = reason
        self.attribute = attribute
        self.problem = problem
    }

    public var description: String { attribute.isEmpty ? problem : "\(attribute): \(problem)" }

    static func malformed(_ problem: String) -> UsageDecodeError { UsageDecodeError(.malformedJSON, "", problem) }
}

/// Decodes usage events from CloudEvents carried by Kafka records, in binary mode (attributes in `ce_`
/// headers, data in the value) or structured mode (`content-type: application/cloudevents...`, the whole
/// event as JSON in the value). Stateless and cheap to copy.
public struct UsageEventDecoder: Sendable {
    /// Creates a decoder.
    public init() {}

    /// Decodes one record.
    public func decode(headers: some CloudEventHeaderSource, value: UnsafeRawBufferPointer?) -> Result<UsageEvent, UsageDecodeError> {
        var attributes = Attributes()
        var structured = false
        var headerError: UsageDecodeError?
        headers.forEachHeader { name, headerValue in
            guard headerError == nil else { return }
            if Self.equalsIgnoringCase(name, "content-type") {
                guard let headerValue, let text = String(validating: headerValue, as: UTF8.self) else {
                    headerError = UsageDecodeError(.invalidAttribute, "content-type", "header value is not UTF-8")
                    return
                }
                attributes.datacontenttype = text
                structured = text.lowercased().hasPrefix("application/cloudevents")
                return
            }
            guard name.count > 3, name[0] == UInt8(ascii: "c"), name[1] == UInt8(ascii: "e"), name[2] == UInt8(ascii: "_") else { return }
            let attributeName = UnsafeRawBufferPointer(rebasing: name[3...])
            guard let headerValue, let text = String(validating: headerValue, as: UTF8.self) else {
                headerError = UsageDecodeError(.invalidAttribute, String(decoding: attributeName, as: UTF8.self),
                                               "header value is null or not UTF-8")
                return
            }
            if let error = attributes.set(attributeName, text) { headerError = error }
        }
        if let headerError { return .failure(headerError) }
        guard let value, !value.isEmpty else {
            return .failure(UsageDecodeError(.missingData, "data", "record value is empty; a usage event needs data"))
        }
        do throws(UsageDecodeError) {
            if structured {
                attributes = Attributes()
                try decodeStructured(value, into: &attributes)
            } else {
                var cursor = JSONCursor(value)
                try decodeData(&cursor, into: &attributes)
                guard cursor.isAtEnd else { throw UsageDecodeError(.malformedJSON, "data", "trailing bytes after the JSON object") }
            }
            return .success(try attributes.event())
        } catch {
            return .failure(error)
        }
    }

    private func decodeStructured(_ value: UnsafeRawBufferPointer, into attributes: inout Attributes) throws(UsageDecodeError) {
        var cursor = JSONCursor(value)
        try cursor.beginObject()
        var first = true
        while let key = try cursor.nextKey(first: &first) {
            if cursor.equals(key, "data") {
                guard try cursor.peekKind() == .object else {
                    throw UsageDecodeError(.malformedJSON, "data", "must be a JSON object")
                }
                try decodeData(&cursor, into: &attributes)
                continue
            }
            let name = UnsafeRawBufferPointer(rebasing: value[key.range])
            guard !key.hasEscapes, Attributes.isKnown(name) else {
                try cursor.skipValue()
                continue
            }
            guard try cursor.peekKind() == .string, let text = cursor.string(try cursor.readString()) else {
                throw UsageDecodeError(.invalidAttribute, String(decoding: name, as: UTF8.self), "must be a UTF-8 string")
            }
            if let error = attributes.set(name, text) { throw error }
        }
        guard cursor.isAtEnd else { throw UsageDecodeError(.malformedJSON, "", "trailing bytes after the event object") }
    }

    private func decodeData(_ cursor: inout JSONCursor, into attributes: inout Attributes) throws(UsageDecodeError) {
        guard !attributes.sawData else { throw UsageDecodeError(.duplicateAttribute, "data", "appears twice") }
        attributes.sawData = true
        try cursor.beginObject()
        var first = true
        while let key = try cursor.nextKey(first: &first) {
            if cursor.equals(key, "quantity") {
                guard try cursor.peekKind() == .number else {
                    throw UsageDecodeError(.invalidQuantity, "data.quantity", "must be a JSON number")
                }
                let span = try cursor.readNumber()
                switch Quantity.parse(UnsafeRawBufferPointer(rebasing: cursor.bytes[span])) {
                case .success(let quantity): attributes.quantity = quantity
                case .failure(let error): throw UsageDecodeError(.invalidQuantity, "data.quantity", error.explanation)
                }
            } else if cursor.equals(key, "metric") {
                attributes.metric = try dataString(&cursor, "data.metric")
            } else if cursor.equals(key, "unit") {
                attributes.unit = try dataString(&cursor, "data.unit")
            } else {
                try cursor.skipValue()
            }
        }
    }

    private func dataString(_ cursor: inout JSONCursor, _ attribute: String) throws(UsageDecodeError) -> String {
        guard try cursor.peekKind() == .string, let text = cursor.string(try cursor.readString()) else {
            throw UsageDecodeError(.invalidAttribute, attribute, "must be a UTF-8 string")
        }
        return text
    }

    static func equalsIgnoringCase(_ bytes: UnsafeRawBufferPointer, _ literal: StaticString) -> Bool {
        guard bytes.count == literal.utf8CodeUnitCount else { return false }
        for index in 0..<bytes.count where bytes[index] | 0x20 != literal.utf8Start[index] | 0x20 { return false }
        return true
    }
}

/// The attributes read so far, before they are checked as a whole.
struct Attributes {
    var id: String?
    var source: String?
    var specversion: String?
    var type: String?
    var time: String?
    var tenant: String?
    var instance: String?
    var component: String?
    var scope: String?
    var datacontenttype: String?
    var metric: String?
    var unit: String?
    var quantity: Quantity?
    var sawData = false

    /// The context attributes and extensions a usage event uses, by exact (case-sensitive) name.
    static let slots: [(name: StaticString, slot: WritableKeyPath<Attributes, String?> & Sendable)] = [
        ("id", \.id), ("source", \.source), ("specversion", \.specversion), ("type", \.type), ("time", \.time),
        ("tenant", \.tenant), ("instance", \.instance), ("component", \.component), ("scope", \.scope),
        ("datacontenttype", \.datacontenttype),
    ]

    static func slot(for name: UnsafeRawBufferPointer) -> (name: StaticString, slot: WritableKeyPath<Attributes, String?> & Sendable)? {
        slots.first { entry in
            name.count == entry.name.utf8CodeUnitCount
                && name.elementsEqual(UnsafeRawBufferPointer(start: entry.name.utf8Start, count: entry.name.utf8CodeUnitCount))
        }
    }

    static func isKnown(_ name: UnsafeRawBufferPointer) -> Bool { slot(for: name) != nil }

    /// Sets a known attribute; unknown ones are ignored. Returns an error for a repeated attribute.
    mutating func set(_ name: UnsafeRawBufferPointer, _ value: String) -> UsageDecodeError? {
        guard let entry = Self.slot(for: name) else { return nil }
        if self[keyPath: entry.slot] != nil {
            return UsageDecodeError(.duplicateAttribute, "\(entry.name)", "appears twice")
        }
        self[keyPath: entry.slot] = value
        return nil
    }

    func event() throws(UsageDecodeError) -> UsageEvent {
        func required(_ value: String?, _ name: String) throws(UsageDecodeError) -> String {
            guard let value, !value.isEmpty else { throw UsageDecodeError(.missingAttribute, name, "is required and must not be empty") }
            return value
        }
        let specversion = try required(specversion, "specversion")
        guard specversion == UsageStandard.specVersion else {
            throw UsageDecodeError(.unsupportedSpecVersion, "specversion", "is '\(specversion)', expected '1.0'")
        }
        let id = try required(id, "id")
        let source = try required(source, "source")
        let type = try required(type, "type")
        guard type == UsageStandard.eventType else {
            throw UsageDecodeError(.unsupportedType, "type", "is '\(type)', expected '\(UsageStandard.eventType)'")
        }
        guard let timeText = time else { throw UsageDecodeError(.invalidTime, "time", "is required for usage events") }
        guard let time = Timestamp.parse(timeText) else {
            throw UsageDecodeError(.invalidTime, "time", "'\(timeText)' is not an RFC 3339 date-time with seconds")
        }
        let scope: UsageScope
        switch self.scope {
        case nil: scope = .billable
        case let value?:
            guard let parsed = UsageScope(rawValue: value) else {
                throw UsageDecodeError(.invalidAttribute, "scope", "is '\(value)', expected 'in' or 'out'")
            }
            scope = parsed
        }
        guard sawData else { throw UsageDecodeError(.missingData, "data", "is required for usage events") }
        guard let quantity else { throw UsageDecodeError(.invalidQuantity, "data.quantity", "is required") }
        return UsageEvent(id: id, source: source, type: type, time: time,
                          tenant: try required(tenant, "tenant"), instance: try required(instance, "instance"),
                          component: try required(component, "component"), metric: try required(metric, "data.metric"),
                          quantity: quantity, unit: try required(unit, "data.unit"), scope: scope)
    }
}
