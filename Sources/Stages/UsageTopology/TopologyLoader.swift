import Foundation
import UsageStages
import UsageStandard
import YAMLFiles
import Yams

/// One problem in a topology file, located by line and column.
public typealias TopologyProblem = FileProblem

/// A topology file that cannot be used, with every problem found in it.
public struct TopologyError: Error, Sendable, CustomStringConvertible {
    /// The problems, in file order.
    public var problems: [TopologyProblem]

    public var description: String { problems.map(\.description).joined(separator: "\n") }
}

extension Topology {
    /// Reads and checks a topology file.
    public static func load(path: String) throws(TopologyError) -> Topology {
        guard let data = FileManager.default.contents(atPath: path), let text = String(data: data, encoding: .utf8) else {
            throw TopologyError(problems: [TopologyProblem(file: path, line: 1, column: 1,
                                                          message: "cannot read the file (check the path and that it is UTF-8)")])
        }
        return try parse(yaml: text, file: path)
    }

    /// Parses and checks topology YAML; `file` names it in problems.
    public static func parse(yaml: String, file: String) throws(TopologyError) -> Topology {
        var reader = YAMLReader(file: file)
        guard let root = reader.compose(yaml, emptyMessage: "the file is empty; a topology needs at least a name") else {
            throw TopologyError(problems: reader.problems)
        }
        let topology = reader.topology(root)
        guard reader.problems.isEmpty, let topology else { throw TopologyError(problems: reader.problems) }
        return topology
    }
}

extension YAMLReader {
    mutating func topology(_ root: Node) -> Topology? {
        var topology = Topology()
        var sawName = false
        forEach(root, in: "the topology", keys: ["name", "description", "source", "scope", "key", "window", "deduplicate",
                                                   "aggregate", "sinks", "accept"]) { reader, key, value in
            switch key {
            case "name":
                if let name = reader.string(value, "name") {
                    sawName = true
                    if name.isEmpty || !name.allSatisfy({ $0.isLetter || $0.isNumber || $0 == "-" || $0 == "_" }) {
                        reader.problem(value, "name must be letters, digits, '-' or '_'")
                    }
                    topology.name = name
                }
            case "description":
                topology.summary = reader.string(value, "description") ?? ""
            case "source":
                reader.forEach(value, in: "source", keys: ["topics", "group"]) { reader, key, value in
                    guard let text = reader.string(value, "source.\(key)"), !text.isEmpty else {
                        reader.problem(value, "source.\(key) must not be empty")
                        return
                    }
                    if key == "topics" {
                        if (try? NSRegularExpression(pattern: text)) == nil {
                            reader.problem(value, "source.topics '\(text)' is not a valid regular expression")
                        }
                        topology.source.topics = text
                    } else {
                        topology.source.group = text
                    }
                }
            case "scope":
                topology.scope = reader.scopeRules(value)
            case "key":
                if let fields = reader.keyFields(value) { topology.key = fields }
            case "window":
                reader.forEach(value, in: "window", keys: ["size", "grace", "idle", "emit"]) { reader, key, value in
                    if key == "idle", value.scalar?.string == "off" {
                        topology.window.idleMilliseconds = nil
                        return
                    }
                    if key == "emit" {
                        switch value.scalar?.string {
                        case "provisional": topology.window.emitProvisional = true
                        case "final": topology.window.emitProvisional = false
                        default: reader.problem(value, "window.emit must be 'provisional' (running totals at each commit, then final) or 'final' (final totals only)")
                        }
                        return
                    }
                    guard let ms = reader.duration(value, "window.\(key)") else { return }
                    switch key {
                    case "size":
                        if ms <= 0 || 86_400_000 % ms != 0 {
                            reader.problem(value, "window.size must divide a day (e.g. 15m, 1h, 1d) so that windows align to UTC days")
                        }
                        topology.window.sizeMilliseconds = ms
                    case "grace": topology.window.graceMilliseconds = ms
                    default:
                        if ms <= 0 { reader.problem(value, "window.idle must be positive, or 'off'") }
                        topology.window.idleMilliseconds = ms
                    }
                }
            case "deduplicate":
                if let flag = value.bool { topology.deduplicate = flag } else { reader.problem(value, "deduplicate must be true or false") }
            case "aggregate":
                reader.forEach(value, in: "aggregate", keys: ["default", "metrics"]) { reader, key, value in
                    if key == "default" {
                        if let aggregation = reader.aggregation(value) { topology.aggregations.standard = aggregation }
                        return
                    }
                    reader.forEach(value, in: "aggregate.metrics", keys: nil) { reader, metric, value in
                        if MetricRegistry.v1[metric] == nil {
                            reader.problem(value, "aggregate.metrics: '\(metric)' is not in the metric registry")
                        }
                        if let aggregation = reader.aggregation(value) { topology.aggregations.perMetric[metric] = aggregation }
                    }
                }
            case "sinks":
                reader.forEach(value, in: "sinks", keys: ["totals", "table", "deadLetter"]) { reader, key, value in
                    guard let text = reader.string(value, "sinks.\(key)"), !text.isEmpty else {
                        reader.problem(value, "sinks.\(key) must not be empty")
                        return
                    }
                    switch key {
                    case "totals": topology.sinks.totalsTopic = text
                    case "deadLetter": topology.sinks.deadLetterTopic = text
                    default:
                        if !(text.first?.isLetter ?? false) || !text.allSatisfy({ $0.isLetter || $0.isNumber || $0 == "_" }) {
                            reader.problem(value, "sinks.table must be a PostgreSQL identifier: letters, digits, '_', starting with a letter")
                        }
                        topology.sinks.table = text
                    }
                }
            case "accept":
                reader.forEach(value, in: "accept", keys: ["maxAge", "maxSkew", "maxBytes"]) { reader, key, value in
                    switch key {
                    case "maxAge": if let ms = reader.duration(value, "accept.maxAge") { topology.policy.maxEventAgeMilliseconds = ms }
                    case "maxSkew": if let ms = reader.duration(value, "accept.maxSkew") { topology.policy.maxFutureSkewMilliseconds = ms }
                    default:
                        if let bytes = value.int, bytes > 0 { topology.policy.maxEventBytes = bytes } else {
                            reader.problem(value, "accept.maxBytes must be a positive integer")
                        }
                    }
                }
            default:
                break
            }
        }
        if !sawName { problem(root, "name is required") }
        return topology
    }

