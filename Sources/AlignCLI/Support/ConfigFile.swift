import Foundation
import Yams

/// A YAML (or JSON) configuration file of snake_case keys, checked against the keys a command
/// knows before anything is decoded, so a typo is an error naming the key rather than a silently
/// ignored setting.
struct ConfigFile {
    let url: URL
    let values: [String: Any]

    init(url: URL, knownKeys: Set<String>) throws {
        self.url = url
        let text: String
        do { text = try String(contentsOf: url, encoding: .utf8) } catch {
            throw ValidationErrorMessage("\(url.path): cannot read the config file (\(error.localizedDescription))")
        }
        let parsed: Any?
        do { parsed = try Yams.load(yaml: text) } catch {
            throw ValidationErrorMessage("\(url.path): not valid YAML (\(error))")
        }
        guard let dict = parsed as? [String: Any] else {
            throw ValidationErrorMessage("\(url.path): the config must be a mapping of keys to values")
        }
        for key in dict.keys.sorted() where !knownKeys.contains(key) {
            let close = knownKeys.filter { $0.hasPrefix(String(key.prefix(4))) }.sorted().prefix(3)
            throw ValidationErrorMessage("\(url.path): unknown key \"\(key)\"" + (close.isEmpty ? "" : " (did you mean \(close.joined(separator: ", "))?)"))
        }
        values = dict
    }

    /// Decodes `T` from the file's values merged with `overrides` (command-line flags win).
    func decode<T: Decodable>(_ type: T.Type, overrides: [String: Any]) throws -> T {
        var merged = values
        for (k, v) in overrides { merged[k] = v }
        return try ConfigFile.decode(type, from: merged, source: url.path)
    }

    /// Decodes `T` from a plain dictionary of snake_case keys.
    static func decode<T: Decodable>(_ type: T.Type, from values: [String: Any], source: String) throws -> T {
        let data = try JSONSerialization.data(withJSONObject: jsonCompatible(values))
        do { return try JSONDecoder().decode(type, from: data) } catch let DecodingError.typeMismatch(_, context) {
            throw ValidationErrorMessage("\(source): \(context.codingPath.map(\.stringValue).joined(separator: ".")) has the wrong type (\(context.debugDescription))")
        } catch {
            throw ValidationErrorMessage("\(source): \(error)")
        }
    }

    /// YAML scalars (dates, etc.) reduced to what JSON can carry.
    private static func jsonCompatible(_ value: Any) -> Any {
        switch value {
        case let d as [String: Any]: return d.mapValues(jsonCompatible)
        case let a as [Any]: return a.map(jsonCompatible)
        case is String, is Bool, is Int, is Double, is NSNumber, is NSNull: return value
        default: return String(describing: value)
        }
    }
}

/// A user-facing error message (printed without a stack of types).
struct ValidationErrorMessage: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}
