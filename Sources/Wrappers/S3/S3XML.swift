/// Reads the few elements this client needs from S3's XML answers.
///
/// Written by hand on purpose: Foundation's `XMLParser` on Linux lives in FoundationXML, which needs libxml2 at run
/// time (not in the service's image), and the XML packages of the mirror build on it. S3's answers used here
/// (errors, object and upload listings, upload ids) are flat: elements hold text or a flat list of such elements, with
/// no attributes that matter, no CDATA and no nesting of one name inside itself.
enum S3XML {
    /// The entity-decoded text of every `<name>...</name>` element in `xml`, in order (`<name/>` gives "").
    static func values(_ name: String, in xml: Substring) -> [String] {
        elements(name, in: xml).map { decode($0) }
    }

    /// The text of the first `<name>` element, decoded; nil if there is none.
    static func value(_ name: String, in xml: Substring) -> String? {
        values(name, in: xml).first
    }

    /// The raw content of every `<name>...</name>` element, in order.
    static func elements(_ name: String, in xml: Substring) -> [Substring] {
        var result: [Substring] = []
        var rest = xml
        let open = "<" + name
        let close = "</" + name + ">"
        while let start = rest.firstRange(of: open) {
            let afterName = rest[start.upperBound...]
            // `<name>`, `<name attr="...">` or `<name/>`; not `<nameSuffix>`.
            guard let next = afterName.first, next == ">" || next == " " || next == "/",
                  let tagEnd = afterName.firstIndex(of: ">") else {
                rest = afterName
                continue
            }
            if tagEnd > afterName.startIndex, afterName[afterName.index(before: tagEnd)] == "/" {
                result.append(afterName[tagEnd..<tagEnd])
                rest = afterName[afterName.index(after: tagEnd)...]
                continue
            }
            let content = afterName[afterName.index(after: tagEnd)...]
            guard let end = content.firstRange(of: close) else { break }
            result.append(content[..<end.lowerBound])
            rest = content[end.upperBound...]
        }
        return result
    }

    /// Replaces XML's predefined entities and character references.
    static func decode(_ text: Substring) -> String {
        guard text.contains("&") else { return String(text) }
        var result = ""
        var rest = text
        while let amp = rest.firstIndex(of: "&") {
            result += rest[..<amp]
            let entity = rest[amp...]
            guard let semicolon = entity.firstIndex(of: ";"), entity.distance(from: amp, to: semicolon) <= 10 else {
                result += "&"
                rest = rest[rest.index(after: amp)...]
                continue
            }
            let name = entity[entity.index(after: amp)..<semicolon]
            let replacement: String?
            switch name {
            case "amp": replacement = "&"
            case "lt": replacement = "<"
            case "gt": replacement = ">"
            case "quot": replacement = "\""
            case "apos": replacement = "'"
            default:
                var scalar: UInt32?
                if name.hasPrefix("#x") || name.hasPrefix("#X") {
                    scalar = UInt32(name.dropFirst(2), radix: 16)
                } else if name.hasPrefix("#") {
                    scalar = UInt32(name.dropFirst())
                }
                replacement = scalar.flatMap(Unicode.Scalar.init).map { String(Character($0)) }
            }
            if let replacement {
                result += replacement
                rest = rest[rest.index(after: semicolon)...]
            } else {
                result += "&"
                rest = rest[rest.index(after: amp)...]
            }
        }
        return result + rest
    }

    /// `text` with `&`, `<`, `>` and `"` escaped, for the request bodies this client writes.
    static func escape(_ text: String) -> String {
        var result = ""
        for character in text {
            switch character {
            case "&": result += "&amp;"
            case "<": result += "&lt;"
            case ">": result += "&gt;"
            case "\"": result += "&quot;"
            default: result.append(character)
            }
        }
        return result
    }
}
