import UsageStandard

/// Decodes and validates a record (CloudEvents 1.0.2, its Kafka binding, the Usage Tracking Standard);
/// a valid event raises the partition watermark. A record without a key is refused (`missing-key`) even when its
/// event is valid: the standard requires the tenant as the key, and a keyless record lands on whatever partition
/// the producer's partitioner picks, where a repeat of the same event could not be recognised as one.
public struct Decode<Headers: CloudEventHeaderSource>: Stage {
    /// The decoder.
    public let decoder: UsageEventDecoder

    /// Creates the stage.
    public init(policy: UsageEventDecoder.Policy) {
        decoder = UsageEventDecoder(policy: policy)
    }

    /// Decodes one record: plain events (binary or structured mode) on the allocation-free path, anything else
    /// through the general decoder (which also gives the reason for refusing a record).
    @inlinable
    public mutating func process(_ record: IncomingRecord<Headers>, context: inout FlowContext) -> StageOutcome<OffsetEvent> {
        if let event = decoder.decodeInterned(headers: record.headers, key: record.key, value: record.value,
                                              referenceTime: record.timestamp, symbols: &context.symbols) {
            guard record.key != nil else { return .rejected(Self.missingKey(tenant: context.symbols[event.tenant])) }
            context.observe(event.time)
            return .next(OffsetEvent(event, offset: record.offset))
        }
        switch decoder.decode(headers: record.headers, key: record.key, value: record.value, referenceTime: record.timestamp) {
        case .success(let event):
            guard record.key != nil else { return .rejected(Self.missingKey(tenant: event.tenant)) }
            context.observe(event.time)
            return .next(OffsetEvent(event, offset: record.offset, symbols: &context.symbols))
        case .failure(let error):
            return .rejected(error)
        }
    }

    @usableFromInline
    static func missingKey(tenant: String) -> UsageDecodeError {
        UsageDecodeError(.missingKey, "key", "the record has no key; produce it with the tenant '\(tenant)' as the key")
    }
}
