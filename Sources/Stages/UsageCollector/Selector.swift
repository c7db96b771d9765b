/// A Prometheus series selector (`name{matchers}`), to which the collector adds its own matchers (the instance's
/// namespaces, the cluster) and a range for raw samples.
public struct Selector: Sendable, Equatable {
    /// The metric name, or empty when the selector is matchers only.
    public var name: String
    /// The matchers between the braces, as written (may be empty).
    public var matchers: String

    /// Parses a selector; nil when the text is not a plain series selector.
    public init?(_ text: String) {
        let trimmed = text.trimmed(" \t\n")
        var index = trimmed.startIndex
        while index < trimmed.endIndex, Self.isNameCharacter(trimmed[index], first: index == trimmed.startIndex) {
            index = trimmed.index(after: index)
        }
        name = String(trimmed[..<index])
        let rest = trimmed[index...]
        if rest.isEmpty {
            guard !name.isEmpty else { return nil }
            matchers = ""
            return
        }
        guard rest.first == "{", rest.last == "}" else { return nil }
        let inner = rest.dropFirst().dropLast()
        // No unquoted brace inside, every quote closed.
        var quote: Character?
        var escaped = false
        for character in inner {
            if let open = quote {
                if escaped { escaped = false } else if character == "\\" { escaped = true } else if character == open { quote = nil }
            } else if character == "\"" || character == "'" || character == "`" {
                quote = character
            } else if character == "{" || character == "}" || character == "(" || character == ")" || character == "[" {
                return nil
            }
        }
        guard quote == nil else { return nil }
        matchers = String(inner).trimmed(" \t\n")
        guard !name.isEmpty || !matchers.isEmpty else { return nil }
    }

    /// The selector with `extra` matchers added, e.g. `namespace=~"ferris|ferris-apps"`.
    public func adding(_ extra: [String]) -> String {
        let all = (matchers.isEmpty ? [] : [matchers]) + extra
        return "\(name){\(all.joined(separator: ","))}"
    }

    /// A matcher `label=~"a|b"` matching exactly the given values (regular-expression metacharacters escaped).
    public static func anyOf(_ label: String, _ values: [String]) -> String {
        let escaped = values.map { value in
            var text = ""
            for character in value {
                if "\\.^$|?*+()[]{}".contains(character) { text += "\\\\" }
                if character == "\"" { text += "\\" }
                text.append(character)
            }
            return text
        }
        return "\(label)=~\"\(escaped.joined(separator: "|"))\""
    }

    private static func isNameCharacter(_ character: Character, first: Bool) -> Bool {
        guard character.isASCII else { return false }
        if character.isLetter || character == "_" || character == ":" { return true }
        return !first && character.isNumber
    }
}

extension String {
    fileprivate func trimmed(_ set: String) -> String {
        var text = Substring(self)
        while let first = text.first, set.contains(first) { text = text.dropFirst() }
        while let last = text.last, set.contains(last) { text = text.dropLast() }
        return String(text)
    }
}
