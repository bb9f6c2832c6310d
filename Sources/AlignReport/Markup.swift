// Text escaping and locale-free number formatting shared by the SVG charts and the HTML report.
//
// Everything here is deterministic: the same input always yields the same bytes, whatever the
// machine's locale, so reports can be compared byte for byte and tested.

/// Escaping and number formatting for XML, SVG and HTML output.
public enum Markup {
    /// Escapes `text` for use in XML/HTML character data and in double- or single-quoted attributes.
    ///
    /// Replaces `&`, `<`, `>`, `"` and `'` with entities. Control characters other than tab, line
    /// feed and carriage return are not allowed in XML 1.0 at all, so they are replaced by U+FFFD
    /// rather than passed through (a model's sample could contain them and would otherwise make the
    /// SVG ill-formed).
    ///
    ///     Markup.escape("a < b & \"c\"")   // "a &lt; b &amp; &quot;c&quot;"
    public static func escape(_ text: String) -> String {
        var out = ""
        out.reserveCapacity(text.utf8.count)
        for scalar in text.unicodeScalars {
            switch scalar {
            case "&": out += "&amp;"
            case "<": out += "&lt;"
            case ">": out += "&gt;"
            case "\"": out += "&quot;"
            case "'": out += "&#39;"
            case "\t", "\n", "\r": out.unicodeScalars.append(scalar)
            default:
                // XML 1.0 forbids C0 controls (besides tab/LF/CR), U+FFFE and U+FFFF.
                if scalar.value < 0x20 || scalar.value == 0xFFFE || scalar.value == 0xFFFF {
                    out += "\u{FFFD}"
                } else {
                    out.unicodeScalars.append(scalar)
                }
            }
        }
        return out
    }

    /// Formats a coordinate for SVG attributes: at most two decimals, no trailing zeros, no `-0`.
    ///
    /// Two decimals of a viewBox unit are far below a screen pixel, and short numbers keep the
    /// document small.
    public static func coordinate(_ value: Double) -> String {
        guard value.isFinite else { return "0" }
        return fixed(value, decimals: 2, trimZeros: true)
    }

    /// Formats `value` with exactly `decimals` digits after the point (or fewer when `trimZeros`),
    /// using `.` as the decimal separator regardless of locale. Non-finite values give `"NaN"`,
    /// `"∞"` or `"−∞"`.
    public static func fixed(_ value: Double, decimals: Int, trimZeros: Bool = false) -> String {
        if value.isNaN { return "NaN" }
        if value.isInfinite { return value > 0 ? "∞" : "−∞" }
        let decimals = max(0, min(decimals, 15))
        var scale = 1.0
        for _ in 0..<decimals { scale *= 10 }
        let scaled = (abs(value) * scale).rounded()
        // Beyond 2^53 the integer conversion is no longer exact; fall back to Swift's shortest form.
        guard scaled < 9.0e15 else { return String(value) }
        let units = UInt64(scaled)
        let divisor = UInt64(scale)
        let whole = units / divisor
        var fraction = String(units % divisor)
        if decimals > 0 {
            fraction = String(repeating: "0", count: decimals - fraction.count) + fraction
            if trimZeros {
                while fraction.last == "0" { fraction.removeLast() }
            }
        }
        var out = (units == 0 || value > 0) ? "" : "-"
        out += String(whole)
        if decimals > 0 && !fraction.isEmpty { out += "." + fraction }
        return out
    }

    /// Formats a number for people: `significant` significant digits, switching to scientific
    /// notation (`2.5e-7`) for very small or very large magnitudes, trailing zeros removed.
    ///
    ///     Markup.number(0.123456)   // "0.1235"
    ///     Markup.number(12345.678)  // "12346"
    ///     Markup.number(5e-7)       // "5e-7"
    public static func number(_ value: Double, significant: Int = 4) -> String {
        if !value.isFinite { return fixed(value, decimals: 0) }
        if value == 0 { return "0" }
        let magnitude = Int((abs(value)).log10Floor)
        if magnitude < -3 || magnitude >= 7 {
            return scientific(value, significant: significant)
        }
        let decimals = max(0, significant - 1 - magnitude)
        return fixed(value, decimals: decimals, trimZeros: true)
    }

