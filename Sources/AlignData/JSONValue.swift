// A small JSON value type and a byte-level parser for dataset rows.
//
// Dataset files hold up to millions of short rows, and a malformed row must be reported with its line.
// Foundation's JSONSerialization gives neither speed (it boxes every value in NSObject) nor positions,
// so rows are parsed here directly from the file's UTF-8 bytes.

/// A parsed JSON value. Objects keep their keys in file order (rows have a handful of keys, so lookups
/// scan linearly, which beats hashing at that size).
enum JSONValue: Equatable, Sendable {
    case null
    case bool(Bool)
    case number(Double)
    case string(String)
    case array([JSONValue])
    case object([(key: String, value: JSONValue)])

    /// The member `key` of an object (the last one when a key repeats, as Python's `json` does); nil otherwise.
    subscript(key: String) -> JSONValue? {
        guard case .object(let members) = self else { return nil }
        return members.last(where: { $0.key == key })?.value
    }

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

    /// Equality as Python compares parsed JSON: objects ignore key order (so two chat messages written with
    /// their keys in different orders are the same message).
    static func == (lhs: JSONValue, rhs: JSONValue) -> Bool {
        switch (lhs, rhs) {
        case (.null, .null): return true
        case (.bool(let a), .bool(let b)): return a == b
        case (.number(let a), .number(let b)): return a == b
        case (.string(let a), .string(let b)): return a == b
        case (.array(let a), .array(let b)): return a == b
        case (.object(let a), .object(let b)):
            // Python dict equality: same keys with equal values, order ignored.
            guard a.count == b.count else { return false }
            return a.allSatisfy { member in b.contains { $0.key == member.key && $0.value == member.value } }
        default: return false
        }
    }
}

/// Why a JSON text failed to parse, and the byte offset (into the parsed buffer) where it did.
struct JSONSyntaxError: Error {
    var offset: Int
    var reason: String
}

/// A recursive-descent JSON parser over a UTF-8 byte buffer (RFC 8259, plus Python's `NaN`/`Infinity`,
/// which `json.dumps` writes by default).
struct JSONParser {
    let bytes: UnsafeBufferPointer<UInt8>
    var position: Int
    let end: Int
    /// Nesting guard: a pathological row must fail, not overflow the stack.
    var depth = 0

    init(_ bytes: UnsafeBufferPointer<UInt8>, start: Int = 0, end: Int? = nil) {
        self.bytes = bytes
        self.position = start
        self.end = end ?? bytes.count
    }

    /// Parses exactly one value filling `start..<end` (surrounding whitespace allowed).
    static func parseWhole(_ bytes: UnsafeBufferPointer<UInt8>, start: Int, end: Int) throws -> JSONValue {
        var parser = JSONParser(bytes, start: start, end: end)
        let value = try parser.parseValue()
        parser.skipWhitespace()
        if parser.position < end { throw parser.error("unexpected text after the JSON value") }
        return value
    }

    func error(_ reason: String) -> JSONSyntaxError { JSONSyntaxError(offset: position, reason: reason) }

    mutating func skipWhitespace() {
        while position < end {
            let b = bytes[position]
            if b == 0x20 || b == 0x0A || b == 0x0D || b == 0x09 { position &+= 1 } else { break }
        }
    }

    mutating func parseValue() throws -> JSONValue {
        skipWhitespace()
        guard position < end else { throw error("unexpected end of input") }
        switch bytes[position] {
        case UInt8(ascii: "{"): return try parseObject()
        case UInt8(ascii: "["): return try parseArray()
        case UInt8(ascii: "\""): return .string(try parseString())
        case UInt8(ascii: "t"): try expectWord("true"); return .bool(true)
        case UInt8(ascii: "f"): try expectWord("false"); return .bool(false)
        case UInt8(ascii: "n"): try expectWord("null"); return .null
        case UInt8(ascii: "N"): try expectWord("NaN"); return .number(.nan)
        case UInt8(ascii: "I"): try expectWord("Infinity"); return .number(.infinity)
        case UInt8(ascii: "-"), UInt8(ascii: "0")...UInt8(ascii: "9"): return .number(try parseNumber())
        default: throw error("unexpected character '\(Character(Unicode.Scalar(bytes[position])))'")
        }
    }

    mutating func expectWord(_ word: StaticString) throws {
        let count = word.utf8CodeUnitCount
        guard end - position >= count else { throw error("invalid literal") }
        let w = word.utf8Start
        for i in 0..<count where bytes[position &+ i] != w[i] { throw error("invalid literal") }
        position &+= count
    }

    mutating func parseObject() throws -> JSONValue {
        depth += 1
        defer { depth -= 1 }
        if depth > 512 { throw error("nesting deeper than 512 levels") }
        position &+= 1
        var members: [(key: String, value: JSONValue)] = []
        skipWhitespace()
        if position < end && bytes[position] == UInt8(ascii: "}") { position &+= 1; return .object(members) }
        while true {
            skipWhitespace()
            guard position < end, bytes[position] == UInt8(ascii: "\"") else { throw error("expected a string key") }
            let key = try parseString()
            skipWhitespace()
            guard position < end, bytes[position] == UInt8(ascii: ":") else { throw error("expected ':' after a key") }
            position &+= 1
            members.append((key, try parseValue()))
            skipWhitespace()
            guard position < end else { throw error("unterminated object") }
            if bytes[position] == UInt8(ascii: ",") { position &+= 1; continue }
            if bytes[position] == UInt8(ascii: "}") { position &+= 1; return .object(members) }
            throw error("expected ',' or '}' in an object")
        }
    }

