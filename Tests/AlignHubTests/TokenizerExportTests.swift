import AlignHub
import AlignModelIO
import AlignModels
import AlignTemplates
import AlignTokenizers
import Foundation
import Testing
import TestSupport

/// Models loaded from GGUF files are saved with Hugging Face tokenizer files generated from the
/// GGUF vocabulary, which reload to the tokenizer the bundle used.
@Suite struct TokenizerExportTests {
    static func temporaryFolder() throws -> URL {
        let url = testScratchDirectory.appendingPathComponent("align-hub-export-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
        return url
    }

    /// The texts of the committed SmolLM2 corpus.
    static func corpus() throws -> [String] {
        let url = fixturesDirectory.deletingLastPathComponent().appendingPathComponent("AlignTokenizersTests/Fixtures/smollm2_expected.json")
        let rows = try JSONSerialization.jsonObject(with: Data(contentsOf: url)) as! [[String: Any]]
        return rows.map { $0["text"] as! String }
    }

    /// SmolLM2's GGUF vocabulary, with llama.cpp's "smollm" pre-tokenizer, written and reloaded:
    /// identical ids with and without special tokens on the whole corpus, and the GGUF's chat
    /// template and context length in tokenizer_config.json. (Hugging Face reads these files the
    /// same way: see scripts/check_tokenizer_export.py and HuggingFaceExportTests.)
    @Test(.enabled(if: hasSmolLM2, "run scripts/fetch-assets.sh to fetch SmolLM2"))
    func smolLM2GGUFTokenizerRoundTrip() throws {
        let vocabulary = try BPEVocabulary(gguf: GGUFFile(url: smolLM2GGUF))
        #expect(vocabulary.preTokenizerName == "smollm")
        let direct = try Tokenizer(vocabulary: vocabulary)
        let files = try vocabulary.huggingFaceTokenizerFiles()
        let folder = try Self.temporaryFolder()
        defer { try? FileManager.default.removeItem(at: folder) }
        for (name, data) in files { try data.write(to: folder.appendingPathComponent(name)) }
        let reloaded = try Tokenizer(directory: folder)
        let texts = try Self.corpus()
        #expect(texts.count > 300)
        var mismatches: [String] = []
        for text in texts {
            for special in [false, true] where direct.encode(text, addSpecialTokens: special) != reloaded.encode(text, addSpecialTokens: special) {
                mismatches.append(text.debugDescription)
            }
        }
        #expect(mismatches.isEmpty, "\(mismatches.prefix(5))")
        #expect(reloaded.chatTemplate == vocabulary.chatTemplate && reloaded.chatTemplate != nil)
        #expect(reloaded.modelMaxLength == 8192)
        #expect(reloaded.eosToken == "<|im_end|>" && reloaded.bosToken == "<|im_start|>" && reloaded.padTokenID == 2)
        #expect(reloaded.addsBOSToken == false && reloaded.addsEOSToken == false)
        // For scripts/check_tokenizer_export.py: ALIGN_TOKENIZER_EXPORT_KEEP=DIR keeps these files
        // and Align's ids in DIR/smollm2_gguf.
        if let keep = ProcessInfo.processInfo.environment["ALIGN_TOKENIZER_EXPORT_KEEP"], !keep.isEmpty {
            let target = URL(fileURLWithPath: keep).appendingPathComponent("smollm2_gguf")
            try FileManager.default.createDirectory(at: target, withIntermediateDirectories: true)
            for (name, data) in files { try data.write(to: target.appendingPathComponent(name)) }
            let rows: [[String: Any]] = texts.map { text in
                let special = direct.encode(text, addSpecialTokens: true)
                return ["text": text, "ids": direct.encode(text, addSpecialTokens: false), "ids_special": special,
                        "decoded": direct.decode(special), "decoded_skip": direct.decode(special, skipSpecialTokens: true)]
            }
            try JSONSerialization.data(withJSONObject: rows).write(to: target.appendingPathComponent("align_ids.json"))
        }
    }

    /// For the one-off end-to-end check by scripts/check_tokenizer_export.py only (it writes a
    /// 540 MB folder, so it runs only when ALIGN_TOKENIZER_EXPORT_KEEP=DIR is set): SmolLM2 loaded
    /// from its GGUF and saved by `ModelBundle.save(to:)` into DIR/smollm2_bundle, with Align's ids of
    /// the corpus and of a rendered chat prompt beside it.
    @Test(.enabled(if: hasSmolLM2 && ProcessInfo.processInfo.environment["ALIGN_TOKENIZER_EXPORT_KEEP"] != nil,
                   "set ALIGN_TOKENIZER_EXPORT_KEEP=DIR to write SmolLM2's saved folder for the Python check"))
    func smolLM2BundleSaveForPythonCheck() throws {
        let keep = URL(fileURLWithPath: ProcessInfo.processInfo.environment["ALIGN_TOKENIZER_EXPORT_KEEP"]!)
        let bundle = try ModelBundle(path: smolLM2GGUF.path)
        let out = keep.appendingPathComponent("smollm2_bundle")
        try bundle.save(to: out)
        let reloaded = try Tokenizer(directory: out)
        let messages = [ChatMessage(role: "user", content: "What is 2+2? Answer in 3 words.")]
        let prompt = try #require(bundle.chatTemplate).render(messages: messages, addGenerationPrompt: true)
        let texts = try Self.corpus() + [prompt]
        var rows: [[String: Any]] = []
        for text in texts {
            let special = bundle.tokenizer.encode(text, addSpecialTokens: true)
            #expect(reloaded.encode(text, addSpecialTokens: true) == special)
            rows.append(["text": text, "ids": bundle.tokenizer.encode(text, addSpecialTokens: false), "ids_special": special,
                         "decoded": bundle.tokenizer.decode(special),
                         "decoded_skip": bundle.tokenizer.decode(special, skipSpecialTokens: true)])
        }
        try JSONSerialization.data(withJSONObject: rows).write(to: out.appendingPathComponent("align_ids.json"))
        let chat: [String: Any] = ["messages": [["role": "user", "content": messages[0].content!]], "prompt": prompt,
                                   "ids": bundle.tokenizer.encode(prompt, addSpecialTokens: true)]
        try JSONSerialization.data(withJSONObject: chat).write(to: out.appendingPathComponent("align_chat.json"))
    }

    /// `ModelBundle.save(to:)` on a model loaded from a GGUF file writes the tokenizer files into
    /// the saved folder (atomically, with the weights), and saving again replaces the folder.
    @Test func bundleFromGGUFSavesTokenizerFiles() throws {
        let bundle = try ModelBundle(path: fixturesDirectory.appendingPathComponent("gguf/tiny-llama.f32.gguf").path)
        #expect(bundle.isGGUF && bundle.vocabulary != nil)
        let parent = try Self.temporaryFolder()
        defer { try? FileManager.default.removeItem(at: parent) }
        let out = parent.appendingPathComponent("saved")
        for _ in 0..<2 {
            try bundle.save(to: out)
            let names = Set(try FileManager.default.contentsOfDirectory(atPath: out.path))
            #expect(names.isSuperset(of: ["model.safetensors", "config.json", "tokenizer.json",
                                          "tokenizer_config.json", "special_tokens_map.json"]))
            #expect(try FileManager.default.contentsOfDirectory(atPath: parent.path) == ["saved"])  // no staging left
            let reloaded = try Tokenizer(directory: out)
            #expect(reloaded.vocabularySize == bundle.tokenizer.vocabularySize)
            #expect(reloaded.eosTokenID == bundle.tokenizer.eosTokenID && reloaded.eosTokenID == 2)
            for text in ["t1t2 t3", "t10t5t69", " t0 t2t7", "t2t1"] {
                #expect(reloaded.encode(text) == bundle.tokenizer.encode(text), "\(text)")
            }
        }
    }

    /// Extra files with path separators are refused before anything is written.
    @Test func extraFileNamesMustBePlain() throws {
        let bundle = try ModelBundle(path: fixturesDirectory.appendingPathComponent("gguf/tiny-llama.f32.gguf").path)
        let parent = try Self.temporaryFolder()
        defer { try? FileManager.default.removeItem(at: parent) }
        #expect(throws: (any Error).self) {
            try saveCausalLanguageModel(bundle.model, to: parent.appendingPathComponent("out"),
                                        extraFiles: ["../escape.json": Data("{}".utf8)])
        }
        #expect(try FileManager.default.contentsOfDirectory(atPath: parent.path).isEmpty)
    }
}
