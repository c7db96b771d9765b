import ArgumentParser
import Foundation
import Logging
import PostgreSQL
import ProcessSupport
import UsagePriceBooks
import UsagePostgres
import UsagePricing
import UsageStandard

/// `ferris-usage prices`: check and show price book files, publish a book on the prices topic and show the books
/// there (standard, section 14).
struct PricesCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "prices", abstract: "Check, show or publish price books.", subcommands: [Check.self, Show.self, Publish.self])

    /// Reads and checks one file; its problems when it cannot be used.
    static func load(_ path: String) -> Result<PriceBook, PriceBookError> {
        guard let data = FileManager.default.contents(atPath: path), let text = String(data: data, encoding: .utf8) else {
            return .failure(PriceBookError(problems: [PriceBookProblem(
                file: path, line: 1, column: 1, message: "cannot read the file (check the path and that it is UTF-8)")]))
        }
        do {
            return .success(try PriceBook.parse(text, file: path))
        } catch {
            return .failure(error)
        }
    }

    /// Reads and checks one file, or prints its problems (`FILE:LINE:COLUMN: problem`) and exits 1.
    static func loadOrExit(_ path: String) throws -> PriceBook {
        switch load(path) {
        case .success(let book): return book
        case .failure(let error):
            for problem in error.problems { print(problem) }
            throw ExitCode(1)
        }
    }

    struct Check: ParsableCommand, EnvironmentDefaults {
        static let configuration = CommandConfiguration(
            abstract: "Check price book files (YAML or JSON); print 'FILE:LINE:COLUMN: problem' for each problem and exit 1 if any.",
            discussion: """
                With --database-url (or FERRIS_DATABASE_URL), the books (together: each tenant with its book) also rate
                the live totals of --month and every total no price covers is listed, grouped by tenant, instance,
                component, metric, provider and unit, with its hours and the reason; exit status 1 when there is one.
                """)

        @Argument(help: "Price book files.") var files: [String]

        @Option(help: "PostgreSQL URL of the service's database: also list the live totals these books leave unpriced (env FERRIS_DATABASE_URL).")
        var databaseURL: String?

        @Option(help: "The view of current totals (the topology's sinks.table). Default: usage_totals.")
        var table: String?

        @Option(help: "The UTC month of live totals to rate, YYYY-MM. Default: the current month.")
        var month: String?

        static let environmentDefaults: [EnvironmentDefault<Self>] = [.string("FERRIS_DATABASE_URL", \.databaseURL)]

        func run() throws {
            var failed = false
            var books: [PriceBook] = []
            for file in files {
                switch PricesCommand.load(file) {
                case .success(let book): books.append(book)
                case .failure(let error):
                    failed = true
                    for problem in error.problems { print(problem) }
                }
            }
            if failed { throw ExitCode(1) }
            guard let databaseURL else { return }
            let period = try billingPeriod()
            let set: PriceBookSet
            do {
                set = try PriceBookSet(books)
            } catch {
                throw CLIError(error.message)
            }
            let unpriced = try UnpricedTotals.read(books: set, databaseURL: databaseURL, table: table ?? "usage_totals", period: period)
            print(unpriced.report(period: period))
            if !unpriced.groups.isEmpty { throw ExitCode(1) }
        }

        private func billingPeriod() throws -> BillingPeriod {
            guard let month else { return BillingPeriod(containing: Timestamp(milliseconds: WallClock.milliseconds())) }
            let parts = month.split(separator: "-")
            guard parts.count == 2, parts[0].count == 4, parts[1].count == 2, let year = Int64(parts[0]), let number = Int64(parts[1]),
                  let period = BillingPeriod(year: year, month: number) else {
                throw CLIError("--month '\(month)' is not a month YYYY-MM")
            }
            return period
        }
    }

    struct Show: ParsableCommand, EnvironmentDefaults {
        static let configuration = CommandConfiguration(
            abstract: "Print a price book's resolved price table: of a file, or of every book on the prices topic (with its revisions there).")

        @OptionGroup var connection: ConnectionOptions
        @OptionGroup var logging: LogOptions

        @Argument(help: "A price book file; without it, the books on the prices topic are shown.") var file: String?

        @Option(help: "The compacted price book topic (env FERRIS_PRICE_TOPIC). Default: \(PriceBookTopic.defaultTopic).")
        var priceTopic: String?

        static let environmentDefaults: [EnvironmentDefault<Self>] = [.string("FERRIS_PRICE_TOPIC", \.priceTopic)]

        func run() throws {
            if let file {
                print(try PricesCommand.loadOrExit(file).table())
                return
            }
            let logger = logging.makeLogger(label: "ferris-usage.prices")
            let topic = priceTopic ?? PriceBookTopic.defaultTopic
            let contents = try PriceBookTopic.read(kafka: try connection.kafkaConfiguration(brokers: try connection.requiredBrokers()),
                                                   topic: topic, logger: logger)
            var sections: [String] = []
            for (id, history) in contents.history.books.sorted(by: { $0.key < $1.key }) {
                var lines: [String] = []
                if let current = history.current {
                    lines.append(current.table())
                } else {
                    lines.append("price book \(id): withdrawn (a tombstone follows revision \(history.latest?.book.revision ?? 0))")
                }
                lines.append("")
                lines.append("revisions on \(topic):")
                for revision in history.revisions {
                    lines.append("  revision \(revision.book.revision): offset \(revision.offset), published \(revision.event.time) by \(revision.event.source)")
                }
                sections.append(lines.joined(separator: "\n"))
            }
            if sections.isEmpty { sections.append("no price book on \(topic)") }
            if !contents.skipped.isEmpty {
                sections.append("\(contents.skipped.count) record(s) of \(topic) skipped (each is logged):\n"
                                + contents.skipped.map { "  \($0)" }.joined(separator: "\n"))
            }
            print(sections.joined(separator: "\n\n"))
        }
    }

    struct Publish: ParsableCommand, EnvironmentDefaults {
        static let configuration = CommandConfiguration(
            abstract: "Check a price book file and publish it as a new revision on the prices topic (created when missing).",
            discussion: """
                The book must be valid (as `prices check` says), its revision higher than the highest on the topic, and \
                it must keep the past: every version in effect before now is kept with its prices, contracts and range up \
                to now, and no version starts before now that was not there, unless named with --correct (a deliberate \
                correction of past prices; re-rating yields correction charges). Publishing the same revision again \
                sends nothing.
                """)

        @OptionGroup var connection: ConnectionOptions
        @OptionGroup var logging: LogOptions

        @Argument(help: "The price book file (YAML or JSON).") var file: String

        @Option(name: .customLong("correct"), help: ArgumentHelp(
            "A version whose past this revision corrects (repeatable).", valueName: "version-id"))
        var corrections: [String] = []

        @Option(help: "The compacted price book topic (env FERRIS_PRICE_TOPIC). Default: \(PriceBookTopic.defaultTopic).")
        var priceTopic: String?

        static let environmentDefaults: [EnvironmentDefault<Self>] = [.string("FERRIS_PRICE_TOPIC", \.priceTopic)]

        func run() throws {
            let book = try PricesCommand.loadOrExit(file)
            let logger = logging.makeLogger(label: "ferris-usage.prices")
            let kafka = try connection.kafkaConfiguration(brokers: try connection.requiredBrokers())
            let topic = priceTopic ?? PriceBookTopic.defaultTopic
            let outcome: PriceBookPublication
            do {
                outcome = try PriceBookTopic.publish(book, corrections: Set(corrections), kafka: kafka, topic: topic,
                                                     time: Timestamp(milliseconds: WallClock.milliseconds()), logger: logger)
            } catch {
                throw CLIError("\(error)")
            }
            switch outcome {
            case .published(let event, let previous):
                print("published \(event.id) -> \(topic)" + (previous.map { " (replacing revision \($0))" } ?? " (a new book)"))
            case .alreadyPublished(let revision):
                print("\(revision.event.id) is already the highest revision on \(topic) (offset \(revision.offset)); nothing sent")
            }
        }
    }
}

