extension UsageEventDecoder {
    /// The hot path: decodes a plain usage event, in binary or structured mode, straight into symbols, without
    /// creating Strings for names already in `symbols` and without allocating.
    ///
    /// Returns nil whenever the record is not plainly valid (a problem of any kind, a JSON escape in a string, a
    /// `data_base64`, an extension that is not a string, or a rarely used attribute such as `corrects` or
    /// `dataschema`); the caller then runs `decode`, which gives the event or the reason for refusing it. So this
    /// path never refuses anything itself, and whatever it accepts `decode` accepts with the same result (a property
    /// the tests check on valid and broken records in both modes).
    public func decodeInterned(headers: some CloudEventHeaderSource, key: UnsafeRawBufferPointer?,
                               value: UnsafeRawBufferPointer?, referenceTime: Timestamp?,
                               symbols: inout Symbols) -> InternedEvent? {
        guard let value, !value.isEmpty, value.count <= policy.maxEventBytes else { return nil }
        var fields = PlainFields()
        headers.forEachHeader { name, headerValue in fields.take(name, headerValue) }
        guard fields.plain else { return nil }
        // Binary mode: the value is the data. Structured mode: the attributes and the data are members of the value
        // (`ce_` headers are not part of the event then; the general decoder ignores them, this path declines them).
        let data: PlainData
        if fields.structured {
            guard !fields.sawAttributeHeader, let members = fields.takeStructured(value) else { return nil }
            data = members
        } else {
            guard let whole = PlainData(value) else { return nil }
            data = whole
        }
        guard let id = fields.id, !id.isEmpty, CloudEventsTypes.isPrintableASCII(id),
              let sourceBytes = fields.source, !sourceBytes.isEmpty,
              let type = fields.type, Self.equals(type, UsageStandard.eventTypeLiteral),
              let specversion = fields.specversion, Self.equals(specversion, "1.0"),
              let timeBytes = fields.time, let time = Timestamp.parse(timeBytes),
              let tenantBytes = fields.tenant, !tenantBytes.isEmpty,
              let instanceBytes = fields.instance, !instanceBytes.isEmpty,
              let componentBytes = fields.component, !componentBytes.isEmpty else { return nil }
        if let partitionkey = fields.partitionkey, !partitionkey.elementsEqual(tenantBytes) { return nil }
        if let key, !key.elementsEqual(tenantBytes) { return nil }
        var scope = UsageScope.billable
        if let scopeBytes = fields.scope {
            if Self.equals(scopeBytes, "out") { scope = .outOfScope } else if !Self.equals(scopeBytes, "in") { return nil }
        }
        if let referenceTime, time.milliseconds < referenceTime.milliseconds - policy.maxEventAgeMilliseconds
            || time.milliseconds > referenceTime.milliseconds + policy.maxFutureSkewMilliseconds { return nil }

        guard data.quantity.micros >= 0 else { return nil }
        let metricBytes = UnsafeRawBufferPointer(rebasing: value[data.metric])
        let unitBytes = UnsafeRawBufferPointer(rebasing: value[data.unit])
        if let provider = fields.provider, provider.isEmpty { return nil }
        guard !metricBytes.isEmpty, !unitBytes.isEmpty,
              let origin = symbols.origin(tenant: tenantBytes, instance: instanceBytes, component: componentBytes,
                                          source: sourceBytes, provider: fields.provider), origin.conforms,
              let metric = symbols.intern(metricBytes), let unit = symbols.intern(unitBytes),
              symbols.registeredUnit(of: metric, in: policy.registry) == unit else { return nil }
        var subject: SubjectHash?
        if let bytes = fields.subject {
            // Not interned (subjects are unbounded); only printable ASCII here, anything else through the general decoder.
            guard !bytes.isEmpty, CloudEventsTypes.isPrintableASCII(bytes) else { return nil }
            subject = symbols.subjectHash(bytes)
        }
        return InternedEvent(identity: symbols.identity(tenant: origin.tenant, source: origin.source, id: id), time: time,
                             quantity: data.quantity, tenant: origin.tenant, instance: origin.instance,
                             component: origin.component, metric: metric, unit: unit, source: origin.source,
                             provider: origin.provider, subject: subject, scope: scope)
    }

