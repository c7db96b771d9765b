import UsagePricing
import UsageStandard

/// One record of the prices topic: a publication, or a tombstone (null value) that withdraws a book.
public enum PriceBookRecord: Sendable, Equatable {
    /// A revision of a book.
    case publication(PriceBookEvent)
    /// The book with this id is withdrawn.
    case tombstone(bookID: String)
}

/// Why a record of the prices topic cannot be read as a price book publication: `reason` is a stable code (for
/// counts and logs), `field` names what is wrong (an attribute, `key`, or `data`), `problem` says what and what is
/// expected, so the publisher can fix it.
public struct PriceBookEventError: Error, Sendable, Equatable, CustomStringConvertible {
    /// Stable reason codes. Never renamed; new ones may be added.
    public enum Reason: String, Sendable, CaseIterable {
        /// The record has no key, or its key is not UTF-8.
        case missingKey = "missing-key"
        /// The value is larger than `PriceBookEventDecoder.maxBytes`.
        case tooLarge = "too-large"
        /// The value is not one JSON object (a structured-mode CloudEvent), or its content type says it is not.
        case malformedJSON = "malformed-json"
        /// A required attribute is absent, or an attribute has a value that is not allowed.
        case invalidAttribute = "invalid-attribute"
        /// `type` is not `net.ferrislabs.usage.pricebook.v1`.
        case unsupportedType = "unsupported-type"
        /// `data` is absent or is not a price book that passes the schema and the rules of section 14.
        case invalidPriceBook = "invalid-price-book"
        /// The record key, `subject` or `id` does not match the book in `data`.
        case keyMismatch = "partition-key-mismatch"
    }

    /// The stable reason code.
    public let reason: Reason
    /// What is wrong: an attribute name, `key`, `value` or `data`; without control characters.
    public let field: String
    /// What is wrong and what is expected; without control characters (text quoted from the record is escaped).
    public let problem: String

    /// Creates an error; control characters in `field` and `problem` are escaped.
    public init(_ reason: Reason, _ field: String, _ problem: String) {
        self.reason = reason
        self.field = field.escapingControlCharacters
        self.problem = problem.escapingControlCharacters
    }

    public var description: String { "\(field): \(problem)" }
}

/// Decodes and checks records of the prices topic: structured-mode CloudEvents of type
/// `net.ferrislabs.usage.pricebook.v1` keyed by the book id, whose `data` is a whole valid price book, or tombstones.
public enum PriceBookEventDecoder {
    /// The largest record value accepted: the broker's default largest message (about 1 MB).
    public static let maxBytes = 1_000_000

    /// Decodes one record. Headers are (name, value) pairs as on the record; a nil value is a tombstone.
    public static func decode(key: [UInt8]?, value: [UInt8]?,
                              headers: [(name: String, value: [UInt8]?)]) -> Result<PriceBookRecord, PriceBookEventError> {
        do throws(PriceBookEventError) {
            return .success(try decodeThrowing(key: key, value: value, headers: headers))
        } catch {
            return .failure(error)
        }
    }

