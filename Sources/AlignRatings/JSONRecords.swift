// AlignRatings' view of the shared JSON reader: comparison files, whose errors name `file:line`.
import AlignJSON

extension JSONReaderOptions {
    /// Comparison files: the last duplicate key wins (as most readers do), and invalid UTF-8 is
    /// repaired rather than refused (ids are only printed back).
    static let comparisons = JSONReaderOptions(duplicateKeys: .lastWins, rejectsInvalidUTF8: false, maximumDepth: 256)
}

extension JSONValue {
    /// A short rendering for error messages, e.g. `"x"`, `3`, `true`, `an object`.
    var brief: String {
        switch self {
        case .object: return "an object"
        case .array: return "an array"
        case .string(let s): return "\"\(s.count > 40 ? String(s.prefix(40)) + "…" : s)\""
        case .number(let n): return n.text
        case .bool(let b): return b ? "true" : "false"
        case .null: return "null"
        }
    }
}

extension JSONReader {
    /// Reads a top-level array filling the rest of the input, returning each element with the line on
    /// which it starts.
    mutating func readArrayWithLines() throws -> [(line: Int, value: JSONValue)] {
        skipWhitespace()
        guard let open = peek() else { throw error("unexpected end of input, expected '['") }
        guard open == UInt8(ascii: "[") else { throw error("expected '[' but found \(Self.describe(open))") }
        position += 1
        var elements: [(line: Int, value: JSONValue)] = []
        // Lines are counted incrementally from the previous element, so a long file is scanned once.
        var line = 1
        var counted = start
        skipWhitespace()
        if peek() == UInt8(ascii: "]") {
            position += 1
        } else {
            while true {
                skipWhitespace()
                while counted < position {
                    if bytes[counted] == 0x0A { line += 1 }
                    counted += 1
                }
                elements.append((line, try readValue()))
                skipWhitespace()
                guard let c = peek() else { throw error("unterminated array") }
                if c == UInt8(ascii: "]") { position += 1; break }
                if c != UInt8(ascii: ",") { throw error("expected ',' or ']' but found \(Self.describe(c))") }
                position += 1
            }
        }
        skipWhitespace()
        if let c = peek() { throw error("unexpected \(Self.describe(c)) after the JSON array") }
        return elements
    }
}
