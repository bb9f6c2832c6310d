import AlignHub
import AlignModelIO
import AlignModels
import AlignTensor
import AlignTokenizers
import Foundation
import Testing
import TestSupport

/// Second models beside a bundle's tokenizer (references), and reward models through AlignHub.
@Suite struct ModelBundleTests {
    static let ids: [Int32] = [264, 293, 86, 266, 71, 2]

    static func logits(_ model: any CausalLanguageModel) -> [Float] {
        withNoGrad { model.logits(ids: ids, batch: 1, seq: ids.count) }.toArray()
    }

    static func scratch() throws -> URL {
        let url = testScratchDirectory.appendingPathComponent("align-bundle-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
        return url
    }

    /// The default reference is a second copy of the policy's weights with the very same
    /// tokenizer and template objects, from a folder or a GGUF file.
    @Test(arguments: ["models/qwen2", "gguf/tiny-llama.f32.gguf"])
    func referenceSharesTheTokenizer(_ path: String) throws {
        let policy = try ModelBundle(path: fixturesDirectory.appendingPathComponent(path).path)
        let reference = try policy.withModel()
        #expect(reference.tokenizer === policy.tokenizer)
        #expect(reference.chatTemplate?.template.source == policy.chatTemplate?.template.source)
        #expect(reference.chatTemplate?.origin == policy.chatTemplate?.origin)
        #expect(reference.model !== policy.model)
        #expect(reference.source == policy.source && reference.tokenizerSource == policy.source && reference.isGGUF == policy.isGGUF)
        #expect(Self.logits(reference.model) == Self.logits(policy.model))
        reference.model.freeze()
        #expect(!policy.model.trainableParameters().isEmpty)
    }

    /// Another model (here a GGUF file beside a folder's tokenizer) loads only its weights; saving
    /// that bundle takes the config from the model's source and the tokenizer files from the
    /// tokenizer's.
    @Test func referenceFromAnotherPath() throws {
        let folder = fixturesDirectory.appendingPathComponent("models/qwen2")
        let gguf = fixturesDirectory.appendingPathComponent("gguf/tiny-llama.f32.gguf")
        let policy = try ModelBundle(path: folder.path)
        let reference = try policy.withModel(loadedFrom: gguf.path)
        #expect(reference.tokenizer === policy.tokenizer)
        #expect(reference.source == gguf && reference.isGGUF && reference.tokenizerSource == folder && reference.vocabulary == nil)
        #expect(Self.logits(reference.model) == Self.logits(try ModelBundle(path: gguf.path).model))

        let scratch = try Self.scratch()
        defer { try? FileManager.default.removeItem(at: scratch) }
        let out = scratch.appendingPathComponent("saved")
        try reference.save(to: out)
        #expect(try Data(contentsOf: out.appendingPathComponent("tokenizer.json")) == Data(contentsOf: folder.appendingPathComponent("tokenizer.json")))
        #expect(try Data(contentsOf: out.appendingPathComponent("chat_template.jinja")) == Data(contentsOf: folder.appendingPathComponent("chat_template.jinja")))
        let config = try JSONSerialization.jsonObject(with: Data(contentsOf: out.appendingPathComponent("config.json"))) as! [String: Any]
        #expect(config["model_type"] as? String == "llama")  // the GGUF model's, not the folder's qwen2
    }

    /// The policy's tokenizer must fit the other model's embedding table; the error names both.
    @Test func referenceWithTooFewEmbeddingRowsIsRefused() throws {
        let policy = try ModelBundle(path: fixturesDirectory.appendingPathComponent("models/llama").path)
        let scratch = try Self.scratch()
        defer { try? FileManager.default.removeItem(at: scratch) }
        let small = scratch.appendingPathComponent("small")
        let config = LlamaConfiguration(vocabSize: 200, hiddenSize: 16, intermediateSize: 32, numHiddenLayers: 1, numAttentionHeads: 2)
        try saveCausalLanguageModel(try LlamaForCausalLM(config, seed: 1), to: small)
        do {
            _ = try policy.withModel(loadedFrom: small.path)
            Issue.record("a 200-row model took a 300-id tokenizer")
        } catch let error as TokenizerError {
            #expect(error.source == fixturesDirectory.appendingPathComponent("models/llama/tokenizer.json").path)
            #expect(error.reason.contains("only 200 embedding rows (vocab_size in config.json of \(small.appendingPathComponent("config.json").path))"),
                    "\(error)")
        }
    }

    /// A reward model from a folder through AlignHub: the tokenizer's pad id, the folder's
    /// tokenizer and config in the saved folder.
    @Test func rewardModelFromAFolder() throws {
        let folder = fixturesDirectory.appendingPathComponent("models/llama")
        let bundle = try RewardModelBundle(path: folder.path, seed: 2)
        #expect(bundle.model.padTokenID == Int32(bundle.tokenizer.padTokenID ?? bundle.tokenizer.eosTokenID ?? -1))
        let direct = try RewardModel(directory: folder, seed: 2)
        let sequences: [[Int32]] = [Self.ids, [42, 7]]
        #expect(bundle.model.score(sequences) == direct.score(sequences))
        let scratch = try Self.scratch()
        defer { try? FileManager.default.removeItem(at: scratch) }
        try bundle.save(to: scratch)
        #expect(try Data(contentsOf: scratch.appendingPathComponent("tokenizer.json")) == Data(contentsOf: folder.appendingPathComponent("tokenizer.json")))
        let reloaded = try RewardModelBundle(path: scratch.path)
        #expect(reloaded.model.score(sequences) == bundle.model.score(sequences))
    }

    /// A reward model on a GGUF causal LM: the file's tokenizer, and a saved folder whose
    /// tokenizer files are generated from it and which loads back with the same scores.
    @Test func rewardModelFromAGGUFFile() throws {
        let gguf = fixturesDirectory.appendingPathComponent("gguf/tiny-llama.f32.gguf")
        let bundle = try RewardModelBundle(path: gguf.path, seed: 3)
        #expect(bundle.isGGUF && bundle.model.body is LlamaForCausalLM)
        let policy = try ModelBundle(path: gguf.path)
        #expect(bundle.tokenizer.encode("Hello there") == policy.tokenizer.encode("Hello there"))
        let scratch = try Self.scratch()
        defer { try? FileManager.default.removeItem(at: scratch) }
        try bundle.save(to: scratch)
        let config = try JSONSerialization.jsonObject(with: Data(contentsOf: scratch.appendingPathComponent("config.json"))) as! [String: Any]
        #expect(config["architectures"] as? [String] == ["LlamaForSequenceClassification"])
        let reloaded = try RewardModelBundle(path: scratch.path)
        #expect(reloaded.tokenizer.encode("Hello there") == bundle.tokenizer.encode("Hello there"))
        let sequences: [[Int32]] = [Self.ids, [42, 7]]
        #expect(reloaded.model.score(sequences) == bundle.model.score(sequences))
    }
}
