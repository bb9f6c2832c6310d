import AlignJSON
import AlignTemplates

/// A prompt or completion: plain text, or a list of chat messages rendered through the chat template.
public enum ExampleContent: Sendable, Equatable {
    /// Plain text (the "standard" formats).
    case text(String)
    /// Chat messages `{"role", "content"}` (the "conversational" formats).
    case messages([ChatMessage])

    /// Whether this is a message list.
    public var isConversational: Bool {
        if case .messages = self { return true }
        return false
    }

    /// The text, for plain content; nil for messages.
    public var text: String? {
        if case .text(let s) = self { return s }
        return nil
    }

    /// The messages, for conversational content; nil for text.
    public var messages: [ChatMessage]? {
        if case .messages(let m) = self { return m }
        return nil
    }

    /// Concatenation as Python's `+` does it for TRL: strings join, message lists append. Mixing the two
    /// kinds is a programming error (rows are validated to be one kind).
    static func + (lhs: ExampleContent, rhs: ExampleContent) -> ExampleContent {
        switch (lhs, rhs) {
        case (.text(let a), .text(let b)): return .text(a + b)
        case (.messages(let a), .messages(let b)): return .messages(a + b)
        default: preconditionFailure("cannot join text with messages")
        }
    }
}

/// The layout of a dataset's rows (REFERENCE §4), detected from the first valid row.
public enum DatasetFormat: String, Sendable, Equatable, CustomStringConvertible {
    /// `{"prompt", "chosen", "rejected"}`.
    case preference
    /// `{"chosen", "rejected"}`, each holding the full text or conversation; the prompt is their common prefix.
    case implicitPreference
    /// `{"prompt", "completion", "label"}` (KTO).
    case unpaired
    /// `{"prompt", "completion"}` (SFT).
    case promptCompletion
    /// `{"messages"}` (SFT on whole conversations).
    case messages
    /// `{"text"}` (SFT on plain text).
    case text

    /// A readable name for messages.
    public var description: String {
        switch self {
        case .preference: return "preference {prompt, chosen, rejected}"
        case .implicitPreference: return "implicit-prompt preference {chosen, rejected}"
        case .unpaired: return "unpaired {prompt, completion, label}"
        case .promptCompletion: return "prompt-completion {prompt, completion}"
        case .messages: return "conversation {messages}"
        case .text: return "language modeling {text}"
        }
    }

    /// The fields a row of this format must have.
    var requiredFields: [String] {
        switch self {
        case .preference: return ["prompt", "chosen", "rejected"]
        case .implicitPreference: return ["chosen", "rejected"]
        case .unpaired: return ["prompt", "completion", "label"]
        case .promptCompletion: return ["prompt", "completion"]
        case .messages: return ["messages"]
        case .text: return ["text"]
        }
    }

    /// Fields with a defined meaning (never treated as extra numeric columns).
    static let knownFields: Set<String> = ["prompt", "chosen", "rejected", "completion", "label", "messages", "text"]

    /// The format a row's keys name, trying the most specific layouts first.
    static func detect(keys: [String]) -> DatasetFormat? {
        let k = Set(keys)
        if k.contains("chosen") && k.contains("rejected") { return k.contains("prompt") ? .preference : .implicitPreference }
        if k.contains("completion") && k.contains("label") && k.contains("prompt") { return .unpaired }
        if k.contains("prompt") && k.contains("completion") { return .promptCompletion }
        if k.contains("messages") { return .messages }
        if k.contains("text") { return .text }
        return nil
    }
}

/// One preference pair: a prompt, the preferred completion and the dispreferred one.
public struct PreferenceExample: Sendable, Equatable {
    /// The prompt (for implicit-prompt data, the extracted common prefix).
    public var prompt: ExampleContent
    /// The preferred completion.
    public var chosen: ExampleContent
    /// The dispreferred completion.
    public var rejected: ExampleContent
    /// Extra numeric columns of the row (e.g. `margin` for reward models, `score`).
    public var extras: [String: Double]
    /// Where the row came from, when read from a file.
    public var location: RowLocation?

    /// Creates a pair.
    public init(prompt: ExampleContent, chosen: ExampleContent, rejected: ExampleContent,
                extras: [String: Double] = [:], location: RowLocation? = nil) {
        self.prompt = prompt
        self.chosen = chosen
        self.rejected = rejected
        self.extras = extras
        self.location = location
    }

    /// The `margin` column, when present (reward modelling: r_w − r_l is pushed past it).
    public var margin: Double? { extras["margin"] }
}

/// One unpaired example (KTO): a prompt, a completion and whether the completion is desirable.
public struct UnpairedExample: Sendable, Equatable {
    /// The prompt.
    public var prompt: ExampleContent
    /// The completion.
    public var completion: ExampleContent
    /// True for a desirable completion, false for an undesirable one.
    public var label: Bool
    /// Extra numeric columns of the row.
    public var extras: [String: Double]
    /// Where the row came from, when read from a file.
    public var location: RowLocation?

    /// Creates an example.
    public init(prompt: ExampleContent, completion: ExampleContent, label: Bool,
                extras: [String: Double] = [:], location: RowLocation? = nil) {
        self.prompt = prompt
        self.completion = completion
        self.label = label
        self.extras = extras
        self.location = location
    }
}

