/// A forward-only reader over JSON bytes that hands out spans instead of building values,
/// so decoding an event allocates only the strings it keeps.
struct JSONCursor {
    typealias Failure = UsageDecodeError

    /// A JSON string's bytes (between the quotes) and whether they contain escapes.
    struct StringSpan {
        var range: Range<Int>
        var hasEscapes: Bool
    }

    /// The kind of the next value.
    enum ValueKind { case object, array, string, number, bool, null }

    let bytes: UnsafeRawBufferPointer
    var index = 0
    static let maxDepth = 64

    init(_ bytes: UnsafeRawBufferPointer) { self.bytes = bytes }

    mutating func skipWhitespace() {
        while index < bytes.count {
            switch bytes[index] {
            case 0x20, 0x09, 0x0A, 0x0D: index += 1
            default: return
            }
        }
    }

    var isAtEnd: Bool { mutating get { skipWhitespace(); return index >= bytes.count } }

    mutating func peekKind() throws(Failure) -> ValueKind {
        skipWhitespace()
        guard index < bytes.count else { throw .malformed("unexpected end of JSON") }
        switch bytes[index] {
        case UInt8(ascii: "{"): return .object
        case UInt8(ascii: "["): return .array
        case UInt8(ascii: "\""): return .string
        case UInt8(ascii: "t"), UInt8(ascii: "f"): return .bool
        case UInt8(ascii: "n"): return .null
        case UInt8(ascii: "-"), UInt8(ascii: "0")...UInt8(ascii: "9"): return .number
        default: throw .malformed("unexpected character at byte \(index)")
        }
    }

    mutating func expect(_ byte: UInt8) throws(Failure) {
        skipWhitespace()
        guard index < bytes.count, bytes[index] == byte else {
            throw .malformed("expected '\(Character(Unicode.Scalar(byte)))' at byte \(index)")
        }
        index += 1
    }

    /// Starts reading an object; follow with `nextKey` until it returns nil.
    mutating func beginObject() throws(Failure) { try expect(UInt8(ascii: "{")) }

    /// The next key of the current object (cursor left on its value), or nil at the object's end.
    mutating func nextKey(first: inout Bool) throws(Failure) -> StringSpan? {
        skipWhitespace()
        guard index < bytes.count else { throw .malformed("unterminated object") }
        if bytes[index] == UInt8(ascii: "}") {
            index += 1
            return nil
        }
        if !first { try expect(UInt8(ascii: ",")) }
        first = false
        let key = try readString()
        try expect(UInt8(ascii: ":"))
        return key
    }

    /// Reads a string value and returns its span. The string must be JSON (RFC 8259 section 7: no raw control
    /// characters, only the defined escapes) in well-formed UTF-8 (section 8.1).
    mutating func readString() throws(Failure) -> StringSpan {
        skipWhitespace()
        guard index < bytes.count, bytes[index] == UInt8(ascii: "\"") else { throw .malformed("expected a string at byte \(index)") }
        index += 1
        let start = index
        var escapes = false
        while index < bytes.count {
            // Eight bytes at a time while none needs a look (the hot path reads mostly plain ASCII strings).
            while index &+ 8 <= bytes.count, !Self.needsLook(bytes.loadUnaligned(fromByteOffset: index, as: UInt64.self)) {
                index &+= 8
            }
            guard index < bytes.count else { break }
            let byte = bytes[index]
            if byte == UInt8(ascii: "\"") {
                index += 1
                return StringSpan(range: start..<(index - 1), hasEscapes: escapes)
            }
            if byte == UInt8(ascii: "\\") {
                escapes = true
                try skipEscape()
                continue
            }
            if byte < 0x20 { throw .malformed("control character in string at byte \(index)") }
            if byte >= 0x80 { try skipMultiByteCharacter() } else { index += 1 }
        }
        throw .malformed("unterminated string")
    }