    @inline(__always)
    static func equals(_ bytes: UnsafeRawBufferPointer, _ literal: StaticString) -> Bool {
        bytes.count == literal.utf8CodeUnitCount
            && ByteHash.equal(bytes, UnsafeRawBufferPointer(start: literal.utf8Start, count: literal.utf8CodeUnitCount))
    }

}

extension UsageStandard {
    static let eventTypeLiteral: StaticString = "net.ferrislabs.usage.v1"
}

/// The attributes of a record as borrowed bytes (from the `ce_` headers in binary mode, from the value's members in
/// structured mode); `plain` turns false at anything the general decoder should look at.
private struct PlainFields {
    var plain = true
    var sawContentType = false
    /// The `content-type` header is `application/cloudevents+json`: the event is the value.
    var structured = false
    var sawAttributeHeader = false
    /// One bit per extension header seen, chosen by a hash of its name: a bit already set may be the same extension
    /// twice, which the general decoder then judges.
    var extensionBits: UInt64 = 0
    var specversion: UnsafeRawBufferPointer?
    var id: UnsafeRawBufferPointer?
    var source: UnsafeRawBufferPointer?
    var type: UnsafeRawBufferPointer?
    var time: UnsafeRawBufferPointer?
    var tenant: UnsafeRawBufferPointer?
    var instance: UnsafeRawBufferPointer?
    var component: UnsafeRawBufferPointer?
    var scope: UnsafeRawBufferPointer?
    var partitionkey: UnsafeRawBufferPointer?
    var provider: UnsafeRawBufferPointer?
    var subject: UnsafeRawBufferPointer?

    mutating func take(_ name: UnsafeRawBufferPointer, _ value: UnsafeRawBufferPointer?) {
        guard plain else { return }
        if name.count == 12, UsageEventDecoder.equalsIgnoringCase(name, "content-type") {
            // The common JSON data content type (binary mode) or the JSON event format (structured mode), spelled as
            // the standard's emitters spell them, once.
            guard !sawContentType, UsageEventDecoder.equals(name, "content-type"), let value else {
                plain = false
                return
            }
            sawContentType = true
            if UsageEventDecoder.equals(value, "application/cloudevents+json") {
                structured = true
            } else if !UsageEventDecoder.equals(value, "application/json") {
                plain = false
            }
            return
        }
        guard name.count >= 3, name[0] | 0x20 == UInt8(ascii: "c"), name[1] | 0x20 == UInt8(ascii: "e"),
              name[2] == UInt8(ascii: "_") else { return }
        sawAttributeHeader = true
        guard let value, name[0] == UInt8(ascii: "c"), name[1] == UInt8(ascii: "e") else {
            plain = false
            return
        }
        set(UnsafeRawBufferPointer(rebasing: name[3...]), value)
    }

    /// A structured-mode event's members: each attribute a string without escapes, `datacontenttype` (if there)
    /// `application/json`, and `data` a plain object, which is returned (its spans index `value`).
    mutating func takeStructured(_ value: UnsafeRawBufferPointer) -> PlainData? {
        var cursor = JSONCursor(value)
        var data: PlainData?
        var sawDataContentType = false
        do throws(UsageDecodeError) {
            guard try cursor.peekKind() == .object else { return nil }
            try cursor.beginObject()
            var first = true
            while let key = try cursor.nextKey(first: &first) {
                guard !key.hasEscapes else { return nil }
                let name = UnsafeRawBufferPointer(rebasing: value[key.range])
                switch try cursor.peekKind() {
                case .object where UsageEventDecoder.equals(name, "data") && data == nil:
                    guard let plain = PlainData(&cursor) else { return nil }
                    data = plain
                case .string:
                    let span = try cursor.readString()
                    guard !span.hasEscapes else { return nil }
                    let text = UnsafeRawBufferPointer(rebasing: value[span.range])
                    if UsageEventDecoder.equals(name, "datacontenttype") {
                        guard !sawDataContentType, UsageEventDecoder.equals(text, "application/json") else { return nil }
                        sawDataContentType = true
                    } else {
                        // `data` or `data_base64` as a string is not a valid attribute name: declined there.
                        set(name, text)
                        guard plain else { return nil }
                    }
                default:
                    // null, a boolean or an integer extension, an array, a second data: the general decoder.
                    return nil
                }
            }
            guard cursor.isAtEnd else { return nil }
            return data
        } catch {
            return nil
        }
    }

