// GGUF <-> Hugging Face mapping for the llama architecture, against llama.cpp's converter and
// transformers' GGUF loader (fixtures from scripts/make_modelio_fixtures.py, step "llama").
import AlignKernels
import Foundation
import Testing
@testable import AlignModelIO

private let llamaFolder = fixturesURL.appendingPathComponent("llama")

@Suite("Llama GGUF mapping")
struct LlamaGGUFTests {
    @Test("tensors load under transformers' names with Q/K un-permuted, matching its values", arguments: ["f32", "q8_0"])
    func matchesTransformers(variant: String) throws {
        let file = try GGUFFile(url: llamaFolder.appendingPathComponent("tiny-llama-\(variant).gguf"))
        let expected = try SafetensorsFile(url: llamaFolder.appendingPathComponent("tiny-llama-\(variant).expected.safetensors"))
        let (config, tensors) = try LlamaGGUF.loadHuggingFaceTensors(from: file)
        #expect(Set(tensors.map(\.name)) == Set(expected.tensorNames))
        #expect(tensors.count == 21)
        for tensor in tensors {
            let (shape, storage) = try expected.loadFloat32(tensor.name)
            #expect(tensor.shape == shape, "\(tensor.name)")
            let error = maxAbsDifference(tensor.storage.toArray(), storage.toArray())
            #expect(error <= 1e-6, "\(tensor.name): max error \(error)")
        }
        #expect(config.headCount == 4 && config.keyValueHeadCount == 2 && config.headDimension == 8)
        // Without un-permuting, q_proj would differ: the test can tell the layouts apart.
        let rawQ = try file.loadFloat32("blk.0.attn_q.weight").storage.toArray()
        let wantQ = try expected.loadFloat32("model.layers.0.self_attn.q_proj.weight").storage.toArray()
        #expect(maxAbsDifference(rawQ, wantQ) > 1e-3)
    }

    @Test("the config matches transformers' config for the GGUF")
    func config() throws {
        let file = try GGUFFile(url: llamaFolder.appendingPathComponent("tiny-llama-f32.gguf"))
        let config = try LlamaConfig(gguf: file)
        let data = try Data(contentsOf: llamaFolder.appendingPathComponent("tiny-llama-f32.config.json"))
        let want = try JSONSerialization.jsonObject(with: data) as! [String: Any]
        let got = config.huggingFaceDictionary
        for (key, value) in want {
            let number = value as? NSNumber
            if key == "tie_word_embeddings" {
                #expect(got[key] as? Bool == (value as? Bool), "\(key)")
            } else if key == "model_type" {
                #expect(got[key] as? String == value as? String)
            } else if key == "rms_norm_eps" || key == "rope_theta" {
                // transformers keeps the float32's widened value (9.999999747378752e-06); we
                // recover the published decimal (1e-05). Identical once in fp32.
                #expect(Float(got[key] as! Double) == Float(number!.doubleValue), "\(key)")
            } else {
                #expect(got[key] as? Int == number?.intValue, "\(key): \(String(describing: got[key])) vs \(value)")
            }
        }
        #expect(got["rms_norm_eps"] as? Double == 1e-5)
        #expect(!config.tieWordEmbeddings && config.vocabularySize == 64 && config.maxPositionEmbeddings == 128)
        let json = try JSONSerialization.jsonObject(with: try config.huggingFaceJSON()) as! [String: Any]
        #expect(json["num_key_value_heads"] as? Int == 2)
        // A head size decoupled from hidden / heads survives a GGUF round trip (key_length).
        let folder = try makeTemporaryFolder()
        defer { removeTemporaryFolder(folder) }
        var wide = config
        wide.headDimension = 16
        wide.tieWordEmbeddings = true
        let url = folder.appendingPathComponent("wide.gguf")
        try LlamaGGUF.write(huggingFaceTensors: [], config: wide, to: url)
        #expect(try LlamaConfig(gguf: GGUFFile(url: url)) == wide)
        // Not a llama file: refused.
        let quants = try GGUFFile(url: fixturesURL.appendingPathComponent("gguf/quants.gguf"))
        guard case .unsupported? = expectModelIOError({ _ = try LlamaConfig(gguf: quants) }) else {
            Issue.record("expected .unsupported"); return
        }
    }

