/// Appending text to byte buffers without creating Strings: what the totals encoder, the record keys and the
/// PostgreSQL sink write many times per second.
extension Array where Element == UInt8 {
    /// Appends an ASCII literal.
    @inlinable
    public mutating func append(literal: StaticString) {
        append(contentsOf: UnsafeBufferPointer(start: literal.utf8Start, count: literal.utf8CodeUnitCount))
    }

    /// Appends the decimal digits of `value`, zero-padded to at least `width` digits.
    public mutating func append(decimal value: Int64, width: Int = 1) {
        if value < 0 { append(UInt8(ascii: "-")) }
        var magnitude = value.magnitude
        var scratch: (UInt64, UInt64, UInt64) = (0, 0, 0)  // 24 bytes: any Int64 and any sensible width
        let width = Swift.min(width, 24)
        Swift.withUnsafeMutableBytes(of: &scratch) { buffer in
            var index = buffer.count
            repeat {
                index -= 1
                buffer[index] = UInt8(ascii: "0") + UInt8(magnitude % 10)
                magnitude /= 10
            } while magnitude > 0 || buffer.count - index < width
            append(contentsOf: UnsafeRawBufferPointer(rebasing: buffer[index...]))
        }
    }

    /// Appends `text` as a JSON string (quoted, escaped).
    public mutating func append(jsonString text: String) {
        append(UInt8(ascii: "\""))
        for byte in text.utf8 {
            switch byte {
            case UInt8(ascii: "\""): append(contentsOf: [92, 34])
            case UInt8(ascii: "\\"): append(contentsOf: [92, 92])
            case 0x0A: append(contentsOf: [92, UInt8(ascii: "n")])
            case 0x0D: append(contentsOf: [92, UInt8(ascii: "r")])
            case 0x09: append(contentsOf: [92, UInt8(ascii: "t")])
            case ..<0x20:
                let hex: StaticString = "0123456789abcdef"
                append(contentsOf: [92, UInt8(ascii: "u"), 48, 48, hex.utf8Start[Int(byte >> 4)], hex.utf8Start[Int(byte & 0xF)]])
            default: append(byte)
            }
        }
        append(UInt8(ascii: "\""))
    }
}
