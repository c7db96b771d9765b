/// The current figures, computed from totals records as a billing consumer reads them (the rule the standard
/// states, and the one the PostgreSQL view `usage_totals` applies).
///
/// A figure (one tenant, instance, component, metric and window, i.e. one `subject`) is the sum of its **parts**, one
/// per input partition that counted events for it: normally one, several when a topic's partition count was raised
/// mid-window or events of one tenant were keyed differently. Per part the total that supersedes the others is kept
/// (`UsageTotal.supersedes`: offsets are only compared within a part). Per subject, the parts of the highest revision
/// any part has make the figure: their quantities and event counts summed, `final` once every one of them is final;
/// retracted parts count nothing, and a subject whose current parts are all retracted has no figure.
public struct CurrentTotals: Sendable {
    private var parts: [String: UsageTotal] = [:]

    /// An empty set of figures.
    public init() {}

    /// Takes one totals record into account (in any order).
    public mutating func add(_ total: UsageTotal) {
        let key = total.recordKey
        if let kept = parts[key], !total.supersedes(kept) { return }
        parts[key] = total
    }

    /// Forgets a part (a tombstone for its record key on the compacted topic).
    public mutating func remove(recordKey: String) { parts[recordKey] = nil }

    /// The current figure of every subject, in no particular order. A figure made of several parts names them all in
    /// `sourcePartition` (sorted, comma-separated) and carries the largest `lastOffset` of its parts. Throws when a
    /// sum of parts exceeds the largest quantity (`Quantity`), rather than dropping or clipping a figure.
    public func figures() throws(UsageDecodeError) -> [UsageTotal] {
        var bySubject: [String: [UsageTotal]] = [:]
        for part in parts.values { bySubject[part.subject, default: []].append(part) }
        var result: [UsageTotal] = []
        for group in bySubject.values {
            guard let revision = group.map(\.revision).max() else { continue }
            let current = group.filter { $0.revision == revision && $0.status != .retracted }
            // Parts in different units are never added up: each unit is a figure of its own (the registry fixes a
            // metric's unit, so this only happens to metrics outside it).
            for unitParts in Dictionary(grouping: current, by: \.unit).values {
                if let figure = try Self.sum(unitParts) { result.append(figure) }
            }
        }
        return result
    }

    /// The figure made of `parts` (same subject, revision and unit); nil when there are none.
    static func sum(_ parts: [UsageTotal]) throws(UsageDecodeError) -> UsageTotal? {
        let sorted = parts.sorted { $0.sourcePartition < $1.sourcePartition }
        guard var figure = sorted.first else { return nil }
        for part in sorted.dropFirst() {
            guard let quantity = figure.quantity.adding(part.quantity) else {
                throw UsageDecodeError(.totalOverflow, "ConsumedQuantity", "the parts of \(figure.subject) add up to more than the largest quantity")
            }
            figure.quantity = quantity
            figure.eventCount += part.eventCount
            figure.lastOffset = max(figure.lastOffset, part.lastOffset)
            if part.status != .final { figure.status = part.status }
            figure.provider = figure.provider ?? part.provider
            figure.sourcePartition += "," + part.sourcePartition
        }
        return figure
    }
}
