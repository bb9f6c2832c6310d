// A byte-level JSON reader shared by every module that reads JSON (safetensors headers, side files,
// dataset rows, rating files, chat-template arguments).
//
// Dataset files hold millions of short rows, so values are read straight from the UTF-8 bytes with no
// per-character String building (Foundation's JSONSerialization also boxes every value and loses key
// order and positions). Where the callers' needs differ, `JSONReader.Options` says so.

/// What the reader accepts beyond strict RFC 8259, and how strict it is within it.
public struct JSONReaderOptions: Sendable {
    /// What to do when an object repeats a key.
    public enum DuplicateKeys: Sendable {
        /// Fail: which value wins would be ambiguous (safetensors headers).
        case reject
        /// Keep every member; lookups (`JSONValue[key]`) take the last one, as Python's `json` does.
        case lastWins
    }

    /// What to do with a `\u` escape naming half of a UTF-16 surrogate pair.
    public enum LoneSurrogates: Sendable {
        /// Fail.
        case reject
        /// Read it as U+FFFD (a Swift String cannot hold a lone surrogate; Python would keep it).
        case replace
    }

    /// Duplicate object keys; `.reject` by default.
    public var duplicateKeys: DuplicateKeys
    /// Whether Python's `NaN`, `Infinity` and `-Infinity` (which `json.dumps` writes by default) are
    /// numbers; off by default.
    public var allowsNonFiniteNumbers: Bool
    /// Lone surrogate escapes; `.reject` by default.
    public var loneSurrogates: LoneSurrogates
    /// Whether invalid UTF-8 inside a string is an error (as Python reading the file would say) rather
    /// than repaired with U+FFFD.
    public var rejectsInvalidUTF8: Bool
    /// Whether an integer literal must fit in `Int` (safetensors offsets and shapes must be exact).
    public var requiresInt64Integers: Bool
    /// The deepest nesting of arrays and objects allowed, so a hostile file fails instead of
    /// overflowing the stack.
    public var maximumDepth: Int

    /// Options with every field settable; the defaults are strict RFC 8259.
    public init(duplicateKeys: DuplicateKeys = .reject, allowsNonFiniteNumbers: Bool = false,
                loneSurrogates: LoneSurrogates = .reject, rejectsInvalidUTF8: Bool = true,
                requiresInt64Integers: Bool = false, maximumDepth: Int = 512) {
        self.duplicateKeys = duplicateKeys
        self.allowsNonFiniteNumbers = allowsNonFiniteNumbers
        self.loneSurrogates = loneSurrogates
        self.rejectsInvalidUTF8 = rejectsInvalidUTF8
        self.requiresInt64Integers = requiresInt64Integers
        self.maximumDepth = maximumDepth
    }
}

/// Why a JSON text failed to parse and where: the byte offset into the buffer read, and the 1-based
/// line and column (counted from the reader's start) that `file:line` messages need.
public struct JSONSyntaxError: Error, Equatable, CustomStringConvertible {
    /// Byte offset into the whole buffer (not relative to the reader's start).
    public var offset: Int
    /// 1-based line, counting `\n` from the reader's start.
    public var line: Int
    /// 1-based column in bytes from the start of that line.
    public var column: Int
    /// What was wrong, e.g. `expected ',' or '}' but found '1'`.
    public var message: String

    /// Creates an error; readers make these with `JSONReader.error(_:at:)`.
    public init(offset: Int, line: Int, column: Int, message: String) {
        self.offset = offset
        self.line = line
        self.column = column
        self.message = message
    }

    public var description: String { "\(message) (line \(line), column \(column))" }
}

/// A recursive-descent JSON reader over a UTF-8 byte buffer that it does not own: the buffer must
/// outlive the reader. `position` and the primitives are public so callers can read framing of their
/// own (a top-level array of rows, one row per line) around `readValue()`.
public struct JSONReader {
    /// The buffer being read.
    public let bytes: UnsafeBufferPointer<UInt8>
    /// The offset of the next byte to read.
    public var position: Int
    /// Where reading started (line 1, column 1).
    public let start: Int
    /// One past the last byte that may be read.
    public let end: Int
    /// What is accepted.
    public let options: JSONReaderOptions
    private var depth = 0