    @Test("names map both ways; unknown names map to nil")
    func names() {
        let pairs = [
            ("token_embd.weight", "model.embed_tokens.weight"),
            ("output_norm.weight", "model.norm.weight"),
            ("output.weight", "lm_head.weight"),
            ("blk.0.attn_q.weight", "model.layers.0.self_attn.q_proj.weight"),
            ("blk.11.attn_k.weight", "model.layers.11.self_attn.k_proj.weight"),
            ("blk.3.attn_v.weight", "model.layers.3.self_attn.v_proj.weight"),
            ("blk.3.attn_output.weight", "model.layers.3.self_attn.o_proj.weight"),
            ("blk.29.ffn_gate.weight", "model.layers.29.mlp.gate_proj.weight"),
            ("blk.29.ffn_up.weight", "model.layers.29.mlp.up_proj.weight"),
            ("blk.29.ffn_down.weight", "model.layers.29.mlp.down_proj.weight"),
            ("blk.7.attn_norm.weight", "model.layers.7.input_layernorm.weight"),
            ("blk.7.ffn_norm.weight", "model.layers.7.post_attention_layernorm.weight"),
            // Qwen2's (and biased Llamas') attention biases.
            ("blk.1.attn_q.bias", "model.layers.1.self_attn.q_proj.bias"),
            ("blk.1.attn_k.bias", "model.layers.1.self_attn.k_proj.bias"),
            ("blk.1.attn_v.bias", "model.layers.1.self_attn.v_proj.bias"),
        ]
        for (gguf, hf) in pairs {
            #expect(LlamaGGUF.huggingFaceName(forGGUFName: gguf) == hf)
            #expect(LlamaGGUF.ggufName(forHuggingFaceName: hf) == gguf)
        }
        for bad in ["rope_freqs.weight", "blk.x.attn_q.weight", "blk.01.attn_q.weight", "blk.-1.attn_q.weight", "blk.1.ffn_up.bias", "blk.1"] {
            #expect(LlamaGGUF.huggingFaceName(forGGUFName: bad) == nil, "\(bad)")
        }
        for bad in ["model.layers.1.mlp.up_proj.bias", "model.layers.a.mlp.up_proj.weight", "lm_head.bias"] {
            #expect(LlamaGGUF.ggufName(forHuggingFaceName: bad) == nil, "\(bad)")
        }
    }

    @Test("the rotary permutation is llama.cpp's and the inverse undoes it")
    func permutation() {
        // 2 heads of dimension 4, one column: HF rows [h0: a0 a1 b0 b1] become [a0 b0 a1 b1].
        let storage = TensorStorage(copying: [0, 1, 2, 3, 10, 11, 12, 13])
        let permuted = LlamaGGUF.permuteRotaryRows(storage, rows: 8, heads: 2, toGGUF: true)
        #expect(permuted.toArray() == [0, 2, 1, 3, 10, 12, 11, 13])
        let back = LlamaGGUF.permuteRotaryRows(permuted, rows: 8, heads: 2, toGGUF: false)
        #expect(back.toArray() == storage.toArray())
        let wide = TensorStorage(copying: (0..<48).map(Float.init))
        let round = LlamaGGUF.permuteRotaryRows(LlamaGGUF.permuteRotaryRows(wide, rows: 12, heads: 3, toGGUF: false), rows: 12, heads: 3, toGGUF: true)
        #expect(round.toArray() == wide.toArray())
    }

