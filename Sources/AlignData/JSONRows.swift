// AlignData's view of the shared JSON reader: Python-compatible options for dataset rows.
//
// Dataset files hold up to millions of short rows, and a malformed row must be reported with its line,
// so rows are parsed by AlignJSON straight from the file's UTF-8 bytes.
import AlignJSON

extension JSONReaderOptions {
    /// What Python's `json` reads: the last duplicate key wins, `NaN`/`Infinity` (which `json.dumps`
    /// writes by default) are numbers, and a lone surrogate escape becomes U+FFFD (a Swift String
    /// cannot hold it). Invalid UTF-8 is an error, as it is when Python opens the file.
    static let dataset = JSONReaderOptions(
        duplicateKeys: .lastWins, allowsNonFiniteNumbers: true, loneSurrogates: .replace, maximumDepth: 512)
}

extension JSONValue {
    /// A short name of the value's JSON type, for error messages ("string", "number", ...).
    var typeName: String {
        switch self {
        case .null: return "null"
        case .bool: return "boolean"
        case .number: return "number"
        case .string: return "string"
        case .array: return "array"
        case .object: return "object"
        }
    }
}
