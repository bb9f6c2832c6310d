// Hand-written checks of the public API, value printing, error reporting and lexer options.

import AlignTemplates
import Foundation
import Testing

private func render(_ source: String, _ context: [String: TemplateValue] = [:]) throws -> String {
    try Template(source).render(context: context)
}

@Suite("Values")
struct TemplateValueTests {
    @Test("floats print like Python's repr", arguments: [
        (1.0, "1.0"), (0.1, "0.1"), (-2.5, "-2.5"), (1e15, "1000000000000000.0"), (1e16, "1e+16"),
        (1.5e-7, "1.5e-07"), (0.0001, "0.0001"), (0.00001, "1e-05"), (123456.789, "123456.789"),
        (1e300 * 10, "1e+301"), (-0.0, "-0.0"), (Double.infinity, "inf"), (2.0 / 3.0, "0.6666666666666666"),
    ])
    func floatRepr(_ value: Double, _ expected: String) {
        #expect(TemplateValue.double(value).renderedString == expected)
    }

    @Test("truthiness follows Python, undefined is falsy")
    func truthiness() {
        let falsy: [TemplateValue] = [.undefined, .none, false, 0, 0.0, "", [], [:]]
        let truthy: [TemplateValue] = [true, 1, -0.5, " ", [.none], ["k": .none], .namespace(TemplateNamespace())]
        #expect(falsy.allSatisfy { !$0.isTruthy })
        #expect(truthy.allSatisfy { $0.isTruthy })
    }

    @Test("equality is Python's: 1 == 1.0 == True, dicts ignore order, lists do not")
    func equality() {
        #expect(TemplateValue.int(1) == .double(1.0))
        #expect(TemplateValue.bool(true) == .int(1))
        #expect(TemplateValue.object(TemplateObject([("a", 1), ("b", 2)])) == .object(TemplateObject([("b", 2), ("a", 1)])))
        #expect(TemplateValue.array([1, 2]) != .array([2, 1]))
        #expect(TemplateValue.string("1") != .int(1))
        #expect(TemplateValue.undefined != .none)
    }

    @Test("objects keep insertion order, and removal works")
    func objectOrder() {
        var o = TemplateObject()
        o["z"] = 1
        o["a"] = 2
        o["m"] = 3
        o["a"] = 4
        #expect(o.keys == ["z", "a", "m"])
        o["z"] = nil
        #expect(o.keys == ["a", "m"])
        #expect(o.values == [4, 3])
    }

    @Test("JSON parsing keeps key order and number kinds; jsonString matches json.dumps")
    func jsonRoundTrip() throws {
        let value = try TemplateValue(json: #"{"b": [1, 2.0, -3e2, true, null], "a": "\u00e9\ud83d\ude00\n", "c": {}}"#)
        guard case .object(let o) = value else {
            Issue.record("not an object")
            return
        }
        #expect(o.keys == ["b", "a", "c"])
        #expect(o["b"] == [1, .double(2.0), .double(-300), true, .none])
        #expect(try value.jsonString() == #"{"b": [1, 2.0, -300.0, true, null], "a": "é😀\n", "c": {}}"#)
        #expect(throws: TemplateError.self) { try TemplateValue(json: #"{"a": }"#) }
        #expect(throws: TemplateError.self) { try TemplateValue(json: "[1, 2] extra") }
    }
}

@Suite("Chat template API")
struct ChatTemplateAPITests {
    static let chatML = """
        {% for message in messages %}{{ '<|im_start|>' + message['role'] + '\\n' + message['content'] + '<|im_end|>' + '\\n' }}{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}{% endif %}
        """

    @Test("typed ChatMessage and dictionary messages render the same")
    func typedMessages() throws {
        let template = try ChatTemplate(Self.chatML)
        let typed = try template.render(
            messages: [ChatMessage(role: "user", content: "Hi"), ChatMessage(role: "assistant", content: "Yo")],
            addGenerationPrompt: true)
        let dicts = try template.render(
            messages: [["role": "user", "content": "Hi"], ["role": "assistant", "content": "Yo"]], addGenerationPrompt: true)
        #expect(typed == "<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\nYo<|im_end|>\n<|im_start|>assistant\n")
        #expect(typed == dicts)
        let noPrompt = try template.render(messages: [ChatMessage(role: "user", content: "Hi")], addGenerationPrompt: false)
        #expect(noPrompt == "<|im_start|>user\nHi<|im_end|>\n")
    }

    @Test("tools and documents are defined but None when not given, as transformers passes them")
    func toolsDefaultToNone() throws {
        let template = try ChatTemplate("{{ tools is defined }}/{{ tools is none }}/{{ documents is none }}/{{ bos_token }}")
        #expect(try template.render(messages: [ChatMessage](), addGenerationPrompt: false, extra: ["bos_token": "<s>"]) == "True/True/True/<s>")
        let withTools = try template.render(messages: [ChatMessage](), addGenerationPrompt: false, tools: [["name": "f"]])
        #expect(withTools == "True/False/True/")
    }