    mutating func parseArray() throws -> JSONValue {
        depth += 1
        defer { depth -= 1 }
        if depth > 512 { throw error("nesting deeper than 512 levels") }
        position &+= 1
        var elements: [JSONValue] = []
        skipWhitespace()
        if position < end && bytes[position] == UInt8(ascii: "]") { position &+= 1; return .array(elements) }
        while true {
            elements.append(try parseValue())
            skipWhitespace()
            guard position < end else { throw error("unterminated array") }
            if bytes[position] == UInt8(ascii: ",") { position &+= 1; continue }
            if bytes[position] == UInt8(ascii: "]") { position &+= 1; return .array(elements) }
            throw error("expected ',' or ']' in an array")
        }
    }

    mutating func parseString() throws -> String {
        position &+= 1  // opening quote
        let start = position
        // Fast path: no escapes, so the bytes between the quotes are the string.
        var ascii = true
        while position < end {
            let b = bytes[position]
            if b == UInt8(ascii: "\"") {
                let raw = UnsafeBufferPointer(rebasing: bytes[start..<position])
                // Python refuses invalid UTF-8 when it reads the file; so do we, rather than repair it silently.
                guard let s = ascii ? String(decoding: raw, as: UTF8.self) : String(validating: raw, as: UTF8.self) else {
                    position = start
                    throw error("invalid UTF-8 in a string")
                }
                position &+= 1
                return s
            }
            if b >= 0x80 { ascii = false }
            if b == UInt8(ascii: "\\") { break }
            if b < 0x20 { throw error("control character in a string") }
            position &+= 1
        }
        var buffer = Array(UnsafeBufferPointer(rebasing: bytes[start..<min(position, end)]))
        while position < end {
            let b = bytes[position]
            if b == UInt8(ascii: "\"") {
                guard let s = String(validating: buffer, as: UTF8.self) else {
                    position = start
                    throw error("invalid UTF-8 in a string")
                }
                position &+= 1
                return s
            }
            if b < 0x20 { throw error("control character in a string") }
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
            case UInt8(ascii: "u"):
                var scalar = try parseHex4()
                if (0xD800..<0xDC00).contains(scalar) {
                    // A high surrogate pairs with a following \uDC00-\uDFFF escape.
                    if end - position >= 6, bytes[position] == UInt8(ascii: "\\"), bytes[position &+ 1] == UInt8(ascii: "u") {
                        let save = position
                        position &+= 2
                        let low = try parseHex4()
                        if (0xDC00..<0xE000).contains(low) {
                            scalar = 0x10000 + ((scalar - 0xD800) << 10) + (low - 0xDC00)
                        } else {
                            position = save
                            scalar = 0xFFFD
                        }
                    } else {
                        scalar = 0xFFFD
                    }
                } else if (0xDC00..<0xE000).contains(scalar) {
                    scalar = 0xFFFD  // lone low surrogate: not representable in a Swift String
                }
                buffer.append(contentsOf: String(Character(Unicode.Scalar(scalar)!)).utf8)
            default:
                position &-= 1
                throw error("invalid escape '\\\(Character(Unicode.Scalar(e)))'")
            }
        }
        throw error("unterminated string")
    }

    mutating func parseHex4() throws -> UInt32 {
        guard end - position >= 4 else { throw error("truncated \\u escape") }
        var value: UInt32 = 0
        for _ in 0..<4 {
            let b = bytes[position]
            let digit: UInt32
            switch b {
            case UInt8(ascii: "0")...UInt8(ascii: "9"): digit = UInt32(b - UInt8(ascii: "0"))
            case UInt8(ascii: "a")...UInt8(ascii: "f"): digit = UInt32(b - UInt8(ascii: "a") + 10)
            case UInt8(ascii: "A")...UInt8(ascii: "F"): digit = UInt32(b - UInt8(ascii: "A") + 10)
            default: throw error("invalid hex digit in a \\u escape")
            }
            value = value << 4 | digit
            position &+= 1
        }
        return value
    }

    mutating func parseNumber() throws -> Double {
        let start = position
        if bytes[position] == UInt8(ascii: "-") {
            position &+= 1
            if end - position >= 8, bytes[position] == UInt8(ascii: "I") {
                try expectWord("Infinity")
                return -.infinity
            }
        }
        var sawDigit = false
        while position < end {
            let b = bytes[position]
            switch b {
            case UInt8(ascii: "0")...UInt8(ascii: "9"): sawDigit = true
            case UInt8(ascii: "."), UInt8(ascii: "e"), UInt8(ascii: "E"), UInt8(ascii: "+"), UInt8(ascii: "-"): break
            default:
                guard sawDigit, let value = Self.double(bytes, start, position) else { throw error("invalid number") }
                return value
            }
            position &+= 1
        }
        guard sawDigit, let value = Self.double(bytes, start, position) else { throw error("invalid number") }
        return value
    }

    static func double(_ bytes: UnsafeBufferPointer<UInt8>, _ start: Int, _ end: Int) -> Double? {
        Double(String(decoding: UnsafeBufferPointer(rebasing: bytes[start..<end]), as: UTF8.self))
    }
}
