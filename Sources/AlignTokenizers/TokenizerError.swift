import AlignJSON
import Foundation

/// An error raised while loading a tokenizer: which file (or input) and why.
public struct TokenizerError: Error, CustomStringConvertible, Equatable {
    /// The file or input the problem was found in (a path, or a short description such as "vocabulary").
    public let source: String
    /// What is wrong, in words.
    public let reason: String

    /// Creates an error naming the offending source and the reason.
    public init(_ source: String, _ reason: String) {
        self.source = source
        self.reason = reason
    }

    /// "tokenizer: <source>: <reason>".
    public var description: String { "tokenizer: \(source): \(reason)" }
}

/// Small accessors over parsed JSON (read with AlignJSON and handed out as `[String: Any]` trees), so
/// the loaders read like the JSON they parse. Objects become `[String: Any]` (the last of a repeated key
/// wins, as in Python), arrays `[Any]`, strings `String`, booleans `Bool`, numbers `JSONNumber` (their
/// literal, so an id of 2^63 is seen as too large rather than rounded) and null `NSNull`.
enum JSON {
    /// Duplicate keys take the last value and lone surrogates read as U+FFFD, as Python's `json` (which
    /// transformers uses) reads these files.
    static let options = JSONReaderOptions(duplicateKeys: .lastWins, loneSurrogates: .replace, maximumDepth: 512)

    /// Parses a JSON file into a dictionary, with errors that name the file and, for syntax errors, the
    /// line, column and byte offset.
    static func object(at url: URL) throws -> [String: Any] {
        let data: Data
        do {
            data = try Data(contentsOf: url)
        } catch {
            throw TokenizerError(url.path, "cannot read file (\(readFailure(url)))")
        }
        let value: JSONValue
        do {
            value = try data.withUnsafeBytes { raw in
                try JSONReader.parse(raw.bindMemory(to: UInt8.self), options: options)
            }
        } catch let error as JSONSyntaxError {
            throw TokenizerError(url.path, "not valid JSON at line \(error.line), column \(error.column) (byte \(error.offset)): \(error.message)")
        }
        guard case .object = value, let object = foundationValue(value) as? [String: Any] else {
            throw TokenizerError(url.path, "the top level is not a JSON object")
        }
        return object
    }

    /// Why a file could not be read, in words (Foundation's messages do not say which file or why).
    private static func readFailure(_ url: URL) -> String {
        var isDirectory: ObjCBool = false
        if !FileManager.default.fileExists(atPath: url.path, isDirectory: &isDirectory) { return "no such file" }
        if isDirectory.boolValue { return "it is a folder" }
        return "permission denied or I/O error"
    }

    /// The `Any` tree of a parsed value.
    static func foundationValue(_ value: JSONValue) -> Any {
        switch value {
        case .null: return NSNull()
        case .bool(let b): return b
        case .number(let n): return n
        case .string(let s): return s
        case .array(let items): return items.map(foundationValue)
        case .object(let members):
            var object: [String: Any] = [:]
            object.reserveCapacity(members.count)
            for (key, value) in members { object[key] = foundationValue(value) }
            return object
        }
    }

    /// An integer from a JSON number: integer literals exactly (ones beyond 64 bits clamp to
    /// `Int.max` / `Int.min`, so a huge id is rejected by range checks rather than wrapped), whole
    /// floats such as `3.0` as integers (huge ones clamp the same way); nil for fractions, NaN and
    /// non-numbers.
    static func int(_ value: Any?) -> Int? {
        guard let number = value as? JSONNumber else { return nil }
        if let integer = number.integer { return integer }
        if number.isInteger { return number.text.hasPrefix("-") ? Int.min : Int.max }
        guard let double = number.double, !double.isNaN, double.rounded() == double else { return nil }
        if double >= Double(Int.max) { return Int.max }
        if double <= Double(Int.min) { return Int.min }
        return Int(double)
    }

    /// A boolean from a JSON `true`/`false` (or a number, as some configs write 0/1).
    static func bool(_ value: Any?) -> Bool? {
        if let bool = value as? Bool { return bool }
        if let number = value as? JSONNumber, let double = number.double { return double != 0 }
        return nil
    }

    /// A token or key for an error message: quoted with escapes, and cut short when a hostile file
    /// makes it huge.
    static func quoted(_ text: String) -> String {
        let limit = 80
        let scalars = text.unicodeScalars
        guard scalars.count > limit else { return text.debugDescription }
        return String(String.UnicodeScalarView(scalars.prefix(limit))).debugDescription + "... (\(scalars.count) characters)"
    }

    /// A short description of a JSON value for error messages: the number or string itself, or its kind.
    static func describe(_ value: Any?) -> String {
        switch value {
        case nil: return "missing"
        case is NSNull: return "null"
        case let b as Bool: return b ? "true" : "false"
        case let n as JSONNumber: return n.text.count > 40 ? String(n.text.prefix(40)) + "..." : n.text
        case let s as String: return "the string \(quoted(s))"
        case is [Any]: return "an array"
        case is [String: Any]: return "an object"
        default: return "\(type(of: value!))"
        }
    }

    /// A string, or the `content` of an AddedToken-style dictionary (`{"content": "<s>", ...}`).
    static func tokenString(_ value: Any?) -> String? {
        if let string = value as? String { return string }
        if let dict = value as? [String: Any] { return dict["content"] as? String }
        return nil
    }
}
