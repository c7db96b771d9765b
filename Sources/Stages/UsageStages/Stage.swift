import UsageStandard

/// What a stage did with one input.
public enum StageOutcome<Output> {
    /// Passed on to the next stage.
    case next(Output)
    /// Dropped on purpose: counted, never billed, not an error (out of scope, duplicate).
    case dropped(Drop)
    /// Refused: goes to the dead-letter topic with the reason.
    case rejected(UsageDecodeError)
}

/// Why an input was dropped on purpose.
public enum Drop: Sendable, Equatable {
    /// A scope rule (named) says the usage is not accounted.
    case outOfScope(rule: String)
    /// The same tenant sent the same `source` + `id` before (within the open windows).
    case duplicate
}

/// What every stage of one partition's flow shares: the partition's event-time watermark and the table of names
/// its events use.
public struct FlowContext: Sendable {
    /// The names of this flow's events, interned: stages carry symbols, emissions turn them back into Strings.
    public var symbols = Symbols()
    /// The largest event time of any valid event of the partition so far (its "stream time"), possibly advanced
    /// further by wall clock when the partition was idle.
    public var watermark: Timestamp?
    /// Set while records accounted before a restart are re-read to rebuild state: windows that close meanwhile are
    /// not emitted (they were emitted as final before the restart); windows still open are emitted once more.
    public var replaying: Bool

    /// Creates a context.
    public init(watermark: Timestamp? = nil, replaying: Bool = false) {
        self.watermark = watermark
        self.replaying = replaying
    }

    /// Raises the watermark to `time` if that is later.
    @inlinable
    public mutating func observe(_ time: Timestamp) {
        if time.milliseconds > (watermark?.milliseconds ?? .min) { watermark = time }
    }
}

/// One step of the accounting flow. Stages are values: each holds its own state, and every stage can be tested
/// on its own with plain inputs.
public protocol Stage<Input, Output> {
    /// What the stage consumes.
    associatedtype Input
    /// What it passes on.
    associatedtype Output

    /// Handles one input.
    mutating func process(_ input: Input, context: inout FlowContext) -> StageOutcome<Output>

    /// Told when the watermark moved without an input (idle advance), so that time-bound state can expire.
    mutating func watermarkAdvanced(context: FlowContext)
}

extension Stage {
    /// Stages without time-bound state ignore watermark moves.
    public mutating func watermarkAdvanced(context: FlowContext) {}
}

/// Two stages in sequence: the output of the first is the input of the second.
public struct Chain<First: Stage, Second: Stage>: Stage where First.Output == Second.Input {
    /// The earlier stage.
    public var first: First
    /// The later stage.
    public var second: Second

    /// Chains two stages.
    public init(_ first: First, _ second: Second) {
        self.first = first
        self.second = second
    }

    /// Runs `first`, then `second` on what it passes on.
    @inlinable
    public mutating func process(_ input: First.Input, context: inout FlowContext) -> StageOutcome<Second.Output> {
        switch first.process(input, context: &context) {
        case .next(let value): return second.process(value, context: &context)
        case .dropped(let drop): return .dropped(drop)
        case .rejected(let error): return .rejected(error)
        }
    }

    /// Tells both stages.
    public mutating func watermarkAdvanced(context: FlowContext) {
        first.watermarkAdvanced(context: context)
        second.watermarkAdvanced(context: context)
    }
}

/// A stage that aggregates: what the service needs of a partition's flow besides `process`. The last stage of
/// every accounting flow is one (`WindowAggregator`), and a chain ending in one is one too, so the service works with
/// any flow a topology composes without naming its shape.
public protocol EmittingStage<Input, Output>: Stage {
    /// Takes the totals to emit: final totals of windows closed since the last call and, when `provisional` is true
    /// (and the stage emits them), provisional totals of open windows that changed since they were last taken.
    mutating func takeEmissions(symbols: Symbols, provisional: Bool) -> [UsageTotal]

    /// The smallest offset of any input in an open window: re-reading from here rebuilds the stage's state. Nil when
    /// nothing is open.
    var rebuildFrom: Int64? { get }

    /// The number of open windows.
    var openWindowCount: Int { get }
}

extension Chain: EmittingStage where Second: EmittingStage {
    /// The later stage's emissions.
    public mutating func takeEmissions(symbols: Symbols, provisional: Bool) -> [UsageTotal] {
        second.takeEmissions(symbols: symbols, provisional: provisional)
    }

    /// The later stage's rebuild offset (earlier stages' state is bounded by the same windows).
    public var rebuildFrom: Int64? { second.rebuildFrom }

    /// The later stage's open windows.
    public var openWindowCount: Int { second.openWindowCount }
}

/// A stage a topology may leave out (`if` in a `Flow`): when absent, every input passes unchanged.
public struct OptionalStage<Wrapped: Stage>: Stage where Wrapped.Input == Wrapped.Output {
    /// The stage, or nil when left out.
    public var wrapped: Wrapped?

