import Foundation
import ProcessSupport
import Testing
@testable import UsageStandard

/// Whether `text` holds a character terminals and log viewers act on (C0 controls, DEL, C1 controls).
func hasControlCharacter(_ text: String) -> Bool {
    text.unicodeScalars.contains { $0.properties.generalCategory == .control }
}

/// Terminal escape sequences (colour, window title, clear screen via the C1 CSI) and a forged log line.
let escapes = "\u{1B}[31mred\u{1B}[0m\u{1B}]0;owned\u{07}\r\n2026-11-25 level=info forged\u{9B}2J"

/// `text` as a JSON string literal.
func jsonString(_ text: String) -> String {
    var writer = JSONWriter()
    writer.string(text)
    return String(decoding: writer.bytes, as: UTF8.self)
}

@Suite("Control characters: refused in events, escaped wherever text from an event is printed")
struct ControlCharacterTests {
    @Test("escape sequences in any attribute are refused, and the error carries no control character", arguments: CloudEventMode.allCases)
    func refusedInEveryAttribute(mode: CloudEventMode) {
        for attribute in ["id", "source", "type", "time", "subject", "dataschema", "datacontenttype", "tenant", "instance",
                          "component", "scope", "provider", "corrects", "partitionkey", "region"] {
            var spec = EventSpec()
            spec.set(attribute, jsonString("x" + escapes))
            let all = withOptional(spec.record(mode).value) { value in
                UsageEventDecoder().findings(headers: RawHeaders(list: spec.record(mode).headers), value: value,
                                             referenceTime: spec.referenceTime)
            }
            guard case .failure(let error) = check(spec, mode) else { Issue.record("\(mode): accepted \(attribute)"); continue }
            let label = mode == .binary && attribute == "datacontenttype" ? "content-type" : attribute
            #expect(error.reason == .invalidAttribute && error.attribute == label, "\(mode): \(error)")
            #expect(error.problem.contains("U+001B"), "\(error.problem)")
            for finding in all {
                #expect(!hasControlCharacter(finding.attribute) && !hasControlCharacter(finding.problem), "\(mode): \(finding)")
            }
        }
    }

