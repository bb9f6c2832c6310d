// Hostile config.json and checkpoint files: each is refused before anything is allocated from it,
// with an error naming the file and the key (issue: hostile files and bad settings).
import AlignModelIO
import AlignModels
import AlignTensor
import Foundation
import Testing
import TestSupport

@Suite struct ConfigValidationTests {
    /// A copy of a fixture model folder with `changes` merged into its config.json.
    func modelFolder(_ name: String = "llama", _ changesJSON: String) throws -> URL {
        let changes = try JSONSerialization.jsonObject(with: Data(changesJSON.utf8)) as! [String: Any]
        let folder = testScratchDirectory.appendingPathComponent("align-config-\(UUID().uuidString)")
        try FileManager.default.copyItem(at: fixturesDirectory.appendingPathComponent("models/\(name)"), to: folder)
        let url = folder.appendingPathComponent("config.json")
        var config = try JSONSerialization.jsonObject(with: Data(contentsOf: url)) as! [String: Any]
        for (k, v) in changes { config[k] = v }
        try JSONSerialization.data(withJSONObject: config).write(to: url)
        return folder
    }

    func loadError(_ folder: URL) -> String? {
        do { _ = try loadCausalLanguageModel(directory: folder) } catch { return "\(error)" }
        return nil
    }

    @Test("out-of-range and inconsistent Llama settings are refused naming config.json and the key",
          arguments: [
              (#"{"max_position_embeddings": -5}"#, "max_position_embeddings must be in 1..."),
              (#"{"num_hidden_layers": 1000000000}"#, "num_hidden_layers must be in 1...1024, got 1000000000"),
              (#"{"num_hidden_layers": 0}"#, "num_hidden_layers must be in 1...1024, got 0"),
              (#"{"num_hidden_layers": 3}"#, "num_hidden_layers is 3, but the checkpoint holds 2 layers"),
              (#"{"rms_norm_eps": -1}"#, "rms_norm_eps must be a finite number > 0"),
              (#"{"rope_theta": 0}"#, "rope_theta must be a finite number > 0"),
              (#"{"rope_theta": -10000}"#, "rope_theta must be a finite number > 0"),
              (#"{"hidden_act": "gelu_foo"}"#, #"hidden_act "gelu_foo" is not supported"#),
              (#"{"tie_word_embeddings": true}"#, "tie_word_embeddings is true, but the checkpoint has its own lm_head.weight"),
              (#"{"vocab_size": "abc"}"#, #"vocab_size: expected an integer, found "abc""#),
              (#"{"num_key_value_heads": 3}"#, "num_key_value_heads must divide num_attention_heads"),
              (#"{"eos_token_id": 100000}"#, "eos_token_id 100000 is outside the vocabulary"),
          ] as [(String, String)])
    func llamaSettings(change: String, expected: String) throws {
        let folder = try modelFolder("llama", change)
        let message = loadError(folder)
        #expect(message?.contains(expected) == true, "\(message ?? "loaded")")
        #expect(message?.contains("config.json") == true, "\(message ?? "loaded")")
        #expect(message?.contains("DecodingError") == false)
    }

    @Test("GPT-2 settings are checked the same way", arguments: [
        (#"{"n_positions": 0}"#, "n_positions must be in 1..."),
        (#"{"activation_function": "gelu_foo"}"#, #"activation_function "gelu_foo" is not supported"#),
        (#"{"layer_norm_epsilon": -1}"#, "layer_norm_epsilon must be a finite number > 0"),
        (#"{"n_layer": 1000000000}"#, "n_layer must be in 1...1024"),
    ] as [(String, String)])
    func gpt2Settings(change: String, expected: String) throws {
        let message = loadError(try modelFolder("gpt2", change))
        #expect(message?.contains(expected) == true, "\(message ?? "loaded")")
    }

    @Test("config.json that is not JSON gives line and column, not Foundation's text")
    func syntax() throws {
        let folder = try modelFolder("llama", "{}")
        try Data("{\"model_type\": \"llama\",\n  oops}".utf8).write(to: folder.appendingPathComponent("config.json"))
        let message = loadError(folder) ?? ""
        #expect(message.contains("config.json: not valid JSON") && message.contains("line 2"), "\(message)")
    }

    @Test("a weight stored with an integer dtype is refused naming the file and tensor")
    func integerWeights() throws {
        let folder = try modelFolder("llama", "{}")
        let url = folder.appendingPathComponent("model.safetensors")
        var bytes = [UInt8](try Data(contentsOf: url))
        // Relabel the first tensor's "F32" as "I32" in the header (same length, same data size).
        let header = Int(bytes[0]) | Int(bytes[1]) << 8 | Int(bytes[2]) << 16
        let needle: [UInt8] = Array("\"F32\"".utf8)
        let offset = try #require((8..<(8 + header - needle.count)).first { Array(bytes[$0..<($0 + needle.count)]) == needle })
        bytes[offset + 1] = UInt8(ascii: "I")
        try Data(bytes).write(to: url)
        let message = loadError(folder) ?? ""
        #expect(message.contains("model.safetensors") && message.contains("dtype I32") && message.contains("floating point"), "\(message)")
    }

    @Test("the position table bounds what the model reads; generation stops at its end")
    func positionTable() throws {
        var c = LlamaConfiguration(vocabSize: 32, hiddenSize: 16, intermediateSize: 32, numHiddenLayers: 1, numAttentionHeads: 2,
                                   maxPositionEmbeddings: 8)
        c.eosTokenId = nil
        let model = try LlamaForCausalLM(c, seed: 1)
        #expect(model.maxSequenceLength == 8)
        #expect(throws: ModelError.self) { try promptsFit([[1, 2, 3, 4, 5, 6, 7, 8, 9]], model: model) }
        try promptsFit([[1, 2, 3]], model: model)
        let out = withNoGrad { generate(model: model, prompts: [[1, 2, 3]], config: GenerationConfig(maxNewTokens: 100)) }
        #expect(out[0].count == 6)   // positions 3...7 fed back, plus the token predicted at position 7
        #expect(model.generate(prompts: [[1, 2, 3]], config: GenerationConfig(maxNewTokens: 100))[0].finishReason == .positionLimit)
        #expect(model.generate(prompts: [[1, 2, 3]], config: GenerationConfig(maxNewTokens: 6))[0].finishReason == .maxNewTokens)
        #expect(throws: ModelError.self) { try GenerationConfig.validate(maxNewTokens: 10, temperature: .nan) }
        #expect(throws: ModelError.self) { try GenerationConfig.validate(maxNewTokens: 10, temperature: 1, topP: 0) }
    }
}
