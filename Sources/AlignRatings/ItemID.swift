/// The identifier of a rated item, as it appeared in the input: a JSON string or a JSON number.
///
/// Numbers keep their literal text (`7`, `2.5`), so an id prints back exactly as it was written and
/// `--json` output writes it back as a number. Two ids are equal when they have the same kind and the
/// same text: `"7"` (a string) and `7` (a number) are different items, as are `7` and `7.0`.
public enum ItemID: Hashable, Sendable, Comparable, CustomStringConvertible,
    ExpressibleByStringLiteral, ExpressibleByIntegerLiteral
{
    /// An id given as a JSON string.
    case string(String)
    /// An id given as a JSON number, holding the number's literal text.
    case number(String)

    /// Creates a string id.
    public init(stringLiteral value: String) { self = .string(value) }

    /// Creates a numeric id from an integer.
    public init(integerLiteral value: Int) { self = .number(String(value)) }

    /// The id's text: the string itself, or the number's literal.
    public var description: String {
        switch self {
        case .string(let text), .number(let text): return text
        }
    }

    /// Whether the id was written as a JSON number.
    public var isNumber: Bool {
        if case .number = self { return true }
        return false
    }

    /// Orders numbers numerically (before strings), strings by their text; used to break exact ties
    /// in strength so that output order never depends on hashing.
    public static func < (lhs: ItemID, rhs: ItemID) -> Bool {
        switch (lhs, rhs) {
        case (.number(let a), .number(let b)):
            let x = Double(a) ?? 0, y = Double(b) ?? 0
            return x != y ? x < y : a < b
        case (.number, .string): return true
        case (.string, .number): return false
        case (.string(let a), .string(let b)): return a < b
        }
    }
}
