import AlignHub
import AlignKernels
import AlignModelIO
import AlignModels
import AlignTemplates
import AlignTensor
import AlignTokenizers
import Foundation
import Testing
import TestSupport

/// Hugging Face folder → GGUF (`ModelBundle.saveGGUF`, what `align convert --format gguf` runs)
/// → Hugging Face folder (`ModelBundle.save`), on the tiny Llama (tied, GQA), Mistral and Qwen2
/// fixtures: every step keeps the tokenizer, the chat template and the model's outputs.
/// (transformers' GGUF reader on the same files: scripts/fixtures/check_gguf_export.py.)
@Suite struct GGUFExportTests {
    static func temporaryFolder() throws -> URL {
        let url = testScratchDirectory.appendingPathComponent("align-gguf-export-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
        return url
    }

    /// Texts whose ids must agree: words, punctuation, contractions, digits, runs of spaces and
    /// newlines, non-ASCII, special tokens written in the text.
    static let texts = [
        "Hello world", "The quick brown fox jumps over the lazy dog.", "  spaces   and\nnewlines\n\n end",
        "don't stop: 123 4567, it's 8.90!", "héllo wörld — ☃ ✓", "<|im_start|>user\nhi<|im_end|>\n<|endoftext|>",
    ]

    static let conversation = [
        ChatMessage(role: "system", content: "You are terse."), ChatMessage(role: "user", content: "What is 2+2?"),
        ChatMessage(role: "assistant", content: "4."), ChatMessage(role: "user", content: "And 3+3?"),
    ]

    /// `other` tokenizes, renders the chat template and scores like `reference`: equal ids with and
    /// without special tokens, the same template text and rendering, logits and summed log-probs
    /// within 1e-5 (F32 files hold the weights exactly).
    static func expectSameBehaviour(_ other: ModelBundle, as reference: ModelBundle, _ what: String) throws {
        #expect(other.tokenizer.chatTemplate == reference.tokenizer.chatTemplate && reference.tokenizer.chatTemplate != nil, "\(what): chat template")
        #expect(other.tokenizer.eosTokenID == reference.tokenizer.eosTokenID, "\(what): eos")
        #expect(other.tokenizer.padTokenID == reference.tokenizer.padTokenID, "\(what): pad")
        let prompt = try #require(reference.chatTemplate).render(messages: conversation, addGenerationPrompt: true)
        #expect(try #require(other.chatTemplate).render(messages: conversation, addGenerationPrompt: true) == prompt, "\(what): rendered chat")
        for text in texts + [prompt] {
            for special in [false, true] {
                #expect(other.tokenizer.encode(text, addSpecialTokens: special) == reference.tokenizer.encode(text, addSpecialTokens: special),
                        "\(what): ids of \(text.debugDescription)")
            }
            let ids = reference.tokenizer.encode(text, addSpecialTokens: false)
            #expect(other.tokenizer.decode(ids) == reference.tokenizer.decode(ids), "\(what): decoding \(text.debugDescription)")
        }
        let ids = reference.tokenizer.encode(prompt + "4+2 is 6, and 3+3 is 6.", addSpecialTokens: true).map(Int32.init)
        let seq = ids.count
        let (a, b) = withNoGrad { (reference.model.logits(ids: ids, batch: 1, seq: seq), other.model.logits(ids: ids, batch: 1, seq: seq)) }
        expectClose(b.toArray(), a.toArray(), atol: 1e-5, rtol: 0, "\(what): logits")
        let targets = (0..<seq).map { $0 + 1 < seq ? ids[$0 + 1] : Int32(-100) }
        let (logpA, logpB) = withNoGrad { (a.logSoftmaxGather(targets: targets).toArray(), b.logSoftmaxGather(targets: targets).toArray()) }
        expectClose(logpB, logpA, atol: 1e-5, rtol: 0, "\(what): token log-probs")
        expectClose([logpB.reduce(0, +)], [logpA.reduce(0, +)], atol: 1e-5, rtol: 0, "\(what): summed log-probs")
    }

