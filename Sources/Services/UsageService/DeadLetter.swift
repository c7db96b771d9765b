/// The headers a dead-letter record carries besides the original record's own (key, value and headers are
/// copied unchanged).
public enum DeadLetter {
    /// The stable reason code (`UsageDecodeError.Reason`), e.g. `invalid-time`.
    public static let reason = "ferris-dlq-reason"
    /// The attribute concerned, e.g. `time` or `data.quantity` (may be empty).
    public static let attribute = "ferris-dlq-attribute"
    /// A human message naming the attribute and the problem.
    public static let message = "ferris-dlq-message"
    /// The topic the record was read from.
    public static let topic = "ferris-dlq-topic"
    /// The partition it was read from.
    public static let partition = "ferris-dlq-partition"
    /// Its offset there.
    public static let offset = "ferris-dlq-offset"
}
