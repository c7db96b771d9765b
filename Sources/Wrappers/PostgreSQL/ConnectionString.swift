import CLibPQ

/// What a libpq connection string (a `postgresql://` URL or a `keyword=value` string) may reveal in messages and logs:
/// nothing of its password, in any of the forms libpq accepts one.
///
/// libpq takes a password from URL user information (`postgresql://user:pw@host/db`), from a `password` query
/// parameter (`?password=pw`, `&password=pw`, the name or value percent-encoded) or from a `password` keyword
/// (`password=pw`, `password = 'p w'`, with `\'` and `\\` escapes). libpq's own error text may quote parts of the
/// string, or all of it, so messages are cleaned as well as the string itself. Written by hand: no package in reach
/// parses libpq connection strings.
enum ConnectionString {
    /// What replaces a password.
    static let mask = "***"

    /// `conninfo` with each password replaced by `***`; the rest (user, hosts, database, options) kept for diagnosis.
    static func redacted(_ conninfo: String) -> String {
        let bytes = Array(conninfo.utf8)
        var result: [UInt8] = []
        var cursor = 0
        for range in passwordRanges(bytes) {
            result += bytes[cursor..<range.lowerBound]
            result += mask.utf8
            cursor = range.upperBound
        }
        result += bytes[cursor...]
        return String(decoding: result, as: UTF8.self)
    }

    /// Why libpq would read a password other than the one written: a raw `@` or `/` in URL user information makes
    /// libpq split the password and take the rest for the host (and then quote it in its errors). Nil when fine.
    static func problem(_ conninfo: String) -> String? {
        let bytes = Array(conninfo.utf8)
        guard let start = schemeEnd(bytes), userInfoEnd(bytes, from: start) != libpqUserInfoEnd(bytes, from: start) else {
            return nil
        }
        return "the URL's user name or password holds a raw '@' or '/' (or its path an '@'), which libpq would read as part of the host: percent-encode them as %40 and %2F"
    }

    /// `message`, text from libpq about `conninfo`, with `conninfo` itself redacted and every form of its password
    /// (as written, percent-decoded or unescaped, as libpq splits it) replaced. When libpq cannot parse the string,
    /// its message quotes the offending part, which may be a fragment of a password: quoted text is then replaced too
    /// unless it is a keyword name or punctuation.
    static func scrub(_ message: String, conninfo: String) -> String {
        let bytes = Array(conninfo.utf8)
        let ranges = passwordRanges(bytes)
        guard !ranges.isEmpty else { return message }
        var text = message.replacing(conninfo, with: redacted(conninfo))
        var secrets: Set<String> = []
        for range in ranges {
            let raw = bytes[range]
            secrets.insert(String(decoding: raw, as: UTF8.self))
            secrets.insert(String(decoding: percentDecoded(raw), as: UTF8.self))
            secrets.insert(String(decoding: unquoted(raw), as: UTF8.self))
        }
        let parsed = libpqPasswords(conninfo)
        secrets.formUnion(parsed ?? [])
        for secret in secrets.filter({ !$0.isEmpty }).sorted(by: { $0.count > $1.count }) {
            text = text.replacing(secret, with: mask)
        }
        return parsed == nil ? maskingQuoted(text) : text
    }

    // MARK: Where the passwords are

    /// The byte ranges of every password value in `bytes`, in order.
    static func passwordRanges(_ bytes: [UInt8]) -> [Range<Int>] {
        if let start = schemeEnd(bytes) { return urlPasswordRanges(bytes, from: start) }
        return keywordPasswordRanges(bytes)
    }

    /// The index after `scheme://` when `bytes` is a URL (libpq itself knows `postgresql://` and `postgres://`; any
    /// other scheme is treated as a URL here too, since libpq would quote it whole in its error).
    static func schemeEnd(_ bytes: [UInt8]) -> Int? {
        var index = 0
        while index < bytes.count, isSchemeByte(bytes[index], first: index == 0) { index += 1 }
        guard index > 0, bytes[index...].starts(with: Array("://".utf8)) else { return nil }
        return index + 3
    }

    private static func isSchemeByte(_ byte: UInt8, first: Bool) -> Bool {
        let letter = (byte | 0x20) >= UInt8(ascii: "a") && (byte | 0x20) <= UInt8(ascii: "z")
        if first { return letter }
        return letter || (byte >= UInt8(ascii: "0") && byte <= UInt8(ascii: "9"))
            || byte == UInt8(ascii: "+") || byte == UInt8(ascii: "-") || byte == UInt8(ascii: ".")
    }

