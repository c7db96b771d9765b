import Foundation
import UsageStandard
import YAMLFiles
import Yams

/// One problem in a mapping file, located by line and column.
public typealias MappingProblem = FileProblem

/// A mapping file that cannot be used, with every problem found in it.
public struct MappingError: Error, Sendable, CustomStringConvertible {
    /// The problems, in file order.
    public var problems: [MappingProblem]

    public var description: String { problems.map(\.description).joined(separator: "\n") }
}

extension CollectorConfiguration {
    /// The built-in mapping (`collector/default.yaml`).
    public static var standard: CollectorConfiguration {
        // The built-in text is checked by the test suite; should it ever fail, no metric is better than a crash.
        (try? parse(yaml: DefaultMapping.yaml, file: "built-in default mapping")) ?? CollectorConfiguration()
    }

    /// The built-in mapping's text.
    public static var standardText: String { DefaultMapping.yaml }

    /// Reads and checks a mapping file.
    public static func load(path: String) throws(MappingError) -> CollectorConfiguration {
        guard let data = FileManager.default.contents(atPath: path), let text = String(data: data, encoding: .utf8) else {
            throw MappingError(problems: [MappingProblem(file: path, line: 1, column: 1,
                                                        message: "cannot read the file (check the path and that it is UTF-8)")])
        }
        return try parse(yaml: text, file: path)
    }

    /// Parses and checks mapping YAML; `file` names it in problems.
    public static func parse(yaml: String, file: String) throws(MappingError) -> CollectorConfiguration {
        var reader = YAMLReader(file: file)
        guard let root = reader.compose(yaml, emptyMessage: "the file is empty; a mapping needs at least its metrics") else {
            throw MappingError(problems: reader.problems)
        }
        let configuration = reader.mapping(root)
        guard reader.problems.isEmpty, let configuration else { throw MappingError(problems: reader.problems) }
        return configuration
    }
}

extension YAMLReader {
    mutating func mapping(_ root: Node) -> CollectorConfiguration? {
        var config = CollectorConfiguration()
        var sawMetrics = false
        forEach(root, in: "the mapping", keys: ["interval", "delay", "lookback", "stale", "backfill", "allocation", "labels",
                                                  "podLabels", "components", "metrics"]) { reader, key, value in
            switch key {
            case "interval":
                guard let ms = reader.duration(value, key) else { return }
                if ms < 1000 || ms % 1000 != 0 || 3_600_000 % ms != 0 {
                    reader.problem(value, "interval must be whole seconds that divide an hour (e.g. 60s, 5m), so intervals align to UTC hours")
                }
                config.intervalMilliseconds = ms
            case "delay": if let ms = reader.duration(value, key) { config.delayMilliseconds = ms }
            case "lookback": if let ms = reader.duration(value, key) { config.lookbackMilliseconds = ms }
            case "stale": if let ms = reader.duration(value, key) { config.staleMilliseconds = ms }
            case "backfill": if let ms = reader.duration(value, key) { config.backfillMilliseconds = ms }
            case "allocation":
                guard let text = value.scalar?.string, let policy = AllocationPolicy(rawValue: text) else {
                    reader.problem(value, "allocation must be one of: \(AllocationPolicy.allCases.map(\.rawValue).joined(separator: ", "))")
                    return
                }
                config.allocation = policy
            case "labels":
                reader.forEach(value, in: "labels", keys: ["namespace", "cluster"]) { reader, key, value in
                    let text = reader.string(value, "labels.\(key)") ?? ""
                    if key == "namespace" {
                        if text.isEmpty { reader.problem(value, "labels.namespace must name a label") }
                        config.namespaceLabel = text
                    } else {
                        config.clusterLabel = text.isEmpty ? nil : text
                    }
                }
            case "podLabels":
                let text = reader.string(value, "podLabels") ?? ""
                if !text.isEmpty { reader.selector(value, text, "podLabels") }
                config.podLabelsQuery = text.isEmpty ? nil : text
            case "components":
                config.components = reader.components(value)
            case "metrics":
                sawMetrics = true
                config.metrics = reader.metrics(value)
            default:
                break
            }
        }
        if !sawMetrics { problem(root, "metrics is required: one query per metric") }
        if config.lookbackMilliseconds < config.intervalMilliseconds {
            problem(root, "lookback must be at least the interval")
        }
        return config
    }

