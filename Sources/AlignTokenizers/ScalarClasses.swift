/// Character classes the pre-tokenizer regexes distinguish, as bit flags over one Unicode scalar.
///
/// The Hugging Face patterns use `\p{L}` (general category L*), `\p{N}` (N*), `\s` (the Unicode
/// White_Space property, as Oniguruma and Python's `regex` define it) and the newline set `[\r\n]`.
/// Everything else is "other" (punctuation, symbols, marks, controls that are not whitespace).
enum ScalarClass {
    static let other: UInt8 = 0
    static let letter: UInt8 = 1
    static let number: UInt8 = 2
    static let space: UInt8 = 4
    /// `\r` or `\n`; always set together with `space`.
    static let newline: UInt8 = 8

    /// Classes of the 128 ASCII scalars, precomputed because almost all text hits them.
    static let ascii: [UInt8] = (0..<128).map { classifySlow(UInt32($0)) }

    /// The class flags of a scalar value.
    @inline(__always)
    static func of(_ value: UInt32) -> UInt8 {
        value < 128 ? ascii[Int(value)] : classifySlow(value)
    }

    /// Looks the scalar up in the standard library's Unicode tables.
    static func classifySlow(_ value: UInt32) -> UInt8 {
        guard let scalar = Unicode.Scalar(value) else { return other }
        if value == 0x0A || value == 0x0D { return space | newline }
        let properties = scalar.properties
        if properties.isWhitespace { return space }
        switch properties.generalCategory {
        case .uppercaseLetter, .lowercaseLetter, .titlecaseLetter, .modifierLetter, .otherLetter:
            return letter
        case .decimalNumber, .letterNumber, .otherNumber:
            return number
        default:
            return other
        }
    }

    /// Fills `classes` with the class of each scalar of `scalars` (reusing its storage).
    static func classify(_ scalars: UnsafeBufferPointer<UInt32>, into classes: inout [UInt8]) {
        classes.removeAll(keepingCapacity: true)
        classes.reserveCapacity(scalars.count)
        for value in scalars { classes.append(of(value)) }
    }
}