    /// Where libpq ends URL user information: at the first `@` before any `/`.
    private static func libpqUserInfoEnd(_ bytes: [UInt8], from start: Int) -> Int? {
        guard let stop = bytes[start...].firstIndex(where: { $0 == UInt8(ascii: "@") || $0 == UInt8(ascii: "/") }),
              bytes[stop] == UInt8(ascii: "@") else { return nil }
        return stop
    }

    /// Where the writer meant user information to end: at the last `@` before the query (a password with a raw `@`
    /// or `/` included), else where libpq ends it (a password with a raw `?`).
    private static func userInfoEnd(_ bytes: [UInt8], from start: Int) -> Int? {
        let query = bytes[start...].firstIndex(of: UInt8(ascii: "?")) ?? bytes.count
        return bytes[start..<query].lastIndex(of: UInt8(ascii: "@")) ?? libpqUserInfoEnd(bytes, from: start)
    }

    private static func urlPasswordRanges(_ bytes: [UInt8], from start: Int) -> [Range<Int>] {
        var ranges: [Range<Int>] = []
        var queryFrom = start
        if let end = userInfoEnd(bytes, from: start) {
            if let colon = bytes[start..<end].firstIndex(of: UInt8(ascii: ":")) { ranges.append((colon + 1)..<end) }
            queryFrom = end
        }
        guard let question = bytes[queryFrom...].firstIndex(of: UInt8(ascii: "?")) else { return ranges }
        var parameterStart = question + 1
        while parameterStart <= bytes.count {
            let parameterEnd = bytes[parameterStart...].firstIndex(of: UInt8(ascii: "&")) ?? bytes.count
            let parameter = bytes[parameterStart..<parameterEnd]
            if let equals = parameter.firstIndex(of: UInt8(ascii: "=")),
               isPasswordKeyword(percentDecoded(bytes[parameterStart..<equals])) {
                ranges.append((equals + 1)..<parameterEnd)
            }
            parameterStart = parameterEnd + 1
        }
        return ranges
    }

    /// libpq's keyword/value syntax: `keyword = value` pairs separated by whitespace; a value is either quoted with
    /// `'` or runs to the next whitespace, and `\` escapes the next byte in both. An unquoted password value is taken
    /// to run on to the next `keyword=` (a password with a space that should have been quoted).
    private static func keywordPasswordRanges(_ bytes: [UInt8]) -> [Range<Int>] {
        var ranges: [Range<Int>] = []
        var index = 0
        func skipSpace() { while index < bytes.count, isSpace(bytes[index]) { index += 1 } }
        while true {
            skipSpace()
            guard index < bytes.count else { return ranges }
            let keywordStart = index
            while index < bytes.count, !isSpace(bytes[index]), bytes[index] != UInt8(ascii: "=") { index += 1 }
            let keyword = bytes[keywordStart..<index]
            skipSpace()
            guard index < bytes.count, bytes[index] == UInt8(ascii: "=") else { continue }
            index += 1
            skipSpace()
            let valueStart = index
            if index < bytes.count, bytes[index] == UInt8(ascii: "'") {
                index += 1
                while index < bytes.count, bytes[index] != UInt8(ascii: "'") {
                    index += bytes[index] == UInt8(ascii: "\\") ? 2 : 1
                }
                index = min(index + 1, bytes.count)
            } else if isPasswordKeyword(keyword) {
                index = unquotedPasswordEnd(bytes, from: index)
            } else {
                while index < bytes.count, !isSpace(bytes[index]) {
                    index += bytes[index] == UInt8(ascii: "\\") ? 2 : 1
                }
                index = min(index, bytes.count)
            }
            if isPasswordKeyword(keyword) { ranges.append(valueStart..<index) }
        }
    }