/// The live totals of a month that price books leave unpriced, grouped for people (`prices check --database-url`).
struct UnpricedTotals {
    /// Totals of one key, provider, unit and reason.
    struct Group: Hashable, Comparable {
        var key: UsageKey
        var provider: String
        var unit: String
        var reason: String

        static func < (lhs: Group, rhs: Group) -> Bool {
            (lhs.key, lhs.provider, lhs.unit, lhs.reason) < (rhs.key, rhs.provider, rhs.unit, rhs.reason)
        }
    }

    /// Per group: how many hours, the first and the last.
    var groups: [Group: (hours: Int, first: Timestamp, last: Timestamp)] = [:]
    /// Totals rated.
    var rated = 0

    /// Rates the month's current totals in `table` (streamed through a cursor, in rating order) with `books`.
    static func read(books: PriceBookSet, databaseURL: String, table: String, period: BillingPeriod) throws -> UnpricedTotals {
        let queries: CurrentTotalsQueries
        do {
            queries = try CurrentTotalsQueries(table: table)
        } catch {
            throw CLIError(error.message)
        }
        var result = UnpricedTotals()
        var session = try PriceBookSet.Session(books: books)
        let db = try PostgresConnection(url: databaseURL)
        try queries.inSnapshot(on: db, failure: { CLIError($0.message) as any Error }) { () throws -> Void in
            let cursor = try queries.figures(from: period.start, to: period.end, on: db)
            while true {
                let figures = try cursor.next()
                if figures.isEmpty { break }
                for figure in figures {
                    guard let total = figure.usageTotal else {
                        throw CLIError("the total \(figure.tenant)/\(figure.instance)/\(figure.component)/\(figure.metric) at \(figure.windowStart) has the quantity \(figure.quantity), which is not an exact quantity of the standard")
                    }
                    result.rated += 1
                    guard case .unpriced(let reason) = try session.rate(total).rated.outcome else { continue }
                    let group = Group(key: total.key, provider: total.provider ?? "-", unit: total.unit, reason: reason.code)
                    let seen = result.groups[group]
                    result.groups[group] = ((seen?.hours ?? 0) + 1, seen?.first ?? total.windowStart, total.windowStart)
                }
            }
        }
        return result
    }

    /// The report: one line per group, or that everything is priced.
    func report(period: BillingPeriod) -> String {
        guard !groups.isEmpty else { return "live totals of \(period): all \(rated) priced" }
        var lines = ["live totals of \(period): \(groups.values.map(\.hours).reduce(0, +)) of \(rated) unpriced (exported at zero cost with x_CostStatus):"]
        for group in groups.keys.sorted() {
            guard let entry = groups[group] else { continue }
            lines.append("  \(group.key) (provider \(group.provider), \(group.unit)): \(entry.hours) hours, \(entry.first) to \(entry.last): \(group.reason)")
        }
        return lines.joined(separator: "\n")
    }
}