    private static func decodeThrowing(key: [UInt8]?, value: [UInt8]?,
                                       headers: [(name: String, value: [UInt8]?)]) throws(PriceBookEventError) -> PriceBookRecord {
        guard let key, !key.isEmpty, let keyText = String(validating: key, as: UTF8.self) else {
            throw PriceBookEventError(.missingKey, "key", "the record has no UTF-8 key; the key must be the price book id")
        }
        guard let value else { return .tombstone(bookID: keyText) }
        guard value.count <= maxBytes else {
            throw PriceBookEventError(.tooLarge, "value", "the value has \(value.count) bytes; at most \(maxBytes) are allowed")
        }
        for header in headers where header.name.lowercased() == "content-type" {
            let contentType = header.value.flatMap { String(validating: $0, as: UTF8.self) } ?? ""
            guard contentType.lowercased().hasPrefix(UsageStandard.structuredContentType) else {
                throw PriceBookEventError(.malformedJSON, "content-type",
                                          "'\(contentType)' is not \(UsageStandard.structuredContentType): price book events are sent in structured mode")
            }
        }
        let members: [(key: String, value: JSONValue)]
        switch JSONValue.parse(value) {
        case .success(.object(let object)): members = object
        case .success(let other):
            throw PriceBookEventError(.malformedJSON, "value", "a structured-mode CloudEvent is a JSON object, not \(other.kind)")
        case .failure(let error):
            throw PriceBookEventError(.malformedJSON, "value", "not JSON: \(error)")
        }
        var attributes: [String: JSONValue] = [:]
        for member in members where member.value != .null { attributes[member.key] = member.value }
        func text(_ name: String) throws(PriceBookEventError) -> String {
            guard let string = attributes[name]?.string, !string.isEmpty else {
                throw PriceBookEventError(.invalidAttribute, name, "is required, as a non-empty string")
            }
            return string
        }
        guard try text("specversion") == UsageStandard.specVersion else {
            throw PriceBookEventError(.invalidAttribute, "specversion", "must be \(UsageStandard.specVersion)")
        }
        let type = try text("type")
        guard type == PriceBookEvent.type else {
            throw PriceBookEventError(.unsupportedType, "type", "'\(type)' is not \(PriceBookEvent.type)")
        }
        let id = try text("id")
        let source = try text("source")
        let timeText = try text("time")
        guard let time = Timestamp.parse(timeText) else {
            throw PriceBookEventError(.invalidAttribute, "time", "'\(timeText)' is not an RFC 3339 date-time with seconds")
        }
        if let declared = attributes["datacontenttype"], !isJSON(declared.string ?? "") {
            throw PriceBookEventError(.invalidAttribute, "datacontenttype", "must be application/json when present")
        }
        if attributes["data_base64"] != nil {
            throw PriceBookEventError(.invalidPriceBook, "data_base64", "price book events carry the book as JSON in 'data'")
        }
        guard let data = attributes["data"], case .object = data else {
            throw PriceBookEventError(.invalidPriceBook, "data", "must be the price book, a JSON object (\(attributes["data"]?.kind ?? "absent"))")
        }
        let book: PriceBook
        do {
            // JSON is YAML too: the file loader checks the schema and the rules, locating problems in `data`'s text.
            book = try PriceBook.parse(String(decoding: data.bytes, as: UTF8.self), file: "data")
        } catch {
            throw PriceBookEventError(.invalidPriceBook, "data", "is not a valid price book: "
                                      + error.problems.map { "\($0.message) (column \($0.column))" }.joined(separator: "; "))
        }
        guard book.id == keyText else {
            throw PriceBookEventError(.keyMismatch, "key", "the record key '\(keyText)' is not the price book id '\(book.id)'")
        }
        if let subject = attributes["subject"], subject.string != book.id {
            throw PriceBookEventError(.keyMismatch, "subject", "must be the price book id '\(book.id)' when present")
        }
        let expectedID = PriceBookEvent.id(book: book.id, revision: book.revision)
        guard id == expectedID else {
            throw PriceBookEventError(.keyMismatch, "id", "'\(id)' is not '\(expectedID)' (<book id>#<revision>)")
        }
        return .publication(PriceBookEvent(book: book, source: source, time: time))
    }

    /// Whether `contentType` is `application/json`, with or without parameters (media types ignore case).
    private static func isJSON(_ contentType: String) -> Bool {
        var mediaType = contentType.split(separator: ";", maxSplits: 1, omittingEmptySubsequences: false).first ?? ""
        while let first = mediaType.first, first == " " || first == "\t" { mediaType.removeFirst() }
        while let last = mediaType.last, last == " " || last == "\t" { mediaType.removeLast() }
        return mediaType.lowercased() == "application/json"
    }
}
