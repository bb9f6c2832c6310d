import AlignJSON
import AlignSettings
import AlignTraining
import Foundation

/// A training command's configuration as decoded: defaults, then the YAML file's keys, then the
/// command-line flags. Every value remembers where it came from (`config.yaml:3` or
/// `--batch-size`), so an unknown key, a value of the wrong type and a value out of range are all
/// reported against the line or flag the user wrote.
struct SettingSources {
    /// The merged settings, snake_case keys (file order, then flags).
    private(set) var values: [(key: String, value: JSONValue)] = []
    /// Where each key's value came from.
    private(set) var sources: [String: String] = [:]

    /// Adds the keys of a config file, each refused unless `knownKeys` has it.
    mutating func add(file: SettingsFile, knownKeys: Set<String>) throws {
        for (key, value) in file.values {
            let source = "\(file.path):\(file.lines[key] ?? 0)"
            guard knownKeys.contains(key) else {
                throw SettingsError(source: source, "unknown key \"\(key)\"" + SettingSources.suggestion(for: key, in: knownKeys))
            }
            set(key, value, source: source)
        }
    }

    /// Sets `key` from a command-line flag (the flag wins over the file).
    mutating func set(_ key: String, _ value: JSONValue, source: String) {
        values.removeAll { $0.key == key }
        values.append((key, value))
        sources[key] = source
    }

    /// Where `key` was set, or nil for a default.
    func source(of key: String) -> String? { sources[key] }

    /// Decodes `T` and validates it, prefixing any error with the source of the key it is about.
    func decode<T: ValidatedConfiguration>(_ type: T.Type) throws -> T {
        let configuration: T
        do {
            configuration = try JSONValueDecoder().decode(type, from: .object(values))
        } catch let error as JSONDecodingError {
            let key = error.codingPath.first ?? ""
            throw SettingsError(source: sources[key] ?? "settings", error.description)
        } catch let error as TrainingError {
            throw attributed(error)
        }
        do { try configuration.validate() } catch let error as TrainingError { throw attributed(error) }
        return configuration
    }

    /// A training error about a setting, prefixed with where that setting was given.
    func attributed(_ error: TrainingError) -> Error {
        guard case let .invalidSetting(key, message) = error else { return error }
        guard let source = sources[key] else { return SettingsError(source: "invalid configuration", message) }
        return SettingsError(source: source, message)
    }

    /// ` (did you mean a, b?)` for keys sharing a prefix or close in spelling, or nothing.
    static func suggestion(for key: String, in known: Set<String>) -> String {
        let close = known.filter { $0.hasPrefix(String(key.prefix(4))) || editDistance($0, key) <= 2 }.sorted().prefix(3)
        return close.isEmpty ? "" : " (did you mean \(close.joined(separator: ", "))?)"
    }

    /// Levenshtein distance, for suggestions.
    static func editDistance(_ a: String, _ b: String) -> Int {
        let a = Array(a.utf8), b = Array(b.utf8)
        guard !a.isEmpty else { return b.count }
        guard !b.isEmpty else { return a.count }
        var previous = Array(0...b.count)
        for i in 1...a.count {
            var current = [i] + Array(repeating: 0, count: b.count)
            for j in 1...b.count {
                current[j] = min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (a[i - 1] == b[j - 1] ? 0 : 1))
            }
            previous = current
        }
        return previous[b.count]
    }
}

/// A configuration that checks its own ranges after decoding (each training command's).
protocol ValidatedConfiguration: Decodable {
    /// Throws ``TrainingError/invalidSetting(key:message:)`` naming the offending key.
    func validate() throws
    /// The snake_case keys a YAML file may set.
    static var knownKeys: Set<String> { get }
}

extension DPOConfiguration: ValidatedConfiguration {}
extension KTOConfiguration: ValidatedConfiguration {}
extension SFTConfiguration: ValidatedConfiguration {}
extension RewardConfiguration: ValidatedConfiguration {}

/// A user-facing error message (printed without a stack of types).
struct ValidationErrorMessage: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}
