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

    /// The compaction key on the totals topic: `tenant/instance/component/metric/windowStart`, each part
    /// percent-encoded so that `/` inside a name cannot collide.
    public var recordKey: String {
        [key.tenant, key.instance, key.component, key.metric].map(Self.escape).joined(separator: "/")
            + "/" + windowStart.rfc3339
    }

    /// Whether this total replaces `other` (a total of the same key and window): a higher revision wins; within a
    /// revision, the one that counted up to a later offset (`lastOffset`), and final over provisional at the same
    /// offset. Totals are absolute and computed from the same partition in order, so this picks the most complete
    /// figure whatever order the records are read in, including a stale record that reaches the topic late.
    public func supersedes(_ other: UsageTotal) -> Bool {
        if revision != other.revision { return revision > other.revision }
        if lastOffset != other.lastOffset { return lastOffset > other.lastOffset }
        return status != .provisional || other.status == .provisional
    }

    /// A deterministic CloudEvent id: the same total computed twice gets the same id.
    public var eventID: String {
        "\(recordKey)@\(sourcePartition)#\(lastOffset)" + (revision > 0 ? "~r\(revision)" : "")
    }

    static func escape(_ part: String) -> String {
        var out = ""
        for scalar in part.unicodeScalars {
            switch scalar {
            case "%": out += "%25"
            case "/": out += "%2F"
            default: out.unicodeScalars.append(scalar)
            }
        }
        return out
    }
}

/// Encodes totals as structured-mode CloudEvents for the totals topic, and reads them back. The data uses
/// FinOps FOCUS column names; what FOCUS has no column for is `x_`-prefixed.
public enum UsageTotalCodec {
    /// The CloudEvent JSON for a total. `source` names the producing service, e.g. `/ferris-usage/<group>`.
    public static func encode(_ total: UsageTotal, source: String) -> [UInt8] {
        var json = JSONWriter()
        json.beginObject()
        json.field("specversion", UsageStandard.specVersion)
        json.field("id", total.eventID)
        json.field("source", source)
        json.field("type", UsageStandard.totalType)
        json.field("subject", total.recordKey)
        json.field("time", total.windowEnd.rfc3339)
        json.field("datacontenttype", "application/json")
        json.field("tenant", total.key.tenant)
        json.field("partitionkey", total.key.tenant)
        json.key("data")
        json.beginObject()
        json.field("ChargePeriodStart", total.windowStart.rfc3339)
        json.field("ChargePeriodEnd", total.windowEnd.rfc3339)
        json.field("ChargeCategory", "Usage")
        json.field("ConsumedQuantity", raw: total.quantity.description)
        json.field("ConsumedUnit", total.unit)
        json.field("SubAccountId", total.key.tenant)
        json.field("ResourceId", total.key.instance)
        json.field("ServiceName", total.key.component)
        if let provider = total.provider { json.field("HostProviderName", provider) }
        json.field("x_Metric", total.key.metric)
        json.field("x_EventCount", raw: String(total.eventCount))
        json.field("x_Status", total.status.rawValue)
        json.field("x_SourcePartition", total.sourcePartition)
        json.field("x_LastOffset", raw: String(total.lastOffset))
        if total.revision > 0 { json.field("x_Revision", raw: String(total.revision)) }
        json.endObject()
        json.endObject()
        return json.bytes
    }

    /// Reads a total back from its CloudEvent JSON.
    public static func decode(_ bytes: [UInt8]) -> Result<UsageTotal, UsageDecodeError> {
        bytes.withUnsafeBytes { buffer in
            do throws(UsageDecodeError) {
                var cursor = JSONCursor(buffer)
                var fields: [String: String] = [:]
                var numbers: [String: Range<Int>] = [:]
                try cursor.beginObject()
                var first = true
                while let key = try cursor.nextKey(first: &first) {
                    guard cursor.equals(key, "data") else { try cursor.skipValue(); continue }
                    try cursor.beginObject()
                    var firstField = true
                    while let field = try cursor.nextKey(first: &firstField) {
                        let name = cursor.string(field) ?? ""
                        switch try cursor.peekKind() {
                        case .string: fields[name] = cursor.string(try cursor.readString())
                        case .number: numbers[name] = try cursor.readNumber()
                        default: try cursor.skipValue()
                        }
                    }
                }
                func text(_ name: String) throws(UsageDecodeError) -> String {
                    guard let value = fields[name] else { throw UsageDecodeError(.missingAttribute, "data.\(name)", "is required") }
                    return value
                }
                func int(_ name: String) throws(UsageDecodeError) -> Int64 {
                    guard let span = numbers[name], let value = Int64(String(decoding: buffer[span], as: UTF8.self)) else {
                        throw UsageDecodeError(.invalidAttribute, "data.\(name)", "must be an integer")
                    }
                    return value
                }
                guard let span = numbers["ConsumedQuantity"],
                      case .success(let quantity) = Quantity.parse(UnsafeRawBufferPointer(rebasing: buffer[span])) else {
                    throw UsageDecodeError(.invalidQuantity, "data.ConsumedQuantity", "must be an exact number")
                }
                guard let start = Timestamp.parse(try text("ChargePeriodStart")), let end = Timestamp.parse(try text("ChargePeriodEnd")) else {
                    throw UsageDecodeError(.invalidTime, "data.ChargePeriodStart", "must be RFC 3339")
                }
                guard let status = TotalStatus(rawValue: try text("x_Status")) else {
                    throw UsageDecodeError(.invalidAttribute, "data.x_Status", "must be provisional, final or retracted")
                }
                return .success(UsageTotal(
                    key: UsageKey(tenant: try text("SubAccountId"), instance: try text("ResourceId"),
                                  component: try text("ServiceName"), metric: try text("x_Metric")),
                    windowStart: start, windowEnd: end, quantity: quantity, unit: try text("ConsumedUnit"),
                    eventCount: try int("x_EventCount"), status: status,
                    sourcePartition: try text("x_SourcePartition"), lastOffset: try int("x_LastOffset"),
                    provider: fields["HostProviderName"], revision: numbers["x_Revision"] == nil ? 0 : try int("x_Revision")))
            } catch {
                return .failure(error)
            }
        }
    }
}