    /// Wraps a stage that may be absent.
    public init(_ wrapped: Wrapped?) { self.wrapped = wrapped }

    /// Runs the stage if present (in place: optional chaining does not copy its state), else passes the input on.
    @inlinable
    public mutating func process(_ input: Wrapped.Input, context: inout FlowContext) -> StageOutcome<Wrapped.Output> {
        wrapped?.process(input, context: &context) ?? .next(input)
    }

    /// Tells the stage if present.
    public mutating func watermarkAdvanced(context: FlowContext) { wrapped?.watermarkAdvanced(context: context) }
}

/// One of two stages with the same input and output, chosen when the flow is built (`if`/`else` in a `Flow`).
/// Exactly one of `first` and `second` is set; both are optionals (not an enum's payloads) so that the chosen stage is
/// mutated in place, without copying its state per input.
public struct EitherStage<First: Stage, Second: Stage>: Stage
    where First.Input == Second.Input, First.Output == Second.Output {
    @usableFromInline var chosenFirst: First?
    @usableFromInline var chosenSecond: Second?

    /// The `if` branch, when chosen.
    public var first: First? { chosenFirst }
    /// The `else` branch, when chosen.
    public var second: Second? { chosenSecond }

    /// Chooses the `if` branch.
    public init(first: First) { chosenFirst = first }

    /// Chooses the `else` branch.
    public init(second: Second) { chosenSecond = second }

    /// Runs the chosen stage.
    @inlinable
    public mutating func process(_ input: First.Input, context: inout FlowContext) -> StageOutcome<First.Output> {
        if let outcome = chosenFirst?.process(input, context: &context) { return outcome }
        if let outcome = chosenSecond?.process(input, context: &context) { return outcome }
        preconditionFailure("an EitherStage always holds one stage (its initialisers set one)")
    }

    /// Tells the chosen stage.
    public mutating func watermarkAdvanced(context: FlowContext) {
        chosenFirst?.watermarkAdvanced(context: context)
        chosenSecond?.watermarkAdvanced(context: context)
    }
}

extension EitherStage: EmittingStage where First: EmittingStage, Second: EmittingStage {
    /// The chosen stage's emissions.
    public mutating func takeEmissions(symbols: Symbols, provisional: Bool) -> [UsageTotal] {
        chosenFirst?.takeEmissions(symbols: symbols, provisional: provisional)
            ?? chosenSecond?.takeEmissions(symbols: symbols, provisional: provisional) ?? []
    }

    /// The chosen stage's rebuild offset.
    public var rebuildFrom: Int64? { first.map(\.rebuildFrom) ?? second?.rebuildFrom }

    /// The chosen stage's open windows.
    public var openWindowCount: Int { first?.openWindowCount ?? second?.openWindowCount ?? 0 }
}

/// Composes stages written one per line into a type-checked chain:
///
/// ```swift
/// let flow = Flow {
///     Decode<KafkaRecordHeaders>(policy: .init())
///     if deduplicate {
///         Deduplicate(windows: .hourly, graceMilliseconds: 3_600_000)
///     }
///     ScopeFilter(rules: [.tag])
///     KeyBy(.standard)
///     WindowAggregator(partition: "t:0", graceMilliseconds: 3_600_000)
/// }
/// ```
///
/// A stage whose input does not match the previous stage's output does not compile. `if` leaves a stage out
/// (`OptionalStage`), `if`/`else` chooses one of two (`EitherStage`); callers get an opaque `some EmittingStage`, so
/// no one names the chain's shape.
@resultBuilder
public enum FlowBuilder {
    /// The first stage.
    public static func buildPartialBlock<S: Stage>(first: S) -> S { first }

    /// Appends a stage.
    public static func buildPartialBlock<A: Stage, B: Stage>(accumulated: A, next: B) -> Chain<A, B>
        where A.Output == B.Input {
        Chain(accumulated, next)
    }

    /// A stage under `if`: present or passed through.
    public static func buildOptional<S: Stage>(_ stage: S?) -> OptionalStage<S> where S.Input == S.Output {
        OptionalStage(stage)
    }

    /// The `if` branch of an `if`/`else`.
    public static func buildEither<A: Stage, B: Stage>(first: A) -> EitherStage<A, B>
        where A.Input == B.Input, A.Output == B.Output {
        EitherStage(first: first)
    }

    /// The `else` branch of an `if`/`else`.
    public static func buildEither<A: Stage, B: Stage>(second: B) -> EitherStage<A, B>
        where A.Input == B.Input, A.Output == B.Output {
        EitherStage(second: second)
    }
}

/// Builds a flow from stages listed one per line (see `FlowBuilder`).
public func Flow<S: Stage>(@FlowBuilder _ stages: () -> S) -> S { stages() }
