/// The standard's rules for names in configuration and registry data: one place, used by the instance registry, the
/// price books and the budgets.
public enum Identifier {
    /// An id (tenant, instance, price book, budget, version): lower-case letters, digits, '.', '_' and '-',
    /// starting and ending with a letter or digit, at most 200 characters (usable in a topic name such as
    /// `ferris.events.<instance>`).
    public static func isID(_ text: String) -> Bool {
        guard let first = text.utf8.first, let last = text.utf8.last, text.utf8.count <= 200,
              isLowerAlnum(first), isLowerAlnum(last) else { return false }
        return text.utf8.allSatisfy { isLowerAlnum($0) || $0 == UInt8(ascii: ".") || $0 == UInt8(ascii: "_") || $0 == UInt8(ascii: "-") }
    }

    /// A component or provider name: lower-case letters, digits and '-', starting with a letter or digit, at most 63
    /// characters.
    public static func isName(_ text: String) -> Bool {
        guard let first = text.utf8.first, text.utf8.count <= 63, isLowerAlnum(first) else { return false }
        return text.utf8.allSatisfy { isLowerAlnum($0) || $0 == UInt8(ascii: "-") }
    }

    /// A Kubernetes namespace (an RFC 1123 label): a name that also ends with a letter or digit.
    public static func isNamespace(_ text: String) -> Bool {
        isName(text) && text.utf8.last.map(isLowerAlnum) == true
    }

    /// A lower-case ASCII letter or a digit.
    public static func isLowerAlnum(_ byte: UInt8) -> Bool {
        (UInt8(ascii: "a")...UInt8(ascii: "z")).contains(byte) || (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(byte)
    }
}