    /// Formats `value` as `m.mmme±x` with `significant` significant digits, trailing zeros removed.
    public static func scientific(_ value: Double, significant: Int = 3) -> String {
        if !value.isFinite { return fixed(value, decimals: 0) }
        if value == 0 { return "0" }
        var exponent = Int(abs(value).log10Floor)
        var mantissa = value / pow10(exponent)
        // Rounding can carry the mantissa to 10 (9.9996 -> "10.00"); renormalise.
        let decimals = max(0, significant - 1)
        if abs(Double(fixed(mantissa, decimals: decimals)) ?? mantissa) >= 10 {
            exponent += 1
            mantissa = value / pow10(exponent)
        }
        return fixed(mantissa, decimals: decimals, trimZeros: true) + "e" + String(exponent)
    }

    /// Formats a fraction in [0, 1] as a percentage with `decimals` decimals (`0.781` → `"78.1%"`).
    public static func percent(_ fraction: Double, decimals: Int = 1) -> String {
        guard fraction.isFinite else { return "—" }
        return fixed(fraction * 100, decimals: decimals) + "%"
    }

    /// Formats a signed difference with an explicit `+` for positive values (`"+0.37"`).
    public static func signed(_ value: Double, significant: Int = 3) -> String {
        guard value.isFinite else { return fixed(value, decimals: 0) }
        let text = number(value, significant: significant)
        return value > 0 ? "+" + text : (value < 0 ? "−" + text.dropFirst() : text)
    }

    /// Formats a confidence interval as `"[0.12, 0.31]"`, or with explicit signs for a change
    /// (`"[−0.03, +0.27]"`).
    public static func interval(_ range: ClosedRange<Double>, signed isSigned: Bool = false, significant: Int = 3) -> String {
        let f = { (v: Double) in isSigned ? signed(v, significant: significant) : number(v, significant: significant) }
        return "[" + f(range.lowerBound) + ", " + f(range.upperBound) + "]"
    }

    /// Formats a duration in seconds as `"1 h 02 min"`, `"3 min 05 s"` or `"12.3 s"`.
    public static func duration(_ seconds: Double) -> String {
        guard seconds.isFinite, seconds >= 0 else { return "—" }
        if seconds < 60 { return fixed(seconds, decimals: 1) + " s" }
        let total = Int(seconds.rounded())
        let hours = total / 3600, minutes = (total % 3600) / 60, secs = total % 60
        func two(_ n: Int) -> String { n < 10 ? "0\(n)" : "\(n)" }
        if hours > 0 { return "\(hours) h \(two(minutes)) min" }
        return "\(minutes) min \(two(secs)) s"
    }

    /// 10 raised to an integer power, exact for the powers Double represents exactly.
    static func pow10(_ exponent: Int) -> Double {
        var result = 1.0
        if exponent >= 0 {
            for _ in 0..<exponent { result *= 10 }
        } else {
            // Dividing (rather than multiplying by 0.1) keeps 10^-k correctly rounded.
            for _ in 0..<(-exponent) { result /= 10 }
        }
        return result
    }
}

extension Double {
    /// floor(log10(self)) for a positive finite value, corrected for the rounding error of `log10`
    /// near exact powers of ten (log10(1000) may come out as 2.9999999999999996).
    var log10Floor: Double {
        var e = Self.floorLog10Estimate(self)
        if Markup.pow10(Int(e)) > self { e -= 1 }
        if Markup.pow10(Int(e) + 1) <= self { e += 1 }
        return e
    }

    private static func floorLog10Estimate(_ value: Double) -> Double {
        var e = 0.0
        var v = value
        // A loop rather than Foundation's log10 keeps this file free of Foundation and exact.
        if v >= 1 {
            while v >= 10 { v /= 10; e += 1 }
        } else {
            while v < 1 && e > -400 { v *= 10; e -= 1 }
        }
        return e
    }
}
