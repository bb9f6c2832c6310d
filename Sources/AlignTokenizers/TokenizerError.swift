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

/// Small accessors over `JSONSerialization` output, so the loaders read like the JSON they parse.
enum JSON {
    /// Parses a JSON file into a dictionary, with errors that name the file.
    static func object(at url: URL) throws -> [String: Any] {
        let data: Data
        do {
            data = try Data(contentsOf: url)
        } catch {
            throw TokenizerError(url.path, "cannot read file (\(error.localizedDescription))")
        }
        let value: Any
        do {
            value = try JSONSerialization.jsonObject(with: data, options: [.fragmentsAllowed])
        } catch {
            throw TokenizerError(url.path, "not valid JSON (\(error.localizedDescription))")
        }
        guard let object = value as? [String: Any] else {
            throw TokenizerError(url.path, "top level is not a JSON object")
        }
        return object
    }

    /// An integer from a JSON number (JSONSerialization yields NSNumber); huge values clamp to Int.max.
    static func int(_ value: Any?) -> Int? {
        guard let number = value as? NSNumber else { return nil }
        let double = number.doubleValue
        if double >= Double(Int.max) { return Int.max }
        return number.intValue
    }

    /// A boolean from a JSON `true`/`false` (or a number, as some configs write 0/1).
    static func bool(_ value: Any?) -> Bool? {
        (value as? NSNumber)?.boolValue
    }

    /// A string, or the `content` of an AddedToken-style dictionary (`{"content": "<s>", ...}`).
    static func tokenString(_ value: Any?) -> String? {
        if let string = value as? String { return string }
        if let dict = value as? [String: Any] { return dict["content"] as? String }
        return nil
    }
}
