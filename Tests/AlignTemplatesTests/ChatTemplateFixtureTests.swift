// Byte-for-byte comparison with transformers' own rendering of real Hub chat templates
// (fixtures written by scripts/make_template_fixtures.py).

import AlignTemplates
import Foundation
import Testing

/// Loads the committed fixtures next to this file.
enum Fixtures {
    static let directory = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Fixtures")

    static func json(_ name: String) throws -> TemplateValue {
        let text = try String(contentsOf: directory.appendingPathComponent(name), encoding: .utf8)
        return try TemplateValue(json: text)
    }

    /// The template entries: name -> (template source, bos, eos).
    static let templates: [String: (source: String, bos: TemplateValue, eos: TemplateValue)] = {
        guard case .object(let all)? = try? json("chat_templates.json") else { return [:] }
        var out: [String: (String, TemplateValue, TemplateValue)] = [:]
        for (name, entry) in all.pairs {
            guard case .object(let e) = entry, case .string(let source)? = e["template"] else { continue }
            out[name] = (source, e["bos_token"] ?? .none, e["eos_token"] ?? .none)
        }
        return out
    }()

    struct Case: CustomTestStringConvertible {
        let template: String
        let conversation: String
        let addGenerationPrompt: Bool
        let continueFinalMessage: Bool
        let messages: [TemplateValue]
        let tools: [TemplateValue]?
        let expected: String?
        let error: String?
        let errorType: String?
        var testDescription: String {
            "\(template)/\(conversation)/gen=\(addGenerationPrompt)" + (continueFinalMessage ? "/continue" : "")
        }
    }

    static let cases: [Case] = {
        guard case .object(let root)? = try? json("chat_template_renders.json"),
            case .object(let conversations)? = root["conversations"],
            case .array(let tools)? = root["tools"],
            case .array(let cases)? = root["cases"]
        else { return [] }
        return cases.compactMap { value in
            guard case .object(let c) = value, case .string(let template)? = c["template"],
                case .string(let conversation)? = c["conversation"], case .bool(let gen)? = c["add_generation_prompt"],
                case .array(let messages)? = conversations[conversation]
            else { return nil }
            var expected: String?
            var error: String?
            var errorType: String?
            if case .string(let e)? = c["expected"] { expected = e }
            if case .string(let e)? = c["error"] { error = e }
            if case .string(let e)? = c["error_type"] { errorType = e }
            var continueFinal = false
            if case .bool(let b)? = c["continue_final_message"] { continueFinal = b }
            return Case(template: template, conversation: conversation, addGenerationPrompt: gen,
                        continueFinalMessage: continueFinal, messages: messages,
                        tools: conversation == "tools" ? tools : nil, expected: expected, error: error, errorType: errorType)
        }
    }()

    /// The pinned answers the generator gave `strftime_now`, installed as a context variable (which shadows
    /// the global) so templates that print today's date render reproducibly.
    static let fixedStrftime: TemplateValue = {
        guard case .object(let root)? = try? json("chat_template_renders.json"), case .object(let dates)? = root["strftime_now"]
        else { return .undefined }
        return .function(TemplateFunction(name: "strftime_now") { args, _ in
            guard case .string(let format)? = args.first, let date = dates[format] else {
                throw TemplateError(.runtime, "no pinned date for this format")
            }
            return date
        })
    }()
}

@Suite("Real chat templates against transformers")
struct ChatTemplateFixtureTests {
    @Test("fixtures are present and cover every template")
    func fixturesLoaded() {
        #expect(Fixtures.templates.count == 19)
        #expect(Fixtures.cases.count == 270)
        #expect(Fixtures.cases.filter { $0.error != nil }.count == 52)
        #expect(Fixtures.cases.filter { $0.errorType == "TemplateError" }.count == 20)
        #expect(Fixtures.cases.filter(\.continueFinalMessage).count == 38)
        #expect(Set(Fixtures.cases.map(\.template)) == Set(Fixtures.templates.keys))
    }

    @Test("renders byte-for-byte like transformers", arguments: Fixtures.cases)
    func render(_ c: Fixtures.Case) throws {
        let entry = try #require(Fixtures.templates[c.template])
        let template = try ChatTemplate(entry.source)
        let render = {
            try template.render(
                conversation: c.messages, addGenerationPrompt: c.addGenerationPrompt, tools: c.tools,
                extra: ["bos_token": entry.bos, "eos_token": entry.eos, "strftime_now": Fixtures.fixedStrftime],
                continueFinalMessage: c.continueFinalMessage)
        }
        if let expected = c.expected {
            let output = try render()
            #expect(Array(output.utf8) == Array(expected.utf8), "\(c.testDescription)\n--- got ---\n\(output)\n--- expected ---\n\(expected)")
        } else {
            let message = try #require(c.error)
            let error = #expect(throws: TemplateError.self, "Python raised \(c.errorType ?? ""): \(message)") { try render() }
            if c.errorType == "TemplateError" {
                // raise_exception(...) from the template: same kind and exact message.
                #expect(error?.kind == .raised)
                #expect(error?.message == message)
                #expect(error?.line != nil, "raise_exception should report the template line it was called from")
            } else {
                #expect(error?.kind == .runtime, "\(String(describing: error))")
            }
        }
    }
}
