/// RFC 3986 URIs and URI-references, checked against the grammar of its appendix A: scheme, authority (user
/// information, a registered name, an IPv4 address or an IP literal in brackets holding an IPv6 address or an
/// IPvFuture, and a port of digits), path, query, fragment and percent-encoding. Nothing is normalised or repaired.
/// An IRI (non-ASCII text) is not a URI: its characters must be percent-encoded; an IPv6 zone identifier (RFC 6874)
/// is not part of RFC 3986 and is refused.
///
/// Written by hand: Foundation's URL parser accepts and repairs much that RFC 3986 forbids, and no package the project
/// can depend on has a strict RFC 3986 grammar.
enum URIGrammar {
    /// Why `text` is not a URI-reference (RFC 3986 section 4.1: a URI or a relative reference), or nil.
    static func uriReferenceProblem(_ text: String) -> String? {
        var text = text
        return text.withUTF8 { problem(UnsafeRawBufferPointer($0), absolute: false) }
    }

    /// Why `text` is not an absolute URI (RFC 3986 section 4.3: a scheme, no fragment), or nil.
    static func absoluteURIProblem(_ text: String) -> String? {
        var text = text
        return text.withUTF8 { problem(UnsafeRawBufferPointer($0), absolute: true) }
    }

    /// Whether `bytes` are a URI-reference.
    static func isURIReference(_ bytes: UnsafeRawBufferPointer) -> Bool { problem(bytes, absolute: false) == nil }

    private static let colon = UInt8(ascii: ":"), slash = UInt8(ascii: "/"), question = UInt8(ascii: "?")
    private static let hash = UInt8(ascii: "#"), at = UInt8(ascii: "@"), dot = UInt8(ascii: ".")

    private static func problem(_ bytes: UnsafeRawBufferPointer, absolute: Bool) -> String? {
        let count = bytes.count
        var schemeEnd: Int?
        if count > 0, bytes[0].isLetter {
            var index = 1
            while index < count, bytes[index].isSchemeCharacter { index += 1 }
            if index < count, bytes[index] == colon { schemeEnd = index }
        }
        if absolute && schemeEnd == nil { return "has no scheme; an absolute URI starts with one, e.g. 'https:' or 'urn:'" }
        var index = schemeEnd.map { $0 + 1 } ?? 0
        var partEnd = index
        while partEnd < count, bytes[partEnd] != question, bytes[partEnd] != hash { partEnd += 1 }
        if partEnd - index >= 2, bytes[index] == slash, bytes[index + 1] == slash {
            var authorityEnd = index + 2
            while authorityEnd < partEnd, bytes[authorityEnd] != slash { authorityEnd += 1 }
            if let problem = authorityProblem(bytes, (index + 2)..<authorityEnd) { return problem }
            index = authorityEnd
        } else if schemeEnd == nil {
            // A relative reference's first segment must not look like a scheme: no ':' before the first '/'.
            var cursor = index
            while cursor < partEnd, bytes[cursor] != slash {
                if bytes[cursor] == colon {
                    return "is a relative reference whose first path segment contains ':' at byte \(cursor + 1); give a scheme, or write './' before it"
                }
                cursor += 1
            }
        }
        if let problem = charactersProblem(bytes, index..<partEnd, "path", allow: { $0.isPathCharacter || $0 == slash }) {
            return problem
        }
        index = partEnd
        if index < count, bytes[index] == question {
            var end = index + 1
            while end < count, bytes[end] != hash { end += 1 }
            if let problem = charactersProblem(bytes, (index + 1)..<end, "query", allow: { $0.isQueryCharacter }) { return problem }
            index = end
        }
        if index < count {
            if absolute { return "has a fragment ('#...' at byte \(index + 1)), which an absolute URI does not" }
            if let problem = charactersProblem(bytes, (index + 1)..<count, "fragment", allow: { $0.isQueryCharacter }) { return problem }
        }
        return nil
    }

    /// `[ userinfo "@" ] host [ ":" port ]`.
    private static func authorityProblem(_ bytes: UnsafeRawBufferPointer, _ range: Range<Int>) -> String? {
        var hostStart = range.lowerBound
        if let at = range.first(where: { bytes[$0] == at }) {
            if let problem = charactersProblem(bytes, range.lowerBound..<at, "user information",
                                               allow: { $0.isUnreserved || $0.isSubDelimiter || $0 == colon }) {
                return problem
            }
            hostStart = at + 1
        }
        var portStart: Int?
        if hostStart < range.upperBound, bytes[hostStart] == UInt8(ascii: "[") {
            guard let close = (hostStart..<range.upperBound).first(where: { bytes[$0] == UInt8(ascii: "]") }) else {
                return "has an IP literal without its closing ']' in the authority"
            }
            let literal = UnsafeRawBufferPointer(rebasing: bytes[(hostStart + 1)..<close])
            guard isIPv6(literal) || isIPvFuture(literal) else {
                return "has '[\(String(decoding: literal, as: UTF8.self))]' as host, which is neither an IPv6 address nor an IPvFuture (RFC 3986 section 3.2.2; zone identifiers are not allowed)"
            }
            if close + 1 < range.upperBound {
                guard bytes[close + 1] == colon else { return "has text after the IP literal's ']' that is not a ':port'" }
                portStart = close + 2
            }
        } else {
            let hostEnd = (hostStart..<range.upperBound).first { bytes[$0] == colon } ?? range.upperBound
            if let problem = charactersProblem(bytes, hostStart..<hostEnd, "host", allow: { $0.isUnreserved || $0.isSubDelimiter }) {
                return problem
            }
            if hostEnd < range.upperBound { portStart = hostEnd + 1 }
        }
        if let portStart, let bad = (portStart..<range.upperBound).first(where: { !bytes[$0].isDigit }) {
            return "has a port that is not digits ('\(printable(bytes[bad]))' at byte \(bad + 1))"
        }
        return nil
    }

