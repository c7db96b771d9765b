import UsageStandard

/// A record as read from an instance topic; its buffers are borrowed and only valid while it is processed.
public struct IncomingRecord<Headers: CloudEventHeaderSource> {
    /// The record headers.
    public var headers: Headers
    /// The key bytes, nil for a null key.
    public var key: UnsafeRawBufferPointer?
    /// The value bytes, nil for a tombstone.
    public var value: UnsafeRawBufferPointer?
    /// The record timestamp.
    public var timestamp: Timestamp?
    /// The record offset.
    public var offset: Int64

    /// Creates a record view.
    public init(headers: Headers, key: UnsafeRawBufferPointer?, value: UnsafeRawBufferPointer?,
                timestamp: Timestamp?, offset: Int64) {
        self.headers = headers
        self.key = key
        self.value = value
        self.timestamp = timestamp
        self.offset = offset
    }
}

/// A valid usage event (names interned in the flow's `Symbols`) and the offset it was read at.
public struct OffsetEvent: Sendable, Equatable {
    /// The event.
    public var event: InternedEvent
    /// Its offset in the partition.
    public var offset: Int64

    /// Creates one.
    @inlinable
    public init(_ event: InternedEvent, offset: Int64) {
        self.event = event
        self.offset = offset
    }

    /// Creates one from a decoded event, interning its names in `symbols`.
    public init(_ event: UsageEvent, offset: Int64, symbols: inout Symbols) {
        self.init(symbols.intern(event), offset: offset)
    }
}

/// An event with the key its total is accounted under.
public struct KeyedEvent: Sendable, Equatable {
    /// The totals key.
    public var key: InternedKey
    /// The event.
    public var event: InternedEvent
    /// Its offset in the partition.
    public var offset: Int64

    /// Creates one.
    @inlinable
    public init(key: InternedKey, event: InternedEvent, offset: Int64) {
        self.key = key
        self.event = event
        self.offset = offset
    }
}
