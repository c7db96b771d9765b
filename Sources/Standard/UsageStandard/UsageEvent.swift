/// Names fixed by the Usage Tracking Standard (v1).
public enum UsageStandard {
    /// The CloudEvents `type` of a usage event.
    public static let eventType = "net.ferrislabs.usage.v1"
    /// The CloudEvents `type` of a usage total.
    public static let totalType = "net.ferrislabs.usage.total.v1"
    /// The CloudEvents spec version accepted.
    public static let specVersion = "1.0"
    /// The structured-mode content type.
    public static let structuredContentType = "application/cloudevents+json"
}

/// Whether an event counts towards billing.
public enum UsageScope: String, Sendable, Equatable {
    /// Counted (the default when the `scope` extension is absent).
    case billable = "in"
    /// Tagged out of scope, e.g. usage of a linked external system such as an Azure Databricks cluster.
    case outOfScope = "out"
}

/// One usage observation, as read from a CloudEvent.
public struct UsageEvent: Sendable, Equatable {
    /// CloudEvents `id`; with `source` it identifies the event uniquely.
    public var id: String
    /// CloudEvents `source`, e.g. `/ferris/acme-gcp/kafka`.
    public var source: String
    /// CloudEvents `type`.
    public var type: String
    /// CloudEvents `time`: when the usage happened (UTC).
    public var time: Timestamp
    /// The `tenant` extension: who is billed.
    public var tenant: String
    /// The `instance` extension: which ferrisDX instance.
    public var instance: String
    /// The `component` extension: which platform component (kafka, minio, jupyterhub, ...).
    public var component: String
    /// The measured metric, from `data.metric`.
    public var metric: String
    /// The amount, from `data.quantity`.
    public var quantity: Quantity
    /// The unit, from `data.unit`.
    public var unit: String
    /// The `scope` extension.
    public var scope: UsageScope
    /// The `corrects` extension: for a correction, the `source#id` of the event it corrects (it may then carry a
    /// negative quantity).
    public var corrects: String?
    /// The `provider` extension: where the instance runs (`gcp`, `azure`, `aws`, `onprem`, ...), if given.
    public var provider: String?
    /// CloudEvents `subject`, if given (e.g. the user, for distinct counts).
    public var subject: String?

    /// Creates an event.
    public init(id: String, source: String, type: String = UsageStandard.eventType, time: Timestamp,
                tenant: String, instance: String, component: String, metric: String,
                quantity: Quantity, unit: String, scope: UsageScope = .billable, corrects: String? = nil,
                provider: String? = nil, subject: String? = nil) {
        self.id = id
        self.source = source
        self.type = type
        self.time = time
        self.tenant = tenant
        self.instance = instance
        self.component = component
        self.metric = metric
        self.quantity = quantity
        self.unit = unit
        self.scope = scope
        self.corrects = corrects
        self.provider = provider
        self.subject = subject
    }

    /// The aggregation key of this event.
    public var key: UsageKey { UsageKey(tenant: tenant, instance: instance, component: component, metric: metric) }
}

/// What totals are keyed by: who, where, what and which metric.
public struct UsageKey: Hashable, Sendable, Comparable, CustomStringConvertible {
    /// The billed tenant.
    public var tenant: String
    /// The ferrisDX instance.
    public var instance: String
    /// The platform component.
    public var component: String
    /// The metric.
    public var metric: String

    /// Creates a key.
    public init(tenant: String, instance: String, component: String, metric: String) {
        self.tenant = tenant
        self.instance = instance
        self.component = component
        self.metric = metric
    }

    public static func < (lhs: UsageKey, rhs: UsageKey) -> Bool {
        (lhs.tenant, lhs.instance, lhs.component, lhs.metric) < (rhs.tenant, rhs.instance, rhs.component, rhs.metric)
    }

    public var description: String { "\(tenant)/\(instance)/\(component)/\(metric)" }
}
