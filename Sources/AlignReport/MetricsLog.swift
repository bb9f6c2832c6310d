import Foundation

/// Training-log rows read from a `metrics.jsonl` file: one JSON object per line, as TRL's
/// `log_history` or Align's trainer writes them (`{"step": 10, "loss": 0.61, "rewards/margins": 0.3}`).
///
/// Reading is tolerant, because logs come from several tools and from runs that crashed mid-line:
/// - every numeric field is kept under its own name, known or not;
/// - nested objects are flattened with `/` (`{"rewards": {"chosen": 1}}` → `rewards/chosen`);
/// - strings, booleans, arrays and `null` are ignored;
/// - Python's non-standard `NaN`, `Infinity` and `-Infinity` (what `json.dumps` writes for
///   non-finite floats) are accepted, so a diverged step shows up as a gap rather than a lost line;
/// - blank lines are skipped, and lines that are not a JSON object are skipped and counted in
///   `skippedLines` (never silently: the report can say so).
public struct MetricsLog: Equatable, Sendable {
    /// One dictionary per logged line, in file order.
    public var rows: [[String: Double]]
    /// 1-based numbers of the non-blank lines that could not be read as a JSON object.
    public var skippedLines: [Int]

    /// Creates a log from rows already in memory.
    public init(rows: [[String: Double]], skippedLines: [Int] = []) {
        self.rows = rows
        self.skippedLines = skippedLines
    }

    /// Parses JSON Lines text.
    public init(jsonl text: String) {
        var rows: [[String: Double]] = []
        var skipped: [Int] = []
        var lineNumber = 0
        // Split bytes, not Characters: "\r\n" is one Character in Swift and would not split on "\n".
        for line in Array(text.utf8).split(separator: 0x0A, omittingEmptySubsequences: false) {
            lineNumber += 1
            let bytes = Array(line)
            if bytes.allSatisfy({ $0 == 0x20 || $0 == 0x09 || $0 == 0x0D }) { continue }
            var parser = LenientJSONParser(bytes: bytes)
            if let row = parser.parseFlatObject() {
                rows.append(row)
            } else {
                skipped.append(lineNumber)
            }
        }
        self.init(rows: rows, skippedLines: skipped)
    }

    /// Reads and parses a `metrics.jsonl` file.
    ///
    /// - Throws: The file-system error when the file cannot be read, or `CocoaError` when it is
    ///   not UTF-8. Malformed lines do not throw; see `skippedLines`.
    public init(contentsOf url: URL) throws {
        let data = try Data(contentsOf: url)
        guard let text = String(data: data, encoding: .utf8) else {
            throw CocoaError(.fileReadInapplicableStringEncoding, userInfo: [NSURLErrorKey: url])
        }
        self.init(jsonl: text)
    }
}

/// A small JSON reader for one log line: an object whose numeric leaves become `[String: Double]`.
///
/// Foundation's `JSONSerialization` rejects the bare `NaN`/`Infinity` that Python writes, and a
/// diverging run is exactly when those appear, so the log reader parses the grammar itself.
struct LenientJSONParser {
    private let bytes: [UInt8]
    private var index = 0

    init(bytes: [UInt8]) {
        self.bytes = bytes
    }

    /// Parses the whole input as one object; `nil` when it is anything else or has trailing text.
    mutating func parseFlatObject() -> [String: Double]? {
        var result: [String: Double] = [:]
        skipSpace()
        guard peek() == UInt8(ascii: "{"), parseObject(prefix: "", into: &result) else { return nil }
        skipSpace()
        return index == bytes.count ? result : nil
    }

    private func peek() -> UInt8? { index < bytes.count ? bytes[index] : nil }

    private mutating func skipSpace() {
        while let b = peek(), b == 0x20 || b == 0x09 || b == 0x0A || b == 0x0D { index += 1 }
    }

    private mutating func expect(_ byte: UInt8) -> Bool {
        skipSpace()
        guard peek() == byte else { return false }
        index += 1
        return true
    }

