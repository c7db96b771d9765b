/// The CloudEvents 1.0.2 type system (spec section "Type System") as checks on attribute values, shared by the usage
/// and instance event decoders:
/// - `Boolean`: JSON `true`/`false` (JSON format); the string `true`/`false` in a header.
/// - `Integer`: a whole number within 32 bits, written as the integer part of a JSON number, optionally with a minus.
/// - `String`: Unicode text without control characters (U+0000-U+001F, U+007F-U+009F), noncharacters (U+FDD0-U+FDEF
///   and U+xFFFE, U+xFFFF of every plane) and unpaired surrogates (which valid UTF-8 and Swift strings cannot hold).
/// - `Binary`: base64 (RFC 4648), `Base64`.
/// - `URI` and `URI-reference`: RFC 3986 (`URIGrammar`).
/// - `Timestamp`: RFC 3339 (`Timestamp.parse`).
///
/// The type of a context attribute is fixed by the specification (`source` URI-reference, `dataschema` URI, `time`
/// Timestamp, `datacontenttype` an RFC 2046 media type, every other one String), and the standard's extensions are
/// Strings. An unknown extension carries no type: in a header it is a String (every type's canonical form is one);
/// in structured mode a JSON string is a String, `true`/`false` a Boolean, a number an Integer.
enum CloudEventsTypes {
    /// The first scalar of `text` that a CloudEvents String must not contain, or nil.
    static func forbiddenScalar(_ text: String) -> Unicode.Scalar? {
        // ASCII without controls is the common case: checked on the bytes.
        if text.utf8.allSatisfy({ $0 >= 0x20 && $0 < 0x7F }) { return nil }
        return text.unicodeScalars.first(where: isForbidden)
    }

    /// Whether CloudEvents' String type forbids `scalar`.
    static func isForbidden(_ scalar: Unicode.Scalar) -> Bool {
        let value = scalar.value
        return value < 0x20 || (0x7F...0x9F).contains(value) || (0xFDD0...0xFDEF).contains(value) || value & 0xFFFE == 0xFFFE
    }

    /// Why `text` is not a CloudEvents String, or nil.
    static func stringProblem(_ text: String) -> String? {
        guard let scalar = forbiddenScalar(text) else { return nil }
        let kind = scalar.value < 0x20 || (0x7F...0x9F).contains(scalar.value) ? "a control character" : "a Unicode noncharacter"
        return "contains \(codePoint(scalar.value)) (\(kind)), which a CloudEvents String must not; remove it"
    }

    /// Why an attribute's string value is not of the attribute's type, or nil (see the type of each above).
    /// Presence, emptiness and the standard's own values (`specversion` 1.0, the event type, `scope`) are the
    /// decoders' business.
    static func problem(attribute name: String, value: String) -> (reason: UsageDecodeError.Reason, problem: String)? {
        if let problem = stringProblem(value) { return (.invalidAttribute, problem) }
        switch name {
        case "source":
            return URIGrammar.uriReferenceProblem(value).map { (.invalidAttribute, "'\(value)' is not a URI-reference (RFC 3986): it \($0)") }
        case "dataschema":
            return URIGrammar.absoluteURIProblem(value).map { (.invalidAttribute, "'\(value)' is not an absolute URI (RFC 3986): it \($0)") }
        case "time":
            return Timestamp.parse(value) == nil ? (.invalidTime, "'\(value)' is not an RFC 3339 date-time with seconds") : nil
        case "datacontenttype":
            return MediaType.problem(value).map { (.unsupportedContentType, "'\(value)' is not a media type (RFC 2046): it \($0)") }
        default:
            return nil
        }
    }

    /// Whether `text` is an `Integer` in its canonical form: `-?(0|[1-9][0-9]*)` within -2^31...2^31-1.
    static func isInteger(_ text: some Collection<UInt8>) -> Bool {
        var digits = text[...]
        if digits.first == UInt8(ascii: "-") { digits = digits.dropFirst() }
        guard let first = digits.first, first.isDigit, first != UInt8(ascii: "0") || digits.count == 1,
              digits.count <= 10, digits.allSatisfy(\.isDigit) else { return false }
        let magnitude = digits.reduce(Int64(0)) { $0 * 10 + Int64($1 - UInt8(ascii: "0")) }
        return text.first == UInt8(ascii: "-") ? magnitude <= 2_147_483_648 : magnitude <= 2_147_483_647
    }

    /// `U+001B`-style name of a code point.
    static func codePoint(_ value: UInt32) -> String {
        let hex = String(value, radix: 16, uppercase: true)
        return "U+" + String(repeating: "0", count: max(0, 4 - hex.count)) + hex
    }

