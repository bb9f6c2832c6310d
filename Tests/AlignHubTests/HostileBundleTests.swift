import AlignHub
import AlignTemplates
import AlignTokenizers
import Foundation
import Testing
import TestSupport

/// Issue 11: a model folder with a hostile or broken tokenizer or chat template fails to load (or to
/// render) with an error naming the file, never a crash or a hang.
@Suite struct HostileBundleTests {
    /// A copy of the small Qwen2 fixture folder with `changes` (file name → new text) applied.
    static func folder(_ changes: [String: String]) throws -> URL {
        let source = fixturesDirectory.appendingPathComponent("models/qwen2")
        let url = testScratchDirectory.appendingPathComponent("align-bundle-\(UUID().uuidString)")
        try FileManager.default.copyItem(at: source, to: url)
        for (name, text) in changes {
            try text.write(to: url.appendingPathComponent(name), atomically: true, encoding: .utf8)
        }
        return url
    }

    /// tokenizer.json of the fixture with `edit` applied to its text.
    static func tokenizerJSON(_ edit: (String) -> String) throws -> String {
        edit(try String(contentsOf: fixturesDirectory.appendingPathComponent("models/qwen2/tokenizer.json"), encoding: .utf8))
    }

    @Test func fixtureLoadsAndRenders() throws {
        let url = try Self.folder([:])
        defer { try? FileManager.default.removeItem(at: url) }
        let bundle = try ModelBundle(path: url.path)
        #expect(bundle.chatTemplate?.origin == url.appendingPathComponent("chat_template.jinja").path)
        let text = try #require(bundle.chatTemplate).render(messages: [ChatMessage(role: "user", content: "hi")], addGenerationPrompt: true)
        #expect(text.hasSuffix("<|im_start|>assistant\n"))
    }

    @Test func templateSyntaxErrorNamesTheFileAndLine() throws {
        let url = try Self.folder(["chat_template.jinja": "{{ bos_token }}\n{% for m in messages %}{{ m.content + }}{% endfor %}"])
        defer { try? FileManager.default.removeItem(at: url) }
        do {
            _ = try ModelBundle(path: url.path)
            Issue.record("should not load")
        } catch let error as TemplateError {
            #expect(error.origin == url.appendingPathComponent("chat_template.jinja").path)
            #expect(error.line == 2)
            #expect("\(error)".contains("chat_template.jinja: line 2: "))
        }
    }

    @Test func configTemplateErrorNamesTokenizerConfig() throws {
        let url = try Self.folder(["tokenizer_config.json": #"{"eos_token": "<|im_end|>", "chat_template": "{% if %}"}"#])
        defer { try? FileManager.default.removeItem(at: url) }
        do {
            _ = try ModelBundle(path: url.path)
            Issue.record("should not load")
        } catch let error as TemplateError {
            #expect(error.origin == url.appendingPathComponent("tokenizer_config.json").path + " (chat_template)")
            #expect("\(error)".contains("tokenizer_config.json (chat_template): line 1: "))
        }
    }

    @Test func hugeLoopInTheTemplateFailsWhenRendering() throws {
        let url = try Self.folder(["chat_template.jinja": "{% for i in range(1000000000) %}x{% endfor %}"])
        defer { try? FileManager.default.removeItem(at: url) }
        let template = try #require(try ModelBundle(path: url.path).chatTemplate)
        do {
            _ = try template.render(messages: [ChatMessage(role: "user", content: "hi")], addGenerationPrompt: true)
            Issue.record("should not render")
        } catch let error as TemplateError {
            #expect(error.kind == .limit)
            #expect("\(error)".hasPrefix("chat template \(url.appendingPathComponent("chat_template.jinja").path): line 1: range()"))
        }
    }

    @Test func tokenizerErrorsNameTheirFile() throws {
        let cases: [(String, String, String)] = [
            ("tokenizer.json", try Self.tokenizerJSON { $0.replacingOccurrences(of: #""id": 1,"#, with: #""id": 2147483648,"#) },
             "has id 2147483648"),
            ("tokenizer.json", try Self.tokenizerJSON { String($0.dropLast(10)) }, "not valid JSON at line"),
            ("tokenizer_config.json", #"{"eos_token": "<nope>"}"#, "eos_token \"<nope>\" is not a token of tokenizer.json"),
        ]
        for (file, text, words) in cases {
            let url = try Self.folder([file: text])
            defer { try? FileManager.default.removeItem(at: url) }
            do {
                _ = try ModelBundle(path: url.path)
                Issue.record("\(file) should not load: \(words)")
            } catch let error as TokenizerError {
                #expect(error.source == url.appendingPathComponent(file).path)
                #expect(error.reason.contains(words), "\(error)")
            }
        }
    }

    @Test func tokenizerLargerThanTheModelIsRefused() throws {
        let json = try Self.tokenizerJSON { $0 }
        // One more added token than the 300 embedding rows allow.
        let grown = json.replacingOccurrences(of: #""added_tokens": ["#,
                                              with: #""added_tokens": [{"id": 300, "content": "<extra>", "special": true}, "#)
        #expect(grown != json)
        let url = try Self.folder(["tokenizer.json": grown])
        defer { try? FileManager.default.removeItem(at: url) }
        do {
            _ = try ModelBundle(path: url.path)
            Issue.record("should not load")
        } catch let error as TokenizerError {
            #expect(error.reason.contains("only 300 embedding rows"), "\(error)")
        }
    }
}
