// What every architecture shares when reading its configuration: the error type, the bounds on
// settings and the config.json reader.
import AlignJSON
import Foundation

/// Errors raised while building or running a model.
public enum ModelError: Error, CustomStringConvertible {
    /// An architecture, setting or operation Align does not implement, described.
    case unsupported(String)
    /// A weight the configuration implies is missing from the source (by Hugging Face name).
    case missingWeight(String)
    /// A weight whose shape is not the one the configuration implies.
    case shapeMismatch(name: String, expected: [Int], found: [Int])
    /// A file that cannot be read or does not fit the model, with why.
    case unreadable(path: String, reason: String)
    /// A configuration value out of range or inconsistent: `key` names the `config.json` key (or
    /// GGUF metadata key).
    case invalidSetting(key: String, message: String)

    /// This error with the file it concerns (a setting's error gets the config file's path).
    public func located(in url: URL) -> ModelError {
        if case let .invalidSetting(_, message) = self { return .unreadable(path: url.path, reason: message) }
        return self
    }

    /// The message, naming the file or weight concerned.
    public var description: String {
        switch self {
        case let .unsupported(what): return "unsupported: \(what)"
        case let .missingWeight(name): return "checkpoint has no tensor \(name)"
        case let .shapeMismatch(name, expected, found): return "tensor \(name) has shape \(found), the model expects \(expected)"
        case let .unreadable(path, reason): return "\(path): \(reason)"
        case let .invalidSetting(_, message): return message
        }
    }
}

/// Bounds on configuration values: far above any released model, low enough that products of
/// them (tensor sizes) cannot overflow and a typo cannot ask for terabytes.
public let maximumVocabularySize = 1 << 24
/// Largest hidden width accepted.
public let maximumWidth = 1 << 17
/// Most decoder layers accepted.
public let maximumLayers = 1024
/// Most attention heads accepted.
public let maximumHeads = 1 << 12
/// Largest `max_position_embeddings` accepted.
public let maximumPositions = 1 << 24
/// Longest rotary table built (positions): 128k, Llama 3.1's context.
public let maximumRotaryPositions = 1 << 17

/// Throws ``ModelError/invalidSetting(key:message:)`` ("`key` `message`") unless `ok`.
func requireModelSetting(_ ok: Bool, _ key: String, _ message: @autoclosure () -> String) throws {
    if !ok { throw ModelError.invalidSetting(key: key, message: "\(key) \(message())") }
}

/// Checks that the configured special-token ids have embedding rows.
func requireTokenIDsInVocabulary(bos: Int?, eos: LlamaConfiguration.TokenIDs?, pad: Int?, vocabSize: Int) throws {
    let ids = [("bos_token_id", bos), ("pad_token_id", pad)].compactMap { key, id in id.map { (key, $0) } }
        + (eos?.all ?? []).map { ("eos_token_id", $0) }
    for (key, id) in ids {
        try requireModelSetting((0..<vocabSize).contains(id), key, "\(id) is outside the vocabulary (vocab_size \(vocabSize))")
    }
}

/// Decodes a `config.json` with the project's JSON reader: syntax errors give line and column, type
/// errors the key, what was expected and what the file holds.
func readConfigurationFile<T: Decodable>(_ type: T.Type, url: URL) throws -> T {
    let data: Data
    do { data = try Data(contentsOf: url) } catch {
        throw ModelError.unreadable(path: url.path, reason: FileManager.default.fileExists(atPath: url.path) ? "cannot read the file" : "no such file")
    }
    guard data.count <= 16 << 20 else { throw ModelError.unreadable(path: url.path, reason: "\(data.count) bytes is too large for a config.json") }
    let value: JSONValue
    do { value = try JSONReader.parse(data, options: JSONReaderOptions(duplicateKeys: .lastWins, allowsNonFiniteNumbers: true)) } catch let error as JSONSyntaxError {
        throw ModelError.unreadable(path: url.path, reason: "not valid JSON: \(error)")
    }
    guard case .object = value else { throw ModelError.unreadable(path: url.path, reason: "must be a JSON object of settings") }
    do { return try JSONValueDecoder().decode(type, from: value) } catch let error as JSONDecodingError {
        throw ModelError.unreadable(path: url.path, reason: error.description)
    } catch let error as ModelError {
        throw error.located(in: url)
    }
}