    @Test(arguments: ["llama_tied_gqa", "mistral", "qwen2"])
    func folderToGGUFToFolderKeepsEverything(_ name: String) throws {
        let folder = fixturesDirectory.appendingPathComponent("models/\(name)")
        let original = try ModelBundle(path: folder.path)
        let scratch = try Self.temporaryFolder()
        defer { try? FileManager.default.removeItem(at: scratch) }

        // HF → GGUF: the file names the architecture and carries the tokenizer.
        let ggufURL = scratch.appendingPathComponent("\(name).gguf")
        try original.saveGGUF(to: ggufURL)
        let file = try GGUFFile(url: ggufURL)
        let architecture = name == "qwen2" ? "qwen2" : "llama"
        #expect(file.architecture == architecture)
        #expect(file.metadata["general.name"]?.stringValue == ["llama_tied_gqa": "Llama_Tied_Gqa", "mistral": "Mistral", "qwen2": "Qwen2"][name])
        #expect(file.metadata["\(architecture).block_count"]?.intValue == 2)
        #expect(file.metadata["\(architecture).attention.head_count_kv"]?.intValue == 2)
        #expect(file.metadata["tokenizer.ggml.model"]?.stringValue == "gpt2")
        #expect(file.metadata["tokenizer.ggml.pre"]?.stringValue == "gpt2")
        #expect(file.metadata["tokenizer.ggml.tokens"]?.arrayValue?.count == 300)
        #expect(file.metadata["tokenizer.ggml.merges"]?.arrayValue?.count == 41)
        #expect(file.metadata["tokenizer.ggml.token_type"]?.arrayValue?.prefix(4).compactMap(\.intValue) == [3, 3, 3, 1])
        #expect(file.metadata["tokenizer.ggml.eos_token_id"]?.intValue == 2)
        #expect(file.metadata["tokenizer.ggml.padding_token_id"]?.intValue == 0)
        #expect(file.metadata["tokenizer.ggml.bos_token_id"] == nil)  // the tokenizer has none
        #expect(file.metadata["tokenizer.ggml.add_bos_token"]?.boolValue == false)
        #expect(file.metadata["tokenizer.chat_template"]?.stringValue == original.tokenizer.chatTemplate)
        #expect((file.tensor(named: "output.weight") == nil) == (name == "llama_tied_gqa"))

        // Q/K rows: permuted for llama (as llama.cpp's converter does), as they are for qwen2, whose
        // q/k/v biases are written too.
        let weights = try SafetensorsFile(url: folder.appendingPathComponent("model.safetensors"))
        let hfQ = try weights.loadFloat32("model.layers.0.self_attn.q_proj.weight").storage
        let ggufQ = try file.loadFloat32("blk.0.attn_q.weight").storage
        if name == "qwen2" {
            #expect(ggufQ.toArray() == hfQ.toArray())
            for part in ["q", "k", "v"] {
                #expect(try file.loadFloat32("blk.1.attn_\(part).bias").storage.toArray()
                        == weights.loadFloat32("model.layers.1.self_attn.\(part)_proj.bias").storage.toArray())
            }
        } else {
            #expect(ggufQ.toArray() == LlamaWeightMapping.permuteRotaryRows(hfQ, rows: 32, heads: 4, toGGUF: true).toArray())
            #expect(file.tensor(named: "blk.0.attn_q.bias") == nil)
        }

        let fromGGUF = try ModelBundle(path: ggufURL.path)
        let llama = try #require(fromGGUF.model as? LlamaForCausalLM)
        #expect(llama.configuration.modelType == (name == "qwen2" ? "qwen2" : "llama"))
        #expect(llama.configuration.attentionBias == (name == "qwen2"))
        try Self.expectSameBehaviour(fromGGUF, as: original, "\(name) HF→GGUF")

