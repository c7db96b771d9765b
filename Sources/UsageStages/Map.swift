/// Transforms each input with a pure function, e.g. to enrich events (derive an attribute from `source`) or to
/// normalise names before keying.
public struct Map<Input, Output>: Stage {
    /// The transformation.
    public let transform: @Sendable (Input) -> Output

    /// Creates the stage.
    public init(_ transform: @escaping @Sendable (Input) -> Output) {
        self.transform = transform
    }

    /// Applies the transformation.
    @inlinable
    public mutating func process(_ input: Input, context: inout FlowContext) -> StageOutcome<Output> {
        .next(transform(input))
    }
}
