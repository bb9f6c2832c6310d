import AlignJSON
import Foundation

/// A training command's configuration as decoded: defaults, then the YAML file's keys, then the
/// command-line flags. Every value remembers where it came from (`config.yaml:3` or
/// `--batch-size`), so an unknown key, a value of the wrong type and a value out of range are all
/// reported against the line or flag the user wrote.
public struct SettingSources {
    /// No settings yet.
    public init() {}

    /// The merged settings, snake_case keys (file order, then flags).
    public private(set) var values: [(key: String, value: JSONValue)] = []
    /// Where each key's value came from.
    public private(set) var sources: [String: String] = [:]

    /// Values of TRL's run keys (``TRLKeys/runKeys``: `model_name_or_path`, `output_dir`, ...) read
    /// from a config file, with their source.
    public private(set) var runValues: [String: (value: JSONValue, source: String)] = [:]
    /// One line per TRL key the file sets that Align ignores (``TRLKeys/ignoredKeys``).
    public private(set) var warnings: [String] = []

    /// Adds the keys of a config file, each refused unless `knownKeys` has it or it is one of TRL's
    /// keys that Align reads (``TRLKeys``).
    public mutating func add(file: SettingsFile, knownKeys: Set<String>) throws {
        for (key, value) in file.values {
            let source = "\(file.path):\(file.lines[key] ?? 0)"
            if knownKeys.contains(key) {
                set(key, TRLKeys.alignValue(forKey: key, value) ?? value, source: source)
            } else if TRLKeys.runKeys[key] != nil {
                runValues[key] = (value, source)
            } else if key == "use_peft" {
                if value == .bool(true) {
                    throw SettingsError(source: source, "use_peft: LoRA/PEFT adapters are not available in this version of align; remove it to train all weights")
                }
            } else if let reason = TRLKeys.ignoredKeys[key] {
                warnings.append("\(source): \(key) is ignored: \(reason)")
            } else {
                throw SettingsError(source: source, "unknown key \"\(key)\"" + SettingSources.suggestion(for: key, in: knownKeys.union(TRLKeys.runKeys.keys)))
            }
        }
    }

    /// A run key's value as a string (`model_name_or_path: org/name`), or nil when the file does not
    /// set it; other types are an error naming the line.
    public func runString(_ key: String) throws -> (value: String, source: String)? {
        guard let (value, source) = runValues[key] else { return nil }
        switch value {
        case .string(let s): return (s, source)
        case .null: return nil
        default: throw SettingsError(source: source, "\(key): expected a string")
        }
    }

    /// Sets `key` from a command-line flag (the flag wins over the file).
    public mutating func set(_ key: String, _ value: JSONValue, source: String) {
        values.removeAll { $0.key == key }
        values.append((key, value))
        sources[key] = source
    }

    /// Where `key` was set, or nil for a default.
    public func source(of key: String) -> String? { sources[key] }

    /// Builds `T` from its declared settings and validates it once, prefixing any error with the
    /// source (file line or flag) of the key it is about.
    public func decode<T: SettingsDeclaration>(_ type: T.Type) throws -> T {
        let configuration: T
        do {
            configuration = try T(values: values)
        } catch let error as JSONDecodingError {
            let key = error.codingPath.first ?? ""
            throw SettingsError(source: sources[key] ?? "settings", error.description)
        } catch let error as any KeyedSettingError {
            throw attributed(error)
        }
        do { try configuration.validate() } catch let error as any KeyedSettingError { throw attributed(error) }
        return configuration
    }

    /// An error about a setting, prefixed with where that setting was given.
    func attributed(_ error: any KeyedSettingError) -> Error {
        guard let key = error.settingKey else { return error }
        guard let source = sources[key] else { return SettingsError(source: "invalid configuration", error.settingMessage) }
        return SettingsError(source: source, error.settingMessage)
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

/// An error about one setting, so that it can be reported against the line or flag that set it.
public protocol KeyedSettingError: Error {
    /// The snake_case key at fault, or nil when the error is about no single setting.
    var settingKey: String? { get }
    /// The whole message.
    var settingMessage: String { get }
}


