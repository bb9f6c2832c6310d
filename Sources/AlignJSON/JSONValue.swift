// The one JSON value type of the package: objects keep their keys in file order and numbers keep
// their literal text, so every reader's view (Int, Double, exact literal) can be derived from it.

/// A JSON number as written in the text it was read from.
///
/// Keeping the literal (instead of converting at parse time) lets each reader pick its own view:
/// safetensors wants exact 64-bit integers, datasets want `Double`, rating files print ids back
/// exactly as written. Literals are short, so the `String` is stored inline (no allocation).
public struct JSONNumber: Hashable, Sendable, CustomStringConvertible {
    /// The literal text, e.g. `-12`, `3.5e-3`, or (when allowed) `NaN`, `Infinity`, `-Infinity`.
    public let text: String

    /// Wraps literal text without checking it; the reader only creates valid literals.
    public init(text: String) { self.text = text }

    /// The literal of an integer.
    public init(_ value: Int) { text = String(value) }

    /// The literal of a double, in Swift's shortest round-trip form (`3.5`, `1e-05`).
    public init(_ value: Double) { text = "\(value)" }

    /// Whether the literal has no fraction or exponent (and is not `NaN`/`Infinity`).
    public var isInteger: Bool {
        for byte in text.utf8 where !(byte >= UInt8(ascii: "0") && byte <= UInt8(ascii: "9")) && byte != UInt8(ascii: "-") {
            return false
        }
        return true
    }

    /// The value as an `Int`, when the literal is an integer that fits in 64 bits.
    public var integer: Int? { isInteger ? Int(text) : nil }

    /// The value as a `Double` (rounded to nearest; `NaN`/`Infinity` literals map to those values).
    public var double: Double? { Double(text) }

    public var description: String { text }

    /// Numbers are equal when both are integers with the same value, or both are not and their
    /// `Double` values are equal: `1` and `1.0` differ (an integer is not a float in a safetensors
    /// header), `1e3` and `1000.0` do not.
    public static func == (lhs: JSONNumber, rhs: JSONNumber) -> Bool {
        let integer = lhs.isInteger
        guard integer == rhs.isInteger else { return false }
        if integer, let a = Int(lhs.text), let b = Int(rhs.text) { return a == b }
        if integer { return lhs.text == rhs.text }
        return Double(lhs.text) == Double(rhs.text)
    }

    public func hash(into hasher: inout Hasher) {
        if isInteger { hasher.combine(Int(text) ?? 0) } else { hasher.combine(Double(text) ?? 0) }
    }
}

/// A parsed JSON value. Objects keep every member in file order (duplicates included when the
/// reader allows them), because safetensors headers and Hugging Face side files must be written back
/// in the order they were read, and dataset rows have few keys (a linear scan beats hashing).
public enum JSONValue: Equatable, Sendable {
    case null
    case bool(Bool)
    case number(JSONNumber)
    case string(String)
    case array([JSONValue])
    case object([(key: String, value: JSONValue)])

    /// An integer number.
    public static func integer(_ value: Int) -> JSONValue { .number(JSONNumber(value)) }

    /// A non-integer number.
    public static func double(_ value: Double) -> JSONValue { .number(JSONNumber(value)) }

    /// The member `key` of an object (the last one when a key repeats, as Python's `json` does); nil
    /// for other values.
    public subscript(key: String) -> JSONValue? {
        guard case .object(let members) = self else { return nil }
        return members.last(where: { $0.key == key })?.value
    }

    /// Structural equality: objects must have the same keys in the same order (a byte-identical
    /// round trip is what callers compare); see `JSONNumber.==` for numbers.
    public static func == (lhs: JSONValue, rhs: JSONValue) -> Bool {
        switch (lhs, rhs) {
        case (.null, .null): return true
        case (.bool(let a), .bool(let b)): return a == b
        case (.number(let a), .number(let b)): return a == b
        case (.string(let a), .string(let b)): return a == b
        case (.array(let a), .array(let b)): return a == b
        case (.object(let a), .object(let b)):
            return a.count == b.count && zip(a, b).allSatisfy { $0.key == $1.key && $0.value == $1.value }
        default: return false
        }
    }

    /// Equality as Python compares parsed JSON: objects ignore key order (two chat messages written
    /// with their keys in different orders are the same message) and numbers compare by value
    /// (`1 == 1.0`).
    public func isPythonEqual(to other: JSONValue) -> Bool {
        switch (self, other) {
        case (.number(let a), .number(let b)): return a.double == b.double
        case (.array(let a), .array(let b)):
            return a.count == b.count && zip(a, b).allSatisfy { $0.isPythonEqual(to: $1) }
        case (.object(let a), .object(let b)):
            guard a.count == b.count else { return false }
            return a.allSatisfy { member in b.contains { $0.key == member.key && $0.value.isPythonEqual(to: member.value) } }
        default: return self == other
        }
    }
}
