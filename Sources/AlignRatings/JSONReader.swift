// A small JSON reader for comparison files. Foundation's JSONSerialization cannot say on which line
// an element of a JSON array starts, nor keep a number's literal text, and error messages must name
// `file:line`; so the comparison loader reads JSON itself.

/// A parsed JSON value. Numbers keep their literal text so ids print back exactly as written.
enum JSONValue: Equatable {
    case object([(key: String, value: JSONValue)])
    case array([JSONValue])
    case string(String)
    case number(String)
    case bool(Bool)
    case null

    static func == (lhs: JSONValue, rhs: JSONValue) -> Bool {
        switch (lhs, rhs) {
        case (.object(let a), .object(let b)):
            return a.count == b.count && zip(a, b).allSatisfy { $0.key == $1.key && $0.value == $1.value }
        case (.array(let a), .array(let b)): return a == b
        case (.string(let a), .string(let b)): return a == b
        case (.number(let a), .number(let b)): return a == b
        case (.bool(let a), .bool(let b)): return a == b
        case (.null, .null): return true
        default: return false
        }
    }

    /// The value of `key` in an object (the last one when a key repeats, as most readers do).
    subscript(key: String) -> JSONValue? {
        guard case .object(let members) = self else { return nil }
        return members.last(where: { $0.key == key })?.value
    }

    /// A short rendering for error messages, e.g. `"x"`, `3`, `true`, `an object`.
    var brief: String {
        switch self {
        case .object: return "an object"
        case .array: return "an array"
        case .string(let s): return "\"\(s.count > 40 ? String(s.prefix(40)) + "…" : s)\""
        case .number(let n): return n
        case .bool(let b): return b ? "true" : "false"
        case .null: return "null"
        }
    }
}

/// A syntax error at a 1-based line and column of the text being read.
struct JSONSyntaxError: Error {
    var line: Int
    var column: Int
    var message: String
}

/// Reads JSON values from UTF-8 bytes, counting lines as it goes.
struct JSONReader {
    private let bytes: [UInt8]
    private var position = 0
    /// 1-based line of `position`.
    private(set) var line: Int
    private var lineStart = 0
    /// Open arrays and objects; bounded so a hostile file cannot exhaust the stack.
    private var depth = 0
    private static let maximumDepth = 256

    /// Creates a reader over `bytes`, whose first line is numbered `firstLine`.
    init(_ bytes: [UInt8], firstLine: Int = 1) {
        self.bytes = bytes
        self.line = firstLine
    }

    /// Whether only whitespace remains.
    mutating func atEnd() -> Bool {
        skipWhitespace()
        return position >= bytes.count
    }

    /// Reads one whole document: a single value followed by nothing but whitespace.
    mutating func readDocument() throws -> JSONValue {
        let value = try readValue()
        if !atEnd() { throw error("unexpected \(describe(bytes[position])) after the JSON value") }
        return value
    }

    /// Reads a top-level array, returning each element with the line on which it starts.
    mutating func readArrayWithLines() throws -> [(line: Int, value: JSONValue)] {
        skipWhitespace()
        try expect(UInt8(ascii: "["))
        var elements: [(line: Int, value: JSONValue)] = []
        skipWhitespace()
        if peek() == UInt8(ascii: "]") {
            position += 1
        } else {
            while true {
                skipWhitespace()
                let startLine = line
                elements.append((startLine, try readValue()))
                skipWhitespace()
                guard let c = peek() else { throw error("unterminated array") }
                position += 1
                if c == UInt8(ascii: "]") { break }
                if c != UInt8(ascii: ",") { position -= 1; throw error("expected ',' or ']' but found \(describe(c))") }
            }
        }
        if !atEnd() { throw error("unexpected \(describe(bytes[position])) after the JSON array") }
        return elements
    }

    // MARK: - Values

