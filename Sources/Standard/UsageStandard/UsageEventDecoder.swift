/// Something that carries Kafka-style record headers (name and value bytes, in order).
public protocol CloudEventHeaderSource {
    /// Calls `body` for each header with its name and value (nil for a null value).
    func forEachHeader(_ body: (UnsafeRawBufferPointer, UnsafeRawBufferPointer?) -> Void)
}

/// Decodes and validates usage events carried by Kafka records, per CloudEvents 1.0.2, its Kafka protocol
/// binding and the Usage Tracking Standard v1:
/// - **binary mode**: attributes in `ce_` headers, data (JSON) as the value, `content-type` = `datacontenttype`;
/// - **structured mode**: a `content-type` header starting with `application/cloudevents` (any case); the
///   whole event as JSON in the value, with `data` or `data_base64`.
///
/// Stateless and cheap to copy.
public struct UsageEventDecoder: Sendable {
    /// What the decoder accepts beyond CloudEvents conformance.
    public struct Policy: Sendable {
        /// The metrics events may report.
        public var registry: MetricRegistry
        /// Events older than this (relative to the record's timestamp) are refused: they would fall outside the
        /// retention that re-accounting replays. Default 34 days, for topics retained 35 days.
        public var maxEventAgeMilliseconds: Int64
        /// Events further than this after the record's timestamp are refused (clock skew).
        public var maxFutureSkewMilliseconds: Int64
        /// Record values larger than this are refused without being parsed.
        public var maxEventBytes: Int

        /// Creates a policy.
        public init(registry: MetricRegistry = .v1, maxEventAgeMilliseconds: Int64 = 34 * 86_400_000,
                    maxFutureSkewMilliseconds: Int64 = 15 * 60_000, maxEventBytes: Int = 65_536) {
            self.registry = registry
            self.maxEventAgeMilliseconds = maxEventAgeMilliseconds
            self.maxFutureSkewMilliseconds = maxFutureSkewMilliseconds
            self.maxEventBytes = maxEventBytes
        }
    }

    /// The policy in force.
    public var policy: Policy

    /// Creates a decoder.
    public init(policy: Policy = Policy()) {
        self.policy = policy
    }

    /// Decodes one record; the first problem found is the error.
    ///
    /// - Parameters:
    ///   - key: the record key, which must equal the tenant when given (the standard's partition key).
    ///   - referenceTime: the record's timestamp; when given, the event time must lie within the policy's horizon.
    public func decode(headers: some CloudEventHeaderSource, key: UnsafeRawBufferPointer? = nil,
                       value: UnsafeRawBufferPointer?, referenceTime: Timestamp? = nil) -> Result<UsageEvent, UsageDecodeError> {
        var findings = Findings(collectAll: false)
        let event = decode(headers: headers, key: key, value: value, referenceTime: referenceTime, findings: &findings)
        if let event { return .success(event) }
        return .failure(findings.first ?? UsageDecodeError(.malformedJSON, "", "not a usage event"))
    }

    /// Every problem of one record (empty when it is a valid usage event), for emitters checking their output.
    public func findings(headers: some CloudEventHeaderSource, key: UnsafeRawBufferPointer? = nil,
                         value: UnsafeRawBufferPointer?, referenceTime: Timestamp? = nil) -> [UsageDecodeError] {
        var findings = Findings(collectAll: true)
        _ = decode(headers: headers, key: key, value: value, referenceTime: referenceTime, findings: &findings)
        return findings.all
    }

