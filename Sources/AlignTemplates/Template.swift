// Public entry points: a general Jinja template and the chat-template wrapper transformers users know.

/// A parsed Jinja template (the subset real Hugging Face chat templates use), ready to render many times.
///
/// Rendering follows Jinja2 as transformers configures it for chat templates: `trim_blocks` and
/// `lstrip_blocks` on, the default `Undefined` (missing names render empty and are falsy), Python-style
/// printing of values, and transformers' `tojson`, `raise_exception`, `strftime_now` and `namespace`.
/// Anything outside the supported subset is a thrown ``TemplateError``, never silently wrong text.
public struct Template {
    /// The source text.
    public let source: String
    let nodes: [Node]

    /// Parses `source`; throws a ``TemplateError`` (with its line) on a syntax error or unsupported statement.
    /// Parsing and rendering enforce ``TemplateLimits``, so a hostile template fails instead of hanging,
    /// exhausting memory or overflowing the stack.
    public init(_ source: String, options: TemplateOptions = TemplateOptions()) throws {
        self.source = source
        self.nodes = try Parser.parse(try Lexer.tokenize(source, options: options))
    }

    /// Renders with `context` as the template's variables.
    public func render(context: [String: TemplateValue] = [:]) throws -> String {
        try Interpreter(context: context).render(nodes)
    }
}

/// One chat message in the usual `{"role": ..., "content": ...}` shape, with the optional tool fields.
public struct ChatMessage: Codable, Equatable, Sendable {
    /// "system", "user", "assistant", "tool", ...
    public var role: String
    /// The text; nil for an assistant turn that only calls tools.
    public var content: String?
    /// For `tool` messages: the tool's name.
    public var name: String?
    /// For `tool` messages: the id of the call being answered.
    public var toolCallID: String?

    enum CodingKeys: String, CodingKey {
        case role, content, name
        case toolCallID = "tool_call_id"
    }

    /// A message with `role` and `content`.
    public init(role: String, content: String?, name: String? = nil, toolCallID: String? = nil) {
        self.role = role
        self.content = content
        self.name = name
        self.toolCallID = toolCallID
    }

    /// The dict the template sees; absent optional fields are absent keys (not None), as in transformers.
    public var templateValue: [String: TemplateValue] {
        var d: [String: TemplateValue] = ["role": .string(role)]
        d["content"] = content.map { .string($0) } ?? TemplateValue.none
        if let name { d["name"] = .string(name) }
        if let toolCallID { d["tool_call_id"] = .string(toolCallID) }
        return d
    }
}

/// A model's chat template: turns a conversation into the exact prompt text the model was trained on.
public struct ChatTemplate {
    /// The compiled template.
    public let template: Template
    /// Variables every render starts from (e.g. `bos_token`, `eos_token` read from a tokenizer config);
    /// a render's `extra` overrides them.
    public var defaultContext: [String: TemplateValue]
    /// Where the template came from (e.g. "/m/tokenizer_config.json (chat_template)"); every error that parsing
    /// or rendering throws names it, since "line 1: ..." alone does not say which file to fix.
    public let origin: String?

    /// Parses a chat template (the `chat_template` string of a tokenizer_config.json or GGUF metadata), read
    /// from `origin` (named in errors).
    public init(_ source: String, defaultContext: [String: TemplateValue] = [:], origin: String? = nil) throws {
        do {
            template = try Template(source)
        } catch let error as TemplateError {
            throw error.from(origin)
        }
        self.defaultContext = defaultContext
        self.origin = origin
    }

    /// Reads the chat template and special tokens from a tokenizer_config.json text.
    ///
    /// `chat_template` may be a string or, as some repositories ship it, a list of `{"name", "template"}`;
    /// `name` picks one from the list ("default" when nil). `bos_token`, `eos_token`, `unk_token` and `pad_token`
    /// (plain strings or `{"content": ...}` added-token objects) become ``defaultContext``.
    public init(tokenizerConfigJSON json: String, name: String? = nil, origin: String? = nil) throws {
        let parsed: TemplateValue
        do {
            parsed = try TemplateValue(json: json)
        } catch let error as TemplateError {
            throw error.from(origin)
        }
        guard case .object(let config) = parsed else {
            throw TemplateError(.syntax, "tokenizer config is not a JSON object", origin: origin)
        }
        var source: String
        switch config["chat_template"] {
        case .string(let s)?:
            source = s
        case .array(let entries)?:
            let wanted = name ?? "default"
            let match = entries.first { entry in
                if case .object(let e) = entry, case .string(let n)? = e["name"] { return n == wanted }
                return false
            }
            guard case .object(let e)? = match, case .string(let s)? = e["template"] else {
                throw TemplateError(.syntax, "tokenizer config has no chat template named '\(wanted)'", origin: origin)
            }
            source = s
        default:
            throw TemplateError(.syntax, "tokenizer config has no chat_template", origin: origin)
        }
        var context: [String: TemplateValue] = [:]
        for key in ["bos_token", "eos_token", "unk_token", "pad_token"] {
            switch config[key] {
            case .string(let s)?: context[key] = .string(s)
            case .object(let token)?: if case .string(let s)? = token["content"] { context[key] = .string(s) }
            default: break
            }
        }
        try self.init(source, defaultContext: context, origin: origin.map { "\($0) (chat_template)" })
    }