    private mutating func readValue() throws -> JSONValue {
        skipWhitespace()
        guard let c = peek() else { throw error("unexpected end of input, expected a value") }
        switch c {
        case UInt8(ascii: "{"): return try readObject()
        case UInt8(ascii: "["): return try readArray()
        case UInt8(ascii: "\""): return .string(try readString())
        case UInt8(ascii: "t"): try readLiteral("true"); return .bool(true)
        case UInt8(ascii: "f"): try readLiteral("false"); return .bool(false)
        case UInt8(ascii: "n"): try readLiteral("null"); return .null
        case UInt8(ascii: "-"), UInt8(ascii: "0")...UInt8(ascii: "9"): return .number(try readNumber())
        default: throw error("unexpected \(describe(c)), expected a value")
        }
    }

    private mutating func readObject() throws -> JSONValue {
        try enter()
        defer { depth -= 1 }
        position += 1
        var members: [(key: String, value: JSONValue)] = []
        skipWhitespace()
        if peek() == UInt8(ascii: "}") { position += 1; return .object(members) }
        while true {
            skipWhitespace()
            guard peek() == UInt8(ascii: "\"") else {
                throw error(peek().map { "expected a quoted key but found \(describe($0))" } ?? "unterminated object")
            }
            let key = try readString()
            skipWhitespace()
            try expect(UInt8(ascii: ":"))
            members.append((key, try readValue()))
            skipWhitespace()
            guard let c = peek() else { throw error("unterminated object") }
            if c == UInt8(ascii: "}") { position += 1; return .object(members) }
            if c != UInt8(ascii: ",") { throw error("expected ',' or '}' but found \(describe(c))") }
            position += 1
        }
    }

    private mutating func readArray() throws -> JSONValue {
        try enter()
        defer { depth -= 1 }
        position += 1
        var elements: [JSONValue] = []
        skipWhitespace()
        if peek() == UInt8(ascii: "]") { position += 1; return .array(elements) }
        while true {
            elements.append(try readValue())
            skipWhitespace()
            guard let c = peek() else { throw error("unterminated array") }
            if c == UInt8(ascii: "]") { position += 1; return .array(elements) }
            if c != UInt8(ascii: ",") { throw error("expected ',' or ']' but found \(describe(c))") }
            position += 1
        }
    }

    private mutating func readString() throws -> String {
        position += 1  // opening quote
        var utf8: [UInt8] = []
        while true {
            guard let c = peek() else { throw error("unterminated string") }
            position += 1
            switch c {
            case UInt8(ascii: "\""):
                return String(decoding: utf8, as: UTF8.self)
            case UInt8(ascii: "\\"):
                guard let e = peek() else { throw error("unterminated string") }
                position += 1
                switch e {
                case UInt8(ascii: "\""): utf8.append(e)
                case UInt8(ascii: "\\"): utf8.append(e)
                case UInt8(ascii: "/"): utf8.append(e)
                case UInt8(ascii: "b"): utf8.append(8)
                case UInt8(ascii: "f"): utf8.append(12)
                case UInt8(ascii: "n"): utf8.append(10)
                case UInt8(ascii: "r"): utf8.append(13)
                case UInt8(ascii: "t"): utf8.append(9)
                case UInt8(ascii: "u"):
                    var scalar = try readHex4()
                    // A UTF-16 surrogate pair spells one scalar outside the basic plane.
                    if (0xD800..<0xDC00).contains(scalar), peek() == UInt8(ascii: "\\"),
                        position + 1 < bytes.count, bytes[position + 1] == UInt8(ascii: "u")
                    {
                        position += 2
                        let low = try readHex4()
                        guard (0xDC00..<0xE000).contains(low) else { throw error("invalid surrogate pair") }
                        scalar = 0x10000 + ((scalar - 0xD800) << 10) + (low - 0xDC00)
                    }
                    guard let u = Unicode.Scalar(scalar) else { throw error("invalid \\u escape") }
                    utf8.append(contentsOf: Array(String(Character(u)).utf8))
                default:
                    position -= 1
                    throw error("invalid escape \\\(describe(e, quoted: false))")
                }
            case 0..<0x20:
                position -= 1
                throw error("control character in string")
            default:
                utf8.append(c)
            }
        }
    }

