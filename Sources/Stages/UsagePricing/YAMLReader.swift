import Yams

/// One problem in a price book file, located by line and column.
public struct PriceBookProblem: Sendable, Equatable, CustomStringConvertible {
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

/// A price book file that cannot be used, with every problem found in it.
public struct PriceBookError: Error, Sendable, CustomStringConvertible {
    /// The problems, in file order.
    public var problems: [PriceBookProblem]

    /// Creates the error.
    public init(problems: [PriceBookProblem]) { self.problems = problems }

    public var description: String { problems.map(\.description).joined(separator: "\n") }
}

/// Walks a composed YAML (or JSON: YAML 1.2 reads it too, with its positions) document and collects located
/// problems, in the style of the topology and collector mapping loaders: every problem is reported, not just the
/// first, and values are read from their scalar text, so numbers are never read as binary floating point.
struct YAMLReader {
    let file: String
    var problems: [PriceBookProblem] = []

    init(file: String) { self.file = file }

    mutating func problem(_ node: Node?, _ message: String) {
        problems.append(PriceBookProblem(file: file, line: node?.mark?.line ?? 1, column: node?.mark?.column ?? 1, message: message))
    }

    mutating func problem(_ location: FilePosition?, _ message: String) {
        problems.append(PriceBookProblem(file: file, line: location?.line ?? 1, column: location?.column ?? 1, message: message))
    }

    func location(_ node: Node) -> FilePosition? {
        node.mark.map { FilePosition(line: $0.line, column: $0.column) }
    }

    /// The document's root node; nil (with a problem) for an empty or malformed document.
    mutating func compose(_ text: String, emptyMessage: String) -> Node? {
        do {
            guard let node = try Yams.compose(yaml: text) else {
                problem(nil as Node?, emptyMessage)
                return nil
            }
            return node
        } catch let error as YamlError {
            switch error {
            case .scanner(_, let text, let mark, _), .parser(_, let text, let mark, _), .composer(_, let text, let mark, _):
                problems.append(PriceBookProblem(file: file, line: mark.line, column: mark.column, message: "not valid YAML or JSON: \(text)"))
            default:
                problem(nil as Node?, "not valid YAML or JSON: \(error)")
            }
            return nil
        } catch {
            problem(nil as Node?, "not valid YAML or JSON: \(error)")
            return nil
        }
    }

    /// Calls `body` for each key of a mapping; reports a non-mapping, repeated keys, keys not in `keys`, and the
    /// `required` keys that are missing.
    mutating func forEach(_ node: Node, in context: String, keys: [String], required: [String] = [],
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
            guard keys.contains(key) else {
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
    mutating func sequence(_ node: Node, _ name: String) -> [Node] {
        guard let items = node.sequence else {
            problem(node, "\(name) must be a list")
            return []
        }
        return Array(items)
    }

    mutating func string(_ node: Node, _ name: String) -> String? {
        guard let scalar = node.scalar else {
            problem(node, "\(name) must be a single value")
            return nil
        }
        return scalar.string
    }

    /// A non-empty string.
    mutating func name(_ node: Node, _ name: String) -> String? {
        guard let text = string(node, name) else { return nil }
        if text.isEmpty { problem(node, "\(name) must not be empty") }
        return text
    }

    /// An exact decimal, read from the scalar's text (`0.0000123`, `"12.5"`, `0`).
    mutating func decimal(_ node: Node, _ name: String) -> ExactDecimal? {
        guard let text = string(node, name) else { return nil }
        guard let value = ExactDecimal.parse(text) else {
            problem(node, "\(name) '\(text)' is not a plain decimal number such as 12, 0.5 or 0.0000123 (no exponent, at most \(ExactDecimal.maximumScale) decimals)")
            return nil
        }
        return value
    }
}
