// Restoring checkpoints in place (CausalLanguageModel.loadWeights(from:)) and the reward model
// loaded through the architectures' weight mappings (Llama family and GPT-2).
import AlignKernels
import AlignModelIO
import AlignModels
import AlignNN
import AlignTensor
import Foundation
import Testing
import TestSupport

/// Every distinct parameter's values, by name.
private func values(_ module: Module) -> [String: [Float]] {
    Dictionary(module.namedParameters().map { ($0.name, $0.parameter.value.toArray()) }, uniquingKeysWith: { a, _ in a })
}

/// The parameters' identities, in order.
private func identities(_ module: Module) -> [ObjectIdentifier] {
    module.namedParameters().map { ObjectIdentifier($0.parameter) }
}

@Suite struct WeightRestoreTests {
    /// A saved folder restored into a model of the same configuration with other weights gives
    /// back the saved values bit for bit, in the same parameter objects (GPT-2's Conv1D weights
    /// transposed on the way, tied and untied heads alike).
    @Test(arguments: modelFixtureNames)
    func restoresInPlace(_ name: String) throws {
        let saved = try loadCausalLanguageModel(directory: fixturesDirectory.appendingPathComponent("models/\(name)"))
        let target: any CausalLanguageModel
        if let llama = saved as? LlamaForCausalLM {
            target = try LlamaForCausalLM(llama.configuration, seed: 9)
        } else {
            target = try GPT2LMHeadModel((saved as! GPT2LMHeadModel).configuration, seed: 9)
        }
        let scratch = try makeScratchFolder()
        defer { try? FileManager.default.removeItem(at: scratch) }
        try saveCausalLanguageModel(saved, to: scratch.appendingPathComponent("checkpoint"))
        #expect(values(target) != values(saved))
        let before = identities(target)
        try target.loadWeights(from: scratch.appendingPathComponent("checkpoint"))
        #expect(identities(target) == before)
        #expect(values(target) == values(saved), "\(name)")
        let expected = try GoldenFile("models/\(name)/expected.safetensors")
        #expect(try fixtureLogits(target, expected).toArray() == fixtureLogits(saved, expected).toArray())
    }

    /// A checkpoint of another shape is refused before anything is replaced: the model keeps its
    /// weights. So is one with another number of layers, and one whose weights are not floats.
    @Test func refusesWhatDoesNotFitAndChangesNothing() throws {
        let config = LlamaConfiguration(vocabSize: 40, hiddenSize: 16, intermediateSize: 32, numHiddenLayers: 2, numAttentionHeads: 2)
        let model = try LlamaForCausalLM(config, seed: 1)
        let original = values(model)
        let scratch = try makeScratchFolder()
        defer { try? FileManager.default.removeItem(at: scratch) }

        var wider = config
        wider.intermediateSize = 48
        try saveCausalLanguageModel(try LlamaForCausalLM(wider, seed: 2), to: scratch.appendingPathComponent("wider"))
        do {
            try model.loadWeights(from: scratch.appendingPathComponent("wider"))
            Issue.record("a checkpoint with another MLP width loaded")
        } catch let error as ModelError {
            #expect("\(error)".contains("mlp.gate_proj.weight has shape [48, 16]"), "\(error)")
        }
        #expect(values(model) == original)

        var deeper = config
        deeper.numHiddenLayers = 3
        try saveCausalLanguageModel(try LlamaForCausalLM(deeper, seed: 2), to: scratch.appendingPathComponent("deeper"))
        do {
            try model.loadWeights(from: scratch.appendingPathComponent("deeper"))
            Issue.record("a checkpoint with another layer count loaded")
        } catch let error as ModelError {
            #expect("\(error)".contains("num_hidden_layers is 2, but the checkpoint holds 3 layers"), "\(error)")
        }
        #expect(values(model) == original)

        // The last tensor (in load order) relabelled as 32-bit integers (same size, so the header
        // stays valid): found by the header check before the first tensor is replaced.
        let folder = scratch.appendingPathComponent("ints")
        try saveCausalLanguageModel(try LlamaForCausalLM(config, seed: 2), to: folder)
        let url = folder.appendingPathComponent("model.safetensors")
        var bytes = try Data(contentsOf: url)
        let headerLength = Int(bytes.prefix(8).withUnsafeBytes { $0.loadUnaligned(as: UInt64.self) })
        let header = String(decoding: bytes[8..<8 + headerLength], as: UTF8.self)
        let relabelled = header.replacingOccurrences(of: #""lm_head.weight":{"dtype":"F32""#, with: #""lm_head.weight":{"dtype":"I32""#)
        #expect(relabelled != header && relabelled.utf8.count == headerLength)
        bytes.replaceSubrange(8..<8 + headerLength, with: Data(relabelled.utf8))
        try bytes.write(to: url)
        do {
            try model.loadWeights(from: folder)
            Issue.record("integer weights loaded")
        } catch let error as ModelError {
            #expect("\(error)".contains("lm_head.weight has dtype I32"), "\(error)")
        }
        #expect(values(model) == original)
    }
}

@Suite struct RewardModelTests {
    /// Token ids of the fixtures' vocabulary, of several lengths.
    static let sequences: [[Int32]] = [[264, 293, 86, 266, 71, 2], [35, 290, 73, 223, 259, 78, 0, 2], [42]]

