import Yams

/// Where a value stands in the file it was read from (1-based), so a problem found after parsing can still point at
/// it. Nil for a value built in code.
public struct FilePosition: Sendable, Hashable {
    /// 1-based line.
    public var line: Int
    /// 1-based column.
    public var column: Int

    /// Creates a location.
    public init(line: Int, column: Int) {
        self.line = line
        self.column = column
    }
}

/// One problem in a file, located by line and column.
public struct FileProblem: Sendable, Equatable, CustomStringConvertible {
    /// The file.
    public var file: String
    /// 1-based line.
    public var line: Int
    /// 1-based column.
    public var column: Int
    /// What is wrong and what is expected.
    public var message: String

    /// Creates a problem.
    public init(file: String, line: Int, column: Int, message: String) {
        self.file = file
        self.line = line
        self.column = column
        self.message = message
    }

    public var description: String { "\(file):\(line):\(column): \(message)" }
}

/// Walks a composed YAML (or JSON: YAML 1.2 reads it too, with its positions) document and collects located
/// problems (the topology, collector mapping, price book and budget loaders extend it): every problem is reported, not just the
/// first, and values are read from their scalar text, so numbers are never read as binary floating point.
public struct YAMLReader {
    /// The file, as problems name it.
    public let file: String
    /// The problems found so far, in the order found.
    public var problems: [FileProblem] = []

    /// A reader of `file`.
    public init(file: String) { self.file = file }

    public mutating func problem(_ node: Node?, _ message: String) {
        problems.append(FileProblem(file: file, line: node?.mark?.line ?? 1, column: node?.mark?.column ?? 1, message: message))
    }

    public mutating func problem(_ location: FilePosition?, _ message: String) {
        problems.append(FileProblem(file: file, line: location?.line ?? 1, column: location?.column ?? 1, message: message))
    }

    public func location(_ node: Node) -> FilePosition? {
        node.mark.map { FilePosition(line: $0.line, column: $0.column) }
    }

    /// The document's root node; nil (with a problem) for an empty or malformed document.
    public mutating func compose(_ text: String, emptyMessage: String) -> Node? {
        do {
            guard let node = try Yams.compose(yaml: text) else {
                problem(nil as Node?, emptyMessage)
                return nil
            }
            return node
        } catch let error as YamlError {
            switch error {
            case .scanner(_, let text, let mark, _), .parser(_, let text, let mark, _), .composer(_, let text, let mark, _):
                problems.append(FileProblem(file: file, line: mark.line, column: mark.column, message: "not valid YAML or JSON: \(text)"))
            default:
                problem(nil as Node?, "not valid YAML or JSON: \(error)")
            }
            return nil
        } catch {
            problem(nil as Node?, "not valid YAML or JSON: \(error)")
            return nil
        }
    }

    /// Calls `body` for each key of a mapping; reports a non-mapping, repeated keys, keys not in `keys` (any key when
    /// nil), and the `required` keys that are missing.
    public mutating func forEach(_ node: Node, in context: String, keys: [String]?, required: [String] = [],
                          _ body: (inout YAMLReader, String, Node) -> Void) {
        guard let mapping = node.mapping else {
            problem(node, "\(context) must be a mapping of keys to values")
            return
        }
        var seen: Set<String> = []
        for (keyNode, value) in mapping {
            guard let key = keyNode.scalar?.string else {
                problem(keyNode, "\(context): keys must be plain strings")
                continue
            }
            guard seen.insert(key).inserted else {
                problem(keyNode, "\(context): '\(key)' appears twice")
                continue
            }
            if let keys, !keys.contains(key) {
                problem(keyNode, "\(context): unknown key '\(key)' (expected one of: \(keys.joined(separator: ", ")))")
                continue
            }
            body(&self, key, value)
        }
        for key in required where !seen.contains(key) {
            problem(node, "\(context): \(key) is required")
        }
    }

    /// The items of a list; a problem for anything else.
    public mutating func sequence(_ node: Node, _ name: String) -> [Node] {
        guard let items = node.sequence else {
            problem(node, "\(name) must be a list")
            return []
        }
        return Array(items)
    }

    public mutating func string(_ node: Node, _ name: String) -> String? {
        guard let scalar = node.scalar else {
            problem(node, "\(name) must be a single value")
            return nil
        }
        return scalar.string
    }

    /// A non-empty string.
    public mutating func name(_ node: Node, _ name: String) -> String? {
        guard let text = string(node, name) else { return nil }
        if text.isEmpty { problem(node, "\(name) must not be empty") }
        return text
    }
}