    /// A reader of `bytes[start..<end]` (all of `bytes` by default).
    public init(_ bytes: UnsafeBufferPointer<UInt8>, start: Int = 0, end: Int? = nil,
                options: JSONReaderOptions = JSONReaderOptions()) {
        self.bytes = bytes
        self.position = start
        self.start = start
        self.end = end ?? bytes.count
        self.options = options
    }

    /// Parses exactly one value filling `bytes[start..<end]`, whitespace allowed around it.
    public static func parse(_ bytes: UnsafeBufferPointer<UInt8>, start: Int = 0, end: Int? = nil,
                             options: JSONReaderOptions = JSONReaderOptions()) throws -> JSONValue {
        var reader = JSONReader(bytes, start: start, end: end, options: options)
        return try reader.readDocument()
    }

    /// Parses exactly one value filling `bytes`, whitespace allowed around it.
    public static func parse<Bytes: Collection>(_ bytes: Bytes, options: JSONReaderOptions = JSONReaderOptions()) throws -> JSONValue
    where Bytes.Element == UInt8 {
        let parsed = try bytes.withContiguousStorageIfAvailable { try parse($0, options: options) }
        if let parsed { return parsed }
        return try Array(bytes).withUnsafeBufferPointer { try parse($0, options: options) }
    }

    // MARK: - Framing primitives

    /// Reads one value followed by nothing but whitespace up to `end`.
    public mutating func readDocument() throws -> JSONValue {
        let value = try readValue()
        skipWhitespace()
        if position < end { throw error("unexpected \(Self.describe(bytes[position])) after the JSON value") }
        return value
    }

    /// The byte at `position`, or nil at the end.
    @inline(__always)
    public func peek() -> UInt8? { position < end ? bytes[position] : nil }

    /// Moves past spaces, tabs, carriage returns and newlines.
    @inline(__always)
    public mutating func skipWhitespace() {
        while position < end {
            let b = bytes[position]
            if b == 0x20 || b == 0x0A || b == 0x0D || b == 0x09 { position &+= 1 } else { return }
        }
    }

    /// The 1-based line and column of `offset`, counting from `start`. Computed on demand (only errors
    /// need it), so the hot path does not count lines.
    public func location(of offset: Int) -> (line: Int, column: Int) {
        var line = 1
        var lineStart = start
        var i = start
        let stop = min(offset, end)
        while i < stop {
            if bytes[i] == 0x0A { line += 1; lineStart = i + 1 }
            i += 1
        }
        return (line, offset - lineStart + 1)
    }

    /// An error at `offset` (the current position by default).
    public func error(_ message: String, at offset: Int? = nil) -> JSONSyntaxError {
        let offset = offset ?? position
        let (line, column) = location(of: offset)
        return JSONSyntaxError(offset: offset, line: line, column: column, message: message)
    }

    /// `'x'` for a printable ASCII byte, `byte 0xNN` otherwise (`quoted: false` drops the quotes).
    public static func describe(_ c: UInt8, quoted: Bool = true) -> String {
        let printable = c >= 0x20 && c < 0x7F
        let text = printable ? String(Character(Unicode.Scalar(c))) : "byte 0x" + String(c, radix: 16)
        return quoted && printable ? "'\(text)'" : text
    }

    // MARK: - Values

    /// Reads one value (leading whitespace skipped), leaving `position` just after it.
    public mutating func readValue() throws -> JSONValue {
        skipWhitespace()
        guard position < end else { throw error("unexpected end of input, expected a value") }
        let c = bytes[position]
        switch c {
        case UInt8(ascii: "{"): return try readObject()
        case UInt8(ascii: "["): return try readArray()
        case UInt8(ascii: "\""): return .string(try readString())
        case UInt8(ascii: "t"): try readWord("true"); return .bool(true)
        case UInt8(ascii: "f"): try readWord("false"); return .bool(false)
        case UInt8(ascii: "n"): try readWord("null"); return .null
        case UInt8(ascii: "-"), UInt8(ascii: "0")...UInt8(ascii: "9"): return .number(try readNumber())
        case UInt8(ascii: "N") where options.allowsNonFiniteNumbers:
            try readWord("NaN"); return .number(JSONNumber(text: "NaN"))
        case UInt8(ascii: "I") where options.allowsNonFiniteNumbers:
            try readWord("Infinity"); return .number(JSONNumber(text: "Infinity"))
        default: throw error("unexpected \(Self.describe(c)), expected a value")
        }
    }