    /// Whether any of eight bytes is a quote, a backslash, a control character or not ASCII (the usual bit tricks
    /// for "some byte is zero" and "some byte is less than n"; a false alarm only costs the byte-by-byte path).
    @inline(__always)
    static func needsLook(_ word: UInt64) -> Bool {
        let ones: UInt64 = 0x0101_0101_0101_0101, highs: UInt64 = 0x8080_8080_8080_8080
        func hasZero(_ v: UInt64) -> Bool { (v &- ones) & ~v & highs != 0 }
        return word & highs != 0 || (word &- ones &* 0x20) & ~word & highs != 0
            || hasZero(word ^ (ones &* 0x22)) || hasZero(word ^ (ones &* 0x5C))
    }

    /// Steps over `\"`, `\\`, `\/`, `\b`, `\f`, `\n`, `\r`, `\t` or `\uXXXX`.
    private mutating func skipEscape() throws(Failure) {
        guard index + 1 < bytes.count else { throw .malformed("unterminated string") }
        switch bytes[index + 1] {
        case UInt8(ascii: "\""), UInt8(ascii: "\\"), UInt8(ascii: "/"), UInt8(ascii: "b"), UInt8(ascii: "f"),
             UInt8(ascii: "n"), UInt8(ascii: "r"), UInt8(ascii: "t"):
            index += 2
        case UInt8(ascii: "u"):
            guard index + 6 <= bytes.count, bytes[(index + 2)..<(index + 6)].allSatisfy(\.isHexDigit) else {
                throw .malformed("a \\u escape without four hex digits at byte \(index)")
            }
            index += 6
        default:
            throw .malformed("an unknown escape in a string at byte \(index)")
        }
    }

    /// Steps over one well-formed UTF-8 sequence of two to four bytes (no overlong forms, no surrogates, at most
    /// U+10FFFF), starting at `index`.
    private mutating func skipMultiByteCharacter() throws(Failure) {
        let lead = bytes[index]
        let length: Int, lowest: UInt32
        switch lead {
        case 0xC2...0xDF: (length, lowest) = (2, 0x80)
        case 0xE0...0xEF: (length, lowest) = (3, 0x800)
        case 0xF0...0xF4: (length, lowest) = (4, 0x10000)
        default: throw UsageDecodeError(.invalidEncoding, "", "a string is not valid UTF-8 (byte \(index))")
        }
        guard index + length <= bytes.count else { throw UsageDecodeError(.invalidEncoding, "", "a string is not valid UTF-8 (byte \(index))") }
        var scalar = UInt32(lead) & (0x7F >> UInt32(length))
        for offset in 1..<length {
            let byte = bytes[index + offset]
            guard byte & 0xC0 == 0x80 else { throw UsageDecodeError(.invalidEncoding, "", "a string is not valid UTF-8 (byte \(index + offset))") }
            scalar = scalar << 6 | UInt32(byte & 0x3F)
        }
        guard scalar >= lowest, scalar <= 0x10FFFF, !(0xD800...0xDFFF).contains(scalar) else {
            throw UsageDecodeError(.invalidEncoding, "", "a string is not valid UTF-8 (byte \(index))")
        }
        index += length
    }

    /// Reads a number (RFC 8259 section 6: `-? (0 | [1-9][0-9]*) (. [0-9]+)? ([eE] [+-]? [0-9]+)?`) and returns its
    /// text span.
    mutating func readNumber() throws(Failure) -> Range<Int> {
        skipWhitespace()
        let start = index
        func digits() -> Int {
            let first = index
            while index < bytes.count, bytes[index].isDigit { index += 1 }
            return index - first
        }
        if index < bytes.count, bytes[index] == UInt8(ascii: "-") { index += 1 }
        let integerStart = index
        let integerDigits = digits()
        guard integerDigits > 0, bytes[integerStart] != UInt8(ascii: "0") || integerDigits == 1 else {
            throw .malformed("not a JSON number at byte \(start) (no digits, or a leading zero)")
        }
        if index < bytes.count, bytes[index] == UInt8(ascii: ".") {
            index += 1
            guard digits() > 0 else { throw .malformed("not a JSON number at byte \(start) (no digits after '.')") }
        }
        if index < bytes.count, bytes[index] | 0x20 == UInt8(ascii: "e") {
            index += 1
            if index < bytes.count, bytes[index] == UInt8(ascii: "+") || bytes[index] == UInt8(ascii: "-") { index += 1 }
            guard digits() > 0 else { throw .malformed("not a JSON number at byte \(start) (no exponent digits)") }
        }
        return start..<index
    }

