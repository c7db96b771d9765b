import ArgumentParser
import Foundation
import UsageBudgets
import UsagePricing
import YAMLFiles

/// `ferris-usage budgets`: check and show budgets files (standard, section 15).
struct BudgetsCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "budgets", abstract: "Check or show budgets files.", subcommands: [Check.self, Show.self])

    /// Reads and checks one file, or prints its problems (`FILE:LINE:COLUMN: problem`).
    static func load(_ path: String) -> Result<[Budget], BudgetFileError> {
        guard let data = FileManager.default.contents(atPath: path), let text = String(data: data, encoding: .utf8) else {
            return .failure(BudgetFileError(problems: [FileProblem(file: path, line: 1, column: 1,
                                                                   message: "cannot read the file (check the path and that it is UTF-8)")]))
        }
        do {
            return .success(try Budget.parse(text, file: path))
        } catch {
            return .failure(error)
        }
    }

    struct Check: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Check budgets files (YAML or JSON); print 'FILE:LINE:COLUMN: problem' for each problem and exit 1 if any.")

        @Argument(help: "Budgets files.") var files: [String]

        func run() throws {
            var failed = false
            for file in files {
                if case .failure(let error) = BudgetsCommand.load(file) {
                    failed = true
                    for problem in error.problems { print(problem) }
                }
            }
            if failed { throw ExitCode(1) }
        }
    }

    struct Show: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Print the budgets of a file as the service reads them.")

        @Argument(help: "A budgets file.") var file: String

        func run() throws {
            switch BudgetsCommand.load(file) {
            case .failure(let error):
                for problem in error.problems { print(problem) }
                throw ExitCode(1)
            case .success(let budgets):
                for budget in budgets { print(budget.table()) }
            }
        }
    }
}

extension Budget {
    /// The budget for people: one line each of what counts, the limit, when it alerts and where.
    func table() -> String {
        var counted = [scope.instance.map { "instance \($0)" }, scope.component.map { "component \($0)" },
                       scope.metric.map { "metric \($0)" }].compactMap { $0 }.joined(separator: ", ")
        if counted.isEmpty { counted = "all usage" }
        let limitText: String
        switch limit {
        case .quantity(let amount, let unit): limitText = "\(amount) \(unit)"
        case .cost(let money): limitText = "\(money.amount) \(money.currency.code) (costs of the tenant's price book)"
        }
        var lines = ["budget \(id), revision \(revision)" + (summary.isEmpty ? "" : ": \(summary)"),
                     "  tenant \(tenant), \(counted)",
                     "  \(limitText) a \(period.rawValue) (\(timeZone))",
                     "  alerts at " + (thresholds.map { "\($0) %" } + (forecast ? ["the forecast"] : [])).joined(separator: ", ")]
        if let webhook { lines.append("  webhook \(webhook.url), signed with the secret \(webhook.secret)") }
        return lines.joined(separator: "\n")
    }
}
