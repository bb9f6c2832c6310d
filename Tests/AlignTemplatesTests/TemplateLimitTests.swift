import Testing
@testable import AlignTemplates

/// Issue 11: hostile templates hit a `TemplateLimits` limit with a clear `.limit` error, quickly and
/// deterministically, instead of hanging, exhausting memory or overflowing the stack; and errors name the
/// file the template came from.
@Suite struct TemplateLimitTests {
    /// Parses and renders `source`, returning the error it must throw.
    static func failure(_ source: String, context: [String: TemplateValue] = [:]) -> TemplateError? {
        do {
            let rendered = try Template(source).render(context: context)
            Issue.record("rendered \(rendered.utf8.count) bytes instead of failing")
            return nil
        } catch let error as TemplateError {
            return error
        } catch {
            Issue.record("unexpected error type: \(error)")
            return nil
        }
    }

    static func expectLimit(_ source: String, _ words: String, sourceLocation: SourceLocation = #_sourceLocation) {
        guard let error = failure(source) else { return }
        #expect(error.kind == .limit, "\(error)", sourceLocation: sourceLocation)
        #expect(error.message.contains(words), "\(error)", sourceLocation: sourceLocation)
    }

    @Test func hugeRangeFailsBeforeBuildingIt() {
        Self.expectLimit("{% for i in range(1000000000) %}x{% endfor %}", "range() of more than 100000 items")
        Self.expectLimit("{{ range(-9223372036854775807, 9223372036854775807) | length }}", "range()")
    }

