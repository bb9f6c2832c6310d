import AlignHub
import AlignModelIO
import AlignTokenizers
import Foundation
import Testing
import TestSupport

/// SmolLM2's tokenizer read from its GGUF, with llama.cpp's own pre-tokenizer rule for it
/// ("smollm": digits isolated), against the ids llama.cpp's `llama-tokenize` produced for the same
/// file (scripts/fixtures/make_llamacpp_tokenizer_goldens.py).
@Suite struct LlamaCppTokenizerTests {
    @Test(.enabled(if: hasSmolLM2, "run scripts/fetch-assets.sh to fetch SmolLM2"))
    func smolLM2IdsEqualLlamaCpp() throws {
        let gguf = try GGUFFile(url: smolLM2GGUF)
        let tokenizer = try Tokenizer(vocabulary: BPEVocabulary(gguf: gguf))
        let url = fixturesDirectory.appendingPathComponent("llamacpp/smollm2_llamacpp_ids.json")
        let json = try JSONSerialization.jsonObject(with: Data(contentsOf: url)) as! [String: Any]
        let rows = json["rows"] as! [[String: Any]]
        #expect(rows.count > 300)
        var mismatches: [String] = []
        for row in rows {
            let text = row["text"] as! String, expected = row["ids"] as! [Int]
            let ids = tokenizer.encode(text, addSpecialTokens: false)
            if ids != expected { mismatches.append("\(text.debugDescription): \(ids) vs llama.cpp \(expected)") }
        }
        #expect(mismatches.isEmpty, "\(mismatches.count) mismatches, first: \(mismatches.prefix(3).joined(separator: "\n"))")
    }
}
