/// Why a record of the instance topic cannot be applied to the registry. `reason` is a stable code for the
/// dead-letter header `ferris-dlq-reason` and for metrics (the same codes as usage events where the cause is the same);
/// `attribute` names the attribute concerned and `problem` says what is wrong, for the sender to fix. Control
/// characters in both (text quoted from the event) are escaped when the error is made (`escapingControlCharacters`).
public struct InstanceEventError: Error, Sendable, Equatable, CustomStringConvertible {
    /// Stable reason codes. Never renamed; new ones may be added.
    public enum Reason: String, Sendable, CaseIterable {
        /// The value (or `data`) is not well-formed JSON, or not the expected JSON shape.
        case malformedJSON = "malformed-json"
        /// The record value is larger than 64 KiB.
        case tooLarge = "too-large"
        /// A header or string is not valid UTF-8.
        case invalidEncoding = "invalid-encoding"
        /// A required attribute is absent or empty.
        case missingAttribute = "missing-attribute"
        /// An attribute has a value or type that is not allowed.
        case invalidAttribute = "invalid-attribute"
        /// An attribute name breaks the CloudEvents naming rule (lower-case letters and digits, at most 20).
        case invalidExtensionName = "invalid-extension-name"
        /// An attribute appears twice.
        case duplicateAttribute = "duplicate-attribute"
        /// `specversion` is not 1.0.
        case unsupportedSpecVersion = "unsupported-specversion"
        /// `type` is not `net.ferrislabs.instance.v1`.
        case unsupportedType = "unsupported-type"
        /// The data is not JSON, or the structured event is not a single JSON CloudEvent.
        case unsupportedContentType = "unsupported-content-type"
        /// `time` is absent or not RFC 3339 with seconds.
        case invalidTime = "invalid-time"
        /// The event carries no data.
        case missingData = "missing-data"
        /// The record key is not the instance id.
        case partitionKeyMismatch = "partition-key-mismatch"
        /// The record has no key (the instance id is required as the key).
        case missingKey = "missing-key"
        /// The instance claims a Kubernetes namespace that another live instance on the same cluster has.
        case namespaceConflict = "namespace-conflict"
    }

    /// The stable reason code.
    public var reason: Reason
    /// The attribute concerned (e.g. `time`, `data.kubernetes.namespaces`), or empty; without control characters.
    public private(set) var attribute: String
    /// What is wrong; without control characters.
    public private(set) var problem: String

    /// Creates an error; control characters in `attribute` and `problem` are escaped.
    public init(_ reason: Reason, _ attribute: String, _ problem: String) {
        self.reason = reason
        self.attribute = attribute.escapingControlCharacters
        self.problem = problem.escapingControlCharacters
    }

    public var description: String { attribute.isEmpty ? problem : "\(attribute): \(problem)" }
}