    @Test func rangesWithinTheLimitStillWork() throws {
        #expect(try Template("{{ range(0, 9223372036854775807, 4611686018427387904) | list }}").render()
                == "[0, 4611686018427387904]")
        #expect(try Template("{{ range(10, 0, -3) | list }}").render() == "[10, 7, 4, 1]")
        #expect(try Template("{{ range(100000) | length }}").render() == "100000")
    }

    @Test func loopIterationsAreCappedAcrossLoops() {
        let error = Self.failure("{% for i in range(100000) %}{% for j in range(100) %}{% endfor %}{% endfor %}")
        #expect(error?.kind == .limit)
        #expect(error?.message.contains("more than 1000000 loop iterations") == true, "\(String(describing: error))")
        #expect(error?.line == 1)
    }

    @Test func stringAndListRepetitionAreSizedFirst() {
        Self.expectLimit("{{ 'a' * 10**9 }}", "string longer than 16777216 bytes")
        Self.expectLimit("{{ 10**18 * 'ab' }}", "string longer")
        Self.expectLimit("{{ [1, 2] * 10**9 }}", "list longer than 1000000 items")
        Self.expectLimit("{{ 'x' * 9223372036854775807 }}", "string longer")
    }

    @Test func repeatingNothingIsInstant() throws {
        #expect(try Template("{{ '' * 9223372036854775807 }}|{{ [] * 9223372036854775807 }}|{{ 'ab' * -5 }}").render() == "|[]|")
    }

    @Test func searchesStayLinear() throws {
        // A periodic needle against a periodic text is the naive search's worst case (n * m steps).
        let setup = "{% set text = 'a' * 2000000 %}{% set needle = 'a' * 100000 ~ 'b' %}"
        #expect(try Template(setup + "{{ needle in text }} {{ text.find(needle) }} {{ text.rfind(needle) }} {{ text.count(needle) }}")
                .render() == "False -1 -1 0")
        #expect(try Template(setup + "{{ text.replace(needle, '') | length }} {{ text.split(needle) | length }}").render() == "2000000 1")
    }

    @Test func uniqueIsCharged() {
        Self.expectLimit("{{ range(100000) | unique | length }}", "units of work")
    }

    @Test func outputSizeIsCapped() {
        Self.expectLimit("{% for i in range(100000) %}{{ 'x' * 1000 }}{% endfor %}", "string longer than 16777216 bytes")
        Self.expectLimit("{% set s %}{% for i in range(100000) %}{{ 'x' * 1000 }}{% endfor %}{% endset %}", "string longer")
    }

    @Test func amplifyingFiltersAreSizedFirst() {
        let big = "{% set s = 'a' * 1000000 %}"
        Self.expectLimit(big + "{{ [s] * 100 }}", "string longer")
        Self.expectLimit(big + "{{ ([s] * 100) | join }}", "string longer")
        Self.expectLimit(big + "{{ ['a', 'b'] | join(s * 16) }}", "string longer")
        Self.expectLimit(big + "{{ s | replace('', s) }}", "string longer")
        Self.expectLimit(big + "{{ s.replace('a', 'bbbbbbbbbbbbbbbbbbbb') }}", "string longer")
        Self.expectLimit(big + "{{ ('{0}' * 20).format(s) }}", "string longer")
        Self.expectLimit(big + "{{ [s] * 20 ~ '' }}", "string longer")
        Self.expectLimit("{{ 'x' | center(10**9) }}", "string longer")
        Self.expectLimit("{{ 'x' | indent(10**9) }}", "string longer")
        Self.expectLimit(big + "{{ ('a\n' * 100000) | indent(s) }}", "string longer")
        Self.expectLimit("{{ [[[1]]] | tojson(indent=10**9) }}", "string longer")
        Self.expectLimit(big + "{{ ([[[1, 2, 3]]] * 100) | tojson(indent=s) }}", "string longer")
    }

    @Test func iteratingAHugeStringIsCapped() {
        Self.expectLimit("{% for c in 'ab' * 1000000 %}{% endfor %}", "list longer than 1000000 items")
        Self.expectLimit("{{ ('ab' * 1000000) | list | length }}", "list longer than 1000000 items")
    }

    @Test func macroRecursionIsCapped() {
        Self.expectLimit("{% macro f(n) %}{{ f(n + 1) }}{% endmacro %}{{ f(0) }}", "macro calls nested more than 100 deep")
    }

    @Test func deepSyntaxFailsInsteadOfOverflowingTheStack() {
        Self.expectLimit("{{ " + String(repeating: "(", count: 100_000) + "1" + String(repeating: ")", count: 100_000) + " }}",
                         "nested more than 200 deep")
        Self.expectLimit("{{ 1" + String(repeating: " + 1", count: 100_000) + " }}", "nested more than 200 deep")
        Self.expectLimit("{{ x" + String(repeating: ".a", count: 100_000) + " }}", "nested more than 200 deep")
        Self.expectLimit("{{ " + String(repeating: "not ", count: 100_000) + "x }}", "nested more than 200 deep")
        Self.expectLimit("{{ " + String(repeating: "-", count: 100_000) + "1 }}", "nested more than 200 deep")
        Self.expectLimit(String(repeating: "{% if x %}", count: 100_000) + String(repeating: "{% endif %}", count: 100_000),
                         "nested more than 200 deep")
    }

    @Test func reasonableNestingStillParses() throws {
        let parens = String(repeating: "(", count: 40) + "1" + String(repeating: ")", count: 40)
        #expect(try Template("{{ \(parens) }}").render() == "1")
        #expect(try Template("{{ 1" + String(repeating: " + 1", count: 150) + " }}").render() == "151")
        let ifs = String(repeating: "{% if true %}", count: 60) + "y" + String(repeating: "{% endif %}", count: 60)
        #expect(try Template(ifs).render() == "y")
    }

    @Test func deepValuesFailInsteadOfOverflowingTheStack() {
        Self.expectLimit("{% set ns = namespace(x=[]) %}{% for i in range(100000) %}{% set ns.x = [ns.x] %}{% endfor %}{{ ns.x }}",
                         "values nested more than 1000 deep")
        Self.expectLimit("{% set ns = namespace(x={}) %}{% for i in range(100000) %}{% set ns.x = {'a': ns.x} %}{% endfor %}",
                         "values nested more than 1000 deep")
        Self.expectLimit("{% set ns = namespace(x=1) %}{% for i in range(100000) %}{% set ns.x = dict(a=ns.x) %}{% endfor %}",
                         "values nested more than 1000 deep")
    }

    @Test func namespacesCannotHoldNamespaces() {
        for source in ["{% set ns = namespace() %}{% set ns.me = ns %}{{ ns }}",
                       "{% set ns = namespace() %}{% set ns.l = [1, [ns]] %}",
                       "{% set a = namespace() %}{% set b = namespace(x=a) %}"] {
            let error = Self.failure(source)
            #expect(error?.message == "a namespace cannot be stored inside a namespace", "\(source)")
        }
    }

    @Test func workIsCappedForLoopsOverBulkOperations() {
        Self.expectLimit("{% set l = range(100000) | list %}{% for i in range(100000) %}{% if l | length %}{% endif %}{% endfor %}",
                         "units of work")
    }

    @Test func hugeFormatPrecisionDoesNotOverflow() throws {
        let out = try Template("{{ '%.99999999999999999999f' % 1.5 }}").render()
        #expect(out.hasPrefix("1.5000"))
        #expect(try Template("{{ '%d' % 1e20 }}").render() == "100000000000000000000")
        #expect(try Template("{{ '%d' % -2.5 }}").render() == "-2")
        #expect(Self.failure("{{ '%d' % (1e308 * 10) }}")?.message == "cannot convert float infinity to integer")
    }

    @Test func errorsNameTheTemplatesOrigin() throws {
        let origin = "/m/tokenizer_config.json (chat_template)"
        do {
            _ = try ChatTemplate("hello\n{{ x + }}", origin: origin)
            Issue.record("should not parse")
        } catch let error as TemplateError {
            #expect(error.origin == origin)
            #expect(error.line == 2)
            #expect(error.description.hasPrefix("chat template /m/tokenizer_config.json (chat_template): line 2: "), "\(error)")
        }
        let template = try ChatTemplate("{% for m in messages %}{{ m.content }}{% endfor %}\n{{ raise_exception('no') }}",
                                        origin: "/m/chat_template.jinja")
        do {
            _ = try template.render(messages: [ChatMessage(role: "user", content: "hi")], addGenerationPrompt: true)
            Issue.record("should raise")
        } catch let error as TemplateError {
            #expect(error.kind == .raised)
            #expect(error.description == "chat template /m/chat_template.jinja: no")
        }
        let looping = try ChatTemplate("\n{% for i in range(10**9) %}{% endfor %}", origin: "/m/chat_template.jinja")
        do {
            _ = try looping.render(conversation: [], addGenerationPrompt: true)
            Issue.record("should hit the range limit")
        } catch let error as TemplateError {
            #expect(error.description.hasPrefix("chat template /m/chat_template.jinja: line 2: range() of more than"), "\(error)")
        }
        do {
            _ = try ChatTemplate(tokenizerConfigJSON: #"{"chat_template": "{% if %}"}"#, origin: "/m/tokenizer_config.json")
            Issue.record("should not parse")
        } catch let error as TemplateError {
            #expect(error.origin == "/m/tokenizer_config.json (chat_template)")
        }
    }

    @Test func longConversationsStayWithinTheLimits() throws {
        let template = try ChatTemplate(
            "{% for message in messages %}{{ '<|im_start|>' + message['role'] + '\n' + message['content'] + '<|im_end|>' + '\n' }}"
                + "{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\n' }}{% endif %}")
        let messages = (0..<5_000).map { ChatMessage(role: $0 % 2 == 0 ? "user" : "assistant", content: String(repeating: "word ", count: 200)) }
        let text = try template.render(messages: messages, addGenerationPrompt: true)
        #expect(text.utf8.count > 5_000_000)
    }
}