    private func decode(headers: some CloudEventHeaderSource, key: UnsafeRawBufferPointer?, value: UnsafeRawBufferPointer?,
                        referenceTime: Timestamp?, findings: inout Findings) -> UsageEvent? {
        if let value, value.count > policy.maxEventBytes {
            findings.add(.tooLarge, "", "the record value has \(value.count) bytes; a usage event may have at most \(policy.maxEventBytes)")
            return nil
        }
        var attributes = Attributes()
        var structured = false
        var headerFindings = Findings(collectAll: findings.collectAll)
        headers.forEachHeader { name, headerValue in
            if Self.equalsIgnoringCase(name, "content-type") {
                guard let headerValue, let text = String(validating: headerValue, as: UTF8.self) else {
                    headerFindings.add(.invalidEncoding, "content-type", "header value is null or not UTF-8")
                    return
                }
                guard attributes.contentTypeHeader == nil else {
                    headerFindings.add(.duplicateAttribute, "content-type", "the header appears twice")
                    return
                }
                attributes.contentTypeHeader = text
                structured = Self.hasPrefixIgnoringCase(text, "application/cloudevents")
                return
            }
            guard name.count >= 3, name[0] | 0x20 == UInt8(ascii: "c"), name[1] | 0x20 == UInt8(ascii: "e"),
                  name[2] == UInt8(ascii: "_") else { return }
            let attributeName = UnsafeRawBufferPointer(rebasing: name[3...])
            guard Attributes.isValidName(attributeName) else {
                let printable = String(decoding: attributeName, as: UTF8.self)
                headerFindings.add(.invalidExtensionName, printable,
                                   "header ce_\(printable): attribute names are lower-case letters and digits, start with a letter, at most 20 characters")
                return
            }
            guard let headerValue, let text = String(validating: headerValue, as: UTF8.self) else {
                headerFindings.add(.invalidEncoding, String(decoding: attributeName, as: UTF8.self), "header value is null or not UTF-8")
                return
            }
            attributes.set(attributeName, text, findings: &headerFindings)
        }
        if structured {
            // Structured mode: every attribute comes from the value; ce_ headers are not part of the event.
            let contentType = attributes.contentTypeHeader ?? ""
            attributes = Attributes()
            guard let (type, subtype) = MediaType.parse(contentType), type == "application", subtype == "cloudevents+json" else {
                findings.add(.unsupportedContentType, "content-type",
                             "structured mode supports a single event as application/cloudevents+json, got '\(contentType)'")
                return nil
            }
            guard let value, !value.isEmpty else {
                findings.add(.missingData, "", "record value is empty; a structured-mode event is the whole value")
                return nil
            }
            do throws(UsageDecodeError) {
                try decodeStructured(value, into: &attributes, findings: &findings)
            } catch {
                findings.add(error)
                return nil
            }
        } else {
            // Binary mode: the content-type header is `datacontenttype` (a `ce_datacontenttype` header only when
            // there is none).
            if let contentType = attributes.contentTypeHeader {
                attributes.datacontenttype = contentType
                attributes.refused.remove(.datacontenttype)
                if let (reason, problem) = CloudEventsTypes.problem(attribute: "datacontenttype", value: contentType) {
                    headerFindings.add(reason, "content-type", problem)
                    attributes.refused.insert(.datacontenttype)
                }
            }
            findings.merge(headerFindings)
            if !findings.all.isEmpty && !findings.collectAll { return nil }
            if let value, !value.isEmpty {
                var cursor = JSONCursor(value)
                do throws(UsageDecodeError) {
                    let kind = try cursor.peekKind()
                    if kind == .null {
                        try cursor.readNull()
                        guard cursor.isAtEnd else { throw UsageDecodeError(.malformedJSON, "data", "trailing bytes after null") }
                        findings.add(.missingData, "data", "is null; a usage event's data is a JSON object")
                        return nil
                    }
                    guard kind == .object else {
                        throw UsageDecodeError(.malformedJSON, "data", "must be a JSON object")
                    }
                    try decodeData(&cursor, into: &attributes)
                    guard cursor.isAtEnd else { throw UsageDecodeError(.malformedJSON, "data", "trailing bytes after the JSON object") }
                } catch {
                    findings.add(error)
                    if !findings.collectAll { return nil }
                }
            }
        }
        return attributes.validate(policy: policy, key: key, referenceTime: referenceTime, findings: &findings)
    }

