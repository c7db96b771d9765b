/// A parsed JSON document, for the few small messages that are read as a whole (instance events, the deployment
/// wizard's configuration message). Numbers keep their text, so nothing is rounded; object members keep their order.
public enum JSONValue: Sendable, Equatable {
    /// An object, members in document order (keys are unique: a repeated key is refused when parsing).
    case object([(key: String, value: JSONValue)])
    /// An array.
    case array([JSONValue])
    /// A string.
    case string(String)
    /// A number, as its JSON text (e.g. `12.5`, `-3`, `1e3`).
    case number(String)
    /// `true` or `false`.
    case bool(Bool)
    /// `null`.
    case null

    public static func == (lhs: JSONValue, rhs: JSONValue) -> Bool {
        switch (lhs, rhs) {
        case (.object(let a), .object(let b)):
            return a.count == b.count && zip(a, b).allSatisfy { $0.key == $1.key && $0.value == $1.value }
        case (.array(let a), .array(let b)): return a == b
        case (.string(let a), .string(let b)): return a == b
        case (.number(let a), .number(let b)): return a == b
        case (.bool(let a), .bool(let b)): return a == b
        case (.null, .null): return true
        default: return false
        }
    }

    /// The member `key` of an object (nil for other values or when absent).
    public subscript(key: String) -> JSONValue? {
        guard case .object(let members) = self else { return nil }
        return members.first { $0.key == key }?.value
    }

    /// The string, when this is one.
    public var string: String? { if case .string(let text) = self { text } else { nil } }
    /// The boolean, when this is one.
    public var bool: Bool? { if case .bool(let flag) = self { flag } else { nil } }
    /// The elements, when this is an array.
    public var array: [JSONValue]? { if case .array(let items) = self { items } else { nil } }
    /// The members, when this is an object.
    public var members: [(key: String, value: JSONValue)]? { if case .object(let members) = self { members } else { nil } }

    /// What kind of value this is, for messages ("a string", "an object", ...).
    public var kind: String {
        switch self {
        case .object: "an object"
        case .array: "an array"
        case .string: "a string"
        case .number: "a number"
        case .bool: "a boolean"
        case .null: "null"
        }
    }

    /// Parses a whole JSON document; a repeated object key, trailing text or nesting deeper than 64 is refused.
    public static func parse(_ bytes: [UInt8]) -> Result<JSONValue, JSONSyntaxError> {
        bytes.withUnsafeBytes { buffer in
            var cursor = JSONCursor(buffer)
            do throws(UsageDecodeError) {
                let value = try read(&cursor, depth: 0)
                guard cursor.isAtEnd else { return .failure(JSONSyntaxError(message: "unexpected text after the JSON value")) }
                return .success(value)
            } catch {
                return .failure(JSONSyntaxError(message: error.problem, isEncodingProblem: error.reason == .invalidEncoding))
            }
        }
    }

    private static func read(_ cursor: inout JSONCursor, depth: Int) throws(UsageDecodeError) -> JSONValue {
        guard depth < JSONCursor.maxDepth else { throw .malformed("nesting deeper than \(JSONCursor.maxDepth)") }
        switch try cursor.peekKind() {
        case .string:
            let span = try cursor.readString()
            guard let text = cursor.string(span) else {
                throw UsageDecodeError(.invalidEncoding, "", "a string is not Unicode text (an unpaired surrogate escape)")
            }
            return .string(text)
        case .number:
            let range = try cursor.readNumber()
            let text = String(decoding: UnsafeRawBufferPointer(rebasing: cursor.bytes[range]), as: UTF8.self)
            if case .failure(.notANumber) = Quantity.parse(text) { throw .malformed("'\(text)' is not a JSON number") }
            return .number(text)
        case .bool:
            return .bool(try cursor.readBool())
        case .null:
            try cursor.skipValue()
            return .null
        case .object:
            try cursor.beginObject()
            var members: [(key: String, value: JSONValue)] = []
            var seen: Set<String> = []
            var first = true
            while let keySpan = try cursor.nextKey(first: &first) {
                guard let key = cursor.string(keySpan) else { throw .malformed("an object key is not valid UTF-8") }
                guard seen.insert(key).inserted else { throw .malformed("'\(key)' appears twice in an object") }
                members.append((key, try read(&cursor, depth: depth + 1)))
            }
            return .object(members)
        case .array:
            try cursor.expect(UInt8(ascii: "["))
            var items: [JSONValue] = []
            cursor.skipWhitespace()
            if cursor.index < cursor.bytes.count, cursor.bytes[cursor.index] == UInt8(ascii: "]") {
                cursor.index += 1
                return .array(items)
            }
            while true {
                items.append(try read(&cursor, depth: depth + 1))
                cursor.skipWhitespace()
                guard cursor.index < cursor.bytes.count else { throw .malformed("unterminated array") }
                if cursor.bytes[cursor.index] == UInt8(ascii: "]") {
                    cursor.index += 1
                    return .array(items)
                }
                try cursor.expect(UInt8(ascii: ","))
            }
        }
    }

    /// Compact JSON text of this value (members in their order).
    public var bytes: [UInt8] {
        var out: [UInt8] = []
        write(into: &out)
        return out
    }

    private func write(into out: inout [UInt8]) {
        func quoted(_ text: String) -> [UInt8] {
            var writer = JSONWriter()
            writer.string(text)
            return writer.bytes
        }
        switch self {
        case .object(let members):
            out.append(UInt8(ascii: "{"))
            for (index, member) in members.enumerated() {
                if index > 0 { out.append(UInt8(ascii: ",")) }
                out.append(contentsOf: quoted(member.key))
                out.append(UInt8(ascii: ":"))
                member.value.write(into: &out)
            }
            out.append(UInt8(ascii: "}"))
        case .array(let items):
            out.append(UInt8(ascii: "["))
            for (index, item) in items.enumerated() {
                if index > 0 { out.append(UInt8(ascii: ",")) }
                item.write(into: &out)
            }
            out.append(UInt8(ascii: "]"))
        case .string(let text): out.append(contentsOf: quoted(text))
        case .number(let text): out.append(contentsOf: text.utf8)
        case .bool(let flag): out.append(contentsOf: (flag ? "true" : "false").utf8)
        case .null: out.append(contentsOf: "null".utf8)
        }
    }
}

/// Why a text is not one well-formed JSON document.
public struct JSONSyntaxError: Error, Sendable, Equatable, CustomStringConvertible {
    /// What is wrong, and where.
    public var message: String
    /// Whether the text is JSON but a string in it is not Unicode text (bytes that are not UTF-8, an unpaired
    /// surrogate escape): CloudEvents' String rule, reason `invalid-encoding`, rather than broken JSON.
    public var isEncodingProblem = false
    public var description: String { message }
}