    private mutating func readWord(_ word: StaticString) throws {
        let count = word.utf8CodeUnitCount
        let w = word.utf8Start
        var matches = end - position >= count
        if matches { for i in 0..<count where bytes[position &+ i] != w[i] { matches = false; break } }
        guard matches else { throw error("unexpected \(Self.describe(bytes[position])), expected a value") }
        position &+= count
    }

    private mutating func enter() throws {
        depth += 1
        if depth > options.maximumDepth { throw error("nesting deeper than \(options.maximumDepth) levels") }
    }

    private mutating func expect(_ c: UInt8) throws {
        skipWhitespace()
        let expected = "'\(Character(Unicode.Scalar(c)))'"
        guard let found = peek() else { throw error("unexpected end of input, expected \(expected)") }
        guard found == c else { throw error("expected \(expected) but found \(Self.describe(found))") }
        position &+= 1
    }

    private mutating func readObject() throws -> JSONValue {
        try enter()
        defer { depth -= 1 }
        position &+= 1
        var members: [(key: String, value: JSONValue)] = []
        var seen: Set<String>? = options.duplicateKeys == .reject ? [] : nil
        skipWhitespace()
        if position < end && bytes[position] == UInt8(ascii: "}") { position &+= 1; return .object(members) }
        while true {
            skipWhitespace()
            guard position < end, bytes[position] == UInt8(ascii: "\"") else {
                throw error(peek().map { "expected a quoted key but found \(Self.describe($0))" } ?? "unterminated object")
            }
            let keyOffset = position
            let key = try readString()
            if seen != nil, !seen!.insert(key).inserted {
                throw error("duplicate key \"\(key)\"", at: keyOffset)
            }
            try expect(UInt8(ascii: ":"))
            members.append((key, try readValue()))
            skipWhitespace()
            guard position < end else { throw error("unterminated object") }
            let c = bytes[position]
            if c == UInt8(ascii: ",") { position &+= 1; continue }
            if c == UInt8(ascii: "}") { position &+= 1; return .object(members) }
            throw error("expected ',' or '}' but found \(Self.describe(c))")
        }
    }

    private mutating func readArray() throws -> JSONValue {
        try enter()
        defer { depth -= 1 }
        position &+= 1
        var elements: [JSONValue] = []
        skipWhitespace()
        if position < end && bytes[position] == UInt8(ascii: "]") { position &+= 1; return .array(elements) }
        while true {
            elements.append(try readValue())
            skipWhitespace()
            guard position < end else { throw error("unterminated array") }
            let c = bytes[position]
            if c == UInt8(ascii: ",") { position &+= 1; continue }
            if c == UInt8(ascii: "]") { position &+= 1; return .array(elements) }
            throw error("expected ',' or ']' but found \(Self.describe(c))")
        }
    }

    /// Reads a string starting at its opening quote.
    public mutating func readString() throws -> String {
        position &+= 1  // opening quote
        let contentStart = position
        // Fast path: no escapes, so the bytes between the quotes are the string.
        var ascii = true
        while position < end {
            let b = bytes[position]
            if b == UInt8(ascii: "\"") {
                let raw = UnsafeBufferPointer(rebasing: bytes[contentStart..<position])
                let s = try makeString(raw, ascii: ascii, contentStart: contentStart)
                position &+= 1
                return s
            }
            if b == UInt8(ascii: "\\") { break }
            if b < 0x20 { throw error("control character in string") }
            if b >= 0x80 { ascii = false }
            position &+= 1
        }
        // Slow path: copy the run read so far, then decode escapes.
        var buffer = Array(UnsafeBufferPointer(rebasing: bytes[contentStart..<position]))
        while position < end {
            let b = bytes[position]
            if b == UInt8(ascii: "\"") {
                let s = try buffer.withUnsafeBufferPointer { try makeString($0, ascii: false, contentStart: contentStart) }
                position &+= 1
                return s
            }
            if b < 0x20 { throw error("control character in string") }
            if b != UInt8(ascii: "\\") { buffer.append(b); position &+= 1; continue }
            position &+= 1
            guard position < end else { break }
            let e = bytes[position]
            position &+= 1
            switch e {
            case UInt8(ascii: "\""): buffer.append(0x22)
            case UInt8(ascii: "\\"): buffer.append(0x5C)
            case UInt8(ascii: "/"): buffer.append(0x2F)
            case UInt8(ascii: "b"): buffer.append(0x08)
            case UInt8(ascii: "f"): buffer.append(0x0C)
            case UInt8(ascii: "n"): buffer.append(0x0A)
            case UInt8(ascii: "r"): buffer.append(0x0D)
            case UInt8(ascii: "t"): buffer.append(0x09)
            case UInt8(ascii: "u"): appendUTF8(of: try readEscapedScalar(), to: &buffer)
            default:
                position &-= 1
                throw error("invalid escape \\\(Self.describe(e, quoted: false))")
            }
        }
        throw error("unterminated string")
    }