    // Files written here were checked once with Python (22:39 UTC, 2026-11-22): gguf.GGUFReader
    // reads back every tensor (names, ne order, types F32/F16) and metadata, and transformers'
    // from_pretrained(gguf_file=...) loads them into LlamaForCausalLM with weights equal to the
    // original HF tensors (max |diff| 0 for F32, <= fp16 rounding for F16). See the
    // "verify-swift-gguf" step of scripts/make_modelio_fixtures.py.
    @Test("writing HF tensors as F32 GGUF reproduces llama.cpp's converter tensor for tensor")
    func writeMatchesConverter() throws {
        let folder = try makeTemporaryFolder()
        defer { removeTemporaryFolder(folder) }
        let reference = try GGUFFile(url: llamaFolder.appendingPathComponent("tiny-llama-f32.gguf"))
        let hf = try SafetensorsFile(url: llamaFolder.appendingPathComponent("tiny-llama-f32.expected.safetensors"))
        let config = try LlamaConfig(gguf: reference)
        let tensors = try hf.tensorNames.map { name -> LlamaGGUF.NamedTensor in
            let (shape, storage) = try hf.loadFloat32(name)
            return (name, shape, storage)
        }
        let tokens = reference.metadata["tokenizer.ggml.tokens"]!
        for type in [GGMLType.f32, .f16] {
            let url = folder.appendingPathComponent("tiny-\(type).gguf")
            try LlamaGGUF.write(huggingFaceTensors: tensors, config: config, name: "tiny",
                                extraMetadata: [("tokenizer.ggml.model", .string("llama")), ("tokenizer.ggml.tokens", tokens)],
                                type: type, to: url)
            // For the one-off check by Python (scripts/make_modelio_fixtures.py verify-swift-gguf DIR):
            // ALIGN_MODELIO_KEEP=DIR keeps copies of the files written here.
            if let keep = ProcessInfo.processInfo.environment["ALIGN_MODELIO_KEEP"] {
                let copy = URL(fileURLWithPath: keep).appendingPathComponent(url.lastPathComponent)
                try? FileManager.default.removeItem(at: copy)
                try FileManager.default.copyItem(at: url, to: copy)
            }
            let written = try GGUFFile(url: url)
            #expect(written.architecture == "llama" && written.metadata["general.name"]?.stringValue == "tiny")
            #expect(try LlamaConfig(gguf: written) == config)
            #expect(written.metadata["tokenizer.ggml.tokens"] == tokens)
            #expect(Set(written.tensors.map(\.name)) == Set(reference.tensors.map(\.name)))
            for info in reference.tensors {
                let mine = try #require(written.tensor(named: info.name))
                #expect(mine.dimensions == info.dimensions, "\(info.name)")
                #expect(mine.type == (type == .f16 && info.dimensions.count == 2 ? .f16 : .f32), "\(info.name)")
                let want = try reference.loadFloat32(info.name).storage.toArray()
                let got = try written.loadFloat32(info.name).storage.toArray()
                if type == .f32 || info.dimensions.count == 1 {  // norms stay F32, as in llama.cpp
                    #expect(got == want, "\(info.name): data differs from llama.cpp's conversion")
                } else {
                    #expect(got == want.map { halfBitsToFloat(floatToHalfBits($0)) }, "\(info.name)")
                }
            }
            // And back to HF names: the original weights (exact for F32).
            let (_, reloaded) = try LlamaGGUF.loadHuggingFaceTensors(from: written)
            for tensor in reloaded where type == .f32 {
                #expect(tensor.storage.toArray() == (try hf.loadFloat32(tensor.name).storage.toArray()), "\(tensor.name)")
            }
        }
        // A tied model drops lm_head on write and reports the tie on read.
        var tied = config
        tied.tieWordEmbeddings = true
        let tiedURL = folder.appendingPathComponent("tied.gguf")
        try LlamaGGUF.write(huggingFaceTensors: tensors, config: tied, type: .f32, to: tiedURL)
        let tiedFile = try GGUFFile(url: tiedURL)
        #expect(tiedFile.tensor(named: "output.weight") == nil)
        #expect(try LlamaConfig(gguf: tiedFile).tieWordEmbeddings)
        // Unknown names are refused.
        let bad: [LlamaGGUF.NamedTensor] = [("model.rotary.inv_freq", [4], TensorStorage(copying: [1, 2, 3, 4]))]
        guard case .invalidArgument? = expectModelIOError({ try LlamaGGUF.write(huggingFaceTensors: bad, config: config, to: tiedURL) }) else {
            Issue.record("expected .invalidArgument"); return
        }
    }
}
