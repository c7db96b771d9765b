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
        case .component: return excludes(name: event.component)
        case .sourcePrefix: return excludes(name: event.source)
        }
    }

    /// Whether a name rule excludes the name it looks at (the component, or the source); false for `.tag`.
    @inlinable
    public func excludes(name: String) -> Bool {
        switch self {
        case .tag: return false
        case .component(let names): return names.contains(name)
        case .sourcePrefix(let prefixes): return prefixes.contains { name.hasPrefix($0) }
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
    private let descriptions: [String]
    /// Per rule, its verdict per component or source symbol (true: excluded).
    private var verdicts: [SymbolMemo<Bool>]

    /// Creates the filter; `.tag` is added when missing.
    public init(rules: [ScopeRule] = []) {
        self.rules = rules.contains(.tag) ? rules : [.tag] + rules
        descriptions = self.rules.map(\.description)
        verdicts = Array(repeating: SymbolMemo(), count: self.rules.count)
    }

    /// Passes accounted events, drops the others naming the rule.
    public mutating func process(_ input: OffsetEvent, context: inout FlowContext) -> StageOutcome<OffsetEvent> {
        for index in rules.indices where excludes(rule: index, input.event, context.symbols) {
            return .dropped(.outOfScope(rule: descriptions[index]))
        }
        return .next(input)
    }

    /// Whether rule `index` excludes `event`; name rules are judged once per name.
    private mutating func excludes(rule index: Int, _ event: InternedEvent, _ symbols: Symbols) -> Bool {
        let symbol: Symbol
        switch rules[index] {
        case .tag: return event.scope == .outOfScope
        case .component: symbol = event.component
        case .sourcePrefix: symbol = event.source
        }
        if let known = verdicts[index][symbol] { return known }
        let excluded = rules[index].excludes(name: symbols[symbol])
        verdicts[index][symbol] = excluded
        return excluded
    }
}
