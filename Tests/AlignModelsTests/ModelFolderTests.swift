import AlignKernels
import AlignModelIO
import AlignModels
import AlignTensor
import Foundation
import Testing
import TestSupport

/// The five tiny Hugging Face folders of Tests/Fixtures/models (scripts/fixtures/make_tiny_models.py).
let modelFixtureNames = ["llama", "llama_tied_gqa", "qwen2", "mistral", "gpt2"]

/// Logits of the fixtures' 2×9 batch (right-padded row 1) through any causal LM.
func fixtureLogits(_ model: any CausalLanguageModel, _ expected: GoldenFile) throws -> Tensor {
    let ids = try expected.ints("input_ids"), mask = try expected.tensor("attention_mask").toArray()
    return withNoGrad { model.logits(ids: ids, batch: 2, seq: 9, attentionMask: mask) }
}

/// Compares logits at unpadded positions and the summed log-probs of tokens 4…8 with the
/// transformers values in `expected.safetensors`.
func expectFixtureParity(_ logits: Tensor, _ expected: GoldenFile, _ name: String, atol: Float = 1e-4) throws {
    let ids = try expected.ints("input_ids"), mask = try expected.tensor("attention_mask").toArray()
    let (batch, seq) = (2, 9)
    let vocab = logits.shape[2]
    // transformers' values at padding positions are arbitrary: compare real tokens only.
    let rowMask = mask.flatMap { [Float](repeating: $0, count: vocab) }
    let ours = zip(logits.toArray(), rowMask).map { $1 == 0 ? 0 : $0 }
    let theirs = zip(try expected.tensor("logits").toArray(), rowMask).map { $1 == 0 ? 0 : $0 }
    expectClose(ours, theirs, atol: atol, rtol: atol, "\(name) logits")
    let completion = try expected.tensor("completion_mask").toArray()
    var targets = [Int32](repeating: -100, count: batch * seq)
    for b in 0..<batch { for t in 0..<(seq - 1) where completion[b * seq + t + 1] != 0 {
        targets[b * seq + t] = ids[b * seq + t + 1]
    } }
    let logps = withNoGrad { logits.logSoftmaxGather(targets: targets).reshaped([batch, seq]).sum(axis: 1) }
    expectClose(logps.toArray(), try expected.tensor("seq_logps_f64").toArray(), atol: atol, rtol: atol, "\(name) sequence log-probs")
}

/// A fresh empty folder under the temporary directory.
func makeScratchFolder() throws -> URL {
    let url = testScratchDirectory.appendingPathComponent("align-models-\(UUID().uuidString)")
    try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
    return url
}

/// With ALIGN_KEEP_SAVED=<dir>, copies a saved folder there for scripts/fixtures/check_saved_models.py
/// (a development check with transformers; tests never run Python). `logits` of `ids` go into
/// `align_logits.json` beside the copy for folders that have no fixture to compare with.
func keepForTransformersCheck(_ folder: URL, as name: String, logits: [Float]? = nil, ids: [Int32] = []) throws {
    guard let keep = ProcessInfo.processInfo.environment["ALIGN_KEEP_SAVED"] else { return }
    let kept = URL(fileURLWithPath: keep).appendingPathComponent(name)
    try? FileManager.default.removeItem(at: kept)
    try FileManager.default.createDirectory(at: kept.deletingLastPathComponent(), withIntermediateDirectories: true)
    try FileManager.default.copyItem(at: folder, to: kept)
    if let logits {
        let json = try JSONSerialization.data(withJSONObject: ["ids": ids.map(Int.init), "logits": logits.map(Double.init)])
        try json.write(to: kept.appendingPathComponent("align_logits.json"))
    }
}

@Suite struct ModelFolderTests {
    @Test(arguments: modelFixtureNames)
    func loaderDispatchesOnConfig(_ name: String) throws {
        let folder = fixturesDirectory.appendingPathComponent("models/\(name)")
        let model = try loadCausalLanguageModel(directory: folder)
        #expect((model is GPT2LMHeadModel) == (name == "gpt2"))
        #expect((model is LlamaForCausalLM) == (name != "gpt2"))
        let expected = try GoldenFile("models/\(name)/expected.safetensors")
        try expectFixtureParity(try fixtureLogits(model, expected), expected, name)
    }