    private mutating func readHex4() throws -> UInt32 {
        guard position + 4 <= bytes.count else { throw error("truncated \\u escape") }
        var value: UInt32 = 0
        for _ in 0..<4 {
            let c = bytes[position]
            let digit: UInt32
            switch c {
            case UInt8(ascii: "0")...UInt8(ascii: "9"): digit = UInt32(c - UInt8(ascii: "0"))
            case UInt8(ascii: "a")...UInt8(ascii: "f"): digit = UInt32(c - UInt8(ascii: "a") + 10)
            case UInt8(ascii: "A")...UInt8(ascii: "F"): digit = UInt32(c - UInt8(ascii: "A") + 10)
            default: throw error("invalid hex digit in \\u escape")
            }
            value = value << 4 | digit
            position += 1
        }
        return value
    }

    /// Reads a number per the JSON grammar, returning its literal text.
    private mutating func readNumber() throws -> String {
        let start = position
        if peek() == UInt8(ascii: "-") { position += 1 }
        guard let first = peek(), isDigit(first) else { throw error("invalid number") }
        position += 1
        if first != UInt8(ascii: "0") { while let c = peek(), isDigit(c) { position += 1 } }
        if peek() == UInt8(ascii: ".") {
            position += 1
            guard let c = peek(), isDigit(c) else { throw error("invalid number: digits must follow '.'") }
            while let c = peek(), isDigit(c) { position += 1 }
        }
        if let c = peek(), c == UInt8(ascii: "e") || c == UInt8(ascii: "E") {
            position += 1
            if let s = peek(), s == UInt8(ascii: "+") || s == UInt8(ascii: "-") { position += 1 }
            guard let c = peek(), isDigit(c) else { throw error("invalid number: digits must follow the exponent") }
            while let c = peek(), isDigit(c) { position += 1 }
        }
        return String(decoding: bytes[start..<position], as: UTF8.self)
    }

    private mutating func readLiteral(_ word: String) throws {
        let expected = Array(word.utf8)
        let count = expected.count
        let matches = position + count <= bytes.count && bytes[position..<position + count].elementsEqual(expected)
        guard matches else { throw error("unexpected \(describe(bytes[position])), expected a value") }
        position += count
    }

    // MARK: - Helpers

    private mutating func enter() throws {
        depth += 1
        if depth > JSONReader.maximumDepth { throw error("nesting deeper than \(JSONReader.maximumDepth) levels") }
    }

    private func peek() -> UInt8? { position < bytes.count ? bytes[position] : nil }

    private func isDigit(_ c: UInt8) -> Bool { c >= UInt8(ascii: "0") && c <= UInt8(ascii: "9") }

    private mutating func expect(_ c: UInt8) throws {
        skipWhitespace()
        guard let found = peek() else { throw error("unexpected end of input, expected '\(Character(Unicode.Scalar(c)))'") }
        guard found == c else { throw error("expected '\(Character(Unicode.Scalar(c)))' but found \(describe(found))") }
        position += 1
    }

    private mutating func skipWhitespace() {
        while position < bytes.count {
            switch bytes[position] {
            case UInt8(ascii: "\n"):
                line += 1
                position += 1
                lineStart = position
            case UInt8(ascii: " "), UInt8(ascii: "\t"), UInt8(ascii: "\r"):
                position += 1
            default:
                return
            }
        }
    }

    private func describe(_ c: UInt8, quoted: Bool = true) -> String {
        let text = c >= 0x20 && c < 0x7F ? String(Character(Unicode.Scalar(c))) : "byte 0x" + String(c, radix: 16)
        return quoted && c >= 0x20 && c < 0x7F ? "'\(text)'" : text
    }

    private func error(_ message: String) -> JSONSyntaxError {
        JSONSyntaxError(line: line, column: position - lineStart + 1, message: message)
    }
}