    private func makeString(_ raw: UnsafeBufferPointer<UInt8>, ascii: Bool, contentStart: Int) throws -> String {
        if ascii || !options.rejectsInvalidUTF8 { return String(decoding: raw, as: UTF8.self) }
        // Python refuses invalid UTF-8 when it reads the file; so do we, rather than repair it silently.
        guard let s = String(validating: raw, as: UTF8.self) else { throw error("invalid UTF-8 in a string", at: contentStart) }
        return s
    }

    /// Reads the four hex digits after `\u` (and a following low surrogate escape when the first is a
    /// high surrogate).
    private mutating func readEscapedScalar() throws -> Unicode.Scalar {
        let high = try readHex4()
        if (0xD800..<0xDC00).contains(high) {
            if end - position >= 6, bytes[position] == UInt8(ascii: "\\"), bytes[position &+ 1] == UInt8(ascii: "u") {
                let save = position
                position &+= 2
                let low = try readHex4()
                if (0xDC00..<0xE000).contains(low) {
                    return Unicode.Scalar(0x10000 + ((high - 0xD800) << 10) + (low - 0xDC00))!
                }
                position = save  // the next escape is read on its own
            }
            guard options.loneSurrogates == .replace else { throw error("unpaired UTF-16 surrogate in \\u escape") }
            return "\u{FFFD}"
        }
        if (0xDC00..<0xE000).contains(high) {
            guard options.loneSurrogates == .replace else { throw error("unpaired UTF-16 surrogate in \\u escape") }
            return "\u{FFFD}"
        }
        return Unicode.Scalar(high)!
    }

    private func appendUTF8(of scalar: Unicode.Scalar, to buffer: inout [UInt8]) {
        UTF8.encode(scalar) { buffer.append($0) }
    }

    private mutating func readHex4() throws -> UInt32 {
        guard end - position >= 4 else { throw error("truncated \\u escape") }
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
            position &+= 1
        }
        return value
    }

    @inline(__always)
    private func isDigit(_ offset: Int) -> Bool {
        offset < end && bytes[offset] >= UInt8(ascii: "0") && bytes[offset] <= UInt8(ascii: "9")
    }

    /// Reads a number per the JSON grammar, keeping its literal text.
    private mutating func readNumber() throws -> JSONNumber {
        let numberStart = position
        if bytes[position] == UInt8(ascii: "-") {
            position &+= 1
            if options.allowsNonFiniteNumbers, position < end, bytes[position] == UInt8(ascii: "I") {
                try readWord("Infinity")
                return JSONNumber(text: "-Infinity")
            }
        }
        guard isDigit(position) else { throw error("invalid number") }
        var integer = true
        if bytes[position] == UInt8(ascii: "0") {
            position &+= 1
        } else {
            while isDigit(position) { position &+= 1 }
        }
        if position < end && bytes[position] == UInt8(ascii: ".") {
            integer = false
            position &+= 1
            guard isDigit(position) else { throw error("invalid number: digits must follow '.'") }
            while isDigit(position) { position &+= 1 }
        }
        if position < end && (bytes[position] == UInt8(ascii: "e") || bytes[position] == UInt8(ascii: "E")) {
            integer = false
            position &+= 1
            if position < end && (bytes[position] == UInt8(ascii: "+") || bytes[position] == UInt8(ascii: "-")) { position &+= 1 }
            guard isDigit(position) else { throw error("invalid number: digits must follow the exponent") }
            while isDigit(position) { position &+= 1 }
        }
        let number = JSONNumber(text: String(decoding: UnsafeBufferPointer(rebasing: bytes[numberStart..<position]), as: UTF8.self))
        if integer && options.requiresInt64Integers && Int(number.text) == nil {
            throw error("integer \(number.text) does not fit in 64 bits", at: numberStart)
        }
        return number
    }
}