    /// Every byte in `range` allowed by `allow` or part of a `%XX` escape; otherwise what is wrong and where.
    private static func charactersProblem(_ bytes: UnsafeRawBufferPointer, _ range: Range<Int>, _ part: String,
                                          allow: (UInt8) -> Bool) -> String? {
        var index = range.lowerBound
        while index < range.upperBound {
            let byte = bytes[index]
            if byte == UInt8(ascii: "%") {
                guard index + 2 < range.upperBound, bytes[index + 1].isHexDigit, bytes[index + 2].isHexDigit else {
                    return "has a '%' at byte \(index + 1) that does not start a percent-encoding (%XX, two hex digits)"
                }
                index += 3
                continue
            }
            guard allow(byte) else {
                if byte >= 0x80 { return "has a non-ASCII character at byte \(index + 1) in its \(part); percent-encode its UTF-8 bytes" }
                return "has '\(printable(byte))' at byte \(index + 1), which RFC 3986 does not allow in a \(part); percent-encode it"
            }
            index += 1
        }
        return nil
    }

    private static func printable(_ byte: UInt8) -> String {
        byte >= 0x20 && byte < 0x7F ? String(UnicodeScalar(byte)) : CloudEventsTypes.codePoint(UInt32(byte))
    }

    /// `IPv6address` of RFC 3986 section 3.2.2: eight 16-bit groups, or fewer with one `::`; the last 32 bits may be
    /// written as an IPv4 address.
    static func isIPv6(_ bytes: UnsafeRawBufferPointer) -> Bool {
        let text = Array(bytes)
        var elision: Int?
        var index = 0
        while index + 1 < text.count {
            if text[index] == colon && text[index + 1] == colon {
                guard elision == nil else { return false }
                elision = index
                index += 2
            } else {
                index += 1
            }
        }
        func groups(_ part: ArraySlice<UInt8>, mayEndInIPv4: Bool) -> Int? {
            guard !part.isEmpty else { return 0 }
            let pieces = part.split(separator: colon, omittingEmptySubsequences: false)
            var total = 0
            for (position, piece) in pieces.enumerated() {
                if position == pieces.count - 1, mayEndInIPv4, piece.contains(dot) {
                    guard isIPv4(piece) else { return nil }
                    total += 2
                } else {
                    guard (1...4).contains(piece.count), piece.allSatisfy(\.isHexDigit) else { return nil }
                    total += 1
                }
            }
            return total
        }
        guard let elision else { return groups(text[...], mayEndInIPv4: true) == 8 }
        guard let before = groups(text[..<elision], mayEndInIPv4: false),
              let after = groups(text[(elision + 2)...], mayEndInIPv4: true) else { return false }
        return before + after <= 7
    }

    /// `IPv4address`: four decimal octets 0-255 without leading zeros.
    static func isIPv4(_ bytes: ArraySlice<UInt8>) -> Bool {
        let octets = bytes.split(separator: dot, omittingEmptySubsequences: false)
        return octets.count == 4 && octets.allSatisfy { octet in
            guard (1...3).contains(octet.count), octet.allSatisfy(\.isDigit), octet.first != UInt8(ascii: "0") || octet.count == 1 else {
                return false
            }
            return octet.reduce(0) { $0 * 10 + Int($1 - UInt8(ascii: "0")) } <= 255
        }
    }

    /// `IPvFuture = "v" 1*HEXDIG "." 1*( unreserved / sub-delims / ":" )`.
    static func isIPvFuture(_ bytes: UnsafeRawBufferPointer) -> Bool {
        guard bytes.count >= 4, bytes[0] | 0x20 == UInt8(ascii: "v"),
              let dotIndex = bytes.firstIndex(of: dot), dotIndex >= 2, dotIndex + 1 < bytes.count else { return false }
        return bytes[1..<dotIndex].allSatisfy(\.isHexDigit)
            && bytes[(dotIndex + 1)...].allSatisfy { $0.isUnreserved || $0.isSubDelimiter || $0 == colon }
    }
}

extension UInt8 {
    /// RFC 3986 `unreserved`: letters, digits, `-._~`.
    var isUnreserved: Bool {
        isLetter || isDigit || self == UInt8(ascii: "-") || self == UInt8(ascii: ".") || self == UInt8(ascii: "_")
            || self == UInt8(ascii: "~")
    }

    /// RFC 3986 `sub-delims`: `!$&'()*+,;=`.
    var isSubDelimiter: Bool {
        switch self {
        case UInt8(ascii: "!"), UInt8(ascii: "$"), UInt8(ascii: "&"), UInt8(ascii: "'"), UInt8(ascii: "("), UInt8(ascii: ")"),
             UInt8(ascii: "*"), UInt8(ascii: "+"), UInt8(ascii: ","), UInt8(ascii: ";"), UInt8(ascii: "="):
            true
        default:
            false
        }
    }

    /// RFC 3986 `pchar` without percent-encodings: unreserved, sub-delims, `:` and `@`.
    var isPathCharacter: Bool { isUnreserved || isSubDelimiter || self == UInt8(ascii: ":") || self == UInt8(ascii: "@") }

    /// What a query or fragment may hold besides percent-encodings: `pchar`, `/` and `?`.
    var isQueryCharacter: Bool { isPathCharacter || self == UInt8(ascii: "/") || self == UInt8(ascii: "?") }

    /// A character of a scheme after its first letter: letters, digits, `+-.`.
    var isSchemeCharacter: Bool { isLetter || isDigit || self == UInt8(ascii: "+") || self == UInt8(ascii: "-") || self == UInt8(ascii: ".") }
}
