/// Whether a total may still change.
public enum TotalStatus: String, Sendable, Equatable {
    /// The window is open: later events may still raise the total.
    case provisional
    /// The window closed (its end plus grace passed); this is the billable figure.
    case final
    /// A re-accounting (replay) found no usage for this key and window any more: the earlier figure is void and
    /// the quantity is zero.
    case retracted
}

/// The accounted usage of one key in one window.
public struct UsageTotal: Sendable, Equatable {
    /// Who, where, what.
    public var key: UsageKey
    /// Window start (inclusive), UTC.
    public var windowStart: Timestamp
    /// Window end (exclusive), UTC.
    public var windowEnd: Timestamp
    /// The summed quantity.
    public var quantity: Quantity
    /// The unit of the quantity.
    public var unit: String
    /// How many events were summed.
    public var eventCount: Int64
    /// Provisional or final.
    public var status: TotalStatus
    /// The input partition the total was computed from, as `topic:partition`.
    public var sourcePartition: String
    /// The offset of the last event counted into this total: a monotonic version of the total.
    public var lastOffset: Int64
    /// Where the instance runs (the events' `provider`), if they said.
    public var provider: String?
    /// The accounting revision: 0 for the live accounting, a higher number for each re-accounting (replay).
    /// For one key and window, the total with the highest revision is the current one.
    public var revision: Int64

    /// Creates a total.
    public init(key: UsageKey, windowStart: Timestamp, windowEnd: Timestamp, quantity: Quantity, unit: String,
                eventCount: Int64, status: TotalStatus, sourcePartition: String, lastOffset: Int64, provider: String? = nil,
                revision: Int64 = 0) {
        self.revision = revision
        self.key = key
        self.windowStart = windowStart
        self.windowEnd = windowEnd
        self.quantity = quantity
        self.unit = unit
        self.eventCount = eventCount
        self.status = status
        self.sourcePartition = sourcePartition
        self.lastOffset = lastOffset
        self.provider = provider
    }

    /// The total's name, its CloudEvent `subject`: `tenant/instance/component/metric/windowStart`, each name
    /// percent-encoded so that `/` inside a name cannot collide. Totals with the same subject (and unit) are parts of
    /// one figure, one part per input partition (see `CurrentTotals`).
    public var subject: String {
        var bytes: [UInt8] = []
        appendSubject(to: &bytes)
        return String(decoding: bytes, as: UTF8.self)
    }

    /// Appends `subject` to `bytes`.
    public func appendSubject(to bytes: inout [UInt8]) {
        for part in [key.tenant, key.instance, key.component, key.metric] {
            Self.appendEscaped(part, to: &bytes)
            bytes.append(UInt8(ascii: "/"))
        }
        windowStart.appendRFC3339(to: &bytes)
    }

    /// The compaction key on the totals topic: `subject@sourcePartition`, so that compaction keeps the latest total
    /// of each part (Kafka topic names are made of `[a-zA-Z0-9._-]`, so the part is unambiguous).
    public var recordKey: String {
        var bytes: [UInt8] = []
        appendRecordKey(to: &bytes)
        return String(decoding: bytes, as: UTF8.self)
    }

    /// Appends `recordKey` to `bytes`.
    public func appendRecordKey(to bytes: inout [UInt8]) {
        appendSubject(to: &bytes)
        bytes.append(UInt8(ascii: "@"))
        bytes.append(contentsOf: sourcePartition.utf8)
    }

    /// Whether this total replaces `other`, a total of the same part (same `recordKey`): a higher revision wins;
    /// within a revision, the one that counted up to a later offset (`lastOffset`), and final over provisional at the
    /// same offset. A part's totals are absolute and computed from one partition in order, so this picks the most
    /// complete figure whatever order the records are read in, including a stale record that reaches the topic late.
    /// Offsets are never compared across partitions: totals of different parts are summed, not compared.
    public func supersedes(_ other: UsageTotal) -> Bool {
        if revision != other.revision { return revision > other.revision }
        if lastOffset != other.lastOffset { return lastOffset > other.lastOffset }
        return status != .provisional || other.status == .provisional
    }

    /// A deterministic CloudEvent id: the same total computed twice gets the same id.
    public var eventID: String {
        var bytes: [UInt8] = []
        appendEventID(to: &bytes)
        return String(decoding: bytes, as: UTF8.self)
    }

