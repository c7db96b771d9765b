/// Why a record is not a valid usage event. `reason` is a stable code (it appears on the dead-letter topic and in
/// metrics); `attribute` names the attribute concerned and `problem` says what is wrong, for the sender to fix.
/// Both often quote the event, so their control characters are escaped (`escapingControlCharacters`) when the
/// error is made: they go to logs, dead-letter headers and terminals as they are.
public struct UsageDecodeError: Error, Sendable, Equatable, CustomStringConvertible {
    /// Stable reason codes. Never renamed; new ones may be added.
    public enum Reason: String, Sendable, CaseIterable {
        /// The value (or `data`) is not well-formed JSON, or not the expected JSON shape.
        case malformedJSON = "malformed-json"
        /// The record value is larger than the standard allows for one usage event.
        case tooLarge = "too-large"
        /// A header value or string is not valid UTF-8, or `data_base64` is not valid base64.
        case invalidEncoding = "invalid-encoding"
        /// A required attribute is absent or empty.
        case missingAttribute = "missing-attribute"
        /// An attribute is present but its value or type is not allowed.
        case invalidAttribute = "invalid-attribute"
        /// An extension attribute's name breaks the naming rule (`[a-z0-9]`, starts with a letter, <= 20 chars).
        case invalidExtensionName = "invalid-extension-name"
        /// An attribute appears twice.
        case duplicateAttribute = "duplicate-attribute"
        /// `specversion` is not 1.0.
        case unsupportedSpecVersion = "unsupported-specversion"
        /// `type` is not a usage event type this service knows.
        case unsupportedType = "unsupported-type"
        /// The content type is not JSON (data) or not a single structured CloudEvent.
        case unsupportedContentType = "unsupported-content-type"
        /// `time` is absent or not RFC 3339 with seconds.
        case invalidTime = "invalid-time"
        /// The event carries no data.
        case missingData = "missing-data"
        /// `data.quantity` is not an exact, representable number.
        case invalidQuantity = "invalid-quantity"
        /// `data.quantity` is negative outside a correction.
        case negativeQuantity = "negative-quantity"
        /// `data.metric` is not in the metric registry.
        case unknownMetric = "unknown-metric"
        /// `data.unit` is not the registry's unit for the metric.
        case unitMismatch = "unit-mismatch"
        /// `time` is older than the accounting horizon (the replayable retention).
        case tooOld = "too-old"
        /// `time` is further in the future than the allowed clock skew.
        case inFuture = "in-future"
        /// The record key is not the tenant (the standard's partition key).
        case partitionKeyMismatch = "partition-key-mismatch"
        /// The record has no key: the standard's partition key (the tenant) is required on Kafka, or a producer's
        /// partitioner spreads one tenant's events over partitions, where repeats of one event cannot be recognised.
        case missingKey = "missing-key"
        /// The event's hour closed (window end + grace passed) before it arrived.
        case late = "late"
        /// Adding the event would overflow its window total.
        case totalOverflow = "total-overflow"
    }

    /// The stable reason code.
    public var reason: Reason
    /// The attribute concerned (e.g. `time`, `data.quantity`), or empty; without control characters.
    public private(set) var attribute: String
    /// What is wrong; without control characters.
    public private(set) var problem: String

    /// Creates an error; control characters in `attribute` and `problem` (text quoted from the event) are escaped.
    public init(_ reason: Reason, _ attribute: String, _ problem: String) {
        self.reason = reason
        self.attribute = attribute.escapingControlCharacters
        self.problem = problem.escapingControlCharacters
    }

    public var description: String { attribute.isEmpty ? problem : "\(attribute): \(problem)" }

    static func malformed(_ problem: String) -> UsageDecodeError { UsageDecodeError(.malformedJSON, "", problem) }

    /// The same error, its problem naming the totals key concerned.
    public func with(key: UsageKey) -> UsageDecodeError {
        UsageDecodeError(reason, attribute, "\(problem) of \(key)")
    }
}
