import AlignJSON
import Foundation

/// One setting of a configuration, declared once: its Swift type (through the key path), default
/// (the configuration's `init()`), help text, command-line flag (kebab-case), YAML key (snake_case,
/// TRL's name) and range check. YAML loading, flag parsing, `--help` and validation all read the
/// declaration, so a setting is spelled in exactly one place.
///
/// ```swift
/// static let settings: [Setting<TrainingConfiguration>] = [
///     Setting("learning_rate", \.learningRate, help: "Peak learning rate.", check: .within(0...10)),
/// ]
/// ```
public struct Setting<Root>: @unchecked Sendable {
    /// The YAML / JSON key (snake_case, as TRL names it).
    public let key: String
    /// The command-line flag with its dashes (`--batch-size`).
    public let flag: String
    /// Help text, one sentence or two.
    public let help: String
    /// How the flag takes its value.
    public let style: FlagStyle
    /// What the value looks like in `--help` (`<float>`, `sigmoid|hinge|...`).
    public let valueName: String
    /// A flag's text as a value of the setting's type (`"0.1"` → 0.1, `"a,b"` → ["a", "b"]).
    let flagValue: (String) -> JSONValue
    /// Stores a value (already converted from YAML or flag text) into a configuration.
    let apply: (inout Root, JSONValue) throws -> Void
    /// The configuration's value, as JSON (defaults in `--help`, checkpoints).
    let current: (Root) -> JSONValue
    /// A range check: nil when the value is fine, else the rule it breaks.
    let check: (Root) -> String?

    /// How a flag takes its value on the command line.
    public typealias FlagStyle = SettingFlagStyle

    /// A setting stored at `path`, converted and checked by its ``SettingValue`` type.
    /// - Parameters:
    ///   - flag: the flag without dashes; by default the key in kebab-case.
    ///   - check: a range rule (``SettingCheck``), checked once when the configuration is validated.
    public init<Value: SettingValue>(_ key: String, _ path: WritableKeyPath<Root, Value>, flag: String? = nil,
                                     style: FlagStyle = .option, help: String, check: SettingCheck<Value>? = nil) {
        self.key = key
        self.flag = "--" + (flag ?? key.replacingOccurrences(of: "_", with: "-"))
        self.help = help
        self.style = style
        self.valueName = Value.settingValueName
        self.flagValue = Value.settingValue(flagText:)
        self.apply = { root, value in root[keyPath: path] = try Value(settingValue: value) }
        self.current = { $0[keyPath: path].settingValue }
        self.check = { root in check.flatMap { $0.rule(root[keyPath: path]) } }
    }

    /// A setting whose storage is not a single property (a list of loss terms, say): `apply` parses
    /// and stores, `current` reads back; `type` says how flag text is read (`[Float].self`).
    public init(_ key: String, flag: String? = nil, help: String, type: any SettingValue.Type, valueName: String? = nil,
                apply: @escaping (inout Root, JSONValue) throws -> Void, current: @escaping (Root) -> JSONValue) {
        self.key = key
        self.flag = "--" + (flag ?? key.replacingOccurrences(of: "_", with: "-"))
        self.help = help
        self.style = .option
        self.valueName = valueName ?? type.settingValueName
        self.flagValue = type.settingValue(flagText:)
        self.apply = apply
        self.current = current
        self.check = { _ in nil }
    }

    private init(key: String, flag: String, help: String, style: FlagStyle, valueName: String, flagValue: @escaping (String) -> JSONValue,
                 apply: @escaping (inout Root, JSONValue) throws -> Void, current: @escaping (Root) -> JSONValue,
                 check: @escaping (Root) -> String?) {
        self.key = key; self.flag = flag; self.help = help; self.style = style; self.valueName = valueName
        self.flagValue = flagValue; self.apply = apply; self.current = current; self.check = check
    }

    /// This setting of a configuration nested at `path` in `Outer` (the shared training-loop settings
    /// inside each objective's configuration).
    public func lifted<Outer>(_ path: WritableKeyPath<Outer, Root>) -> Setting<Outer> {
        let apply = self.apply, current = self.current, check = self.check
        return Setting<Outer>(key: key, flag: flag, help: help, style: style, valueName: valueName, flagValue: flagValue,
                              apply: { outer, value in try apply(&outer[keyPath: path], value) },
                              current: { current($0[keyPath: path]) },
                              check: { check($0[keyPath: path]) })
    }
}

/// How a flag takes its value on the command line.
public enum SettingFlagStyle: Sendable, Equatable {
    /// `--flag VALUE` or `--flag=VALUE`.
    case option
    /// `--flag` alone sets the Boolean setting to `value` (`--no-shuffle` sets `shuffle` to false).
    case flag(setting: Bool)
    /// `--flag` sets true, `--no-flag` sets false (the flag is given without `no-`).
    case toggle
}