    /// Reads a structured-mode event. Broken JSON throws; every other problem is a finding and reading goes on,
    /// so that `findings` reports all of them.
    private func decodeStructured(_ value: UnsafeRawBufferPointer, into attributes: inout Attributes,
                                  findings: inout Findings) throws(UsageDecodeError) {
        var cursor = JSONCursor(value)
        guard try cursor.peekKind() == .object else { throw UsageDecodeError.malformed("the event must be a JSON object") }
        try cursor.beginObject()
        var first = true
        var seen: Set<String> = []
        while let key = try cursor.nextKey(first: &first) {
            guard let name = cursor.string(key) else {
                findings.add(.invalidEncoding, "", "an attribute name is not valid UTF-8")
                try cursor.skipValue()
                continue
            }
            guard seen.insert(name).inserted else {
                findings.add(.duplicateAttribute, name, "appears twice")
                try cursor.skipValue()
                continue
            }
            switch name {
            case "data", "data_base64":
                if attributes.sawData {
                    findings.add(.duplicateAttribute, name, "data and data_base64 are mutually exclusive")
                    try cursor.skipValue()
                } else if name == "data" {
                    // An explicit null payload (JSON format section 3.1.1) is no data: `missing-data` below.
                    if try cursor.peekKind() == .null {
                        try cursor.readNull()
                        continue
                    }
                    guard try cursor.peekKind() == .object else {
                        findings.add(.malformedJSON, "data", "must be a JSON object")
                        try cursor.skipValue()
                        continue
                    }
                    try decodeData(&cursor, into: &attributes)
                } else {
                    try decodeBase64Data(&cursor, into: &attributes, findings: &findings)
                }
            default:
                let nameBytes = Array(name.utf8)
                guard nameBytes.withUnsafeBytes(Attributes.isValidName) else {
                    findings.add(.invalidExtensionName, name,
                                 "attribute names are lower-case letters and digits, start with a letter, at most 20 characters")
                    try cursor.skipValue()
                    continue
                }
                switch try cursor.peekKind() {
                case .string:
                    guard let text = cursor.string(try cursor.readString()) else {
                        findings.add(.invalidEncoding, name, "is not valid Unicode text (an unpaired surrogate escape)")
                        continue
                    }
                    nameBytes.withUnsafeBytes { attributes.set($0, text, findings: &findings) }
                case .null:
                    // JSON format section 2.2: null is the same as an absent attribute.
                    try cursor.readNull()
                case .bool where !Attributes.isStringAttribute(name):
                    _ = try cursor.readBool()
                case .number where !Attributes.isStringAttribute(name):
                    // An Integer: the integer part of a JSON number (no fraction, no exponent), within 32 bits.
                    let span = try cursor.readNumber()
                    if CloudEventsTypes.isInteger(value[span]) { continue }
                    findings.add(.invalidAttribute, name,
                                 "'\(String(decoding: value[span], as: UTF8.self))' is not an Integer: a whole number within 32 bits, without fraction or exponent")
                default:
                    findings.add(.invalidAttribute, name, Attributes.isStringAttribute(name)
                                 ? "must be a string" : "an extension must be a string, a boolean or an integer")
                    try cursor.skipValue()
                }
            }
        }
        guard cursor.isAtEnd else { throw UsageDecodeError.malformed("trailing bytes after the event object") }
        attributes.structured = true
    }