    /// Each architecture's body with a fresh score head saves as transformers'
    /// `…ForSequenceClassification` folder (checkpoint layouts, no LM head, `score.weight`) and
    /// loads back, and restores in place, with identical scores.
    @Test(arguments: [("llama", "LlamaForSequenceClassification"), ("qwen2", "Qwen2ForSequenceClassification"),
                      ("mistral", "MistralForSequenceClassification"), ("gpt2", "GPT2ForSequenceClassification")])
    func savesAndLoadsThroughTheWeightMapping(_ name: String, _ className: String) throws {
        let source = fixturesDirectory.appendingPathComponent("models/\(name)")
        let model = try RewardModel(directory: source, seed: 3)
        #expect(!model.namedParameters().contains { $0.name == "lm_head.weight" })
        #expect(model.padTokenID == 0)  // the fixtures' pad_token_id
        // The body computes what the causal LM does.
        let causal = try loadCausalLanguageModel(directory: source)
        let ids: [Int32] = [264, 293, 86, 266]
        #expect(withNoGrad { model.body.hiddenStates(ids: ids, batch: 1, seq: 4, attentionMask: nil, positions: nil) }.toArray()
                == withNoGrad { causal.hiddenStates(ids: ids, batch: 1, seq: 4, attentionMask: nil, positions: nil) }.toArray())

        let scratch = try makeScratchFolder()
        defer { try? FileManager.default.removeItem(at: scratch) }
        let folder = scratch.appendingPathComponent("reward")
        try model.save(to: folder, sourceDirectory: source)
        try keepForTransformersCheck(folder, as: "reward-\(name)")
        let config = try JSONSerialization.jsonObject(with: Data(contentsOf: folder.appendingPathComponent("config.json"))) as! [String: Any]
        #expect(config["architectures"] as? [String] == [className])
        #expect(config["model_type"] as? String == name)
        let saved = try SafetensorsFile(url: folder.appendingPathComponent("model.safetensors"))
        let original = try SafetensorsFile(url: source.appendingPathComponent("model.safetensors"))
        #expect(Set(saved.tensorNames) == Set(original.tensorNames).subtracting(["lm_head.weight"]).union(["score.weight"]))
        for tensor in original.tensorNames where tensor != "lm_head.weight" {
            // Stored as the causal LM's checkpoint stores it (GPT-2's Conv1D weights (in, out)).
            #expect(saved.info(tensor)?.shape == original.info(tensor)?.shape, "\(tensor)")
            #expect(try saved.loadFloat32(tensor).storage.toArray() == original.loadFloat32(tensor).storage.toArray(), "\(tensor)")
        }

        let loaded = try RewardModel(directory: folder)
        #expect(loaded.score.weight.value.toArray() == model.score.weight.value.toArray())
        #expect(loaded.score(Self.sequences) == model.score(Self.sequences))

        let fresh = try RewardModel(directory: source, seed: 4)
        #expect(fresh.score(Self.sequences) != model.score(Self.sequences))
        let before = identities(fresh)
        try fresh.loadWeights(from: folder)
        #expect(identities(fresh) == before)
        #expect(fresh.score(Self.sequences) == model.score(Self.sequences))
    }

    /// A GGUF causal LM gives a reward model on its decoder with a fresh head; the pad id falls
    /// back to the configuration's (the GGUF tokenizer's padding id).
    @Test func ggufBodyWithAFreshHead() throws {
        let file = try GGUFFile(url: fixturesDirectory.appendingPathComponent("gguf/tiny-llama.f32.gguf"))
        let model = try RewardModel(gguf: file, seed: 5)
        #expect(model.body is LlamaForCausalLM && model.padTokenID == 0)
        #expect(!model.namedParameters().contains { $0.name == "lm_head.weight" })
        #expect(model.score.weight.shape == [1, model.body.hiddenSize])
        let again = try RewardModel(gguf: file, seed: 5)
        #expect(again.score(Self.sequences) == model.score(Self.sequences))
    }
}
