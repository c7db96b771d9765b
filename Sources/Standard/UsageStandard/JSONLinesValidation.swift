/// A problem found on one line of a JSON-lines file of usage events.
public struct LineFinding: Sendable, Equatable {
    /// The 1-based line number.
    public var line: Int
    /// What is wrong there.
    public var error: UsageDecodeError

    /// Creates a finding.
    public init(line: Int, error: UsageDecodeError) {
        self.line = line
        self.error = error
    }
}

extension UsageEventDecoder {
    /// Every problem of every line of `bytes`, JSON lines with one structured-mode event per line (blank lines
    /// are skipped). Event times are checked against `referenceTime`.
    public func findings(inJSONLines bytes: [UInt8], referenceTime: Timestamp) -> [LineFinding] {
        var result: [LineFinding] = []
        let headers = StructuredModeHeaders()
        for (index, line) in bytes.split(separator: UInt8(ascii: "\n"), omittingEmptySubsequences: false).enumerated() {
            var text = line
            if text.last == UInt8(ascii: "\r") { text = text.dropLast() }
            guard text.contains(where: { $0 != UInt8(ascii: " ") && $0 != UInt8(ascii: "\t") }) else { continue }
            let errors = Array(text).withUnsafeBytes { value in
                findings(headers: headers, value: value, referenceTime: referenceTime)
            }
            result += errors.map { LineFinding(line: index + 1, error: $0) }
        }
        return result
    }
}

/// The headers of a structured-mode record: only `content-type: application/cloudevents+json`.
public struct StructuredModeHeaders: CloudEventHeaderSource {
    /// Creates the header list.
    public init() {}

    /// Calls `body` once, with the content-type header.
    public func forEachHeader(_ body: (UnsafeRawBufferPointer, UnsafeRawBufferPointer?) -> Void) {
        Array("content-type".utf8).withUnsafeBytes { name in
            Array(UsageStandard.structuredContentType.utf8).withUnsafeBytes { body(name, $0) }
        }
    }
}
