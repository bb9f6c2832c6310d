import Foundation

// VADER's behaviour is defined by the Python string methods it calls (`str.split`, `str.strip`,
// `str.isupper`, `str.lower`, `round`). Swift's `String` works on grapheme clusters and compares by
// canonical equivalence, which would silently change tokenisation and dictionary hits on unusual
// input, so these helpers reproduce Python's code-point semantics explicitly.

/// Python's `str.isspace` set (the separators of `str.split()` and the characters `str.strip()`
/// removes): bidirectional classes WS, B and S plus category Zs. Listed rather than taken from
/// Unicode's White_Space property (Swift's `isWhitespace`), which omits U+001C–U+001F.
@inline(__always)
func isPythonWhitespace(_ v: UInt32) -> Bool {
    if v < 0x80 {
        return v == 0x20 || (v >= 0x09 && v <= 0x0D) || (v >= 0x1C && v <= 0x1F)
    }
    switch v {
    case 0x85, 0xA0, 0x1680, 0x2000...0x200A, 0x2028, 0x2029, 0x202F, 0x205F, 0x3000: return true
    default: return false
    }
}

/// The code point starting at `bytes[i]` and its length in bytes. The bytes come from a Swift
/// `String`, which is always valid UTF-8, so no validation is needed.
@inline(__always)
func decodeScalar(_ bytes: UnsafeBufferPointer<UInt8>, at i: Int) -> (value: UInt32, length: Int) {
    let b0 = UInt32(bytes[i])
    if b0 < 0x80 { return (b0, 1) }
    @inline(__always) func tail(_ k: Int) -> UInt32 { UInt32(bytes[i &+ k]) & 0x3F }
    if b0 < 0xE0 { return ((b0 & 0x1F) << 6 | tail(1), 2) }
    if b0 < 0xF0 { return ((b0 & 0x0F) << 12 | tail(1) << 6 | tail(2), 3) }
    return ((b0 & 0x07) << 18 | tail(1) << 12 | tail(2) << 6 | tail(3), 4)
}

/// Python's `string.punctuation`: the 32 ASCII punctuation characters, and nothing outside ASCII.
@inline(__always)
func isASCIIPunctuation(_ v: UInt32) -> Bool {
    (v >= 0x21 && v <= 0x2F) || (v >= 0x3A && v <= 0x40) || (v >= 0x5B && v <= 0x60) || (v >= 0x7B && v <= 0x7E)
}

/// Python's `str.isupper()`: false as soon as a code point is lowercase or titlecase, true when at
/// least one code point is uppercase (so "2GOOD" is upper and ":)" is not).
func pythonIsUpper<S: Sequence>(_ scalars: S) -> Bool where S.Element == Unicode.Scalar {
    var cased = false
    for scalar in scalars {
        let v = scalar.value
        if v < 0x80 {
            if v >= 0x61 && v <= 0x7A { return false }
            if v >= 0x41 && v <= 0x5A { cased = true }
            continue
        }
        let properties = scalar.properties
        if properties.isLowercase || properties.generalCategory == .titlecaseLetter { return false }
        if properties.isUppercase { cased = true }
    }
    return cased
}

/// Python's `str.lower()` for the purpose VADER puts it to: comparing a token with lexicon keys.
///
/// Uses each code point's full lowercase mapping, as Python does. Python also applies the Greek
/// final-sigma rule, which this does not; no lexicon or rule key contains a sigma, so no score can
/// differ.
@inline(__always)
func pythonLower(_ text: String) -> String {
    text.lowercased()
}

/// True when the UTF-8 bytes of `a` and `b` are identical: Python's `==` on strings (code points),
/// not Swift's canonical equivalence.
@inline(__always)
func sameCodePoints(_ a: String, _ b: String) -> Bool {
    var a = a, b = b
    return a.withUTF8 { x in
        b.withUTF8 { y in
            x.count == y.count && (x.count == 0 || memcmp(x.baseAddress!, y.baseAddress!, x.count) == 0)
        }
    }
}

/// A dictionary key that hashes and compares a string by its UTF-8 bytes (Python semantics), so
/// canonically equivalent but different spellings never collide, and hashing skips normalisation.
struct CodePointKey: Hashable, Sendable {
    /// The key's text.
    let string: String

    init(_ string: String) { self.string = string }

    static func == (lhs: CodePointKey, rhs: CodePointKey) -> Bool {
        sameCodePoints(lhs.string, rhs.string)
    }

    func hash(into hasher: inout Hasher) {
        var copy = string
        copy.withUTF8 { hasher.combine(bytes: UnsafeRawBufferPointer($0)) }
    }
}

/// True when the UTF-8 of `text` contains the bytes of `needle` (Python's `needle in text`).
func containsBytes(_ text: String, _ needle: StaticString) -> Bool {
    var text = text
    return text.withUTF8 { haystack in
        let n = needle.utf8CodeUnitCount
        guard haystack.count >= n else { return false }
        let pattern = needle.utf8Start
        var i = 0
        while i &+ n <= haystack.count {
            if haystack[i] == pattern[0] && memcmp(haystack.baseAddress! + i, pattern, n) == 0 { return true }
            i &+= 1
        }
        return false
    }
}

/// 10^0 ... 10^8, exact in binary (a `pow` call cost more than the rounding itself).
private let powersOfTen: [Double] = [1, 10, 100, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8]

/// Python's `round(x, digits)` for small `digits`: the double nearest to the correctly rounded
/// decimal (ties to even on the exact binary value), which a plain `(x * 10^d).rounded() / 10^d`
/// gets wrong next to ties.
func pythonRound(_ x: Double, digits: Int) -> Double {
    precondition((0...8).contains(digits), "pythonRound supports 0...8 digits")
    let scale = powersOfTen[digits]
    let scaled = x * scale
    let nearest = scaled.rounded(.toNearestOrEven)
    // Away from a tie the product's rounding error (a few ulps) cannot change the answer, and
    // nearest / scale is then the double closest to the decimal, exactly what CPython returns.
    if abs(abs(scaled - nearest) - 0.5) > 1e-6 && scaled.isFinite {
        return nearest / scale
    }
    // Next to a tie, let the C library round the exact binary expansion (ties to even), as
    // CPython's dtoa does, and read the decimal back.
    var buffer = [CChar](repeating: 0, count: 512)
    let written = withVaList([digits, x]) { arguments in
        buffer.withUnsafeMutableBufferPointer { vsnprintf($0.baseAddress, $0.count, "%.*f", arguments) }
    }
    guard written > 0 else { return x }
    return strtod(buffer, nil)
}
