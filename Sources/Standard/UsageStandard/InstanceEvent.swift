extension UsageStandard {
    /// The CloudEvents `type` of an instance event (standard v1.1).
    public static let instanceEventType = "net.ferrislabs.instance.v1"
    /// The default compacted topic of instance events (key = instance id).
    public static let instanceTopic = "ferris.instances"
    /// The event topic of an instance.
    public static func eventTopic(instance: String) -> String { "ferris.events.\(instance)" }
}

/// What happened to an instance.
public enum InstanceChange: String, Sendable, CaseIterable {
    /// The instance was deployed.
    case created
    /// Its description changed (components, namespaces, links, ...).
    case updated
    /// It was decommissioned; its remaining usage still closes normally.
    case deleted
}

/// An external system linked to an instance, such as the team scenario's Azure Databricks cluster.
public struct LinkedSystem: Sendable, Hashable {
    /// The link's name, unique within the instance, e.g. `azure-databricks`.
    public var name: String
    /// The component the link's connector runs and reports as, e.g. `databricks-link`.
    public var component: String
    /// Where the external system runs (`azure`, ...), if known.
    public var provider: String?
    /// Whether its usage is billed to the tenant; `false` makes its component's usage out of scope.
    public var accounted: Bool

    /// Creates a link.
    public init(name: String, component: String, provider: String? = nil, accounted: Bool) {
        self.name = name
        self.component = component
        self.provider = provider
        self.accounted = accounted
    }
}

/// The usage view of one ferrisDX instance: who pays, where it runs, what it runs.
public struct InstanceDescription: Sendable, Equatable {
    /// The instance id: unique in a deployment; its usage goes to `ferris.events.<id>`.
    public var id: String
    /// The tenant billed for it.
    public var tenant: String
    /// Where it runs: `gcp`, `azure`, `aws`, `onprem`, `redhat`, `tsystems`, ...
    public var provider: String
    /// The Kubernetes cluster it is deployed to.
    public var cluster: String
    /// Its Kubernetes namespaces (at least one); their pods' resource usage is the instance's.
    public var namespaces: [String]
    /// Its platform components (`argocd`, `kafka`, `jupyterhub`, `theia-ide`, ...).
    public var components: [String]
    /// External systems it is linked to.
    public var links: [LinkedSystem]

    /// Creates a description.
    public init(id: String, tenant: String, provider: String, cluster: String, namespaces: [String],
                components: [String], links: [LinkedSystem] = []) {
        self.id = id
        self.tenant = tenant
        self.provider = provider
        self.cluster = cluster
        self.namespaces = namespaces
        self.components = components
        self.links = links
    }

    /// The components whose usage is out of scope: those of links that are not accounted.
    public var outOfScopeComponents: Set<String> { Set(links.filter { !$0.accounted }.map(\.component)) }

    /// The usage scope of `component` on this instance.
    public func scope(of component: String) -> UsageScope {
        outOfScopeComponents.contains(component) ? .outOfScope : .billable
    }
}

/// An instance event: a change of the instance registry, as a CloudEvent of type `net.ferrislabs.instance.v1` on the
/// compacted topic `ferris.instances` with the instance id as the record key.
public struct InstanceEvent: Sendable, Equatable {
    /// CloudEvents `id`.
    public var id: String
    /// CloudEvents `source`, e.g. `/ferris/wizard`.
    public var source: String
    /// CloudEvents `time`: when the change took effect.
    public var time: Timestamp
    /// What happened.
    public var change: InstanceChange
    /// The instance id (also the record key).
    public var instanceID: String
    /// The description: always present for `created` and `updated`; for `deleted`, the last one if the sender gave it.
    public var instance: InstanceDescription?

    /// Creates an event for a created or updated instance.
    public init(id: String, source: String, time: Timestamp, change: InstanceChange, instance: InstanceDescription) {
        self.id = id
        self.source = source
        self.time = time
        self.change = change
        self.instanceID = instance.id
        self.instance = instance
    }

    /// Creates a `deleted` event.
    public init(deleted instanceID: String, id: String, source: String, time: Timestamp, last: InstanceDescription? = nil) {
        self.id = id
        self.source = source
        self.time = time
        self.change = .deleted
        self.instanceID = instanceID
        self.instance = last
    }
}

/// A record of the instance topic, decoded.
public enum InstanceRecord: Sendable, Equatable {
    /// An instance event.
    case event(InstanceEvent)
    /// A tombstone (null value) for the key `instanceID`: compaction removes the key; read as a deletion.
    case tombstone(instanceID: String)

    /// The instance the record is about.
    public var instanceID: String {
        switch self {
        case .event(let event): event.instanceID
        case .tombstone(let id): id
        }
    }
}
