import Testing
import UsageStages
import UsageStandard

@Suite("Scope by the instance registry")
struct InstanceScopeFilterTests {
    func team(accounted: Bool) -> InstanceDescription {
        InstanceDescription(id: "team-gcp", tenant: "team", provider: "gcp", cluster: "c", namespaces: ["ferris-team"],
                            components: ["kafka"], links: [LinkedSystem(name: "dbx", component: "databricks-link", accounted: accounted)])
    }

    func registry(_ versions: [(Int64, Bool)]) -> InstanceRegistry {
        var registry = InstanceRegistry()
        for (index, (time, accounted)) in versions.enumerated() {
            let event = InstanceEvent(id: "v\(index)", source: "/w", time: Timestamp(milliseconds: time),
                                      change: index == 0 ? .created : .updated, instance: team(accounted: accounted))
            _ = registry.apply(.event(event), recordTime: Timestamp(milliseconds: time))
        }
        return registry
    }

    /// One partition's context (its symbol table) for every event of a test, as in a flow.
    final class Partition { var context = FlowContext() }
    let partition = Partition()

    func passes(_ filter: inout InstanceScopeFilter, instance: String = "team-gcp", component: String, at ms: Int64) -> Bool {
        let event = UsageEvent(id: "e", source: "/s", time: Timestamp(milliseconds: ms), tenant: "team", instance: instance,
                               component: component, metric: "m", quantity: Quantity(micros: 1), unit: "u")
        let input = partition.context.input(event, offset: 0)
        switch filter.process(input, context: &partition.context) {
        case .next: return true
        case .dropped(.outOfScope(let rule)): return rule == InstanceScopeFilter.rule ? false : true
        default: return true
        }
    }

    @Test("a link's component is dropped while the registration in effect at the event's time says it is not accounted")
    func byEventTime() {
        // Not accounted from 1,000 (and before: the first version applies), accounted from 5,000, not again from 9,000.
        let scopes = InstanceScopes(registry([(1_000, false), (5_000, true), (9_000, false)]), ready: true)
        var filter = InstanceScopeFilter(scopes: scopes)
        #expect(!passes(&filter, component: "databricks-link", at: 500))
        #expect(!passes(&filter, component: "databricks-link", at: 4_999))
        #expect(passes(&filter, component: "databricks-link", at: 5_000))
        #expect(!passes(&filter, component: "databricks-link", at: 9_500))
        #expect(passes(&filter, component: "kafka", at: 2_000), "the instance's own components are accounted")
        #expect(passes(&filter, instance: "unknown", component: "databricks-link", at: 2_000),
                "an instance the registry does not know is left to the topology's rules")
    }

    @Test("a registry update reaches flows that already judged events (the version is read per event)")
    func updatesReachTheFlow() {
        let scopes = InstanceScopes(registry([(1_000, true)]), ready: true)
        var filter = InstanceScopeFilter(scopes: scopes)
        #expect(passes(&filter, component: "databricks-link", at: 2_000))
        scopes.update(registry([(1_000, false)]))
        #expect(!passes(&filter, component: "databricks-link", at: 2_000))
    }

    @Test("scopes are not ready until a whole registry is known")
    func readiness() {
        let scopes = InstanceScopes()
        #expect(!scopes.isReady)
        scopes.update(InstanceRegistry())
        #expect(scopes.isReady && scopes.version == 1)
    }
}
