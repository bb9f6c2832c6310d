// An ordered JSON object for Hugging Face side files (config.json, generation_config.json).
import AlignJSON
import Foundation

/// A JSON object read from (or written to) a Hugging Face side file such as `config.json`,
/// keeping every key in file order with its exact literal value.
///
/// Models only decode the settings they use; saving a model loaded from a folder must still write
/// back every other key (`initializer_range`, `summary_type`, `transformers_version`, ...), so the
/// file is carried as a document and only the keys that changed are replaced.
public struct JSONDocument {
    // Held as the `.object` value rather than as its member array: a stored property of tuple
    // array type here trips a "circular reference" in the Swift 6.3 type checker.
    private var root: JSONValue

    var members: [(key: String, value: JSONValue)] {
        get { if case .object(let m) = root { return m } else { return [] } }
        set { root = .object(newValue) }
    }

    /// Parses a JSON object from `data`.
    public init(data: Data, path: String = "<memory>") throws {
        let value: JSONValue
        do { value = try JSONParser.parse(data) } catch let error as JSONSyntaxError {
            throw ModelIOError.malformed(path: path, reason: "invalid JSON at byte \(error.offset): \(error.message)")
        }
        guard case .object = value else {
            throw ModelIOError.malformed(path: path, reason: "expected a JSON object, found \(value.kindName)")
        }
        root = value
    }

    /// Reads and parses the JSON object in the file at `url`.
    public init(contentsOf url: URL) throws {
        let data: Data
        do { data = try Data(contentsOf: url) } catch {
            throw ModelIOError.io(path: url.path, reason: error.localizedDescription)
        }
        try self.init(data: data, path: url.path)
    }

    /// The document an `Encodable` value encodes to, keys sorted as transformers writes them
    /// (`json.dumps(..., sort_keys=True)`).
    public init(encoding value: some Encodable) throws {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        try self.init(data: try encoder.encode(value))
    }

    /// Whether both documents hold the same keys in the same order with identical values.
    public func isIdentical(to other: JSONDocument) -> Bool {
        root == other.root
    }

    /// The keys, in order.
    public var keys: [String] { members.map { $0.key } }

    /// Whether the document has `key`.
    public func contains(_ key: String) -> Bool { members.contains { $0.key == key } }

    /// The string value of `key`, or nil when absent or not a string.
    public func stringValue(forKey key: String) -> String? {
        guard case .string(let s)? = members.first(where: { $0.key == key })?.value else { return nil }
        return s
    }

    /// The strings of an array-of-strings value (`architectures`), or nil.
    public func stringArray(forKey key: String) -> [String]? {
        guard case .array(let items)? = members.first(where: { $0.key == key })?.value else { return nil }
        return items.compactMap { if case .string(let s) = $0 { return s } else { return nil } }
    }

    /// Sets `key` to a string, replacing it in place or inserting it in sorted position.
    public mutating func set(_ key: String, string: String) { set(key, .string(string)) }

    /// Takes the value of every key of `other` whose value differs from this document's. Numbers
    /// compare at float32 precision (models keep settings as `Float`: `1e-05` written back as
    /// `9.999999747378752e-06` is not a change), and nested objects compare only on the keys both
    /// have (`rope_scaling` spelled `type` or `rope_type`). Keys absent here are inserted in sorted
    /// position only when `insertingNewKeys` is set, because another key may already say the
    /// same thing in another layout (transformers 5's `rope_parameters` for `rope_theta`); keys
    /// absent from `other` are kept. Returns the keys that changed.
    @discardableResult
    public mutating func merge(changesFrom other: JSONDocument, insertingNewKeys: Bool = false) -> [String] {
        var changed: [String] = []
        for (key, value) in other.members {
            guard let mine = members.first(where: { $0.key == key })?.value else {
                if insertingNewKeys { set(key, value); changed.append(key) }
                continue
            }
            if Self.equivalent(mine, value) { continue }
            set(key, value)
            changed.append(key)
        }
        return changed
    }

    /// The file contents as transformers writes them: two-space indent, then a newline.
    public func data() -> Data {
        var bytes = JSONWriter.bytes(root, indent: 2)
        bytes.append(0x0A)
        return Data(bytes)
    }

    mutating func set(_ key: String, _ value: JSONValue) {
        if let i = members.firstIndex(where: { $0.key == key }) {
            members[i].value = value
        } else {
            let at = members.firstIndex { $0.key > key } ?? members.count
            members.insert((key, value), at: at)
        }
    }

    static func equivalent(_ a: JSONValue, _ b: JSONValue) -> Bool {
        func number(_ v: JSONValue) -> Double? {
            if case .number(let n) = v { return n.double } else { return nil }
        }
        if let x = number(a), let y = number(b) { return x == y || Float(x) == Float(y) }
        switch (a, b) {
        case (.array(let x), .array(let y)):
            return x.count == y.count && zip(x, y).allSatisfy { equivalent($0, $1) }
        case (.object(let x), .object(let y)):
            return x.allSatisfy { m in y.first { $0.key == m.key }.map { equivalent($0.value, m.value) } ?? true }
        default:
            return a == b
        }
    }
}