    /// Renders `messages` as transformers' `apply_chat_template(..., tokenize=False)` does.
    ///
    /// - Parameters:
    ///   - messages: the conversation; each message is a dict (role, content, and e.g. tool_calls). Swift
    ///     dictionaries have no order, so keys are laid out `role`, `content`, then the rest by name; the order
    ///     shows only where a template prints a whole message (e.g. `message | tojson`). To control it, pass
    ///     ordered objects to ``render(conversation:addGenerationPrompt:tools:documents:extra:)``.
    ///   - addGenerationPrompt: append the assistant header so the model writes the next turn.
    ///   - tools: JSON-schema tool definitions, or nil (the template sees `tools` as None, as transformers passes it).
    ///   - documents: retrieval documents, or nil (None).
    ///   - extra: more variables: `bos_token`, `eos_token`, `date_string`, ...
    ///   - continueFinalMessage: end the text right after the final message's content, leaving its turn open
    ///     so the model continues it (an assistant prefill); incompatible with `addGenerationPrompt`.
    public func render(
        messages: [[String: TemplateValue]], addGenerationPrompt: Bool, tools: [TemplateValue]? = nil,
        documents: [TemplateValue]? = nil, extra: [String: TemplateValue] = [:], continueFinalMessage: Bool = false
    ) throws -> String {
        try render(
            conversation: messages.map { .object(ChatTemplate.orderedMessage($0)) }, addGenerationPrompt: addGenerationPrompt,
            tools: tools, documents: documents, extra: extra, continueFinalMessage: continueFinalMessage)
    }

    /// Renders typed ``ChatMessage`` values; see
    /// ``render(messages:addGenerationPrompt:tools:documents:extra:continueFinalMessage:)``.
    public func render(
        messages: [ChatMessage], addGenerationPrompt: Bool, tools: [TemplateValue]? = nil,
        documents: [TemplateValue]? = nil, extra: [String: TemplateValue] = [:], continueFinalMessage: Bool = false
    ) throws -> String {
        try render(messages: messages.map(\.templateValue), addGenerationPrompt: addGenerationPrompt, tools: tools,
                   documents: documents, extra: extra, continueFinalMessage: continueFinalMessage)
    }

    /// Renders a conversation already held as template values (e.g. parsed with ``TemplateValue/init(json:)``,
    /// which keeps each message's key order).
    public func render(
        conversation: [TemplateValue], addGenerationPrompt: Bool, tools: [TemplateValue]? = nil,
        documents: [TemplateValue]? = nil, extra: [String: TemplateValue] = [:], continueFinalMessage: Bool = false
    ) throws -> String {
        do {
            return try renderUnattributed(conversation: conversation, addGenerationPrompt: addGenerationPrompt, tools: tools,
                                          documents: documents, extra: extra, continueFinalMessage: continueFinalMessage)
        } catch let error as TemplateError {
            throw error.from(origin)
        }
    }

    private func renderUnattributed(
        conversation: [TemplateValue], addGenerationPrompt: Bool, tools: [TemplateValue]?,
        documents: [TemplateValue]?, extra: [String: TemplateValue], continueFinalMessage: Bool
    ) throws -> String {
        var context = defaultContext
        for (key, value) in extra { context[key] = value }
        var messages = conversation.map(ChatTemplate.aliasReasoning)
        var finalContent = ""
        if continueFinalMessage {
            if addGenerationPrompt {
                throw TemplateError(.runtime, "continueFinalMessage and addGenerationPrompt are not compatible")
            }
            finalContent = try ChatTemplate.tagFinalMessage(&messages, templateSource: template.source)
        }
        // transformers always passes these three names, so `tools is defined` holds even without tools.
        context["messages"] = .array(messages)
        context["tools"] = tools.map { .array($0) } ?? TemplateValue.none
        context["documents"] = documents.map { .array($0) } ?? TemplateValue.none
        context["add_generation_prompt"] = .bool(addGenerationPrompt)
        let rendered = try template.render(context: context)
        return continueFinalMessage ? try ChatTemplate.cutAtTag(rendered, finalContent: finalContent) : rendered
    }

