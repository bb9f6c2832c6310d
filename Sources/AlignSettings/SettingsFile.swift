import AlignJSON
import Foundation
import Yams

/// A configuration file (YAML, or JSON, which is YAML too) read as a mapping of snake_case keys to
/// values, with the line each key is on, so that every later error can say `file:line: key: …`.
///
/// Reading is bounded before anything grows with the input: the file's size, the nesting depth and
/// the number of values after alias expansion (a "billion laughs" file of nested aliases is refused
/// after ``Limits/maximumNodes`` values, not expanded), each with an error naming the file.
public struct SettingsFile: Sendable {
    /// Bounds on what a configuration file may hold.
    public struct Limits: Sendable {
        /// Largest file in bytes (a training config is a few kilobytes).
        public var maximumBytes: Int = 4 << 20
        /// Deepest nesting of mappings and lists.
        public var maximumDepth: Int = 64
        /// Most values (scalars, lists, mappings), aliases counted each time they are used.
        public var maximumNodes: Int = 100_000

        /// The default limits.
        public init() {}
    }

    /// The file as named by the user (shown in messages).
    public let path: String
    /// The top-level keys and their values, in file order.
    public let values: [(key: String, value: JSONValue)]
    /// The 1-based line of each top-level key.
    public let lines: [String: Int]

    /// Reads and parses `path`.
    public init(path: String, limits: Limits = Limits()) throws {
        let url = URL(fileURLWithPath: (path as NSString).expandingTildeInPath)
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: url.path, isDirectory: &isDirectory) else {
            throw SettingsError(source: path, "no such file")
        }
        guard !isDirectory.boolValue else { throw SettingsError(source: path, "is a folder, not a config file") }
        guard let data = FileManager.default.contents(atPath: url.path) else {
            throw SettingsError(source: path, "cannot read the file")
        }
        try self.init(data: data, path: path, limits: limits)
    }

    /// Parses a configuration held in memory; `path` names it in messages.
    public init(data: Data, path: String, limits: Limits = Limits()) throws {
        self.path = path
        guard data.count <= limits.maximumBytes else {
            throw SettingsError(source: path, "the file is \(data.count) bytes; a config file may have at most \(limits.maximumBytes)")
        }
        guard let text = String(data: data, encoding: .utf8) else {
            throw SettingsError(source: path, "the file is not UTF-8 text")
        }
        let root: Node?
        do { root = try Yams.compose(yaml: text) } catch let error as YamlError {
            throw SettingsError(source: path, "not valid YAML: " + SettingsFile.describe(error))
        } catch {
            throw SettingsError(source: path, "not valid YAML")
        }
        guard let root else { values = []; lines = [:]; return }
        guard case .mapping(let mapping) = root else {
            throw SettingsError(source: path + (root.mark.map { ":\($0.line)" } ?? ""),
                                "the config must be a mapping of keys to values")
        }
        var budget = NodeBudget(remaining: limits.maximumNodes, maximumNodes: limits.maximumNodes,
                                maximumDepth: limits.maximumDepth, path: path)
        var values: [(key: String, value: JSONValue)] = []
        var lines: [String: Int] = [:]
        for (keyNode, valueNode) in mapping {
            try budget.spend(depth: 1, at: keyNode.mark)
            guard case .scalar(let keyScalar) = keyNode else {
                throw SettingsError(source: SettingsFile.location(path, keyNode.mark), "a key must be a plain name")
            }
            // (A key given twice is refused by the YAML parser itself.)
            let key = keyScalar.string
            values.append((key, try SettingsFile.convert(valueNode, depth: 1, budget: &budget)))
            lines[key] = keyNode.mark?.line ?? 0
        }
        self.values = values
        self.lines = lines
    }

    /// `path:line` when the line is known.
    static func location(_ path: String, _ mark: Mark?) -> String {
        mark.map { "\(path):\($0.line)" } ?? path
    }

    /// libyaml's problem and position, without Yams' multi-line snippet.
    static func describe(_ error: YamlError) -> String {
        switch error {
        case let .scanner(context, problem, mark, _), let .parser(context, problem, mark, _):
            return "\(problem)\(context.map { " \($0.text)" } ?? "") at line \(mark.line), column \(mark.column)"
        case let .composer(context, problem, mark, _):
            return "\(problem)\(context.map { " \($0.text)" } ?? "") at line \(mark.line), column \(mark.column)"
        default:
            return String(describing: error).split(separator: "\n").first.map(String.init) ?? "unreadable"
        }
    }

    /// Counts values as the tree is walked, so shared (aliased) subtrees are paid for each time.
    struct NodeBudget {
        var remaining: Int
        let maximumNodes: Int
        let maximumDepth: Int
        let path: String

        mutating func spend(depth: Int, at mark: Mark?) throws {
            remaining -= 1
            guard remaining >= 0 else {
                throw SettingsError(source: SettingsFile.location(path, mark),
                                    "the config expands to too many values (aliases included); a config may hold at most \(maximumNodes) values")
            }
            guard depth <= maximumDepth else {
                throw SettingsError(source: SettingsFile.location(path, mark), "values nest deeper than \(maximumDepth) levels")
            }
        }
    }

    /// A YAML node as a JSON value (YAML's int/float/bool/null resolution applied).
    static func convert(_ node: Node, depth: Int, budget: inout NodeBudget) throws -> JSONValue {
        try budget.spend(depth: depth, at: node.mark)
        switch node {
        case .scalar(let scalar):
            switch Tag.Name(rawValue: node.tag.description) {
            case .null: return .null
            case .bool: return Bool.construct(from: scalar).map(JSONValue.bool) ?? .string(scalar.string)
            case .int:
                if let i = Int.construct(from: scalar) { return .integer(i) }
                // Beyond 64 bits: kept as a number so the setting's check reports it.
                return .number(JSONNumber(text: scalar.string.replacingOccurrences(of: "_", with: "")))
            case .float:
                guard let d = Double.construct(from: scalar) else { return .string(scalar.string) }
                if d.isNaN { return .number(JSONNumber(text: "NaN")) }
                if d.isInfinite { return .number(JSONNumber(text: d > 0 ? "Infinity" : "-Infinity")) }
                return .double(d)
            default: return .string(scalar.string)
            }
        case .sequence(let sequence):
            var items: [JSONValue] = []
            for item in sequence { items.append(try convert(item, depth: depth + 1, budget: &budget)) }
            return .array(items)
        case .mapping(let mapping):
            var members: [(key: String, value: JSONValue)] = []
            for (k, v) in mapping {
                guard case .scalar(let keyScalar) = k else {
                    throw SettingsError(source: location(budget.path, k.mark), "a key must be a plain name")
                }
                members.append((keyScalar.string, try convert(v, depth: depth + 1, budget: &budget)))
            }
            return .object(members)
        case .alias:
            throw SettingsError(source: location(budget.path, node.mark), "unresolved alias")
        }
    }
}

/// A configuration error, prefixed with where the value came from (`config.yaml:3` or
/// `--batch-size`).
public struct SettingsError: Error, CustomStringConvertible, Equatable {
    /// The file and line, or the flag.
    public var source: String
    /// What is wrong.
    public var reason: String

    /// An error about `source`.
    public init(source: String, _ reason: String) {
        self.source = source
        self.reason = reason
    }

    /// `source: reason`.
    public var description: String { "\(source): \(reason)" }
}