    @Test("reasoning is aliased under thinking and reasoning_content")
    func reasoningAlias() throws {
        let template = try ChatTemplate("{{ messages[0].thinking }}|{{ messages[0].reasoning_content }}")
        let out = try template.render(
            messages: [["role": "assistant", "content": "x", "reasoning": "because"]], addGenerationPrompt: false)
        #expect(out == "because|because")
    }

    @Test("tokenizer_config.json: string or named-list chat_template, added-token objects as special tokens")
    func tokenizerConfig() throws {
        let config = #"""
            {"bos_token": {"content": "<s>", "lstrip": false}, "eos_token": "</s>",
             "chat_template": [{"name": "default", "template": "{{ bos_token }}{% for m in messages %}{{ m.content }}{{ eos_token }}{% endfor %}"},
                               {"name": "tool_use", "template": "tools:{{ tools | length }}"}]}
            """#
        let chat = try ChatTemplate(tokenizerConfigJSON: config)
        #expect(chat.defaultContext["bos_token"] == "<s>")
        #expect(try chat.render(messages: [["role": "user", "content": "a"]], addGenerationPrompt: false) == "<s>a</s>")
        #expect(try chat.render(messages: [["role": "user", "content": "a"]], addGenerationPrompt: false,
                                extra: ["eos_token": "|"]) == "<s>a|")
        let tools = try ChatTemplate(tokenizerConfigJSON: config, name: "tool_use")
        #expect(try tools.render(messages: [ChatMessage](), addGenerationPrompt: false, tools: [[:], [:]]) == "tools:2")
        #expect(throws: TemplateError.self) { try ChatTemplate(tokenizerConfigJSON: config, name: "missing") }
        #expect(throws: TemplateError.self) { try ChatTemplate(tokenizerConfigJSON: #"{"eos_token": "x"}"#) }
    }

    @Test("continueFinalMessage refuses bad requests")
    func continueFinalMessageErrors() throws {
        let template = try ChatTemplate(Self.chatML)
        let chat = [ChatMessage(role: "user", content: "Hi"), ChatMessage(role: "assistant", content: "Partial")]
        #expect(try template.render(messages: chat, addGenerationPrompt: false, continueFinalMessage: true)
            == "<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\nPartial")
        #expect(throws: TemplateError.self) {
            try template.render(messages: chat, addGenerationPrompt: true, continueFinalMessage: true)
        }
        #expect(throws: TemplateError.self) {
            try template.render(messages: [ChatMessage](), addGenerationPrompt: false, continueFinalMessage: true)
        }
        // A template that drops the final message cannot be continued.
        let dropping = try ChatTemplate("{% for m in messages[:-1] %}{{ m.content }}{% endfor %}")
        #expect(throws: TemplateError.self) {
            try dropping.render(messages: chat, addGenerationPrompt: false, continueFinalMessage: true)
        }
    }

    @Test("ChatMessage decodes from JSON with tool_call_id")
    func chatMessageCodable() throws {
        let json = #"[{"role": "tool", "content": "42", "name": "calc", "tool_call_id": "call1"}, {"role": "user", "content": "hi"}]"#
        let decoded = try JSONDecoder().decode([ChatMessage].self, from: Data(json.utf8))
        let message = ChatMessage(role: "tool", content: "42", name: "calc", toolCallID: "call1")
        #expect(decoded == [message, ChatMessage(role: "user", content: "hi")])
        #expect(message.templateValue["tool_call_id"] == "call1")
        #expect(decoded[1].templateValue["name"] == nil)
        #expect(ChatMessage(role: "assistant", content: nil).templateValue["content"] == TemplateValue.none)
    }
}

@Suite("Errors")
struct TemplateErrorTests {
    @Test("raise_exception throws its exact message with the calling line")
    func raiseException() {
        let error = #expect(throws: TemplateError.self) {
            try render("line one\n{% if true %}\n{{ raise_exception('Roles must alternate!') }}\n{% endif %}")
        }
        #expect(error?.kind == .raised)
        #expect(error?.message == "Roles must alternate!")
        #expect(error?.line == 3)
        #expect(error?.description == "Roles must alternate!")
    }

    @Test("syntax errors name their line")
    func syntaxLine() {
        let error = #expect(throws: TemplateError.self) { try Template("ok\n\n{{ 1 + }}") }
        #expect(error?.kind == .syntax)
        #expect(error?.line == 3)
        #expect(error?.description.hasPrefix("line 3: ") == true)
    }

    @Test("unsupported statements and filters are errors, not text", arguments: [
        "{% include 'x' %}", "{% extends 'base' %}", "{% for x in y recursive %}{% endfor %}",
    ])
    func unsupportedStatement(_ source: String) {
        let error = #expect(throws: TemplateError.self) { try Template(source) }
        #expect(error?.kind == .unsupported)
        #expect(error?.line == 1)
    }

    @Test("a name Jinja does not know is a syntax error even in an untaken branch; a known but unsupported one fails where used")
    func unknownFilter() throws {
        let error = #expect(throws: TemplateError.self) { try Template("a\n{% if false %}{{ 'x' | frobnicate }}{% endif %}") }
        #expect(error?.kind == .syntax)
        #expect(error?.line == 2)
        #expect(error?.message.contains("frobnicate") == true)
        #expect(throws: TemplateError.self) { try Template("{{ 1 is frobnicated }}") }
        // `batch` is a real Jinja filter we do not implement: fine until reached, then an unsupported error.
        let template = try Template("{% if go %}{{ [1, 2] | batch(1) }}{% endif %}ok")
        #expect(try template.render(context: ["go": false]) == "ok")
        let unsupported = #expect(throws: TemplateError.self) { try template.render(context: ["go": true]) }
        #expect(unsupported?.kind == .unsupported)
    }

    @Test("undefined names render empty, but reading through them fails with the name")
    func undefinedAccess() throws {
        #expect(try render("[{{ nope }}][{{ nope | default('d') }}][{{ 'y' if nope else 'n' }}]") == "[][d][n]")
        let error = #expect(throws: TemplateError.self) { try render("{{ nope.field }}") }
        #expect(error?.message.contains("'nope' is undefined") == true)
    }

    @Test("unclosed blocks are syntax errors")
    func unclosed() {
        #expect(throws: TemplateError.self) { try Template("{% for x in y %}body") }
        #expect(throws: TemplateError.self) { try Template("{% if x %}a{% else %}b") }
        #expect(throws: TemplateError.self) { try Template("{{ 'open") }
        #expect(throws: TemplateError.self) { try Template("{# never closed") }
        #expect(throws: TemplateError.self) { try Template("{{ (1, 2 }}") }
    }

    @Test("runaway macro recursion is an error, not a crash")
    func recursion() throws {
        #expect(throws: TemplateError.self) { try render("{% macro f(n) %}{{ f(n + 1) }}{% endmacro %}{{ f(0) }}") }
        // Bounded recursion (as Hermes-2-Pro's json_to_python_type does) is fine.
        let countdown = "{% macro f(n) %}{{ n }}{% if n > 0 %}{{ f(n - 1) }}{% endif %}{% endmacro %}{{ f(5) }}"
        #expect(try render(countdown) == "543210")
    }

    @Test("integer overflow is an error, not a wrapped number")
    func overflow() {
        #expect(throws: TemplateError.self) { try render("{{ 9223372036854775807 + 1 }}") }
        #expect(throws: TemplateError.self) { try render("{{ 2 ** 64 }}") }
    }
}

@Suite("Whitespace options")
struct WhitespaceOptionTests {
    @Test("without trim_blocks/lstrip_blocks the block lines stay, as plain Jinja renders them")
    func plainJinja() throws {
        let source = "<\n  {% if true %}\n  x\n  {% endif %}\n>"
        let plain = try Template(source, options: TemplateOptions(trimBlocks: false, lstripBlocks: false)).render()
        #expect(plain == "<\n  \n  x\n  \n>")
        #expect(try Template(source).render() == "<\n  x\n>")
    }

    @Test("keep_trailing_newline keeps the final newline")
    func trailingNewline() throws {
        #expect(try Template("a\n").render() == "a")
        #expect(try Template("a\n", options: TemplateOptions(keepTrailingNewline: true)).render() == "a\n")
    }

    @Test("strftime_now formats the current local time")
    func strftimeNow() throws {
        let year = try render("{{ strftime_now('%Y') }}")
        #expect(year.count == 4 && Int(year).map { $0 >= 2024 } == true)
        #expect(try render("{{ strftime_now('%d %B %Y') | length > 10 }}") == "True")
    }

    @Test("a parsed template renders concurrently")
    func concurrentRenders() async throws {
        let template = try ChatTemplate("{% for m in messages %}[{{ m.role }}:{{ m.content }}]{% endfor %}")
        let outputs = try await withThrowingTaskGroup(of: String.self) { group in
            for i in 0..<8 {
                group.addTask {
                    try template.render(messages: [ChatMessage(role: "user", content: "\(i)")], addGenerationPrompt: false)
                }
            }
            return try await group.reduce(into: Set<String>()) { $0.insert($1) }
        }
        #expect(outputs == Set((0..<8).map { "[user:\($0)]" }))
    }

    @Test("generation blocks render their body")
    func generationBlock() throws {
        #expect(try render("A{% generation %}B{{ 1 }}{% endgeneration %}C") == "AB1C")
    }
}
