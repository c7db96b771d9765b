extension String {
    /// This text with every control character (U+0000-U+001F, U+007F-U+009F: what terminals and log viewers act
    /// on, such as ESC starting a terminal escape sequence, or a newline forging a log line) written as `\u{1B}`,
    /// so that text taken from an event can be printed, logged or put in a header safely. Everything else is kept;
    /// text without control characters comes back unchanged (so escaping twice changes nothing).
    public var escapingControlCharacters: String {
        guard utf8.contains(where: { $0 < 0x20 || $0 == 0x7F || $0 == 0xC2 }) else { return self }
        var result = ""
        result.unicodeScalars.reserveCapacity(unicodeScalars.count)
        for scalar in unicodeScalars {
            if scalar.value < 0x20 || (0x7F...0x9F).contains(scalar.value) {
                result += "\\u{" + String(scalar.value, radix: 16, uppercase: true) + "}"
            } else {
                result.unicodeScalars.append(scalar)
            }
        }
        return result
    }
}