    mutating func components(_ node: Node) -> ComponentRules {
        var rules = ComponentRules()
        forEach(node, in: "components", keys: ["from", "names", "unmapped"]) { reader, key, value in
            switch key {
            case "from":
                rules.labels = value.sequence?.compactMap { reader.string($0, "components.from") } ?? []
                if rules.labels.isEmpty { reader.problem(value, "components.from must list at least one label") }
            case "names":
                guard let items = value.sequence else {
                    reader.problem(value, "components.names must be a list of {match, component}")
                    return
                }
                for item in items {
                    var pattern = ""
                    var component = ""
                    reader.forEach(item, in: "a components.names entry", keys: ["match", "component"]) { reader, key, value in
                        let text = reader.string(value, "components.names.\(key)") ?? ""
                        if key == "match" {
                            if (try? Regex(text)) == nil { reader.problem(value, "'\(text)' is not a valid regular expression") }
                            pattern = text
                        } else {
                            if !Identifier.isName(text) { reader.problem(value, "'\(text)' is not a component name (lower-case letters, digits and '-')") }
                            component = text
                        }
                    }
                    if pattern.isEmpty || component.isEmpty { reader.problem(item, "a components.names entry needs match and component") }
                    rules.names.append(NameRule(pattern: pattern, component: component))
                }
            default:
                let text = reader.string(value, "components.unmapped") ?? ""
                if text != "skip" && !Identifier.isName(text) {
                    reader.problem(value, "components.unmapped must be a component name, or 'skip' (such usage is then dropped and counted)")
                }
                rules.unmapped = text == "skip" ? nil : text
            }
        }
        return rules
    }

    mutating func metrics(_ node: Node) -> [MetricQuery] {
        guard let items = node.sequence, !items.isEmpty else {
            problem(node, "metrics must be a non-empty list of queries")
            return []
        }
        var queries: [MetricQuery] = []
        for item in items {
            var fields: [String: (String, Node)] = [:]
            forEach(item, in: "a metrics entry", keys: ["metric", "counter", "gauge", "unit", "requests", "requestUnit"]) { reader, key, value in
                if let text = reader.string(value, "metrics.\(key)") { fields[key] = (text, value) }
            }
            guard let (metric, metricNode) = fields["metric"] else {
                problem(item, "a metrics entry needs metric (a metric of the standard's registry)")
                continue
            }
            guard let registered = MetricRegistry.v1[metric] else {
                problem(metricNode, "'\(metric)' is not in the metric registry (\(MetricRegistry.v1.metrics.keys.sorted().joined(separator: ", ")))")
                continue
            }
            if queries.contains(where: { $0.metric == metric }) { problem(metricNode, "'\(metric)' has two queries") }
            let kind: SeriesKind
            let selector: (String, Node)
            switch (fields["counter"], fields["gauge"]) {
            case (let counter?, nil): kind = .counter; selector = counter
            case (nil, let gauge?): kind = .gauge; selector = gauge
            default:
                problem(item, "a metrics entry needs exactly one of counter or gauge (a series selector)")
                continue
            }
            self.selector(selector.1, selector.0, "metrics.\(kind.rawValue)")
            guard let (unitText, unitNode) = fields["unit"], let unit = SourceUnit(rawValue: unitText) else {
                problem(fields["unit"]?.1 ?? item, "unit must be one of: \(SourceUnit.allCases.map(\.rawValue).joined(separator: ", "))")
                continue
            }
            if UnitConversion.divisor(metricUnit: registered.unit, kind: kind, source: unit) == nil {
                problem(unitNode, "a \(kind.rawValue) of \(unit.rawValue) cannot give '\(metric)' in \(registered.unit) (\(UnitConversion.supported.joined(separator: "; ")))")
            }
            var query = MetricQuery(metric: metric, kind: kind, selector: selector.0, unit: unit)
            if let (requests, requestsNode) = fields["requests"] {
                self.selector(requestsNode, requests, "metrics.requests")
                let requestUnit = fields["requestUnit"].flatMap { SourceUnit(rawValue: $0.0) }
                if requestUnit == nil || UnitConversion.divisor(metricUnit: registered.unit, kind: .gauge, source: requestUnit ?? .count) == nil {
                    problem(fields["requestUnit"]?.1 ?? requestsNode,
                            "requestUnit must be the unit of the requests gauge and give \(registered.unit) (\(UnitConversion.supported.joined(separator: "; ")))")
                }
                query.requestSelector = requests
                query.requestUnit = requestUnit
            }
            queries.append(query)
        }
        return queries
    }

    /// A series selector: a metric name with optional matchers, or matchers alone.
    mutating func selector(_ node: Node, _ text: String, _ name: String) {
        if Selector(text) == nil {
            problem(node, "\(name) '\(text)' is not a series selector such as metric_name{label=\"value\"} (functions and operators are not allowed: samples are read raw)")
        }
    }

    mutating func duration(_ node: Node, _ name: String) -> Int64? {
        guard let text = string(node, name) else { return nil }
        let units: [(String, Int64)] = [("ms", 1), ("s", 1000), ("m", 60_000), ("h", 3_600_000), ("d", 86_400_000)]
        for (suffix, factor) in units where text.hasSuffix(suffix) {
            let number = text.dropLast(suffix.count)
            if suffix == "s", number.hasSuffix("m") { continue }
            if let value = Int64(number), value > 0, value <= 400 * 86_400_000 / factor { return value * factor }
        }
        problem(node, "\(name) '\(text)' is not a positive duration like 30s, 15m or 6h")
        return nil
    }
}