/// A range rule for a setting's value; ``rule`` returns what is wrong ("must be in 1...8, got 0").
public struct SettingCheck<Value>: Sendable {
    /// nil when `value` is fine, else the message (after the key).
    public let rule: @Sendable (Value) -> String?

    /// A rule from a closure.
    public init(_ rule: @escaping @Sendable (Value) -> String?) { self.rule = rule }
}

extension SettingCheck where Value: Comparable & Sendable {
    /// `lower...upper`.
    public static func within(_ range: ClosedRange<Value>) -> SettingCheck {
        SettingCheck { range.contains($0) ? nil : "must be in \(bound(range.lowerBound))...\(bound(range.upperBound)), got \($0)" }
    }
    /// `[lower, upper)`.
    public static func within(_ range: Range<Value>) -> SettingCheck {
        SettingCheck { range.contains($0) ? nil : "must be in [\(bound(range.lowerBound)), \(bound(range.upperBound))), got \($0)" }
    }
    /// `≥ lower`, with an optional note on what the boundary means.
    public static func atLeast(_ lower: Value, _ note: String = "") -> SettingCheck {
        SettingCheck { $0 >= lower ? nil : "must be ≥ \(bound(lower))\(note), got \($0)" }
    }
    /// `> lower`.
    public static func above(_ lower: Value) -> SettingCheck {
        SettingCheck { $0 > lower ? nil : "must be > \(bound(lower)), got \($0)" }
    }
}

/// A rule's bound as people write it: `10`, not `10.0`.
func bound<T>(_ value: T) -> String {
    let text = "\(value)"
    return text.hasSuffix(".0") ? String(text.dropLast(2)) : text
}

extension SettingCheck {
    /// The rule applied to the value when there is one (nil passes).
    public static func whenSet<Wrapped>(_ inner: SettingCheck<Wrapped>) -> SettingCheck where Value == Wrapped? {
        SettingCheck { $0.flatMap(inner.rule) }
    }
}

/// A configuration declared as a table of ``Setting``s: decoding, flags, help and validation
/// derive from ``settings``.
public protocol SettingsDeclaration {
    /// The defaults.
    init()
    /// Every setting, in the order values are applied (a list's length before its weights).
    static var settings: [Setting<Self>] { get }
    /// Checks that involve several settings (each setting's own range is checked from its
    /// declaration first); throws a ``KeyedSettingError``.
    func validateCombination() throws
}

extension SettingsDeclaration {
    /// No cross-setting rules.
    public func validateCombination() throws {}

    /// The keys a YAML file may set.
    public static var knownKeys: Set<String> { Set(settings.map(\.key)) }

    /// A configuration from `values` (keys as in YAML), starting from the defaults. Values are
    /// applied in declaration order; a key not declared is an error.
    public init(values: [(key: String, value: JSONValue)]) throws {
        self.init()
        var given: [String: JSONValue] = [:]
        for (key, value) in values {
            guard Self.settings.contains(where: { $0.key == key }) else {
                throw SettingError(key: key, "unknown key \"\(key)\"")
            }
            given[key] = value
        }
        for setting in Self.settings {
            guard let value = given[setting.key] else { continue }
            do { try setting.apply(&self, value) } catch var error as JSONDecodingError {
                error.codingPath.insert(setting.key, at: 0)
                throw error
            }
        }
    }

    /// Checks every setting's declared range, then ``validateCombination()``.
    public func validate() throws {
        for setting in Self.settings {
            if let problem = setting.check(self) { throw SettingError(key: setting.key, "\(setting.key) \(problem)") }
        }
        try validateCombination()
    }

    /// Every setting's value, keyed as in YAML (for checkpoints and reports).
    public var settingValues: JSONValue {
        .object(Self.settings.map { ($0.key, $0.current(self)) })
    }

    /// The settings whose value differs from the defaults, keyed as in YAML, in declaration order:
    /// what a run changed (reports and the demo's frontier.json record it).
    public var changedSettingValues: JSONValue {
        let defaults = Self()
        return .object(Self.settings.compactMap { setting in
            let value = setting.current(self)
            return value == setting.current(defaults) ? nil : (setting.key, value)
        })
    }

    /// The setting a flag names (`--batch-size`, `--no-shuffle`, `--beta=0.1`'s `--beta`), or nil.
    public static func setting(forFlag flag: String) -> (setting: Setting<Self>, negated: Bool)? {
        for s in settings {
            if s.flag == flag { return (s, false) }
            if s.style == .toggle, "--no-" + s.flag.dropFirst(2) == flag { return (s, true) }
        }
        return nil
    }

