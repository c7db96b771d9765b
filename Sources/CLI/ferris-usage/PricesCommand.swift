import ArgumentParser
import Foundation
import Logging
import ProcessSupport
import UsagePriceBooks
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

    struct Check: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Check price book files (YAML or JSON); print 'FILE:LINE:COLUMN: problem' for each problem and exit 1 if any.")

        @Argument(help: "Price book files.") var files: [String]

        func run() throws {
            var failed = false
            for file in files {
                if case .failure(let error) = PricesCommand.load(file) {
                    failed = true
                    for problem in error.problems { print(problem) }
                }
            }
            if failed { throw ExitCode(1) }
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
