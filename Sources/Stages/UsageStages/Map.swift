import UsageStandard

/// Transforms each input with a pure function, e.g. to enrich events (derive an attribute from `source`) or to
/// normalise names before keying.
public struct Map<Input, Output>: Stage {
    /// The transformation; it may read and add names in the flow's symbol table.
    public let transform: @Sendable (Input, inout Symbols) -> Output

    /// Creates the stage from a transformation that needs no names.
    public init(_ transform: @escaping @Sendable (Input) -> Output) {
        self.transform = { input, _ in transform(input) }
    }

    /// Creates the stage from a transformation that reads or adds names (events carry them as symbols).
    public init(_ transform: @escaping @Sendable (Input, inout Symbols) -> Output) {
        self.transform = transform
    }

    /// Applies the transformation.
    @inlinable
    public mutating func process(_ input: Input, context: inout FlowContext) -> StageOutcome<Output> {
        .next(transform(input, &context.symbols))
    }
}