    /// Appends `eventID` to `bytes`: `subject@sourcePartition#lastOffset` (the record key, then `#lastOffset`), and
    /// `~r<revision>` for a revision.
    public func appendEventID(to bytes: inout [UInt8]) {
        appendRecordKey(to: &bytes)
        bytes.append(UInt8(ascii: "#"))
        bytes.append(decimal: lastOffset)
        if revision > 0 {
            bytes.append(literal: "~r")
            bytes.append(decimal: revision)
        }
    }

    static func appendEscaped(_ part: String, to bytes: inout [UInt8]) {
        for byte in part.utf8 {
            switch byte {
            case UInt8(ascii: "%"): bytes.append(literal: "%25")
            case UInt8(ascii: "/"): bytes.append(literal: "%2F")
            default: bytes.append(byte)
            }
        }
    }
}

/// Encodes totals as structured-mode CloudEvents for the totals topic, and reads them back. The data uses
/// FinOps FOCUS column names; what FOCUS has no column for is `x_`-prefixed.
public enum UsageTotalCodec {
    /// The CloudEvent JSON for a total. `source` names the producing service, e.g. `/ferris-usage/<group>`.
    public static func encode(_ total: UsageTotal, source: String) -> [UInt8] {
        var bytes: [UInt8] = []
        encode(total, source: source, into: &bytes)
        return bytes
    }

