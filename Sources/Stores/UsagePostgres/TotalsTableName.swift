/// The names of the PostgreSQL objects of one totals table (`usage_totals` unless the topology's `sinks.table` says
/// otherwise), and the one rule such a name must meet. Every statement of this module splices its names from here;
/// no other module names these objects.
///
/// - `<name>`: the view of current figures; `<name>_focus`: the same under FinOps FOCUS column names;
/// - `<name>_focus_costs`: the exported FOCUS rows with their costs;
/// - `<name>_revisions`: every revision of every part of every total;
/// - `<name>_replays`, `<name>_replay_staging`, `<name>_replay_partitions`: the re-accountings' bookkeeping.
public struct TotalsTableName: Hashable, Sendable, CustomStringConvertible {
    /// The longest name: PostgreSQL truncates identifiers at 63 bytes, and the longest derived name adds 23.
    public static let maximumLength = 40

    /// The name as configured: the view of current figures.
    public let view: String

    /// Checks `name` against the rule (at most 40 ASCII letters, digits and underscores, starting with a letter: a
    /// plain SQL identifier, since it is spliced into statements) and names its objects.
    public init(_ name: String) throws(TotalsStoreError) {
        guard name.allSatisfy({ $0.isASCII && ($0.isLetter || $0.isNumber || $0 == "_") }), name.first?.isLetter == true,
              name.count <= Self.maximumLength else {
            throw TotalsStoreError("invalid PostgreSQL table name '\(name)': use at most \(Self.maximumLength) ASCII letters, digits and underscores, starting with a letter")
        }
        view = name
    }

    public var description: String { view }

    /// The view of current figures under FinOps FOCUS column names.
    public var focusView: String { view + "_focus" }
    /// The rows of the current FOCUS export of every exported day, costs included (`FocusCostsTable`).
    public var focusCosts: String { view + "_focus_costs" }
    /// The table holding every revision of every part.
    public var revisions: String { view + "_revisions" }
    /// The re-accountings, one row per revision.
    public var replays: String { view + "_replays" }
    /// A replay's totals before it is compared and published.
    public var replayStaging: String { view + "_replay_staging" }
    /// The input partitions each replay has staged.
    public var replayPartitions: String { view + "_replay_partitions" }

    /// The partial index of the revisions table over re-accounted rows (revision > 0).
    var revisionsReplayedIndex: String { view + "_revisions_replayed" }
    /// The index of the staging table by revision.
    var replayStagingRevisionIndex: String { view + "_replay_staging_revision" }
    /// The primary key of the revisions table.
    var revisionsPrimaryKey: String { view + "_revisions_pkey" }
    /// The primary key and status check of `<name>` when it was itself the table (before revisions).
    var legacyPrimaryKey: String { view + "_pkey" }
    var legacyStatusCheck: String { view + "_status_check" }
}