    /// Parses command-line words (`--beta 0.1 --no-share-prompt --loss-type=sigmoid,sft`) into
    /// (key, flag, value) triples; an unknown flag is an error with suggestions.
    public static func parseFlags(_ words: [String]) throws -> [(key: String, flag: String, value: JSONValue)] {
        var out: [(key: String, flag: String, value: JSONValue)] = []
        var i = 0
        while i < words.count {
            let word = words[i]
            i += 1
            var name = word, inline: String?
            if let eq = word.firstIndex(of: "="), word.hasPrefix("--") {
                name = String(word[..<eq]); inline = String(word[word.index(after: eq)...])
            }
            guard name.hasPrefix("--"), let (setting, negated) = setting(forFlag: name) else {
                let known = settings.flatMap { $0.style == .toggle ? [$0.flag, "--no-" + $0.flag.dropFirst(2)] : [$0.flag] }
                let hint = name.hasPrefix("--") ? SettingSources.suggestion(for: name, in: Set(known)) : ""
                throw SettingsError(source: word, name.hasPrefix("-") ? "unknown option\(hint)" : "unexpected argument")
            }
            switch setting.style {
            case .flag(let value):
                guard inline == nil else { throw SettingsError(source: name, "takes no value") }
                out.append((setting.key, name, .bool(value)))
            case .toggle:
                if let inline {
                    guard !negated, let b = Bool(inline) else { throw SettingsError(source: name, "expected true or false, found \(inline)") }
                    out.append((setting.key, name, .bool(b)))
                } else {
                    out.append((setting.key, name, .bool(!negated)))
                }
            case .option:
                let text: String
                if let inline { text = inline } else {
                    guard i < words.count else { throw SettingsError(source: name, "needs a value (\(setting.valueName))") }
                    text = words[i]
                    i += 1
                }
                out.append((setting.key, name, setting.flagValue(text)))
            }
        }
        return out
    }

    /// The settings section of `--help`: each flag with its value, then its help, YAML key and
    /// default, wrapped to 80 columns (so the help printer keeps the indentation).
    public static var helpText: String {
        let defaults = Self()
        var lines = ["SETTINGS (each is also a --config YAML key, named in brackets):"]
        for s in settings {
            var head = "  " + s.flag
            switch s.style {
            case .option: head += " <\(s.valueName)>"
            case .flag: break
            case .toggle: head += " / --no-" + s.flag.dropFirst(2)
            }
            lines.append(head)
            let text = "\(s.help) [\(s.key), default \(shownValue(s.current(defaults)))]"
            var line = "       "
            for word in text.split(separator: " ") {
                if line.count + word.count + 1 > 78 { lines.append(line); line = "       " }
                line += " " + word
            }
            lines.append(line)
        }
        return lines.joined(separator: "\n")
    }

    /// A default as a user would type it: `none`, `sigmoid`, `3`, `1e-06`.
    private static func shownValue(_ value: JSONValue) -> String {
        switch value {
        case .null: return "none"
        case .string(let t): return t
        case .array(let items): return items.map(shownValue).joined(separator: ",")
        default: return bound(String(decoding: JSONWriter.bytes(value), as: UTF8.self))
        }
    }
}

/// A bad setting, named by its YAML key so the caller can point at the line or flag that set it.
public struct SettingError: Error, CustomStringConvertible, KeyedSettingError {
    /// The snake_case key.
    public let key: String
    /// The whole message.
    public let description: String
    /// An error about `key`.
    public init(key: String, _ description: String) { self.key = key; self.description = description }
    public var settingKey: String? { key }
    public var settingMessage: String { description }
}

/// A type a ``Setting`` can hold: converted from YAML / JSON / flag values with the project's
/// checked decoder (an integer refuses 2.5, a Float refuses 1e300 and NaN) and back.
public protocol SettingValue {
    /// Converts, or throws ``JSONDecodingError``.
    init(settingValue: JSONValue) throws
    /// The value as JSON.
    var settingValue: JSONValue { get }
    /// How `--help` shows the value.
    static var settingValueName: String { get }
    /// A flag's text as a value of this type, for ``init(settingValue:)`` to check: numbers for
    /// numeric types (so `--beta abc` reads "expected a number, found \"abc\""), lists split at commas.
    static func settingValue(flagText: String) -> JSONValue
}

extension SettingValue {
    /// Text stays text (strings and choices).
    public static func settingValue(flagText text: String) -> JSONValue { .string(text) }
}