    /// The end of an unquoted password value: the next whitespace that is followed by `keyword=` or the end.
    private static func unquotedPasswordEnd(_ bytes: [UInt8], from start: Int) -> Int {
        var index = start
        var lastNonSpace = start
        while index < bytes.count {
            if bytes[index] == UInt8(ascii: "\\") {
                index += 2
                lastNonSpace = min(index, bytes.count)
                continue
            }
            if isSpace(bytes[index]) {
                var next = index
                while next < bytes.count, isSpace(bytes[next]) { next += 1 }
                var word = next
                while word < bytes.count, !isSpace(bytes[word]), bytes[word] != UInt8(ascii: "=") { word += 1 }
                var equals = word
                while equals < bytes.count, isSpace(bytes[equals]) { equals += 1 }
                if next == bytes.count || (word > next && equals < bytes.count && bytes[equals] == UInt8(ascii: "=")) {
                    return lastNonSpace
                }
                index = next
                continue
            }
            index += 1
            lastNonSpace = index
        }
        return min(lastNonSpace, bytes.count)
    }

    private static func isSpace(_ byte: UInt8) -> Bool {
        byte == UInt8(ascii: " ") || (byte >= 9 && byte <= 13)
    }

    /// libpq's keyword is `password`; other spellings are refused by libpq but hidden all the same.
    private static func isPasswordKeyword(_ keyword: some Collection<UInt8>) -> Bool {
        keyword.count == 8 && keyword.map { $0 | 0x20 }.elementsEqual("password".utf8)
    }

    // MARK: Forms of a password

    /// `%XX` sequences decoded; a malformed one kept as written.
    static func percentDecoded(_ bytes: some Collection<UInt8>) -> [UInt8] {
        let bytes = Array(bytes)
        var result: [UInt8] = []
        var index = 0
        while index < bytes.count {
            if bytes[index] == UInt8(ascii: "%"), index + 2 < bytes.count,
               let high = hexValue(bytes[index + 1]), let low = hexValue(bytes[index + 2]) {
                result.append(high << 4 | low)
                index += 3
            } else {
                result.append(bytes[index])
                index += 1
            }
        }
        return result
    }

    private static func hexValue(_ byte: UInt8) -> UInt8? {
        switch byte {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): return byte - UInt8(ascii: "0")
        case UInt8(ascii: "a")...UInt8(ascii: "f"): return byte - UInt8(ascii: "a") + 10
        case UInt8(ascii: "A")...UInt8(ascii: "F"): return byte - UInt8(ascii: "A") + 10
        default: return nil
        }
    }

    /// A keyword value without its quotes and escapes.
    static func unquoted(_ bytes: some Collection<UInt8>) -> [UInt8] {
        var value = Array(bytes)
        if value.first == UInt8(ascii: "'") {
            value.removeFirst()
            if value.last == UInt8(ascii: "'") { value.removeLast() }
        }
        var result: [UInt8] = []
        var escaped = false
        for byte in value {
            if !escaped && byte == UInt8(ascii: "\\") { escaped = true; continue }
            escaped = false
            result.append(byte)
        }
        return result
    }

    /// The passwords libpq reads from `conninfo`; nil when libpq cannot parse it.
    private static func libpqPasswords(_ conninfo: String) -> [String]? {
        var error: UnsafeMutablePointer<CChar>?
        guard let options = PQconninfoParse(conninfo, &error) else {
            if let error { PQfreemem(error) }
            return nil
        }
        defer { PQconninfoFree(options) }
        var result: [String] = []
        var option = options
        while let keyword = option.pointee.keyword {
            if String(cString: keyword) == "password", let value = option.pointee.val { result.append(String(cString: value)) }
            option += 1
        }
        return result
    }

    /// `text` with every double-quoted part replaced, except punctuation and libpq's keyword names.
    private static func maskingQuoted(_ text: String) -> String {
        let parts = text.split(separator: "\"", omittingEmptySubsequences: false)
        guard parts.count > 2 else { return text }
        var result = ""
        for (index, part) in parts.enumerated() {
            if index > 0 { result += "\"" }
            let quoted = index % 2 == 1 && index < parts.count - 1
            let harmless = part.allSatisfy { !$0.isLetter && !$0.isNumber } || keywords.contains(String(part))
            result += quoted && !harmless ? mask : String(part)
        }
        return result
    }

    /// libpq's connection keywords (`host`, `port`, `password`, ...).
    private static let keywords: Set<String> = {
        guard let defaults = PQconndefaults() else { return [] }
        defer { PQconninfoFree(defaults) }
        var result: Set<String> = []
        var option = defaults
        while let keyword = option.pointee.keyword {
            result.insert(String(cString: keyword))
            option += 1
        }
        return result
    }()
}