    /// Reads `true` or `false`.
    mutating func readBool() throws(Failure) -> Bool {
        if matchLiteral("true") { return true }
        if matchLiteral("false") { return false }
        throw .malformed("expected true or false at byte \(index)")
    }

    /// Reads `null`.
    mutating func readNull() throws(Failure) {
        guard matchLiteral("null") else { throw .malformed("expected null at byte \(index)") }
    }

    private mutating func matchLiteral(_ literal: StaticString) -> Bool {
        skipWhitespace()
        let length = literal.utf8CodeUnitCount
        guard index + length <= bytes.count else { return false }
        for offset in 0..<length where bytes[index + offset] != literal.utf8Start[offset] { return false }
        index += length
        return true
    }

    /// Skips any value, bounded in nesting depth.
    mutating func skipValue(depth: Int = 0) throws(Failure) {
        guard depth < Self.maxDepth else { throw .malformed("nesting deeper than \(Self.maxDepth)") }
        switch try peekKind() {
        case .string: _ = try readString()
        case .number: _ = try readNumber()
        case .bool: _ = try readBool()
        case .null:
            try readNull()
        case .object:
            try beginObject()
            var first = true
            while try nextKey(first: &first) != nil { try skipValue(depth: depth + 1) }
        case .array:
            try expect(UInt8(ascii: "["))
            skipWhitespace()
            if index < bytes.count, bytes[index] == UInt8(ascii: "]") { index += 1; return }
            while true {
                try skipValue(depth: depth + 1)
                skipWhitespace()
                guard index < bytes.count else { throw .malformed("unterminated array") }
                if bytes[index] == UInt8(ascii: "]") { index += 1; return }
                try expect(UInt8(ascii: ","))
            }
        }
    }

    /// Whether a span's bytes equal `literal` (no escapes).
    func equals(_ span: StringSpan, _ literal: StaticString) -> Bool {
        guard !span.hasEscapes, span.range.count == literal.utf8CodeUnitCount else { return false }
        var offset = 0
        for index in span.range {
            if bytes[index] != literal.utf8Start[offset] { return false }
            offset += 1
        }
        return true
    }

    /// Decodes a string span (unescaping), or nil when it is not valid UTF-8 or has a bad escape.
    func string(_ span: StringSpan) -> String? {
        let slice = UnsafeRawBufferPointer(rebasing: bytes[span.range])
        guard span.hasEscapes else { return String(validating: slice, as: UTF8.self) }
        var out: [UInt8] = []
        out.reserveCapacity(slice.count)
        var index = 0
        while index < slice.count {
            let byte = slice[index]
            guard byte == UInt8(ascii: "\\") else { out.append(byte); index += 1; continue }
            guard index + 1 < slice.count else { return nil }
            let escaped = slice[index + 1]
            index += 2
            switch escaped {
            case UInt8(ascii: "\""), UInt8(ascii: "\\"), UInt8(ascii: "/"): out.append(escaped)
            case UInt8(ascii: "b"): out.append(0x08)
            case UInt8(ascii: "f"): out.append(0x0C)
            case UInt8(ascii: "n"): out.append(0x0A)
            case UInt8(ascii: "r"): out.append(0x0D)
            case UInt8(ascii: "t"): out.append(0x09)
            case UInt8(ascii: "u"):
                guard var scalar = Self.hex4(slice, index) else { return nil }
                index += 4
                if (0xD800...0xDBFF).contains(scalar) {
                    guard index + 6 <= slice.count, slice[index] == UInt8(ascii: "\\"), slice[index + 1] == UInt8(ascii: "u"),
                          let low = Self.hex4(slice, index + 2), (0xDC00...0xDFFF).contains(low) else { return nil }
                    scalar = 0x10000 + ((scalar - 0xD800) << 10) + (low - 0xDC00)
                    index += 6
                }
                guard let unicode = Unicode.Scalar(scalar) else { return nil }
                out.append(contentsOf: Array(String(Character(unicode)).utf8))
            default:
                return nil
            }
        }
        return String(validating: out, as: UTF8.self)
    }