    /// Whether `bytes` are printable ASCII (U+0020-U+007E): a valid String that the allocation-free path may take as
    /// it is; anything else goes to the general decoder.
    @inline(__always)
    static func isPrintableASCII(_ bytes: UnsafeRawBufferPointer) -> Bool {
        var offset = 0
        while offset + 8 <= bytes.count {
            let word = bytes.loadUnaligned(fromByteOffset: offset, as: UInt64.self)
            // A byte below 0x20, or one at or above 0x7F (adding 1 sets the high bit of 0x7F; higher bytes have it).
            let low = (word &- 0x2020_2020_2020_2020) & ~word & 0x8080_8080_8080_8080
            let high = ((word &+ 0x0101_0101_0101_0101) | word) & 0x8080_8080_8080_8080
            if low | high != 0 { return false }
            offset += 8
        }
        while offset < bytes.count {
            let byte = bytes[offset]
            if byte < 0x20 || byte >= 0x7F { return false }
            offset += 1
        }
        return true
    }
}

/// A media type (RFC 2046, in the syntax of RFC 2045 section 5.1, with optional whitespace around the parameters'
/// semicolons as HTTP writes them): `type "/" subtype *( ";" attribute "=" ( token / quoted-string ) )`.
/// Type, subtype and parameter names are case-insensitive.
enum MediaType {
    /// Type and subtype, lower-cased, or nil when `text` is not a media type.
    static func parse(_ text: String) -> (type: String, subtype: String)? {
        var parser = Parser(bytes: Array(text.utf8))
        guard parser.run() == nil else { return nil }
        return (parser.type.lowercased(), parser.subtype.lowercased())
    }

    /// Why `text` is not a media type, or nil.
    static func problem(_ text: String) -> String? {
        var parser = Parser(bytes: Array(text.utf8))
        return parser.run()
    }

    /// Whether `text` is a media type declaring JSON (CloudEvents JSON format section 3.1: subtype `json` or a
    /// `+json` suffix, of any type).
    static func isJSON(_ text: String) -> Bool {
        guard let (_, subtype) = parse(text) else { return false }
        return subtype == "json" || (subtype.count > 5 && subtype.hasSuffix("+json"))
    }

    private struct Parser {
        let bytes: [UInt8]
        var index = 0
        var type = "", subtype = ""

        /// RFC 2045 `tspecials`.
        static let specials = Set(#"()<>@,;:\"/[]?="#.utf8)

        /// RFC 2045 `token`: printable ASCII except space and `tspecials`.
        static func isToken(_ byte: UInt8) -> Bool {
            byte > 0x20 && byte < 0x7F && !specials.contains(byte)
        }

        mutating func skipSpaces() {
            while index < bytes.count, bytes[index] == 0x20 || bytes[index] == 0x09 { index += 1 }
        }

        mutating func token(_ what: String) -> Result<String, Failure> {
            let start = index
            while index < bytes.count, Self.isToken(bytes[index]) { index += 1 }
            guard index > start else { return .failure(Failure("has no \(what) at byte \(start + 1)")) }
            return .success(String(decoding: bytes[start..<index], as: UTF8.self))
        }

        /// Nil when the whole text is a media type, else what is wrong.
        mutating func run() -> String? {
            do throws(Failure) {
                skipSpaces()
                type = try token("type").get()
                guard index < bytes.count, bytes[index] == UInt8(ascii: "/") else { throw Failure("has no '/' after the type") }
                index += 1
                subtype = try token("subtype").get()
                while true {
                    skipSpaces()
                    guard index < bytes.count else { return nil }
                    guard bytes[index] == UInt8(ascii: ";") else { throw Failure("has unexpected text at byte \(index + 1)") }
                    index += 1
                    skipSpaces()
                    _ = try token("parameter name").get()
                    guard index < bytes.count, bytes[index] == UInt8(ascii: "=") else {
                        throw Failure("has a parameter without '=value' at byte \(index + 1)")
                    }
                    index += 1
                    if index < bytes.count, bytes[index] == UInt8(ascii: "\"") {
                        try quotedString()
                    } else {
                        _ = try token("parameter value").get()
                    }
                }
            } catch {
                return error.problem
            }
        }

        mutating func quotedString() throws(Failure) {
            index += 1
            while index < bytes.count {
                switch bytes[index] {
                case UInt8(ascii: "\""): index += 1; return
                case UInt8(ascii: "\\"): index += 2
                case 0x09, 0x20..<0x7F: index += 1
                default: throw Failure("has a character at byte \(index + 1) that a quoted parameter value cannot hold")
                }
            }
            throw Failure("has an unterminated quoted parameter value")
        }
    }

    private struct Failure: Error {
        let problem: String
        init(_ problem: String) { self.problem = problem }
    }
}