/// One supervised fine-tuning example: a prompt-completion pair, or (prompt nil) a whole text or
/// conversation trained on every token.
public struct LanguageModelingExample: Sendable, Equatable {
    /// The prompt, for prompt-completion data; nil for `{"text"}` and `{"messages"}` rows.
    public var prompt: ExampleContent?
    /// The completion, or the whole sequence when `prompt` is nil.
    public var completion: ExampleContent
    /// Extra numeric columns of the row.
    public var extras: [String: Double]
    /// Where the row came from, when read from a file.
    public var location: RowLocation?

    /// Creates an example.
    public init(prompt: ExampleContent?, completion: ExampleContent, extras: [String: Double] = [:],
                location: RowLocation? = nil) {
        self.prompt = prompt
        self.completion = completion
        self.extras = extras
        self.location = location
    }
}

// MARK: - Row decoding

/// Validates one row's fields against a format and turns them into typed values, with precise reasons.
struct RowDecoder {
    let location: RowLocation
    let members: [(key: String, value: JSONValue)]

    init(_ value: JSONValue, at location: RowLocation) throws {
        guard case .object(let members) = value else {
            throw DatasetError(location, "row is a JSON \(value.typeName), expected an object")
        }
        self.location = location
        self.members = members
    }

    var keys: [String] { members.map(\.key) }

    func value(_ name: String) -> JSONValue? { members.last(where: { $0.key == name })?.value }

    func require(_ name: String) throws -> JSONValue {
        guard let v = value(name) else { throw DatasetError(location, "missing field \"\(name)\"") }
        return v
    }

    /// A prompt or completion field, which must be text or messages as the dataset's first row set.
    /// `allowEmpty` admits `""` (prompts may be empty; completions and texts may not).
    func content(_ name: String, conversational: Bool, allowEmpty: Bool = false) throws -> ExampleContent {
        let v = try require(name)
        switch v {
        case .string(let s):
            if conversational {
                throw DatasetError(location, "field \"\(name)\" is a string, but the dataset is conversational "
                                   + "(its first row holds message lists)")
            }
            if s.isEmpty && !allowEmpty { throw DatasetError(location, "field \"\(name)\" is empty") }
            return .text(s)
        case .array(let items):
            if !conversational {
                throw DatasetError(location, "field \"\(name)\" is a message list, but the dataset holds plain text "
                                   + "(as its first row does)")
            }
            if items.isEmpty && !allowEmpty { throw DatasetError(location, "field \"\(name)\" is an empty message list") }
            return .messages(try items.enumerated().map { try message($1, index: $0, field: name) })
        default:
            let expected = conversational ? "a list of messages" : "a string"
            throw DatasetError(location, "field \"\(name)\" is a \(v.typeName), expected \(expected)")
        }
    }

    func message(_ v: JSONValue, index: Int, field: String) throws -> ChatMessage {
        let what = "message \(index) of \"\(field)\""
        guard case .object = v else { throw DatasetError(location, "\(what) is a \(v.typeName), expected an object") }
        guard let roleValue = v["role"] else { throw DatasetError(location, "\(what) has no \"role\"") }
        guard case .string(let role) = roleValue else {
            throw DatasetError(location, "\(what): \"role\" is a \(roleValue.typeName), expected a string")
        }
        guard let contentValue = v["content"] else { throw DatasetError(location, "\(what) has no \"content\"") }
        guard case .string(let content) = contentValue else {
            throw DatasetError(location, "\(what): \"content\" is a \(contentValue.typeName), expected a string")
        }
        var message = ChatMessage(role: role, content: content)
        if case .string(let name)? = v["name"] { message.name = name }
        if case .string(let id)? = v["tool_call_id"] { message.toolCallID = id }
        return message
    }

    func label() throws -> Bool {
        let v = try require("label")
        switch v {
        case .bool(let b): return b
        default: throw DatasetError(location, "field \"label\" is a \(v.typeName), expected true or false")
        }
    }

    /// Numeric columns beyond the format's own (`margin`, `score`, ...). A `margin` that is not a number is
    /// an error, since the reward loss would silently lose it.
    func extras() throws -> [String: Double] {
        var extras: [String: Double] = [:]
        for (key, value) in members where !DatasetFormat.knownFields.contains(key) {
            switch value {
            case .number(let x): extras[key] = x.double ?? .nan
            case .bool(let b) where key != "margin": extras[key] = b ? 1 : 0
            default:
                if key == "margin" {
                    throw DatasetError(location, "field \"margin\" is a \(value.typeName), expected a number")
                }
            }
        }
        return extras
    }

    /// Whether a field holds a message list (decides the conversational flag on the first row).
    func isConversational(_ field: String) -> Bool {
        if case .array? = value(field) { return true }
        return false
    }

    /// Rejects a row whose fields name another layout than the dataset's.
    func check(format: DatasetFormat, firstLine: RowLocation) throws {
        let own = DatasetFormat.detect(keys: keys)
        guard own != format else { return }
        let missing = format.requiredFields.filter { value($0) == nil }
        let context = "the dataset's format, detected at \(firstLine), is \(format)"
        if let field = missing.first {
            throw DatasetError(location, "missing field \"\(field)\" (\(context))")
        }
        let found = own.map { "is a \($0) row" } ?? "has fields \(keys.map { "\"\($0)\"" }.joined(separator: ", "))"
        throw DatasetError(location, "row \(found), but \(context)")
    }
}
