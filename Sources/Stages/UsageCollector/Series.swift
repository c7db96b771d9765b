/// One raw sample of a series: its timestamp and its value in picounits (10^-12 of the series' unit).
public struct Sample: Sendable, Equatable {
    /// Milliseconds since the epoch.
    public var time: Int64
    /// The value times 10^12, exact for every value Prometheus prints with at most 12 decimals (finer digits are
    /// rounded half up).
    public var pico: Int128

    /// Creates a sample.
    public init(time: Int64, pico: Int128) {
        self.time = time
        self.pico = pico
    }

    /// Parses a sample value as the Prometheus HTTP API writes it (`"12.5"`, `"1.5e+09"`); nil for `NaN`, `±Inf`
    /// and values beyond 10^20.
    public static func pico(_ text: Substring) -> Int128? {
        var bytes = Array(text.utf8)[...]
        var negative = false
        if let first = bytes.first, first == UInt8(ascii: "-") || first == UInt8(ascii: "+") {
            negative = first == UInt8(ascii: "-")
            bytes = bytes.dropFirst()
        }
        var digits: Int128 = 0
        var significant = 0
        var scale = 0  // value = digits * 10^-scale (before the exponent)
        var sawDigit = false
        var sawPoint = false
        while let byte = bytes.first {
            if byte == UInt8(ascii: ".") {
                guard !sawPoint else { return nil }
                sawPoint = true
            } else if (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(byte) {
                sawDigit = true
                if significant < 30 {
                    digits = digits * 10 + Int128(byte - UInt8(ascii: "0"))
                    if digits > 0 { significant += 1 }
                    if sawPoint { scale += 1 }
                } else if !sawPoint {
                    scale -= 1  // digits beyond 30 significant ones are far below a picounit for values this large
                }
            } else {
                break
            }
            bytes = bytes.dropFirst()
        }
        guard sawDigit else { return nil }
        var exponent = 0
        if let byte = bytes.first, byte == UInt8(ascii: "e") || byte == UInt8(ascii: "E") {
            bytes = bytes.dropFirst()
            var exponentNegative = false
            if let sign = bytes.first, sign == UInt8(ascii: "+") || sign == UInt8(ascii: "-") {
                exponentNegative = sign == UInt8(ascii: "-")
                bytes = bytes.dropFirst()
            }
            guard !bytes.isEmpty else { return nil }
            for byte in bytes {
                guard (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(byte), exponent < 1000 else { return nil }
                exponent = exponent * 10 + Int(byte - UInt8(ascii: "0"))
            }
            if exponentNegative { exponent = -exponent }
        } else if !bytes.isEmpty {
            return nil
        }
        // pico = digits * 10^(12 + exponent - scale)
        var shift = 12 + exponent - scale
        var value = digits
        if shift < 0 {
            while shift < -1 {
                value /= 10
                shift += 1
            }
            value = (value + 5) / 10
        } else {
            while shift > 0 {
                guard value <= 100_000_000_000_000_000_000_000_000_000_000 else { return nil }
                value *= 10
                shift -= 1
            }
        }
        guard value <= 100_000_000_000_000_000_000_000_000_000_000 else { return nil }  // 10^20 units
        return negative ? -value : value
    }
}

/// A series: its labels and its raw samples in time order.
public struct Series: Sendable, Equatable {
    /// The labels, including `__name__`.
    public var labels: [String: String]
    /// The raw samples, oldest first.
    public var samples: [Sample]

    /// Creates a series.
    public init(labels: [String: String], samples: [Sample]) {
        self.labels = labels
        self.samples = samples
    }
}

/// Divides rounding half up (for non-negative numerators; negative ones round half away from zero).
func roundedDivision(_ numerator: Int128, _ divisor: Int128) -> Int128 {
    numerator >= 0 ? (numerator + divisor / 2) / divisor : -((-numerator + divisor / 2) / divisor)
}