        // GGUF → HF: the folder has the tokenizer files, the template in tokenizer_config.json.
        let back = scratch.appendingPathComponent("back")
        try fromGGUF.save(to: back)
        let tokenizerConfig = try JSONSerialization.jsonObject(with: Data(contentsOf: back.appendingPathComponent("tokenizer_config.json"))) as! [String: Any]
        #expect(tokenizerConfig["chat_template"] as? String == original.tokenizer.chatTemplate)
        let config = try JSONSerialization.jsonObject(with: Data(contentsOf: back.appendingPathComponent("config.json"))) as! [String: Any]
        #expect(config["model_type"] as? String == (name == "qwen2" ? "qwen2" : "llama"))
        let roundTrip = try ModelBundle(path: back.path)
        try Self.expectSameBehaviour(roundTrip, as: original, "\(name) HF→GGUF→HF")

        // And back to GGUF once more: the same tokenizer metadata as the first file.
        let again = scratch.appendingPathComponent("again.gguf")
        try roundTrip.saveGGUF(to: again)
        let second = try GGUFFile(url: again)
        for key in file.metadataKeys where key.hasPrefix("tokenizer.") {
            #expect(second.metadata[key] == file.metadata[key], "\(key) after HF→GGUF→HF→GGUF")
        }
        #expect(Set(second.metadataKeys.filter { $0.hasPrefix("tokenizer.") }) == Set(file.metadataKeys.filter { $0.hasPrefix("tokenizer.") }))
    }

    /// A Llama with a SentencePiece-style tokenizer in the Llama-2 layout (the spm_legacy tokenizer
    /// fixture, its test-only strip/normalized flags cleared, and random weights): written as a
    /// "llama" vocabulary with scores, and the GGUF and the folder converted back tokenize, render
    /// (`{{ bos_token }}` included) and score as the folder does.
    @Test func sentencePieceLlamaRoundTrip() throws {
        let scratch = try Self.temporaryFolder()
        defer { try? FileManager.default.removeItem(at: scratch) }
        let folder = scratch.appendingPathComponent("spm-llama")
        let configuration = LlamaConfiguration(vocabSize: 961, hiddenSize: 32, intermediateSize: 64, numHiddenLayers: 2,
                                               numAttentionHeads: 4, numKeyValueHeads: 2, maxPositionEmbeddings: 128)
        try saveCausalLanguageModel(try LlamaForCausalLM(configuration, seed: 7), to: folder)
        let tokenizerFixture = fixturesDirectory.deletingLastPathComponent().appendingPathComponent("AlignTokenizersTests/Fixtures/spm_legacy")
        var json = try JSONSerialization.jsonObject(with: Data(contentsOf: tokenizerFixture.appendingPathComponent("tokenizer.json"))) as! [String: Any]
        json["added_tokens"] = (json["added_tokens"] as! [[String: Any]]).map { token in
            var token = token
            for flag in ["lstrip", "rstrip", "single_word", "normalized"] { token[flag] = false }
            return token
        }
        try JSONSerialization.data(withJSONObject: json).write(to: folder.appendingPathComponent("tokenizer.json"))
        try FileManager.default.copyItem(at: tokenizerFixture.appendingPathComponent("tokenizer_config.json"),
                                         to: folder.appendingPathComponent("tokenizer_config.json"))
        let original = try ModelBundle(path: folder.path)
        #expect(original.tokenizer.chatTemplate?.hasPrefix("{{ bos_token }}") == true)

        let ggufURL = scratch.appendingPathComponent("spm.gguf")
        try original.saveGGUF(to: ggufURL)
        let file = try GGUFFile(url: ggufURL)
        #expect(file.metadata["tokenizer.ggml.model"]?.stringValue == "llama" && file.metadata["tokenizer.ggml.pre"] == nil)
        #expect(file.metadata["tokenizer.ggml.scores"]?.arrayValue?.count == 961)
        #expect(file.metadata["tokenizer.ggml.add_bos_token"] == .bool(true) && file.metadata["tokenizer.ggml.bos_token_id"] == .uint32(1))
        #expect(file.metadata["tokenizer.ggml.add_space_prefix"] == .bool(true) && file.metadata["tokenizer.ggml.unknown_token_id"] == .uint32(0))
        let fromGGUF = try ModelBundle(path: ggufURL.path)
        try Self.expectSameBehaviour(fromGGUF, as: original, "SentencePiece HF→GGUF")
        let back = scratch.appendingPathComponent("back")
        try fromGGUF.save(to: back)
        try Self.expectSameBehaviour(try ModelBundle(path: back.path), as: original, "SentencePiece HF→GGUF→HF")
    }

    /// SmolLM2's real vocabulary (49152 tokens, llama.cpp's "smollm" pre-tokenizer, llama.cpp's own
    /// converter's file): GGUF → Hugging Face tokenizer files → GGUF entries gives back every
    /// `tokenizer.*` entry of the original file, value and type.
    @Test(.enabled(if: hasSmolLM2, "run scripts/fetch-assets.sh to fetch SmolLM2"))
    func smolLM2TokenizerSurvivesTheRoundTrip() throws {
        let file = try GGUFFile(url: smolLM2GGUF)
        let original = try BPEVocabulary(gguf: file)
        let scratch = try Self.temporaryFolder()
        defer { try? FileManager.default.removeItem(at: scratch) }
        for (name, data) in try original.huggingFaceTokenizerFiles() { try data.write(to: scratch.appendingPathComponent(name)) }
        let again = try Tokenizer(directory: scratch).ggufVocabulary(vocabularySize: original.tokens.count)
        #expect(again.preTokenizerName == "smollm")
        let written = Dictionary(again.ggufMetadata.map { ($0.key, $0.value) }, uniquingKeysWith: { a, _ in a })
        let keys = file.metadataKeys.filter { $0.hasPrefix("tokenizer.") }
        #expect(keys.count >= 8)
        for key in keys { #expect(written[key] == file.metadata[key], "\(key)") }
        // llama.cpp's converter left out add_eos_token (false by default); Align writes it.
        #expect(Set(written.keys).subtracting(keys) == ["tokenizer.ggml.add_eos_token"])
        #expect(written["tokenizer.ggml.add_eos_token"] == .bool(false))
    }

    /// A GGUF file converted to GGUF again keeps its tokenizer metadata (nothing regenerated).
    @Test func ggufToGGUFCopiesTokenizer() throws {
        let source = fixturesDirectory.appendingPathComponent("gguf/tiny-llama.f32.gguf")
        let scratch = try Self.temporaryFolder()
        defer { try? FileManager.default.removeItem(at: scratch) }
        let out = scratch.appendingPathComponent("copy.gguf")
        try ModelBundle(path: source.path).saveGGUF(to: out)
        let (a, b) = (try GGUFFile(url: source), try GGUFFile(url: out))
        for key in a.metadataKeys where key.hasPrefix("tokenizer.") { #expect(b.metadata[key] == a.metadata[key], "\(key)") }
    }

    /// Llama-3 RoPE scaling has no GGUF form that the readers turn back into the setting, so the
    /// `llama` fixture (rope_scaling llama3) is refused, and no file is left behind.
    @Test func ropeScalingIsRefused() throws {
        let bundle = try ModelBundle(path: fixturesDirectory.appendingPathComponent("models/llama").path)
        let scratch = try Self.temporaryFolder()
        defer { try? FileManager.default.removeItem(at: scratch) }
        let out = scratch.appendingPathComponent("llama.gguf")
        do {
            try bundle.saveGGUF(to: out)
            Issue.record("a llama3-scaled model was written to GGUF")
        } catch let error as ModelError {
            #expect(error.description.contains("rope_scaling \"llama3\""))
        }
        #expect(try FileManager.default.contentsOfDirectory(atPath: scratch.path).isEmpty)
    }

    /// A tokenizer GGUF cannot express is refused by name rather than written as another one.
    @Test func inexpressibleTokenizersAreRefused() throws {
        let scratch = try Self.temporaryFolder()
        defer { try? FileManager.default.removeItem(at: scratch) }
        let source = fixturesDirectory.appendingPathComponent("models/qwen2/tokenizer.json")
        var json = try JSONSerialization.jsonObject(with: Data(contentsOf: source)) as! [String: Any]
        // Whitespace splitting: no llama.cpp pre-tokenizer does that.
        json["pre_tokenizer"] = ["type": "Sequence", "pretokenizers": [["type": "WhitespaceSplit"],
                                 ["type": "ByteLevel", "add_prefix_space": false, "trim_offsets": true, "use_regex": false]]]
        let url = scratch.appendingPathComponent("tokenizer.json")
        try JSONSerialization.data(withJSONObject: json).write(to: url)
        #expect(throws: TokenizerError.self) { try Tokenizer(tokenizerJSON: url).ggufVocabulary() }
        // Two tokens added before each sequence: GGUF has one BOS.
        json = try JSONSerialization.jsonObject(with: Data(contentsOf: source)) as! [String: Any]
        json["post_processor"] = ["type": "TemplateProcessing",
                                  "single": [["SpecialToken": ["id": "<|im_start|>", "type_id": 0]],
                                             ["SpecialToken": ["id": "<|endoftext|>", "type_id": 0]],
                                             ["Sequence": ["id": "A", "type_id": 0]]],
                                  "special_tokens": ["<|im_start|>": ["id": "<|im_start|>", "ids": [1], "tokens": ["<|im_start|>"]],
                                                     "<|endoftext|>": ["id": "<|endoftext|>", "ids": [0], "tokens": ["<|endoftext|>"]]]]
        try JSONSerialization.data(withJSONObject: json).write(to: url)
        #expect(throws: TokenizerError.self) { try Tokenizer(tokenizerJSON: url).ggufVocabulary() }
        // One BOS added: written as the BOS id with add_bos_token.
        json["post_processor"] = ["type": "TemplateProcessing",
                                  "single": [["SpecialToken": ["id": "<|im_start|>", "type_id": 0]], ["Sequence": ["id": "A", "type_id": 0]]],
                                  "special_tokens": ["<|im_start|>": ["id": "<|im_start|>", "ids": [1], "tokens": ["<|im_start|>"]]]]
        try JSONSerialization.data(withJSONObject: json).write(to: url)
        let tokenizer = try Tokenizer(tokenizerJSON: url)
        let vocabulary = try tokenizer.ggufVocabulary()
        #expect(vocabulary.addsBOS && vocabulary.bosTokenID == 1 && !vocabulary.addsEOS)
        #expect(try Tokenizer(vocabulary: vocabulary).encode("hi there") == tokenizer.encode("hi there"))
        #expect(tokenizer.encode("hi there").first == 1)
    }

    /// A model with more embedding rows than tokens gets llama.cpp's `[PAD<id>]` tokens (type
    /// unused), which never come out of encoding.
    @Test func vocabularyIsPaddedToTheEmbedding() throws {
        let tokenizer = try Tokenizer(directory: fixturesDirectory.appendingPathComponent("models/qwen2"))
        let vocabulary = try tokenizer.ggufVocabulary(vocabularySize: 304)
        #expect(vocabulary.tokens.count == 304 && vocabulary.tokens[302] == "[PAD302]" && vocabulary.tokenTypes?[303] == 5)
        let padded = try Tokenizer(vocabulary: vocabulary)
        for text in Self.texts { #expect(padded.encode(text) == tokenizer.encode(text)) }
    }
}
