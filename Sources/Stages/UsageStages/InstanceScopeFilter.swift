import Synchronization
import UsageStandard

/// The instance registry as the flows see it: replaced whole whenever the registry changes (by the service's registry
/// follower), read by every partition's flow. A flow reads `version` per event (an atomic load, no lock) and takes the
/// registry itself (under a lock) only when the version moved.
public final class InstanceScopes: Sendable {
    private let registry: Mutex<InstanceRegistry>
    private let changes = Atomic<Int>(0)
    private let caughtUp = Atomic<Bool>(false)

    /// Scopes from `registry`; `ready` when it is complete (a replay's registry read to its end), else `update` must
    /// be called with a registry read to its end before `isReady`.
    public init(_ registry: InstanceRegistry = InstanceRegistry(), ready: Bool = false) {
        self.registry = Mutex(registry)
        caughtUp.store(ready, ordering: .releasing)
    }

    /// Replaces the registry (a complete one: read to the end of the topic) and makes the scopes ready.
    public func update(_ new: InstanceRegistry) {
        registry.withLock { $0 = new }
        changes.add(1, ordering: .releasing)
        caughtUp.store(true, ordering: .releasing)
    }

    /// Whether a complete registry is known: until then events must not be judged.
    public var isReady: Bool { caughtUp.load(ordering: .acquiring) }

    /// Grows with every `update`.
    public var version: Int { changes.load(ordering: .acquiring) }

    /// The current registry.
    public var current: InstanceRegistry { registry.withLock { $0 } }
}

/// Drops the usage the instance registry says is not accounted: a component of a link the instance's registration
/// marks `accounted: false` (the team scenario's Azure Databricks link), judged by the registry as it was at the
/// event's time, so that a replay decides the same way. Events of instances the registry does not know are left to
/// the topology's own rules.
///
/// Per event it reads the registry's version (no lock) and a per-component flag (an array index): only components
/// that some registration ever excludes are looked up further, in a timeline per instance and component.
public struct InstanceScopeFilter: Stage {
    /// The rule name events dropped here are counted under.
    public static let rule = "instance registry: linked system not accounted"

    private let scopes: InstanceScopes
    private var seenVersion = -1
    private var registry = InstanceRegistry()
    /// Component names that some version of some instance excludes.
    private var excludable: Set<String> = []
    /// Per component symbol: whether it is in `excludable`.
    private var mayExclude = SymbolMemo<Bool>()
    /// Per instance and component symbols: from which event times on the component is excluded (true) or not.
    private var timelines: [UInt64: [(from: Int64, excluded: Bool)]] = [:]

    /// Creates the filter over `scopes`.
    public init(scopes: InstanceScopes) {
        self.scopes = scopes
    }

    /// Passes accounted events, drops those of links that are not accounted.
    public mutating func process(_ input: OffsetEvent, context: inout FlowContext) -> StageOutcome<OffsetEvent> {
        let version = scopes.version
        if version != seenVersion { reload(version) }
        let event = input.event
        if let known = mayExclude[event.component], !known { return .next(input) }
        let symbols = context.symbols
        if mayExclude[event.component] == nil {
            let excludable = excludable.contains(symbols[event.component])
            mayExclude[event.component] = excludable
            if !excludable { return .next(input) }
        }
        let key = UInt64(event.instance.rawValue) << 32 | UInt64(event.component.rawValue)
        let timeline = timelines[key] ?? timeline(instance: symbols[event.instance], component: symbols[event.component])
        timelines[key] = timeline
        let time = event.time.milliseconds
        // Before the first known version, the first applies (`InstanceRegistry.instance(_:at:)`).
        var excluded = timeline.first?.excluded ?? false
        for entry in timeline where entry.from <= time { excluded = entry.excluded }
        return excluded ? .dropped(.outOfScope(rule: Self.rule)) : .next(input)
    }

    private mutating func reload(_ version: Int) {
        registry = scopes.current
        seenVersion = version
        excludable = []
        for history in registry.versions.values {
            for entry in history { excludable.formUnion(entry.instance?.outOfScopeComponents ?? []) }
        }
        mayExclude = SymbolMemo()
        timelines = [:]
    }

    /// When `component` of `instance` is excluded, version by version in time order (ties: the later record wins).
    private func timeline(instance: String, component: String) -> [(from: Int64, excluded: Bool)] {
        guard let history = registry.versions[instance] else { return [] }
        let ordered = history.enumerated().sorted { ($0.element.time.milliseconds, $0.offset) < ($1.element.time.milliseconds, $1.offset) }
        return ordered.map { (from: $0.element.time.milliseconds, excluded: $0.element.instance?.scope(of: component) == .outOfScope) }
    }
}
