import UsageStandard

/// A rule that marks usage as not accounted.
public enum ScopeRule: Sendable, Equatable, CustomStringConvertible {
    /// The event is tagged `scope: out` (always applies; the standard's own rule).
    case tag
    /// The event comes from one of these components.
    case component([String])
    /// The event's `source` starts with one of these prefixes.
    case sourcePrefix([String])

    /// Whether the rule excludes `event`.
    @inlinable
    public func excludes(_ event: UsageEvent) -> Bool {
        switch self {
        case .tag: return event.scope == .outOfScope
        case .component(let names): return names.contains(event.component)
        case .sourcePrefix(let prefixes): return prefixes.contains { event.source.hasPrefix($0) }
        }
    }

    public var description: String {
        switch self {
        case .tag: return "scope=out"
        case .component(let names): return "component in [\(names.joined(separator: ", "))]"
        case .sourcePrefix(let prefixes): return "source starts with [\(prefixes.joined(separator: ", "))]"
        }
    }
}

/// Drops usage that scope rules exclude (counted, never billed).
public struct ScopeFilter: Stage {
    /// The rules; the `tag` rule always applies.
    public let rules: [ScopeRule]

    /// Creates the filter; `.tag` is added when missing.
    public init(rules: [ScopeRule] = []) {
        self.rules = rules.contains(.tag) ? rules : [.tag] + rules
    }

    /// Passes accounted events, drops the others naming the rule.
    public mutating func process(_ input: OffsetEvent, context: inout FlowContext) -> StageOutcome<OffsetEvent> {
        for rule in rules where rule.excludes(input.event) { return .dropped(.outOfScope(rule: rule.description)) }
        return .next(input)
    }
}
