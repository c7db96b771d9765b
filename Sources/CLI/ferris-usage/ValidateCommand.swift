import ArgumentParser
import Foundation
import ProcessSupport
import UsageStandard

struct ValidateCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "validate",
        abstract: "Check usage events against the Usage Tracking Standard before shipping them.",
        discussion: """
            Reads JSON lines, one structured-mode CloudEvent per line, from FILE or standard input. Prints nothing and \
            exits 0 when every line is a valid usage event; otherwise prints one line per problem, \
            'line N: <attribute>: <what is wrong>', and exits 1. Event times are checked against the current time.
            """)

    enum Format: String, ExpressibleByArgument, CaseIterable {
        case text, json
    }

    @Argument(help: "A file of JSON lines; standard input when absent.")
    var file: String?

    @Option(help: "Output format: text or json.")
    var format: Format = .text

    @Option(help: "Refuse events older than this many days before the current time.")
    var maxAgeDays: Int64 = 34

    @Option(help: "Refuse events more than this many minutes after the current time.")
    var maxSkewMinutes: Int64 = 15

    func run() throws {
        let input: Data
        if let file {
            guard let data = FileManager.default.contents(atPath: file) else {
                throw CLIError("cannot read '\(file)': check the path and permissions")
            }
            input = data
        } else {
            input = FileHandle.standardInput.readDataToEndOfFile()
        }
        let decoder = UsageEventDecoder(policy: .init(maxEventAgeMilliseconds: maxAgeDays * 86_400_000,
                                                      maxFutureSkewMilliseconds: maxSkewMinutes * 60_000))
        let now = Timestamp(milliseconds: WallClock.milliseconds())
        let findings = decoder.findings(inJSONLines: Array(input), referenceTime: now)
        switch format {
        case .text:
            for finding in findings {
                print("line \(finding.line): \(finding.error.attribute.isEmpty ? "event" : finding.error.attribute): \(finding.error.problem)")
            }
        case .json:
            let items = findings.map { finding in
                var item = JSONWriter()
                item.beginObject()
                item.field("line", raw: String(finding.line))
                item.field("attribute", finding.error.attribute)
                item.field("reason", finding.error.reason.rawValue)
                item.field("problem", finding.error.problem)
                item.endObject()
                return String(decoding: item.bytes, as: UTF8.self)
            }
            print("[" + items.joined(separator: ",\n ") + "]")
        }
        if !findings.isEmpty { throw ExitCode(1) }
    }
}