    @Test func unknownArchitectureIsNamed() throws {
        let folder = try makeScratchFolder()
        defer { try? FileManager.default.removeItem(at: folder) }
        try Data(#"{"model_type": "bert", "architectures": ["BertForMaskedLM"]}"#.utf8)
            .write(to: folder.appendingPathComponent("config.json"))
        do {
            _ = try loadCausalLanguageModel(directory: folder)
            Issue.record("a BERT folder loaded")
        } catch let error as ModelError {
            #expect(error.description.contains("bert") && error.description.contains("BertForMaskedLM"))
        }
    }

    /// Load → save → load: the folder `save_pretrained` would write. With unchanged weights every
    /// file of the fixture folder comes back byte for byte (the safetensors file too: same names,
    /// tied weights once, F32, `{"format":"pt"}`, same header layout), and the reloaded model's
    /// logits are identical.
    ///
    /// Checked once during development (2026-11-22) by scripts/fixtures/check_saved_models.py:
    /// transformers 5.23 `from_pretrained` loads every folder saved here (ALIGN_KEEP_SAVED=<dir>)
    /// and gives the fixtures' logits (max |diff| 0 on real tokens).
    @Test(arguments: modelFixtureNames)
    func saveRoundTripsByteForByte(_ name: String) throws {
        let source = fixturesDirectory.appendingPathComponent("models/\(name)")
        let scratch = try makeScratchFolder()
        defer { try? FileManager.default.removeItem(at: scratch) }
        let destination = scratch.appendingPathComponent(name)
        let model = try loadCausalLanguageModel(directory: source)
        try saveCausalLanguageModel(model, to: destination, sourceDirectory: source)
        try keepForTransformersCheck(destination, as: name)
        let sourceFiles = try FileManager.default.contentsOfDirectory(atPath: source.path).filter { $0 != "expected.safetensors" }.sorted()
        let savedFiles = try FileManager.default.contentsOfDirectory(atPath: destination.path).sorted()
        #expect(savedFiles == sourceFiles)
        for file in sourceFiles {
            let a = try Data(contentsOf: source.appendingPathComponent(file))
            let b = try Data(contentsOf: destination.appendingPathComponent(file))
            #expect(a == b, "\(name)/\(file) differs after a load–save round trip")
        }
        let reloaded = try loadCausalLanguageModel(directory: destination)
        let expected = try GoldenFile("models/\(name)/expected.safetensors")
        #expect(try fixtureLogits(reloaded, expected).toArray() == fixtureLogits(model, expected).toArray())
        // Only the destination folder was created: no staging or backup folders are left.
        #expect(try FileManager.default.contentsOfDirectory(atPath: scratch.path) == [name])
    }

    @Test func changedWeightsAreSavedAndOverwriteAnExistingFolder() throws {
        let source = fixturesDirectory.appendingPathComponent("models/gpt2")
        let scratch = try makeScratchFolder()
        defer { try? FileManager.default.removeItem(at: scratch) }
        let destination = scratch.appendingPathComponent("out")
        let model = try GPT2LMHeadModel(directory: source)
        try saveCausalLanguageModel(model, to: destination, sourceDirectory: source)
        // Nudge one Conv1D weight and one bias, save over the same folder.
        let weight = model.blocks[1].mlp.cFc.weight
        weight.assign(weight.value * 1.5)
        let bias = model.lnF.bias!
        bias.assign(bias.value + 0.25)
        try saveCausalLanguageModel(model, to: destination, sourceDirectory: source)
        #expect(try FileManager.default.contentsOfDirectory(atPath: scratch.path) == ["out"])
        let reloaded = try GPT2LMHeadModel(directory: destination)
        #expect(reloaded.blocks[1].mlp.cFc.weight.value.toArray() == weight.value.toArray())
        #expect(reloaded.lnF.bias!.value.toArray() == bias.value.toArray())
        let ids: [Int32] = [264, 293, 86, 266, 71]
        let a = withNoGrad { model(ids: ids, batch: 1, seq: 5) }.toArray()
        let b = withNoGrad { reloaded(ids: ids, batch: 1, seq: 5) }.toArray()
        #expect(a == b)
        // The original differs, so the comparison above can fail.
        let original = try GPT2LMHeadModel(directory: source)
        #expect(withNoGrad { original(ids: ids, batch: 1, seq: 5) }.toArray() != a)
    }

    @Test func modelsBuiltInCodeGetGeneratedConfigs() throws {
        let scratch = try makeScratchFolder()
        defer { try? FileManager.default.removeItem(at: scratch) }
        let gpt2 = try GPT2LMHeadModel(GPT2Configuration(vocabSize: 50, nEmbd: 16, nHead: 4, nLayer: 2, nPositions: 16,
                                                         bosTokenId: 0, eosTokenId: 1), seed: 7)
        let llama = try LlamaForCausalLM(LlamaConfiguration(vocabSize: 50, hiddenSize: 16, intermediateSize: 32, numHiddenLayers: 2,
                                                            numAttentionHeads: 4, numKeyValueHeads: 2, tieWordEmbeddings: true), seed: 7)
        let ids: [Int32] = [3, 14, 15, 9, 2, 6]
        for (name, model) in [("gpt2", gpt2 as any CausalLanguageModel), ("llama", llama)] {
            let folder = scratch.appendingPathComponent(name)
            try saveCausalLanguageModel(model, to: folder)
            #expect(try FileManager.default.contentsOfDirectory(atPath: folder.path).sorted()
                    == ["config.json", "generation_config.json", "model.safetensors"])
            let config = try JSONDocument(contentsOf: folder.appendingPathComponent("config.json"))
            #expect(config.stringValue(forKey: "model_type") == name && config.stringValue(forKey: "dtype") == "float32")
            #expect(config.keys == config.keys.sorted())
            let file = try SafetensorsFile(url: folder.appendingPathComponent("model.safetensors"))
            #expect(file.metadata == ["format": "pt"])
            #expect(!file.tensorNames.contains("lm_head.weight"))  // tied: written once
            let reloaded = try loadCausalLanguageModel(directory: folder)
            let a = withNoGrad { model.logits(ids: ids, batch: 1, seq: 6) }.toArray()
            try keepForTransformersCheck(folder, as: "generated-\(name)", logits: a, ids: ids)
            #expect(withNoGrad { reloaded.logits(ids: ids, batch: 1, seq: 6) }.toArray() == a, "\(name)")
        }
        let generation = try JSONDocument(contentsOf: scratch.appendingPathComponent("gpt2/generation_config.json"))
        #expect(generation.keys == ["_from_model_config", "bos_token_id", "eos_token_id"])
    }

    @Test func configMergeKeepsUnknownKeysAndPublishedDecimals() throws {
        var original = try JSONDocument(data: Data(#"{"a": 1, "layer_norm_epsilon": 1e-05, "rope_scaling": {"type": "llama3", "factor": 8.0}, "z": "keep"}"#.utf8))
        let generated = try JSONDocument(data: Data(#"{"a": 2, "layer_norm_epsilon": 9.999999747378752e-06, "new": true, "rope_scaling": {"rope_type": "llama3", "factor": 8}}"#.utf8))
        var copy = original
        #expect(copy.merge(changesFrom: generated) == ["a"])
        #expect(String(decoding: copy.data(), as: UTF8.self)
                == "{\n  \"a\": 2,\n  \"layer_norm_epsilon\": 1e-05,\n  \"rope_scaling\": {\n    \"type\": \"llama3\",\n    \"factor\": 8.0\n  },\n  \"z\": \"keep\"\n}\n")
        #expect(original.merge(changesFrom: generated, insertingNewKeys: true) == ["a", "new"])
        #expect(original.keys == ["a", "layer_norm_epsilon", "new", "rope_scaling", "z"])
    }
}
