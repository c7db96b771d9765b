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
    private let descriptions: [String]
    /// Per rule, its verdict per component or source symbol: 0 not yet judged, 1 kept, 2 excluded.
    private var verdicts: [[UInt8]]

    /// Creates the filter; `.tag` is added when missing.
    public init(rules: [ScopeRule] = []) {
        self.rules = rules.contains(.tag) ? rules : [.tag] + rules
        descriptions = self.rules.map(\.description)
        verdicts = Array(repeating: [], count: self.rules.count)
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
        let slot = Int(symbol.rawValue)
        if slot < verdicts[index].count, verdicts[index][slot] != 0 { return verdicts[index][slot] == 2 }
        let name = symbols[symbol]
        let excluded: Bool
        switch rules[index] {
        case .tag: excluded = false
        case .component(let names): excluded = names.contains(name)
        case .sourcePrefix(let prefixes): excluded = prefixes.contains { name.hasPrefix($0) }
        }
        if verdicts[index].count <= slot {
            verdicts[index].append(contentsOf: repeatElement(0, count: slot + 1 - verdicts[index].count))
        }
        verdicts[index][slot] = excluded ? 2 : 1
        return excluded
    }
}
