import Foundation
import Testing
@testable import UsageStandard

/// The regular expression `$defs.<name>.pattern` of docs/schemas/cloudevents-types.v1.schema.json: RFC 3986, RFC 3339
/// and RFC 2045 written out independently of the decoder, which is checked against them here.
func schemaPattern(_ name: String) throws -> NSRegularExpression {
    let path = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        .appendingPathComponent("../../docs/schemas/cloudevents-types.v1.schema.json").standardized.path
    let schema = try JSONValue.parse(Array(try #require(FileManager.default.contents(atPath: path)))).get()
    return try NSRegularExpression(pattern: try #require(schema["$defs"]?[name]?["pattern"]?.string))
}

extension NSRegularExpression {
    func matchesWhole(_ text: String) -> Bool {
        let range = NSRange(text.startIndex..., in: text)
        return firstMatch(in: text, options: [.anchored], range: range)?.range == range
    }
}

/// Random text from `pieces`, up to `count` of them.
func randomText(_ rng: inout Xorshift, _ pieces: [String], upTo count: Int) -> String {
    (0..<rng.below(count + 1)).map { _ in pieces[rng.below(pieces.count)] }.joined()
}

@Suite("CloudEvents type system: the decoder against independent oracles, on generated values")
struct TypeSystemFuzzTests {
    /// The String rule as Unicode defines its parts (general category Cc, noncharacter code points); the decoder's
    /// own check is a byte scan and a range test.
    static func isCloudEventsString(_ text: String) -> Bool {
        text.unicodeScalars.allSatisfy { $0.properties.generalCategory != .control && !$0.properties.isNoncharacterCodePoint }
    }

    @Test("String: the decoder's check agrees with Unicode's categories")
    func strings() {
        let scalars: [UInt32] = [0x00, 0x09, 0x0A, 0x1B, 0x1F, 0x20, 0x41, 0x7E, 0x7F, 0x80, 0x85, 0x9F, 0xA0, 0xFC, 0x2028,
                                 0xFDCF, 0xFDD0, 0xFDEF, 0xFDF0, 0xFFFD, 0xFFFE, 0xFFFF, 0x1F600, 0x1FFFE, 0x1FFFF, 0x2FFFE,
                                 0xEFFFF, 0x10FFFD, 0x10FFFE, 0x10FFFF]
        let pieces = scalars.compactMap(Unicode.Scalar.init).map { String($0) }
        var rng = Xorshift(state: 3)
        var refused = 0
        for _ in 0..<20_000 {
            let text = randomText(&rng, pieces, upTo: 6)
            let expected = Self.isCloudEventsString(text)
            #expect((CloudEventsTypes.stringProblem(text) == nil) == expected, "\(text.unicodeScalars.map(\.value))")
            if !expected { refused += 1 }
        }
        #expect(refused > 5_000 && refused < 19_000)
    }

    @Test("the fast path's byte scan for printable ASCII agrees with a byte-by-byte check, at every length and offset")
    func printableASCII() {
        var rng = Xorshift(state: 5)
        let interesting: [UInt8] = [0x00, 0x1F, 0x20, 0x21, 0x41, 0x7E, 0x7F, 0x80, 0xC2, 0xFF]
        for _ in 0..<50_000 {
            let bytes = (0..<rng.below(40)).map { _ in rng.below(4) == 0 ? interesting[rng.below(interesting.count)] : 0x20 + UInt8(rng.below(0x5F)) }
            let expected = bytes.allSatisfy { $0 >= 0x20 && $0 < 0x7F }
            #expect(bytes.withUnsafeBytes(CloudEventsTypes.isPrintableASCII) == expected, "\(bytes)")
        }
    }

    @Test("the JSON reader's eight-byte scan flags exactly the words holding a quote, a backslash, a control character or a non-ASCII byte")
    func jsonStringScan() {
        var rng = Xorshift(state: 23)
        let interesting: [UInt8] = [0x00, 0x01, 0x1F, 0x20, 0x21, 0x22, 0x23, 0x5B, 0x5C, 0x5D, 0x7E, 0x7F, 0x80, 0xA2, 0xDC, 0xFF]
        var flagged = 0
        for _ in 0..<100_000 {
            let bytes = (0..<8).map { _ in rng.below(8) == 0 ? interesting[rng.below(interesting.count)] : 0x20 + UInt8(rng.below(0x5F)) }
            let expected = bytes.contains { $0 == 0x22 || $0 == 0x5C || $0 < 0x20 || $0 >= 0x80 }
            let word = bytes.withUnsafeBytes { $0.loadUnaligned(as: UInt64.self) }
            #expect(JSONCursor.needsLook(word) == expected, "\(bytes)")
            if expected { flagged += 1 }
        }
        #expect(flagged > 20_000 && flagged < 80_000)
    }

    @Test("URI-reference and URI: the decoder agrees with RFC 3986's grammar (the schema's pattern)")
    func uris() throws {
        let reference = try schemaPattern("uriReference"), absolute = try schemaPattern("uri")
        let pieces = ["a", "Z", "0", "9", "f", "v", "V", ":", "/", "//", "?", "#", "[", "]", "@", "%", "%2F", "%g1", ".", "-", "_",
                      "~", "!", "$", "&", "'", "(", ")", "*", "+", ",", ";", "=", " ", "\"", "<", "\\", "^", "`", "{", "|", "}",
                      "ü", "::", "1.2.3.4", "255", "256", "01", "[::1]", "[v1.x]", "http:", "urn:", "ffff", ":8080", "\u{1B}"]
        var rng = Xorshift(state: 17)
        var valid = (reference: 0, absolute: 0)
        for _ in 0..<20_000 {
            let text = randomText(&rng, pieces, upTo: 8)
            let isReference = reference.matchesWhole(text) && Self.isCloudEventsString(text)
            let isAbsolute = absolute.matchesWhole(text) && Self.isCloudEventsString(text)
            #expect((CloudEventsTypes.problem(attribute: "source", value: text) == nil) == isReference, "source '\(text)'")
            #expect((CloudEventsTypes.problem(attribute: "dataschema", value: text) == nil) == isAbsolute, "dataschema '\(text)'")
            if isReference { valid.reference += 1 }
            if isAbsolute { valid.absolute += 1 }
        }
        // Both sides of each rule were exercised.
        #expect(valid.reference > 2_000 && valid.absolute > 200, "\(valid)")
    }

    @Test("IP literals: the decoder agrees with RFC 3986's IPv6address and IPvFuture")
    func ipLiterals() throws {
        let reference = try schemaPattern("uriReference")
        let pieces = ["0", "1", "ffff", "FFFF", "12345", "db8", ":", ":", "::", ".", "1.2.3.4", "256.1.1.1", "01.1.1.1", "%25eth0", "v1", "x"]
        var rng = Xorshift(state: 23)
        var valid = 0
        for _ in 0..<20_000 {
            let text = "//[" + randomText(&rng, pieces, upTo: 9) + "]:443/"
            let expected = reference.matchesWhole(text)
            #expect((URIGrammar.uriReferenceProblem(text) == nil) == expected, "'\(text)'")
            if expected { valid += 1 }
        }
        #expect(valid > 300, "\(valid)")
    }

    @Test("Timestamp: the decoder agrees with RFC 3339 and the calendar (the schema's pattern)")
    func timestamps() throws {
        let pattern = try schemaPattern("timestamp")
        let parts: [[String]] = [
            ["2026", "2028", "2000", "1900", "2100", "0000", "9999", "202", "20266", "２０２６"], ["-"],
            ["11", "00", "01", "02", "04", "12", "13", "1"], ["-", "/"], ["25", "00", "01", "28", "29", "30", "31", "32", "7"],
            ["T", "t", " ", "x"], ["00", "09", "23", "24", "9"], [":"], ["00", "59", "60", "5"], [":", ""],
            ["00", "59", "60", "5", ""], ["", ".", ".5", ".123456789", ",5"],
            ["Z", "z", "+00:00", "-00:00", "+23:59", "+24:00", "+01:60", "+0100", "", "ZZ", "+1:00", " "],
        ]
        var rng = Xorshift(state: 29)
        // Each part is its first (valid) choice, or now and then another.
        var valid = 0
        for _ in 0..<30_000 {
            let text = parts.map { $0[rng.below(8) == 0 ? rng.below($0.count) : 0] }.joined()
            let expected = pattern.matchesWhole(text)
            #expect((Timestamp.parse(text) != nil) == expected, "'\(text)'")
            if expected { valid += 1 }
        }
        #expect(valid > 3_000, "\(valid)")
    }

    @Test("Media type: the decoder agrees with RFC 2045's syntax and JSON format section 3.1 (the schema's pattern)")
    func mediaTypes() throws {
        let pattern = try schemaPattern("jsonMediaType")
        let parts: [[String]] = [
            ["application", "text", "APPLICATION", "", "a b", "vnd.x-y", " application"], ["/", "", "//"],
            ["json", "JSON", "vnd.x+json", "xml", "+json", "json+x", "jsonx", "", "a/json"],
            ["", ";", "; charset=utf-8", ";charset=\"utf-8\"", " ; a=b", "; a", "; a=\"x\\\"y\"", "; a=\"open", "; a=b c",
             ";a=b;c=d", " ", "(comment)", "; a=\"tab\there\"", "; a==b"],
            ["", " ", "; b=1", ";"],
        ]
        var rng = Xorshift(state: 31)
        var valid = 0
        for _ in 0..<20_000 {
            let text = parts.map { $0[rng.below(3) == 0 ? rng.below($0.count) : 0] }.joined()
            let expected = pattern.matchesWhole(text) && Self.isCloudEventsString(text)
            let decoded = CloudEventsTypes.problem(attribute: "datacontenttype", value: text) == nil && MediaType.isJSON(text)
            #expect(decoded == expected, "'\(text)'")
            if expected { valid += 1 }
        }
        #expect(valid > 3_000, "\(valid)")
    }
}