    private static func hex4(_ bytes: UnsafeRawBufferPointer, _ start: Int) -> UInt32? {
        guard start + 4 <= bytes.count else { return nil }
        var value: UInt32 = 0
        for index in start..<(start + 4) {
            let byte = bytes[index]
            let digit: UInt32
            switch byte {
            case UInt8(ascii: "0")...UInt8(ascii: "9"): digit = UInt32(byte - UInt8(ascii: "0"))
            case UInt8(ascii: "a")...UInt8(ascii: "f"): digit = UInt32(byte - UInt8(ascii: "a") + 10)
            case UInt8(ascii: "A")...UInt8(ascii: "F"): digit = UInt32(byte - UInt8(ascii: "A") + 10)
            default: return nil
            }
            value = value << 4 | digit
        }
        return value
    }
}

/// Writes JSON text; strings are escaped per RFC 8259.
public struct JSONWriter {
    /// The bytes written so far.
    public private(set) var bytes: [UInt8] = []
    private var needsComma = [false]

    /// Creates an empty writer.
    public init() {}

    /// Opens an object (as a value or after `key`).
    public mutating func beginObject() { separate(); bytes.append(UInt8(ascii: "{")); needsComma.append(false) }
    /// Closes the current object.
    public mutating func endObject() { needsComma.removeLast(); bytes.append(UInt8(ascii: "}")) }

    /// Writes a key; the next call writes its value.
    public mutating func key(_ name: String) {
        separate()
        appendString(name)
        bytes.append(UInt8(ascii: ":"))
        needsComma[needsComma.count - 1] = false
    }

    /// Writes a string value.
    public mutating func string(_ value: String) { separate(); appendString(value) }
    /// Writes a raw JSON number or literal.
    public mutating func raw(_ text: String) { separate(); bytes.append(contentsOf: text.utf8) }

    /// Writes `"name": "value"`.
    public mutating func field(_ name: String, _ value: String) { key(name); string(value) }
    /// Writes `"name": <raw>`.
    public mutating func field(_ name: String, raw value: String) { key(name); raw(value) }

    private mutating func separate() {
        if needsComma[needsComma.count - 1] { bytes.append(UInt8(ascii: ",")) }
        needsComma[needsComma.count - 1] = true
    }

    /// Writes `value` as a JSON string: `"` and `\` escaped, and every control character (U+0000-U+001F,
    /// U+007F-U+009F) as `\uXXXX`, so that the JSON text printed on a terminal acts on none of them.
    private mutating func appendString(_ value: String) {
        bytes.append(UInt8(ascii: "\""))
        for scalar in value.unicodeScalars {
            switch scalar.value {
            case 0x22: bytes.append(contentsOf: [92, 34])
            case 0x5C: bytes.append(contentsOf: [92, 92])
            case 0x0A: bytes.append(contentsOf: [92, UInt8(ascii: "n")])
            case 0x0D: bytes.append(contentsOf: [92, UInt8(ascii: "r")])
            case 0x09: bytes.append(contentsOf: [92, UInt8(ascii: "t")])
            case ..<0x20, 0x7F...0x9F:
                let hex = Array("0123456789abcdef".utf8)
                let value = Int(scalar.value)
                bytes.append(contentsOf: [92, UInt8(ascii: "u"), 48, 48, hex[value >> 4], hex[value & 0xF]])
            default: UTF8.encode(scalar) { bytes.append($0) }
            }
        }
        bytes.append(UInt8(ascii: "\""))
    }
}