    /// Appends the CloudEvent JSON for a total to `bytes` (written directly, for the emit path).
    public static func encode(_ total: UsageTotal, source: String, into bytes: inout [UInt8]) {
        func field(_ name: StaticString, _ value: String) {
            bytes.append(literal: name)
            bytes.append(jsonString: value)
        }
        func timestamp(_ name: StaticString, _ value: Timestamp) {
            bytes.append(literal: name)
            bytes.append(UInt8(ascii: "\""))
            value.appendRFC3339(to: &bytes)
            bytes.append(UInt8(ascii: "\""))
        }
        bytes.append(literal: #"{"specversion":"1.0","id":""#)
        let start = bytes.count
        total.appendEventID(to: &bytes)
        if bytes[start...].contains(where: { $0 == UInt8(ascii: "\"") || $0 == UInt8(ascii: "\\") || $0 < 0x20 }) {
            // A name that needs JSON escaping (rare): write the id again, escaped.
            let id = String(decoding: bytes[start...], as: UTF8.self)
            bytes.removeSubrange((start - 1)...)
            bytes.append(jsonString: id)
        } else {
            bytes.append(UInt8(ascii: "\""))
        }
        field(#","source":"#, source)
        bytes.append(literal: #","type":"net.ferrislabs.usage.total.v1","subject":"#)
        bytes.append(jsonString: total.subject)
        timestamp(#","time":"#, total.windowEnd)
        bytes.append(literal: #","datacontenttype":"application/json""#)
        field(#","tenant":"#, total.key.tenant)
        field(#","partitionkey":"#, total.key.tenant)
        timestamp(#","data":{"ChargePeriodStart":"#, total.windowStart)
        timestamp(#","ChargePeriodEnd":"#, total.windowEnd)
        bytes.append(literal: #","ChargeCategory":"Usage","ConsumedQuantity":"#)
        total.quantity.appendDecimal(to: &bytes)
        field(#","ConsumedUnit":"#, total.unit)
        field(#","SubAccountId":"#, total.key.tenant)
        field(#","ResourceId":"#, total.key.instance)
        field(#","ServiceName":"#, total.key.component)
        if let provider = total.provider { field(#","HostProviderName":"#, provider) }
        field(#","x_Metric":"#, total.key.metric)
        bytes.append(literal: #","x_EventCount":"#)
        bytes.append(decimal: total.eventCount)
        field(#","x_Status":"#, total.status.rawValue)
        field(#","x_SourcePartition":"#, total.sourcePartition)
        bytes.append(literal: #","x_LastOffset":"#)
        bytes.append(decimal: total.lastOffset)
        if total.revision > 0 {
            bytes.append(literal: #","x_Revision":"#)
            bytes.append(decimal: total.revision)
        }
        bytes.append(literal: "}}")
    }

    /// Reads a total back from its CloudEvent JSON.
    public static func decode(_ bytes: [UInt8]) -> Result<UsageTotal, UsageDecodeError> {
        bytes.withUnsafeBytes { buffer in
            do throws(UsageDecodeError) {
                return .success(try decode(buffer))
            } catch {
                return .failure(error)
            }
        }
    }

    /// The `data` members a total is read from (everything else in the event is derived from them).
    private struct DataFields {
        var start: Timestamp?, end: Timestamp?, quantity: Range<Int>?, unit: String?, tenant: String?
        var instance: String?, component: String?, provider: String?, metric: String?, count: Range<Int>?
        var status: String?, partition: String?, lastOffset: Range<Int>?, revision: Range<Int>?
    }

    private static func decode(_ buffer: UnsafeRawBufferPointer) throws(UsageDecodeError) -> UsageTotal {
        var cursor = JSONCursor(buffer)
        var data = DataFields()
        try cursor.beginObject()
        var first = true
        while let key = try cursor.nextKey(first: &first) {
            guard cursor.equals(key, "data") else { try cursor.skipValue(); continue }
            try cursor.beginObject()
            var firstField = true
            while let field = try cursor.nextKey(first: &firstField) {
                switch try cursor.peekKind() {
                case .string:
                    let span = try cursor.readString()
                    if cursor.equals(field, "ChargePeriodStart") || cursor.equals(field, "ChargePeriodEnd") {
                        let time = span.hasEscapes ? cursor.string(span).flatMap { Timestamp.parse($0) }
                            : Timestamp.parse(UnsafeRawBufferPointer(rebasing: buffer[span.range]))
                        if cursor.equals(field, "ChargePeriodStart") { data.start = time } else { data.end = time }
                    } else if cursor.equals(field, "ConsumedUnit") { data.unit = cursor.string(span)
                    } else if cursor.equals(field, "SubAccountId") { data.tenant = cursor.string(span)
                    } else if cursor.equals(field, "ResourceId") { data.instance = cursor.string(span)
                    } else if cursor.equals(field, "ServiceName") { data.component = cursor.string(span)
                    } else if cursor.equals(field, "HostProviderName") { data.provider = cursor.string(span)
                    } else if cursor.equals(field, "x_Metric") { data.metric = cursor.string(span)
                    } else if cursor.equals(field, "x_Status") { data.status = cursor.string(span)
                    } else if cursor.equals(field, "x_SourcePartition") { data.partition = cursor.string(span)
                    }
                case .number:
                    let span = try cursor.readNumber()
                    if cursor.equals(field, "ConsumedQuantity") { data.quantity = span
                    } else if cursor.equals(field, "x_EventCount") { data.count = span
                    } else if cursor.equals(field, "x_LastOffset") { data.lastOffset = span
                    } else if cursor.equals(field, "x_Revision") { data.revision = span
                    }
                default:
                    try cursor.skipValue()
                }
            }
        }
        func text(_ value: String?, _ name: String) throws(UsageDecodeError) -> String {
            guard let value else { throw UsageDecodeError(.missingAttribute, "data.\(name)", "is required") }
            return value
        }
        func int(_ span: Range<Int>?, _ name: String) throws(UsageDecodeError) -> Int64 {
            guard let span, let value = Int64(String(decoding: buffer[span], as: UTF8.self)) else {
                throw UsageDecodeError(.invalidAttribute, "data.\(name)", "must be an integer")
            }
            return value
        }
        guard let span = data.quantity,
              case .success(let quantity) = Quantity.parse(UnsafeRawBufferPointer(rebasing: buffer[span])) else {
            throw UsageDecodeError(.invalidQuantity, "data.ConsumedQuantity", "must be an exact number")
        }
        guard let start = data.start, let end = data.end else {
            throw UsageDecodeError(.invalidTime, "data.ChargePeriodStart", "must be RFC 3339")
        }
        guard let status = TotalStatus(rawValue: try text(data.status, "x_Status")) else {
            throw UsageDecodeError(.invalidAttribute, "data.x_Status", "must be provisional, final or retracted")
        }
        return UsageTotal(
            key: UsageKey(tenant: try text(data.tenant, "SubAccountId"), instance: try text(data.instance, "ResourceId"),
                          component: try text(data.component, "ServiceName"), metric: try text(data.metric, "x_Metric")),
            windowStart: start, windowEnd: end, quantity: quantity, unit: try text(data.unit, "ConsumedUnit"),
            eventCount: try int(data.count, "x_EventCount"), status: status,
            sourcePartition: try text(data.partition, "x_SourcePartition"), lastOffset: try int(data.lastOffset, "x_LastOffset"),
            provider: data.provider, revision: data.revision == nil ? 0 : try int(data.revision, "x_Revision"))
    }
}
