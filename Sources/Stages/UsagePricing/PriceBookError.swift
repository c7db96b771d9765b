import YAMLFiles
import Yams

/// One problem in a price book file, located by line and column.
public typealias PriceBookProblem = FileProblem

/// A price book file that cannot be used, with every problem found in it.
public struct PriceBookError: Error, Sendable, CustomStringConvertible {
    /// The problems, in file order.
    public var problems: [PriceBookProblem]

    /// Creates the error.
    public init(problems: [PriceBookProblem]) { self.problems = problems }

    public var description: String { problems.map(\.description).joined(separator: "\n") }
}

extension YAMLReader {
    /// An exact decimal, read from the scalar's text (`0.0000123`, `"12.5"`, `0`).
    public mutating func decimal(_ node: Node, _ name: String) -> ExactDecimal? {
        guard let text = string(node, name) else { return nil }
        guard let value = ExactDecimal.parse(text) else {
            problem(node, "\(name) '\(text)' is not a plain decimal number such as 12, 0.5 or 0.0000123 (no exponent, at most \(ExactDecimal.maximumScale) decimals)")
            return nil
        }
        return value
    }
}
