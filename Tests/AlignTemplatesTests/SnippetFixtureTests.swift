// One construct at a time, against Jinja as transformers configures it (fixtures from
// scripts/make_template_fixtures.py): printing, operators, filters, tests, statements, whitespace, errors.

import AlignTemplates
import Foundation
import Testing

struct Snippet: CustomTestStringConvertible {
    let source: String
    let expected: String?
    let error: String?
    var testDescription: String { source.count > 60 ? String(source.prefix(60)) + "…" : source }

    static let context: [String: TemplateValue] = {
        guard case .object(let root)? = try? Fixtures.json("snippet_renders.json"), case .object(let c)? = root["context"]
        else { return [:] }
        return Dictionary(uniqueKeysWithValues: c.pairs)
    }()

    static let all: [Snippet] = {
        guard case .object(let root)? = try? Fixtures.json("snippet_renders.json"), case .array(let cases)? = root["cases"]
        else { return [] }
        return cases.compactMap { value in
            guard case .object(let c) = value, case .string(let source)? = c["template"] else { return nil }
            var expected: String?
            var error: String?
            if case .string(let e)? = c["expected"] { expected = e }
            if case .string(let e)? = c["error"] { error = e }
            return Snippet(source: source, expected: expected, error: error)
        }
    }()
}

@Suite("Jinja constructs against transformers' environment")
struct SnippetFixtureTests {
    @Test("snippet fixtures are present")
    func loaded() {
        #expect(Snippet.all.count == 166)
        #expect(Snippet.all.filter { $0.error != nil }.count == 28)
        #expect(Snippet.context["msgs"] != nil)
    }

    @Test("renders exactly what Jinja renders, or fails where Jinja fails", arguments: Snippet.all)
    func snippet(_ s: Snippet) throws {
        if let expected = s.expected {
            let output = try Template(s.source).render(context: Snippet.context)
            #expect(Array(output.unicodeScalars) == Array(expected.unicodeScalars),
                    "\(s.source)\n--- got ---\n\(output)\n--- expected ---\n\(expected)")
        } else {
            // Jinja raised (\(s.error!)): we must throw too, never produce text.
            #expect(throws: TemplateError.self, "\(s.error ?? "")") {
                _ = try Template(s.source).render(context: Snippet.context)
            }
        }
    }
}
