import ArgumentParser
import Foundation
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

    @Option(help: "Refuse events older than this many days.")
    var maxAgeDays: Int64 = 34

    @Option(help: "Refuse events more than this many minutes in the future.")
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
        let now = Timestamp(milliseconds: Int64(Date().timeIntervalSince1970 * 1000))
        let findings = Validation.findings(in: Array(input), decoder: decoder, now: now)
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

/// Finds the problems of each line of a JSON-lines file of structured-mode usage events.
enum Validation {
    struct Finding {
        var line: Int
        var error: UsageDecodeError
    }

    static func findings(in bytes: [UInt8], decoder: UsageEventDecoder, now: Timestamp) -> [Finding] {
        var result: [Finding] = []
        let headers = StructuredHeaders()
        for (index, line) in bytes.split(separator: UInt8(ascii: "\n"), omittingEmptySubsequences: false).enumerated() {
            var text = line
            if text.last == UInt8(ascii: "\r") { text = text.dropLast() }
            guard text.contains(where: { $0 != UInt8(ascii: " ") && $0 != UInt8(ascii: "\t") }) else { continue }
            let errors = Array(text).withUnsafeBytes { value in
                decoder.findings(headers: headers, value: value, referenceTime: now)
            }
            result += errors.map { Finding(line: index + 1, error: $0) }
        }
        return result
    }

    /// A structured-mode record: only the content-type header.
    struct StructuredHeaders: CloudEventHeaderSource {
        func forEachHeader(_ body: (UnsafeRawBufferPointer, UnsafeRawBufferPointer?) -> Void) {
            Array("content-type".utf8).withUnsafeBytes { name in
                Array(UsageStandard.structuredContentType.utf8).withUnsafeBytes { body(name, $0) }
            }
        }
    }
}
