/// What a price applies to: a metric of a component (or of every component, `*`), optionally narrowed to one
/// provider and one instance.
///
/// Several SKUs may match one total (a price for every component's storage, another for MinIO's on GCP): the
/// **most specific** wins, by instance first, then provider, then component (`specificity`). Two SKUs of equal
/// specificity that both match a total name the same fields with the same values, so they are the same SKU, which
/// the price book check refuses within overlapping versions; the choice is therefore always unique.
public struct Sku: Sendable, Hashable, Comparable, CustomStringConvertible {
    /// The component (`ServiceName`), or `*` for every component.
    public var component: String
    /// The metric (`x_Metric`), one of the registry's.
    public var metric: String
    /// Narrows the SKU to totals of this provider (`HostProviderName`).
    public var provider: String?
    /// Narrows the SKU to totals of this instance (`ResourceId`).
    public var instance: String?

    /// The component wildcard.
    public static let anyComponent = "*"

    /// Creates a SKU.
    public init(component: String, metric: String, provider: String? = nil, instance: String? = nil) {
        self.component = component
        self.metric = metric
        self.provider = provider
        self.instance = instance
    }

    /// The stable SKU id (FOCUS `SkuId`): `component/metric`, then `/provider=<provider>` and `/instance=<instance>`
    /// when narrowed, e.g. `kafka/cpu_core_seconds/provider=gcp`, `*/storage_gib_hours`. The names allowed in each
    /// part contain no `/` or `=`, so the id is unambiguous.
    public var id: String {
        var text = "\(component)/\(metric)"
        if let provider { text += "/provider=\(provider)" }
        if let instance { text += "/instance=\(instance)" }
        return text
    }

    public var description: String { id }

    /// How specific the SKU is: instance 4, provider 2, a named component 1, added up. A higher value wins.
    public var specificity: Int {
        (instance == nil ? 0 : 4) + (provider == nil ? 0 : 2) + (component == Self.anyComponent ? 0 : 1)
    }

    /// Whether the SKU applies to a total of `component`'s `metric` on `instance`, run by `provider`. A total whose
    /// provider is unknown matches only SKUs that are not narrowed to a provider.
    public func matches(component: String, metric: String, provider: String?, instance: String) -> Bool {
        guard metric == self.metric else { return false }
        if self.component != Self.anyComponent, self.component != component { return false }
        if let wanted = self.provider, wanted != provider { return false }
        if let wanted = self.instance, wanted != instance { return false }
        return true
    }

    public static func < (lhs: Sku, rhs: Sku) -> Bool { lhs.id < rhs.id }
}