    /// transformers marks the end of the final message with this text, renders, and cuts there.
    static let continueTag = "CONTINUE_FINAL_MESSAGE_TAG "

    /// Appends ``continueTag`` to the final message's content (the last text block when content is a list);
    /// returns the content as it was.
    static func tagFinalMessage(_ messages: inout [TemplateValue], templateSource: String) throws -> String {
        guard case .object(var last)? = messages.last else {
            throw TemplateError(.runtime, "continueFinalMessage is set but the conversation is empty")
        }
        guard templateSource.contains("content") else {
            throw TemplateError(.runtime, "continueFinalMessage is set but the chat template never reads 'content'")
        }
        let original: String
        switch last["content"] {
        case .string(let text)?:
            original = text
            last["content"] = .string(text + continueTag)
        case .array(var blocks)?:
            guard let index = blocks.lastIndex(where: { block in
                if case .object(let b) = block, b["text"] != nil { return true }
                return false
            }), case .object(var block) = blocks[index], case .string(let text)? = block["text"] else {
                throw TemplateError(.runtime, "continueFinalMessage is set but the final message has no text to continue")
            }
            original = text
            block["text"] = .string(text + continueTag)
            blocks[index] = .object(block)
            last["content"] = .array(blocks)
        default:
            throw TemplateError(.runtime, "continueFinalMessage is set but the final message has no \"content\" to continue")
        }
        messages[messages.count - 1] = .object(last)
        return original
    }

    /// Cuts the render at the last tag; when the template trimmed the tag's trailing space, also drops the
    /// whitespace before it, as transformers does.
    static func cutAtTag(_ rendered: String, finalContent: String) throws -> String {
        let text = Array(rendered.unicodeScalars)
        let tag = Array(continueTag.unicodeScalars)
        let bareTag = Array(pythonStrip(continueTag, chars: nil, left: true, right: true).unicodeScalars)
        let content = Array(pythonStrip(finalContent, chars: nil, left: true, right: true).unicodeScalars)
        guard scalarRange(of: content, in: text) != nil, var location = scalarRange(of: bareTag, in: text) else {
            throw TemplateError(
                .runtime, "continueFinalMessage is set but the final message does not appear in the rendered chat")
        }
        // rindex: the last occurrence.
        while let next = scalarRange(of: bareTag, in: text, from: location + 1) { location = next }
        let head = String(String.UnicodeScalarView(text[..<location]))
        if location + tag.count <= text.count, Array(text[location..<location + tag.count]) == tag { return head }
        return pythonStrip(head, chars: nil, left: false, right: true)
    }

    /// transformers copies a message's reasoning (`reasoning_content`, `thinking` or `reasoning`) under both
    /// `thinking` and `reasoning_content`, so templates that read either name see it.
    static func aliasReasoning(_ message: TemplateValue) -> TemplateValue {
        guard case .object(let o) = message else { return message }
        let fields = ["reasoning_content", "thinking", "reasoning"]
        guard let reasoning = fields.lazy.compactMap({ key -> TemplateValue? in
            guard let v = o[key], v != .none else { return nil }
            return v
        }).first else { return message }
        var aliased = TemplateObject([("thinking", reasoning)])
        for (k, v) in o.pairs { aliased[k] = v }
        aliased["reasoning_content"] = reasoning
        return .object(aliased)
    }

    /// Swift dictionaries are unordered; give messages a stable, conventional key order.
    static func orderedMessage(_ message: [String: TemplateValue]) -> TemplateObject {
        var object = TemplateObject()
        for key in ["role", "content"] { if let v = message[key] { object[key] = v } }
        for key in message.keys.sorted() where key != "role" && key != "content" { object[key] = message[key]! }
        return object
    }
}

// A parsed template is immutable: its literals are strings, numbers, booleans and None made by the lexer, and
// every render builds its own interpreter, so one template can render on many threads at once.
extension Template: @unchecked Sendable {}

// Safe to share for the same reason as `Template`, provided `defaultContext` holds data (strings, numbers,
// lists, dicts), which is what tokenizer configs provide; a namespace put there would be shared mutable state.
extension ChatTemplate: @unchecked Sendable {}