    private func decodeBase64Data(_ cursor: inout JSONCursor, into attributes: inout Attributes,
                                  findings: inout Findings) throws(UsageDecodeError) {
        guard try cursor.peekKind() == .string, let text = cursor.string(try cursor.readString()) else {
            findings.add(.invalidAttribute, "data_base64", "must be a string")
            try cursor.skipValue()
            return
        }
        guard let bytes = Base64.decode(text) else {
            attributes.sawData = true
            findings.add(.invalidEncoding, "data_base64", "is not valid base64")
            return
        }
        let result = bytes.withUnsafeBytes { buffer in
            Result { () throws(UsageDecodeError) in
                var dataCursor = JSONCursor(buffer)
                guard try dataCursor.peekKind() == .object else {
                    throw UsageDecodeError(.malformedJSON, "data_base64", "must hold a JSON object")
                }
                try decodeData(&dataCursor, into: &attributes)
                guard dataCursor.isAtEnd else {
                    throw UsageDecodeError(.malformedJSON, "data_base64", "trailing bytes after the JSON object")
                }
            }
        }
        if case .failure(let error) = result {
            attributes.sawData = true
            findings.add(error)
        }
    }

    private func decodeData(_ cursor: inout JSONCursor, into attributes: inout Attributes) throws(UsageDecodeError) {
        attributes.sawData = true
        try cursor.beginObject()
        var first = true
        var seenQuantity = false, seenMetric = false, seenUnit = false
        while let key = try cursor.nextKey(first: &first) {
            if cursor.equals(key, "quantity") {
                guard !seenQuantity else { throw UsageDecodeError(.duplicateAttribute, "data.quantity", "appears twice") }
                seenQuantity = true
                guard try cursor.peekKind() == .number else {
                    attributes.quantityProblem = "must be a JSON number"
                    try cursor.skipValue()
                    continue
                }
                let span = try cursor.readNumber()
                switch Quantity.parse(UnsafeRawBufferPointer(rebasing: cursor.bytes[span])) {
                case .success(let quantity): attributes.quantity = quantity
                case .failure(let error): attributes.quantityProblem = error.explanation
                }
            } else if cursor.equals(key, "metric") {
                guard !seenMetric else { throw UsageDecodeError(.duplicateAttribute, "data.metric", "appears twice") }
                seenMetric = true
                attributes.metric = try dataString(&cursor, "data.metric")
            } else if cursor.equals(key, "unit") {
                guard !seenUnit else { throw UsageDecodeError(.duplicateAttribute, "data.unit", "appears twice") }
                seenUnit = true
                attributes.unit = try dataString(&cursor, "data.unit")
            } else {
                try cursor.skipValue()
            }
        }
    }

    private func dataString(_ cursor: inout JSONCursor, _ attribute: String) throws(UsageDecodeError) -> String {
        guard try cursor.peekKind() == .string else { throw UsageDecodeError(.invalidAttribute, attribute, "must be a string") }
        guard let text = cursor.string(try cursor.readString()) else {
            throw UsageDecodeError(.invalidEncoding, attribute, "is not valid UTF-8 text")
        }
        return text
    }

    static func equalsIgnoringCase(_ bytes: UnsafeRawBufferPointer, _ literal: StaticString) -> Bool {
        guard bytes.count == literal.utf8CodeUnitCount else { return false }
        for index in 0..<bytes.count where bytes[index] | 0x20 != literal.utf8Start[index] | 0x20 { return false }
        return true
    }

    static func hasPrefixIgnoringCase(_ text: String, _ prefix: String) -> Bool {
        text.utf8.count >= prefix.utf8.count && zip(text.utf8, prefix.utf8).allSatisfy { $0 | 0x20 == $1 | 0x20 }
    }
}

/// Problems found so far: the first only (the service's hot path) or all (the `validate` tool).
struct Findings {
    let collectAll: Bool
    private(set) var all: [UsageDecodeError] = []

    init(collectAll: Bool) { self.collectAll = collectAll }

    var first: UsageDecodeError? { all.first }

    mutating func add(_ reason: UsageDecodeError.Reason, _ attribute: String, _ problem: String) {
        add(UsageDecodeError(reason, attribute, problem))
    }

    mutating func add(_ error: UsageDecodeError) {
        if collectAll || all.isEmpty { all.append(error) }
    }

    mutating func merge(_ other: Findings) {
        for error in other.all { add(error) }
    }
}
