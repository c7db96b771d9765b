import ArgumentParser
import Foundation
import ProcessSupport
import UsageService
import UsageStandard

struct ReplayCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "replay",
        abstract: "Re-account a closed time range from the retained event topics as a new revision of the totals.",
        discussion: """
            Reads every partition of the topology's event topics from the first record that can hold an event of the
            range, runs it through the topology's flow, and publishes the range's totals (one tenant's with --tenant) as
            a new revision: on the totals topic in one transaction (with x_Revision; keys that no longer have usage get
            a 'retracted' total) and in PostgreSQL (<table>_revisions keeps every revision; <table> shows the current
            one). Prints progress per partition to stderr and the changes against the current totals to stdout.
            Interrupted (Ctrl-C, a crash), the same command resumes: partitions already done are not read again.
            The diff compares with PostgreSQL's current totals, so run it when the PostgreSQL sink has caught up.
            """)

    @OptionGroup var connection: ConnectionOptions
    @OptionGroup var logging: LogOptions
    @OptionGroup var flow: FlowOptions

    @Option(help: "Start of the range (inclusive), RFC 3339, on a window boundary, e.g. 2026-11-01T00:00:00Z.")
    var from: String

    @Option(help: "End of the range (exclusive), RFC 3339, on a window boundary; its windows must have closed.")
    var to: String

    @Option(help: "Re-account only this tenant's totals.")
    var tenant: String?

    @Option(help: "Print at most this many changed totals (all are published).")
    var maxChanges = 200

    func run() async throws {
        guard let start = Timestamp.parse(from), let end = Timestamp.parse(to) else {
            throw CLIError("--from and --to must be RFC 3339 date-times with seconds, e.g. 2026-11-01T00:00:00Z")
        }
        let logger = logging.makeLogger(label: "ferris-usage.replay")
        let configuration = try flow.pipelineConfiguration(connection: connection, commitIntervalMs: 1000)
        let replay = Replay(configuration: configuration, request: Replay.Request(from: start, to: end, tenant: tenant),
                            logger: logger)
        let began = ContinuousClock.now
        let outcome = try await DedicatedThread.run(name: "replay") {
            try replay.run { progress in
                let what: String
                if progress.alreadyDone {
                    what = "done before the interruption"
                } else if progress.done {
                    what = "\(progress.records) records, \(progress.totals) totals in range"
                } else {
                    let left = progress.secondsLeft.map { String(format: ", about %.0f s left", $0.rounded(.up)) } ?? ""
                    what = "\(progress.records) of \(progress.recordsToRead) records, \(Int(progress.recordsPerSecond)) records/s\(left)"
                }
                FileHandle.standardError.write(Data("[\(progress.index)/\(progress.count)] \(progress.partition): \(what)\n".utf8))
            }
        }
        for change in outcome.changes.prefix(maxChanges) { print(change) }
        if outcome.changes.count > maxChanges { print("... and \(outcome.changes.count - maxChanges) more changes") }
        let retracted = outcome.changes.filter { $0.new.status == .retracted }.count
        print("revision \(outcome.revision)\(outcome.resumed ? " (resumed)" : "") published in \(ContinuousClock.now - began): \(outcome.unchanged) figures unchanged (not republished), \(outcome.changes.count - retracted) changed or new, \(retracted) retracted; \(outcome.totals) totals published")
    }
}