/// Flag text for a numeric setting: the number as spelled (integers stay integers, so 2.5 for an
/// integer setting is refused rather than rounded), else the text for the decoder to refuse.
private func numericFlagValue(_ text: String) -> JSONValue {
    Double(text) != nil ? .number(JSONNumber(text: text.hasPrefix("+") ? String(text.dropFirst()) : text)) : .string(text)
}

/// The project's checked decoding of a scalar setting.
private func decoded<T: Decodable>(_ value: JSONValue) throws -> T { try JSONValueDecoder().decode(T.self, from: value) }

extension Int: SettingValue {
    public static func settingValue(flagText text: String) -> JSONValue { numericFlagValue(text) }
    public init(settingValue: JSONValue) throws { self = try decoded(settingValue) }
    public var settingValue: JSONValue { .integer(self) }
    public static var settingValueName: String { "int" }
}
extension UInt64: SettingValue {
    public static func settingValue(flagText text: String) -> JSONValue { numericFlagValue(text) }
    public init(settingValue: JSONValue) throws { self = try decoded(settingValue) }
    public var settingValue: JSONValue { .number(JSONNumber(text: String(self))) }
    public static var settingValueName: String { "int" }
}
extension Float: SettingValue {
    public static func settingValue(flagText text: String) -> JSONValue { numericFlagValue(text) }
    public init(settingValue: JSONValue) throws { self = try decoded(settingValue) }
    public var settingValue: JSONValue { .number(JSONNumber(text: "\(self)")) }
    public static var settingValueName: String { "float" }
}
extension Double: SettingValue {
    public static func settingValue(flagText text: String) -> JSONValue { numericFlagValue(text) }
    public init(settingValue: JSONValue) throws { self = try decoded(settingValue) }
    public var settingValue: JSONValue { .double(self) }
    public static var settingValueName: String { "float" }
}
extension Bool: SettingValue {
    public static func settingValue(flagText text: String) -> JSONValue { Bool(text).map(JSONValue.bool) ?? .string(text) }
    public init(settingValue: JSONValue) throws { self = try decoded(settingValue) }
    public var settingValue: JSONValue { .bool(self) }
    public static var settingValueName: String { "true|false" }
}
extension String: SettingValue {
    public init(settingValue: JSONValue) throws { self = try decoded(settingValue) }
    public var settingValue: JSONValue { .string(self) }
    public static var settingValueName: String { "text" }
}
extension Optional: SettingValue where Wrapped: SettingValue {
    public init(settingValue: JSONValue) throws {
        if case .null = settingValue { self = nil } else { self = try Wrapped(settingValue: settingValue) }
    }
    public var settingValue: JSONValue { map(\.settingValue) ?? .null }
    public static var settingValueName: String { Wrapped.settingValueName + "|none" }
    /// `none` (or `null`) unsets the setting.
    public static func settingValue(flagText text: String) -> JSONValue {
        ["none", "null", "None"].contains(text) ? .null : Wrapped.settingValue(flagText: text)
    }
}
extension Array: SettingValue where Element: SettingValue {
    public init(settingValue: JSONValue) throws {
        // A single value stands for a one-item list (`loss_type: sigmoid`).
        guard case .array(let items) = settingValue else { self = [try Element(settingValue: settingValue)]; return }
        self = try items.enumerated().map { i, item in
            do { return try Element(settingValue: item) } catch var error as JSONDecodingError {
                error.codingPath.insert("[\(i)]", at: 0)
                throw error
            }
        }
    }
    public var settingValue: JSONValue { .array(map(\.settingValue)) }
    public static var settingValueName: String { Element.settingValueName + ",..." }
    /// A comma-separated list; every item is kept (an empty or bad one is reported by position).
    public static func settingValue(flagText text: String) -> JSONValue {
        .array(text.split(separator: ",", omittingEmptySubsequences: false)
            .map { Element.settingValue(flagText: $0.trimmingCharacters(in: .whitespaces)) })
    }
}

/// A closed set of names as a setting (an enum with string raw values): errors list the choices.
public protocol SettingChoice: SettingValue, JSONChoice, CaseIterable, RawRepresentable where RawValue == String {}

extension SettingChoice {
    public init(settingValue: JSONValue) throws {
        guard case .string(let name) = settingValue, let value = Self(rawValue: name) else {
            let found: String
            if case .string(let s) = settingValue { found = "\"\(s)\"" } else { found = String(decoding: JSONWriter.bytes(settingValue), as: UTF8.self) }
            throw JSONDecodingError(codingPath: [], expected: "one of " + Self.choiceNames.joined(separator: ", "), found: found)
        }
        self = value
    }
    public var settingValue: JSONValue { .string(rawValue) }
    public static var settingValueName: String { choiceNames.joined(separator: "|") }
}
