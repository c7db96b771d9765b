/// The instance registry as a value: the live instances by id, which instance owns which Kubernetes namespace, and
/// every version read so far (so a decision about past usage can use the registry as it was then).
///
/// Built by applying the records of the instance topic in order. Pure: no I/O.
public struct InstanceRegistry: Sendable, Equatable {
    /// One version of an instance: its description from `time` on (nil: deleted from `time` on).
    public struct Version: Sendable, Equatable {
        /// When the version took effect (the event's `time`; a tombstone's record time).
        public var time: Timestamp
        /// The description, nil once deleted.
        public var instance: InstanceDescription?
    }

    /// What applying a record changed.
    public enum Change: Sendable, Equatable {
        /// A new instance (also an `updated` event for an id not seen before: compaction keeps only the latest record).
        case created(InstanceDescription)
        /// A live instance changed (also a repeated `created`).
        case updated(old: InstanceDescription, new: InstanceDescription)
        /// A live instance was deleted; its last description.
        case deleted(InstanceDescription)
        /// Nothing changed: the same description again, or the deletion of an instance that is not live.
        case unchanged
    }

    private struct NamespaceKey: Hashable, Sendable {
        var cluster: String
        var namespace: String
    }

    /// The live instances, by id.
    public private(set) var instances: [String: InstanceDescription] = [:]
    /// Every version applied, per instance id, in the order applied.
    public private(set) var versions: [String: [Version]] = [:]
    private var owners: [NamespaceKey: String] = [:]

    /// An empty registry.
    public init() {}

    /// Applies one record of the instance topic. `recordTime` (the Kafka record timestamp) dates a tombstone.
    /// A record that cannot be applied (a namespace another live instance owns) leaves the registry unchanged.
    public mutating func apply(_ record: InstanceRecord, recordTime: Timestamp) -> Result<Change, InstanceEventError> {
        switch record {
        case .tombstone(let id):
            return .success(delete(id, at: recordTime))
        case .event(let event):
            guard let description = event.instance, event.change != .deleted else {
                return .success(delete(event.instanceID, at: event.time))
            }
            for namespace in description.namespaces {
                let key = NamespaceKey(cluster: description.cluster, namespace: namespace)
                if let owner = owners[key], owner != description.id {
                    return .failure(InstanceEventError(.namespaceConflict, "data.kubernetes.namespaces",
                                                       "namespace '\(namespace)' on cluster '\(description.cluster)' belongs to the live instance '\(owner)'"))
                }
            }
            let old = instances[description.id]
            if let old {
                for namespace in old.namespaces { owners[NamespaceKey(cluster: old.cluster, namespace: namespace)] = nil }
            }
            for namespace in description.namespaces {
                owners[NamespaceKey(cluster: description.cluster, namespace: namespace)] = description.id
            }
            instances[description.id] = description
            versions[description.id, default: []].append(Version(time: event.time, instance: description))
            guard let old else { return .success(.created(description)) }
            return .success(old == description ? .unchanged : .updated(old: old, new: description))
        }
    }

    private mutating func delete(_ id: String, at time: Timestamp) -> Change {
        guard let old = instances.removeValue(forKey: id) else { return .unchanged }
        for namespace in old.namespaces { owners[NamespaceKey(cluster: old.cluster, namespace: namespace)] = nil }
        versions[id, default: []].append(Version(time: time, instance: nil))
        return .deleted(old)
    }

    /// The live instance `id`.
    public subscript(id: String) -> InstanceDescription? { instances[id] }

    /// The live instance that owns `namespace` on `cluster`.
    public func owner(cluster: String, namespace: String) -> InstanceDescription? {
        owners[NamespaceKey(cluster: cluster, namespace: namespace)].flatMap { instances[$0] }
    }

    /// The description of `id` in effect at `time`: the latest version dated at or before it (nil if that is a
    /// deletion). Before the first version known, the first version: the topic is compacted, so an instance's older
    /// versions may be gone, and its earliest surviving description is the best record of it.
    public func instance(_ id: String, at time: Timestamp) -> InstanceDescription? {
        guard let history = versions[id], let first = history.first else { return nil }
        var current: Version?
        for version in history where version.time <= time {
            if let existing = current, existing.time > version.time { continue }
            current = version
        }
        return (current ?? first).instance
    }

    /// The scope of usage of `component` on instance `id` at `time`, by the registry as it was then (a component of a
    /// link that is not accounted is out of scope); nil when the instance is not known (or deleted) at that time. The
    /// same answer live and in a replay, as long as the registry's versions are kept (35 days on the topic).
    public func scope(instance id: String, component: String, at time: Timestamp) -> UsageScope? {
        instance(id, at: time)?.scope(of: component)
    }

    /// When `id` was first seen (its earliest version's time).
    public func firstSeen(_ id: String) -> Timestamp? { versions[id]?.map(\.time).min() }

    /// When `id` was deleted, if it is not live and was deleted.
    public func deletionTime(_ id: String) -> Timestamp? {
        guard instances[id] == nil, let last = versions[id]?.last, last.instance == nil else { return nil }
        return last.time
    }

    /// The ids of instances deleted (not live), with the time of their deletion.
    public var deleted: [String: Timestamp] {
        var result: [String: Timestamp] = [:]
        for id in versions.keys { if let time = deletionTime(id) { result[id] = time } }
        return result
    }
}
