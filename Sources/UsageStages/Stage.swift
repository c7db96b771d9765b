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
    /// Set while records accounted before a restart are re-read to rebuild state: they change state but mark
    /// nothing for emission.
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

/// Composes stages written one per line into a type-checked chain:
///
/// ```swift
/// let flow = Flow {
///     Decode<KafkaRecordHeaders>(policy: .init())
///     Deduplicate(windows: .hourly, graceMilliseconds: 3_600_000)
///     ScopeFilter(rules: [.tag])
///     KeyBy(.standard)
///     WindowAggregator(partition: "t:0", graceMilliseconds: 3_600_000)
/// }
/// ```
///
/// A stage whose input does not match the previous stage's output does not compile.
@resultBuilder
public enum FlowBuilder {
    /// The first stage.
    public static func buildPartialBlock<S: Stage>(first: S) -> S { first }

    /// Appends a stage.
    public static func buildPartialBlock<A: Stage, B: Stage>(accumulated: A, next: B) -> Chain<A, B>
        where A.Output == B.Input {
        Chain(accumulated, next)
    }
}

/// Builds a flow from stages listed one per line (see `FlowBuilder`).
public func Flow<S: Stage>(@FlowBuilder _ stages: () -> S) -> S { stages() }