    @Test("text quoted from an event (names, keys, data) is escaped in errors, findings and dead-letter messages")
    func quotedTextIsEscaped() throws {
        var errors: [UsageDecodeError] = []
        // An extension name in a header, an attribute name in structured mode, a record key, data members.
        var spec = EventSpec()
        spec.extraHeaders = [("ce_x" + escapes, Array("y".utf8))]
        errors += [try #require(check(spec, .binary).failureValue)]
        spec = EventSpec()
        spec.rawMembers = [jsonString("x" + escapes) + #":"y""#]
        errors += [try #require(check(spec, .structured).failureValue)]
        spec = EventSpec()
        spec.key = "solo" + escapes
        errors += [try #require(check(spec, .binary).failureValue)]
        spec = EventSpec()
        spec.data = #"{"metric":\#(jsonString("cpu" + escapes)),"quantity":1,"unit":\#(jsonString(escapes))}"#
        errors += [try #require(check(spec, .structured).failureValue)]
        #expect(errors.map(\.reason) == [.invalidExtensionName, .invalidExtensionName, .partitionKeyMismatch, .unknownMetric])
        for error in errors {
            // What the dead-letter headers carry (`ferris-dlq-attribute`, `ferris-dlq-message`) and what is logged.
            for text in [error.attribute, error.problem, error.description] {
                #expect(!hasControlCharacter(text), "\(text)")
            }
            #expect(error.description.contains(#"\u{1B}[31mred\u{1B}[0m\u{1B}]0;owned\u{7}\u{D}\u{A}2026-11-25"#), "\(error)")
        }
        // Instance events: a key and a data member quoted in the error.
        let instance = InstanceEventDecoder.decode(key: Array(("team" + escapes).utf8), value: Array(editedTeamEvent { $0 }.utf8),
                                                   headers: [("content-type", Array(UsageStandard.structuredContentType.utf8))])
        let tenant = decodeInstance(editedTeamEvent { $0.replacingOccurrences(of: #""tenant":"team-analytics""#,
                                                                             with: #""tenant":"# + jsonString(escapes)) })
        for result in [instance, tenant] {
            guard case .failure(let error) = result else { Issue.record("accepted"); continue }
            #expect(!hasControlCharacter(error.attribute) && !hasControlCharacter(error.description), "\(error)")
        }
    }

    @Test("validate: an event with escape sequences is reported without control characters, as text and as JSON")
    func validateOutput() throws {
        let tool = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent().appendingPathComponent("ferris-usage")
        try #require(FileManager.default.isExecutableFile(atPath: tool.path),
                     "\(tool.path) is missing: build it with 'swift build' before the tests (scripts/test.sh does)")
        var spec = EventSpec()
        spec.set("tenant", jsonString(escapes))
        spec.rawMembers = [jsonString("Bad" + escapes) + #":"x""#]
        spec.set("time", jsonString(Timestamp(milliseconds: WallClock.milliseconds()).rfc3339))
        spec.data = #"{"metric":\#(jsonString(escapes)),"quantity":1,"unit":"Requests"}"#
        let line = String(decoding: spec.record(.structured).value ?? [], as: UTF8.self)
        let input = FileManager.default.temporaryDirectory.appendingPathComponent("validate-\(UInt64.random(in: 0...UInt64.max)).jsonl")
        try Data((line + "\n").utf8).write(to: input)
        defer { try? FileManager.default.removeItem(at: input) }
        for format in ["text", "json"] {
            let process = Process()
            process.executableURL = tool
            process.arguments = ["validate", "--format", format, input.path]
            let output = Pipe()
            process.standardOutput = output
            try process.run()
            let bytes = output.fileHandleForReading.readDataToEndOfFile()
            process.waitUntilExit()
            #expect(process.terminationStatus == 1)
            let text = String(decoding: bytes, as: UTF8.self)
            #expect(!hasControlCharacter(text.replacingOccurrences(of: "\n", with: "")), "\(format): \(text)")
            #expect(text.contains("tenant") && text.contains("U+001B") && text.contains("data.metric"), "\(format): \(text)")
            if format == "json" {
                let findings = try #require(try JSONValue.parse(Array(bytes)).get().array)
                #expect(findings.count == 3)
                // The JSON output quotes the escaped text (JSON strings could carry the controls; they do not).
                #expect(findings.contains { $0["problem"]?.string?.contains(#"\u{1B}[31mred"#) == true })
            }
        }
    }

    @Test("JSON text (validate --format json, JSON log lines) writes every control character as an escape")
    func jsonWriterEscapes() throws {
        let every = String(String.UnicodeScalarView((0..<0x20).compactMap(Unicode.Scalar.init) + (0x7F...0x9F).compactMap(Unicode.Scalar.init)))
        let written = jsonString("a" + every + "\"\\ü😀")
        #expect(!hasControlCharacter(written))
        #expect(written.contains(#"\u001b"#) && written.contains(#"\u009b"#) && written.contains(#"\n"#))
        #expect(try JSONValue.parse(Array(written.utf8)).get() == .string("a" + every + "\"\\ü😀"))
    }

    @Test("escapingControlCharacters: controls written as \\u{..}, everything else unchanged, escaping twice changes nothing")
    func escaping() {
        #expect("solo".escapingControlCharacters == "solo")
        let kept = "Grüße \u{A0}😀" + String(Character(Unicode.Scalar(0xFDD0 as UInt32) ?? "x"))  // a noncharacter is no control
        #expect(kept.escapingControlCharacters == kept)
        #expect("a\u{1B}[2Jb\u{7F}\u{85}\n".escapingControlCharacters == #"a\u{1B}[2Jb\u{7F}\u{85}\u{A}"#)
        #expect(escapes.escapingControlCharacters.escapingControlCharacters == escapes.escapingControlCharacters)
        #expect(!hasControlCharacter(escapes.escapingControlCharacters))
        #expect(UsageDecodeError(.invalidAttribute, "a\u{1B}", "b\u{9B}").description == #"a\u{1B}: b\u{9B}"#)
        #expect(InstanceEventError(.invalidAttribute, "a\u{1B}", "b\u{0}").description == #"a\u{1B}: b\u{0}"#)
    }

    @Test("bytes that are not well-formed UTF-8 are refused as invalid-encoding, in headers and in JSON strings")
    func malformedUTF8() {
        let cases: [(String, [UInt8], Bool)] = [
            ("a CESU-8 surrogate", [0xED, 0xA0, 0x80], false), ("an overlong '/'", [0xC0, 0xAF], false),
            ("beyond U+10FFFF", [0xF4, 0x90, 0x80, 0x80], false), ("a truncated sequence", [0x61, 0xE2, 0x82], false),
            ("a lone continuation byte", [0x80], false), ("an emoji", [0xF0, 0x9F, 0x98, 0x80], true), ("ü", [0xC3, 0xBC], true),
        ]
        for (name, bytes, valid) in cases {
            for attribute in ["ce_tenant", "ce_region"] {
                var spec = EventSpec()
                spec.set(String(attribute.dropFirst(3)), nil)
                if attribute == "ce_tenant", valid { spec.key = String(decoding: bytes, as: UTF8.self) }
                spec.extraHeaders = [(attribute, bytes)]
                let result = check(spec, .binary)
                #expect(valid ? result.failureValue == nil : result.failureValue?.reason == .invalidEncoding, "\(attribute), \(name): \(result)")
            }
            // Raw bytes inside JSON strings: an attribute's value, a data member the decoder otherwise ignores.
            var attribute = EventSpec(), member = EventSpec()
            attribute.set("region", #""@@""#)
            member.data = #"{"pod":"@@","metric":"cpu_core_seconds","quantity":1,"unit":"Core-Seconds"}"#
            for spec in [attribute, member] {
                let (headers, value) = spec.record(.structured)
                let text = value ?? []
                let at = text.indices.first { text[$0] == UInt8(ascii: "@") && text[$0 + 1] == UInt8(ascii: "@") } ?? 0
                let body = Array(text[..<at]) + bytes + Array(text[(at + 2)...])
                let result = body.withUnsafeBytes { UsageEventDecoder().decode(headers: RawHeaders(list: headers), value: $0) }
                #expect(valid ? result.failureValue == nil : result.failureValue?.reason == .invalidEncoding, "\(name): \(result)")
            }
        }
    }
}

extension Result {
    var failureValue: Failure? { if case .failure(let error) = self { error } else { nil } }
}
