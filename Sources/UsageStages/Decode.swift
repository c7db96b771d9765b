import UsageStandard

/// Decodes and validates a record (CloudEvents 1.0.2, its Kafka binding, the Usage Tracking Standard);
/// a valid event raises the partition watermark.
public struct Decode<Headers: CloudEventHeaderSource>: Stage {
    /// The decoder.
    public let decoder: UsageEventDecoder

    /// Creates the stage.
    public init(policy: UsageEventDecoder.Policy) {
        decoder = UsageEventDecoder(policy: policy)
    }

    /// Decodes one record: plain binary-mode events on the allocation-free path, anything else through the
    /// general decoder (which also gives the reason for refusing a record).
    @inlinable
    public mutating func process(_ record: IncomingRecord<Headers>, context: inout FlowContext) -> StageOutcome<OffsetEvent> {
        if let event = decoder.decodeInterned(headers: record.headers, key: record.key, value: record.value,
                                              referenceTime: record.timestamp, symbols: &context.symbols) {
            context.observe(event.time)
            return .next(OffsetEvent(event, offset: record.offset))
        }
        switch decoder.decode(headers: record.headers, key: record.key, value: record.value, referenceTime: record.timestamp) {
        case .success(let event):
            context.observe(event.time)
            return .next(OffsetEvent(event, offset: record.offset, symbols: &context.symbols))
        case .failure(let error):
            return .rejected(error)
        }
    }
}