    mutating func duration(_ node: Node, _ name: String) -> Int64? {
        guard let text = string(node, name) else { return nil }
        guard let ms = DurationText.milliseconds(text) else {
            problem(node, "\(name) '\(text)' is not a duration like 500ms, 30s, 10m, 1h or 34d")
            return nil
        }
        return ms
    }

    mutating func aggregation(_ node: Node) -> Aggregation? {
        guard let text = string(node, "aggregation"), let aggregation = Aggregation(rawValue: text) else {
            problem(node, "unknown aggregation (expected one of: \(Aggregation.allCases.map(\.rawValue).joined(separator: ", ")))")
            return nil
        }
        return aggregation
    }

    mutating func strings(_ node: Node, _ name: String) -> [String] {
        if let scalar = node.scalar { return [scalar.string] }
        guard let sequence = node.sequence else {
            problem(node, "\(name) must be a value or a list of values")
            return []
        }
        return sequence.compactMap { string($0, name) }
    }

    mutating func scopeRules(_ node: Node) -> [ScopeRule] {
        guard let sequence = node.sequence else {
            problem(node, "scope must be a list of rules such as '- component: databricks-link'")
            return []
        }
        var rules: [ScopeRule] = []
        for item in sequence {
            forEach(item, in: "scope rule", keys: ["tag", "component", "sourcePrefix"]) { reader, key, value in
                switch key {
                case "tag":
                    if value.scalar?.string != "out" { reader.problem(value, "scope tag must be 'out' (events tagged scope: out)") }
                    rules.append(.tag)
                case "component":
                    let names = reader.strings(value, "scope component")
                    if names.isEmpty || names.contains(where: \.isEmpty) { reader.problem(value, "scope component needs non-empty names") }
                    rules.append(.component(names))
                default:
                    let prefixes = reader.strings(value, "scope sourcePrefix")
                    if prefixes.isEmpty || prefixes.contains(where: \.isEmpty) { reader.problem(value, "scope sourcePrefix needs non-empty prefixes") }
                    rules.append(.sourcePrefix(prefixes))
                }
            }
        }
        return rules
    }

    mutating func keyFields(_ node: Node) -> KeyFields? {
        let names = strings(node, "key")
        let known = ["tenant", "instance", "component", "metric"]
        for name in names where !known.contains(name) {
            problem(node, "key: unknown field '\(name)' (fields: \(known.joined(separator: ", ")))")
        }
        guard names.contains("tenant"), names.contains("metric") else {
            problem(node, "key must include tenant and metric (a total is always one tenant's one metric)")
            return nil
        }
        return KeyFields(instance: names.contains("instance"), component: names.contains("component"))
    }
}
