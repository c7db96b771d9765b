import UsageStandard

/// The fields a total is keyed by; fields left out are accounted together (shown as `*`).
public struct KeyFields: Sendable, Equatable, CustomStringConvertible {
    /// Whether the instance is part of the key.
    public var instance: Bool
    /// Whether the component is part of the key.
    public var component: Bool

    /// Tenant, instance, component and metric (the default).
    public static let standard = KeyFields(instance: true, component: true)

    /// Creates key fields; tenant and metric are always part of the key.
    public init(instance: Bool, component: Bool) {
        self.instance = instance
        self.component = component
    }

    public var description: String {
        (["tenant"] + (instance ? ["instance"] : []) + (component ? ["component"] : []) + ["metric"]).joined(separator: ", ")
    }
}

/// Keys each event for aggregation.
public struct KeyBy: Stage {
    /// The key fields.
    public let fields: KeyFields

    /// Creates the stage.
    public init(_ fields: KeyFields = .standard) {
        self.fields = fields
    }

    /// Attaches the key.
    @inlinable
    public mutating func process(_ input: OffsetEvent, context: inout FlowContext) -> StageOutcome<KeyedEvent> {
        let event = input.event
        let key = InternedKey(tenant: event.tenant, instance: fields.instance ? event.instance : .wildcard,
                              component: fields.component ? event.component : .wildcard, metric: event.metric)
        return .next(KeyedEvent(key: key, event: event, offset: input.offset))
    }
}
