import AlignHub
import AlignModelIO
import AlignTokenizers
import Foundation
import Testing
import TestSupport

let cacheDirectory = URL(fileURLWithPath: ProcessInfo.processInfo.environment["ALIGN_CACHE"]
    ?? NSHomeDirectory() + "/.cache/align")
let smolLM2GGUF = cacheDirectory.appendingPathComponent("smollm2/SmolLM2-135M-Instruct.Q4_1.gguf")
let hasSmolLM2 = FileManager.default.fileExists(atPath: smolLM2GGUF.path)

@Suite struct GGUFTokenizerTests {
    /// SmolLM2's tokenizer read straight from the GGUF gives Hugging Face's ids on the committed
    /// corpus (Tests/AlignTokenizersTests/Fixtures/smollm2_expected.json, made by transformers
    /// from the same GGUF, hence the "gpt2" pre-tokenizer transformers' conversion uses).
    @Test(.enabled(if: hasSmolLM2, "run scripts/fetch-assets.sh to fetch SmolLM2"))
    func smolLM2FromGGUFMatchesTransformers() throws {
        let gguf = try GGUFFile(url: smolLM2GGUF)
        let tokenizer = try Tokenizer(vocabulary: BPEVocabulary(gguf: gguf, preTokenizerName: "gpt2"))
        #expect(tokenizer.vocabularySize == 49152)
        #expect(tokenizer.eosTokenID == 2)
        #expect(tokenizer.chatTemplate?.contains("<|im_start|>") == true)
        let url = fixturesDirectory.deletingLastPathComponent().appendingPathComponent("AlignTokenizersTests/Fixtures/smollm2_expected.json")
        let rows = try JSONSerialization.jsonObject(with: Data(contentsOf: url)) as! [[String: Any]]
        #expect(rows.count > 300)
        var mismatches = 0
        for row in rows {
            let text = row["text"] as! String, ids = row["ids"] as! [Int]
            if tokenizer.encode(text, addSpecialTokens: false) != ids { mismatches += 1 }
        }
        #expect(mismatches == 0)
    }

    @Test func fileWithoutTokenizerIsRefused() throws {
        let url = testScratchDirectory.appendingPathComponent("align-no-tokenizer-\(UUID().uuidString).gguf")
        defer { try? FileManager.default.removeItem(at: url) }
        try GGUFWriter.write(metadata: [(key: "general.architecture", value: .string("llama"))], tensors: [], to: url)
        #expect(throws: ModelIOError.self) { try BPEVocabulary(gguf: GGUFFile(url: url)) }
        try GGUFWriter.write(metadata: [(key: "tokenizer.ggml.model", value: .string("bert"))], tensors: [], to: url)
        #expect(throws: ModelIOError.self) { try BPEVocabulary(gguf: GGUFFile(url: url)) }
    }
}