    /// Parses `{...}` at the cursor, adding numeric leaves under `prefix + key`.
    private mutating func parseObject(prefix: String, into result: inout [String: Double]) -> Bool {
        guard expect(UInt8(ascii: "{")) else { return false }
        skipSpace()
        if peek() == UInt8(ascii: "}") { index += 1; return true }
        while true {
            skipSpace()
            guard let key = parseString(), expect(UInt8(ascii: ":")) else { return false }
            guard parseValue(name: prefix + key, into: &result) else { return false }
            skipSpace()
            guard let b = peek() else { return false }
            index += 1
            if b == UInt8(ascii: "}") { return true }
            if b != UInt8(ascii: ",") { return false }
        }
    }

    /// Parses any value; numbers are stored under `name`, objects flattened, the rest dropped.
    private mutating func parseValue(name: String, into result: inout [String: Double]) -> Bool {
        skipSpace()
        guard let b = peek() else { return false }
        switch b {
        case UInt8(ascii: "{"):
            return parseObject(prefix: name + "/", into: &result)
        case UInt8(ascii: "["):
            index += 1
            skipSpace()
            if peek() == UInt8(ascii: "]") { index += 1; return true }
            var ignored: [String: Double] = [:]
            while true {
                guard parseValue(name: "", into: &ignored) else { return false }
                skipSpace()
                guard let c = peek() else { return false }
                index += 1
                if c == UInt8(ascii: "]") { return true }
                if c != UInt8(ascii: ",") { return false }
            }
        case UInt8(ascii: "\""):
            return parseString() != nil
        default:
            if consume("true") || consume("false") || consume("null") { return true }
            if consume("NaN") { result[name] = .nan; return true }
            if consume("Infinity") { result[name] = .infinity; return true }
            if consume("-Infinity") { result[name] = -.infinity; return true }
            guard let number = parseNumber() else { return false }
            result[name] = number
            return true
        }
    }

    private mutating func consume(_ word: String) -> Bool {
        let w = Array(word.utf8)
        guard index + w.count <= bytes.count, Array(bytes[index..<index + w.count]) == w else { return false }
        index += w.count
        return true
    }

    private mutating func parseNumber() -> Double? {
        let start = index
        while let b = peek(), (b >= UInt8(ascii: "0") && b <= UInt8(ascii: "9")) || b == UInt8(ascii: "-")
            || b == UInt8(ascii: "+") || b == UInt8(ascii: ".") || b == UInt8(ascii: "e") || b == UInt8(ascii: "E") {
            index += 1
        }
        guard index > start, let text = String(bytes: bytes[start..<index], encoding: .utf8) else { return nil }
        return Double(text)
    }

    /// Parses a string literal with JSON escapes (including surrogate pairs).
    private mutating func parseString() -> String? {
        guard peek() == UInt8(ascii: "\"") else { return nil }
        index += 1
        var out: [UInt8] = []
        while let b = peek() {
            index += 1
            switch b {
            case UInt8(ascii: "\""):
                return String(decoding: out, as: UTF8.self)
            case UInt8(ascii: "\\"):
                guard let e = peek() else { return nil }
                index += 1
                switch e {
                case UInt8(ascii: "n"): out.append(0x0A)
                case UInt8(ascii: "t"): out.append(0x09)
                case UInt8(ascii: "r"): out.append(0x0D)
                case UInt8(ascii: "b"): out.append(0x08)
                case UInt8(ascii: "f"): out.append(0x0C)
                case UInt8(ascii: "u"):
                    guard var scalar = parseHex4() else { return nil }
                    if (0xD800..<0xDC00).contains(scalar), consume("\\u"), let low = parseHex4(),
                       (0xDC00..<0xE000).contains(low) {
                        scalar = 0x10000 + ((scalar - 0xD800) << 10) + (low - 0xDC00)
                    }
                    out.append(contentsOf: Array(String(Unicode.Scalar(scalar).map(Character.init) ?? "\u{FFFD}").utf8))
                default: out.append(e)  // \" \\ \/
                }
            default:
                out.append(b)
            }
        }
        return nil
    }

    private mutating func parseHex4() -> UInt32? {
        guard index + 4 <= bytes.count,
              let text = String(bytes: bytes[index..<index + 4], encoding: .utf8),
              let value = UInt32(text, radix: 16) else { return nil }
        index += 4
        return value
    }
}