    /// One attribute's value, by the attribute's name (without `ce_`).
    mutating func set(_ attribute: UnsafeRawBufferPointer, _ value: UnsafeRawBufferPointer) {
        func set(_ field: inout UnsafeRawBufferPointer?) {
            if field != nil { plain = false } else { field = value }
        }
        switch attribute.count {
        case 2 where UsageEventDecoder.equals(attribute, "id"): set(&id)
        case 4 where UsageEventDecoder.equals(attribute, "time"): set(&time)
        case 4 where UsageEventDecoder.equals(attribute, "type"): set(&type)
        case 5 where UsageEventDecoder.equals(attribute, "scope"): set(&scope)
        case 6 where UsageEventDecoder.equals(attribute, "source"): set(&source)
        case 6 where UsageEventDecoder.equals(attribute, "tenant"): set(&tenant)
        case 7 where UsageEventDecoder.equals(attribute, "subject"): set(&subject)
        case 8 where UsageEventDecoder.equals(attribute, "instance"): set(&instance)
        case 8 where UsageEventDecoder.equals(attribute, "provider"): set(&provider)
        case 9 where UsageEventDecoder.equals(attribute, "component"): set(&component)
        case 11 where UsageEventDecoder.equals(attribute, "specversion"): set(&specversion)
        case 12 where UsageEventDecoder.equals(attribute, "partitionkey"): set(&partitionkey)
        default:
            // `corrects`, `dataschema`, `datacontenttype`, an extension that may be there twice and any unusual name
            // or value (anything but printable ASCII): the general decoder.
            let bit: UInt64 = 1 << (ByteHash.hash(attribute, seed: 0) & 63)
            if Attributes.Slot.named(attribute) != nil || !Attributes.isValidName(attribute)
                || !CloudEventsTypes.isPrintableASCII(value) || extensionBits & bit != 0 {
                plain = false
            }
            extensionBits |= bit
        }
    }
}

/// The data object of a plain event: `metric` and `unit` without escapes, a `quantity` number, nothing twice.
private struct PlainData {
    var metric: Range<Int>
    var unit: Range<Int>
    var quantity: Quantity

    /// The data of a binary-mode event: the whole value.
    init?(_ value: UnsafeRawBufferPointer) {
        var cursor = JSONCursor(value)
        guard let data = PlainData(&cursor), cursor.isAtEnd else { return nil }
        self = data
    }

    /// The object at `cursor` (left after it); spans index the cursor's bytes.
    init?(_ cursor: inout JSONCursor) {
        let value = cursor.bytes
        var metric: Range<Int>?, unit: Range<Int>?, quantity: Quantity?
        /// The span of a string member seen for the first time, without escapes; nil otherwise.
        func plainString(_ seen: Range<Int>?) throws(UsageDecodeError) -> Range<Int>? {
            guard seen == nil, try cursor.peekKind() == .string else { return nil }
            let span = try cursor.readString()
            return span.hasEscapes ? nil : span.range
        }
        do throws(UsageDecodeError) {
            guard try cursor.peekKind() == .object else { return nil }
            try cursor.beginObject()
            var first = true
            while let key = try cursor.nextKey(first: &first) {
                if cursor.equals(key, "quantity") {
                    guard quantity == nil, try cursor.peekKind() == .number,
                          case .success(let parsed) = Quantity.parse(UnsafeRawBufferPointer(rebasing: value[try cursor.readNumber()])) else {
                        return nil
                    }
                    quantity = parsed
                } else if cursor.equals(key, "metric") {
                    guard let span = try plainString(metric) else { return nil }
                    metric = span
                } else if cursor.equals(key, "unit") {
                    guard let span = try plainString(unit) else { return nil }
                    unit = span
                } else {
                    try cursor.skipValue()
                }
            }
            guard let metric, let unit, let quantity else { return nil }
            self.metric = metric
            self.unit = unit
            self.quantity = quantity
        } catch {
            return nil
        }
    }
}
