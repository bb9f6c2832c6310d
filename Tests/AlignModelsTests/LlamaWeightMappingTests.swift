// The Llama family's weight mapping (Llama/LlamaWeightMapping.swift): GGUF <-> Hugging Face names,
// layouts and configuration, against llama.cpp's converter and transformers' GGUF loader (fixtures
// from scripts/make_modelio_fixtures.py, step "llama", kept beside the format tests).
import AlignKernels
import Foundation
import Testing
import TestSupport
@testable import AlignModelIO
@testable import AlignModels

/// AlignModelIO's fixtures folder: the tiny llama GGUF files and the real SmolLM2's checksums.
let modelIOFixtures = fixturesDirectory.appendingPathComponent("../AlignModelIOTests/Fixtures").standardizedFileURL
private let llamaFolder = modelIOFixtures.appendingPathComponent("llama")

/// The largest absolute difference between two equally long arrays (infinity if lengths differ).
func maxAbsDifference(_ a: [Float], _ b: [Float]) -> Float {
    guard a.count == b.count else { return .infinity }
    return zip(a, b).reduce(0) { max($0, abs($1.0 - $1.1)) }
}

/// Runs `body` and returns the `ModelIOError` it throws (failing the test if it throws nothing).
func expectModelIOError(_ body: () throws -> Void, sourceLocation: SourceLocation = #_sourceLocation) -> ModelIOError? {
    do {
        try body()
        Issue.record("expected a ModelIOError, nothing was thrown", sourceLocation: sourceLocation)
    } catch let error as ModelIOError {
        return error
    } catch {
        Issue.record("expected a ModelIOError, got \(error)", sourceLocation: sourceLocation)
    }
    return nil
}

@Suite("Llama weight mapping (GGUF)")
struct LlamaWeightMappingTests {
    @Test("tensors load under transformers' names with Q/K un-permuted, matching its values", arguments: ["f32", "q8_0"])
    func matchesTransformers(variant: String) throws {
        let file = try GGUFFile(url: llamaFolder.appendingPathComponent("tiny-llama-\(variant).gguf"))
        let expected = try SafetensorsFile(url: llamaFolder.appendingPathComponent("tiny-llama-\(variant).expected.safetensors"))
        let (config, tensors) = try LlamaWeightMapping.loadHuggingFaceTensors(from: file)
        #expect(Set(tensors.map(\.name)) == Set(expected.tensorNames))
        #expect(tensors.count == 21)
        for tensor in tensors {
            let (shape, storage) = try expected.loadFloat32(tensor.name)
            #expect(tensor.shape == shape, "\(tensor.name)")
            let error = maxAbsDifference(tensor.storage.toArray(), storage.toArray())
            #expect(error <= 1e-6, "\(tensor.name): max error \(error)")
        }
        #expect(config.numAttentionHeads == 4 && config.numKeyValueHeads == 2 && config.resolvedHeadDim == 8)
        // Without un-permuting, q_proj would differ: the test can tell the layouts apart.
        let rawQ = try file.loadFloat32("blk.0.attn_q.weight").storage.toArray()
        let wantQ = try expected.loadFloat32("model.layers.0.self_attn.q_proj.weight").storage.toArray()
        #expect(maxAbsDifference(rawQ, wantQ) > 1e-3)
    }

    @Test("the config matches transformers' config for the GGUF")
    func config() throws {
        let file = try GGUFFile(url: llamaFolder.appendingPathComponent("tiny-llama-f32.gguf"))
        let config = try LlamaConfiguration(gguf: file)
        let data = try Data(contentsOf: llamaFolder.appendingPathComponent("tiny-llama-f32.config.json"))
        let want = try JSONSerialization.jsonObject(with: data) as! [String: Any]
        // The config.json written for it (by `align convert`, or a model saved from it).
        let got = try JSONSerialization.jsonObject(with: config.huggingFaceConfiguration(dtype: "float32").data()) as! [String: Any]
        for (key, value) in want {
            let number = value as? NSNumber
            if key == "tie_word_embeddings" {
                #expect(got[key] as? Bool == (value as? Bool), "\(key)")
            } else if key == "model_type" || key == "hidden_act" {
                #expect(got[key] as? String == value as? String, "\(key)")
            } else if key == "rms_norm_eps" || key == "rope_theta" {
                // transformers keeps the float32's widened value (9.999999747378752e-06); we
                // write the float32's shortest decimal (1e-05). Identical once in fp32.
                #expect(Float((got[key] as! NSNumber).doubleValue) == Float(number!.doubleValue), "\(key)")
            } else if key == "head_dim" {
                // Written only when it differs from hidden_size / num_attention_heads, as transformers reads it.
                #expect(got[key] == nil && config.resolvedHeadDim == number?.intValue, "\(key)")
            } else {
                #expect((got[key] as? NSNumber)?.intValue == number?.intValue, "\(key): \(String(describing: got[key])) vs \(value)")
            }
        }
        #expect((got["rms_norm_eps"] as? NSNumber)?.doubleValue == 1e-5)
        #expect(!config.tieWordEmbeddings && config.vocabSize == 64 && config.maxPositionEmbeddings == 128)
        #expect(config.modelType == "llama" && config.architectures == ["LlamaForCausalLM"] && !config.attentionBias)
        // A head size decoupled from hidden / heads survives a GGUF round trip (key_length).
        let folder = try makeScratchFolder()
        defer { try? FileManager.default.removeItem(at: folder) }
        var wide = config
        wide.headDim = 16
        wide.tieWordEmbeddings = true
        let url = folder.appendingPathComponent("wide.gguf")
        try LlamaWeightMapping.writeGGUF(huggingFaceTensors: [], configuration: wide, to: url)
        #expect(try LlamaConfiguration(gguf: GGUFFile(url: url)) == wide)
        // Not a llama file: refused.
        let quants = try GGUFFile(url: modelIOFixtures.appendingPathComponent("gguf/quants.gguf"))
        guard case .unsupported? = expectModelIOError({ _ = try LlamaConfiguration(gguf: quants) }) else {
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
            #expect(LlamaWeightMapping.huggingFaceName(forGGUFName: gguf) == hf)
            #expect(LlamaWeightMapping.ggufName(forHuggingFaceName: hf) == gguf)
        }
        for bad in ["rope_freqs.weight", "blk.x.attn_q.weight", "blk.01.attn_q.weight", "blk.-1.attn_q.weight", "blk.1.ffn_up.bias", "blk.1"] {
            #expect(LlamaWeightMapping.huggingFaceName(forGGUFName: bad) == nil, "\(bad)")
        }
        for bad in ["model.layers.1.mlp.up_proj.bias", "model.layers.a.mlp.up_proj.weight", "lm_head.bias"] {
            #expect(LlamaWeightMapping.ggufName(forHuggingFaceName: bad) == nil, "\(bad)")
        }
    }

    @Test("the rotary permutation is llama.cpp's and the inverse undoes it")
    func permutation() {
        // 2 heads of dimension 4, one column: HF rows [h0: a0 a1 b0 b1] become [a0 b0 a1 b1].
        let storage = TensorStorage(copying: [0, 1, 2, 3, 10, 11, 12, 13])
        let permuted = LlamaWeightMapping.permuteRotaryRows(storage, rows: 8, heads: 2, toGGUF: true)
        #expect(permuted.toArray() == [0, 2, 1, 3, 10, 12, 11, 13])
        let back = LlamaWeightMapping.permuteRotaryRows(permuted, rows: 8, heads: 2, toGGUF: false)
        #expect(back.toArray() == storage.toArray())
        let wide = TensorStorage(copying: (0..<48).map(Float.init))
        let round = LlamaWeightMapping.permuteRotaryRows(LlamaWeightMapping.permuteRotaryRows(wide, rows: 12, heads: 3, toGGUF: false), rows: 12, heads: 3, toGGUF: true)
        #expect(round.toArray() == wide.toArray())
    }

    // Files written here were checked once with Python (22:39 UTC, 2026-11-22): gguf.GGUFReader
    // reads back every tensor (names, ne order, types F32/F16) and metadata, and transformers'
    // from_pretrained(gguf_file=...) loads them into LlamaForCausalLM with weights equal to the
    // original HF tensors (max |diff| 0 for F32, <= fp16 rounding for F16). See the
    // "verify-swift-gguf" step of scripts/make_modelio_fixtures.py.
    @Test("writing HF tensors as F32 GGUF reproduces llama.cpp's converter tensor for tensor")
    func writeMatchesConverter() throws {
        let folder = try makeScratchFolder()
        defer { try? FileManager.default.removeItem(at: folder) }
        let reference = try GGUFFile(url: llamaFolder.appendingPathComponent("tiny-llama-f32.gguf"))
        let hf = try SafetensorsFile(url: llamaFolder.appendingPathComponent("tiny-llama-f32.expected.safetensors"))
        let config = try LlamaConfiguration(gguf: reference)
        let tensors = try hf.tensorNames.map { name -> LlamaWeightMapping.NamedTensor in
            let (shape, storage) = try hf.loadFloat32(name)
            return (name, shape, storage)
        }
        let tokens = reference.metadata["tokenizer.ggml.tokens"]!
        for type in [GGMLType.f32, .f16] {
            let url = folder.appendingPathComponent("tiny-\(type).gguf")
            try LlamaWeightMapping.writeGGUF(huggingFaceTensors: tensors, configuration: config, name: "tiny",
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
            #expect(try LlamaConfiguration(gguf: written) == config)
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
            let (_, reloaded) = try LlamaWeightMapping.loadHuggingFaceTensors(from: written)
            for tensor in reloaded where type == .f32 {
                #expect(tensor.storage.toArray() == (try hf.loadFloat32(tensor.name).storage.toArray()), "\(tensor.name)")
            }
        }
        // A tied model drops lm_head on write and reports the tie on read.
        var tied = config
        tied.tieWordEmbeddings = true
        let tiedURL = folder.appendingPathComponent("tied.gguf")
        try LlamaWeightMapping.writeGGUF(huggingFaceTensors: tensors, configuration: tied, type: .f32, to: tiedURL)
        let tiedFile = try GGUFFile(url: tiedURL)
        #expect(tiedFile.tensor(named: "output.weight") == nil)
        #expect(try LlamaConfiguration(gguf: tiedFile).tieWordEmbeddings)
        // Unknown names are refused.
        let bad: [LlamaWeightMapping.NamedTensor] = [("model.rotary.inv_freq", [4], TensorStorage(copying: [1, 2, 3, 4]))]
        guard case .invalidArgument? = expectModelIOError({ try LlamaWeightMapping.writeGGUF(huggingFaceTensors: bad, configuration: config, to: tiedURL) }) else {
            Issue.record("expected .invalidArgument"); return
        }
    }

    /// Found by FuzzGGUF: a llama Q projection stored with zero rows passed the "rows split into
    /// heads" check (0 is a multiple of anything) and the un-permutation then divided by zero.
    @Test("a llama GGUF whose Q projection has zero rows is refused, naming the file")
    func ggufZeroRowQProjection() throws {
        let folder = try makeScratchFolder()
        defer { try? FileManager.default.removeItem(at: folder) }
        let config = LlamaConfiguration(vocabSize: 4, hiddenSize: 8, intermediateSize: 16, numHiddenLayers: 1, numAttentionHeads: 2,
                                        numKeyValueHeads: 1, maxPositionEmbeddings: 16, tieWordEmbeddings: true)
        let url = folder.appendingPathComponent("zero-rows.gguf")
        try GGUFWriter.write(metadata: [("general.architecture", .string("llama"))] + config.ggufMetadata(),
                             tensors: [.init(name: "blk.0.attn_q.weight", shape: [0, 8], storage: TensorStorage(count: 0))],
                             to: url)
        let file = try GGUFFile(url: url)
        let error = expectModelIOError {
            _ = try LlamaWeightMapping.loadTensor("model.layers.0.self_attn.q_proj.weight", from: file, configuration: try LlamaConfiguration(gguf: file))
        }
        #expect(error?.path == url.path)
        #expect(error?.reason.contains("has shape [0, 8], which does not split into 2 heads") == true, "\(String(describing: error))")
    }

    /// Found by FuzzGGUF: a llama GGUF with neither `vocab_size` nor a token list takes its vocabulary
    /// size from `token_embd.weight`'s rows, and a tensor of no dimensions (GGUF allows a scalar)
    /// trapped on `shape[0]`. Written by hand: GGUFWriter refuses zero-dimension tensors.
    @Test("a llama GGUF whose token_embd.weight has no dimensions is refused, naming the file")
    func ggufScalarTokenEmbedding() throws {
        let folder = try makeScratchFolder()
        defer { try? FileManager.default.removeItem(at: folder) }
        var bytes = Data("GGUF".utf8)
        func u32(_ v: UInt32) { withUnsafeBytes(of: v.littleEndian) { bytes.append(contentsOf: $0) } }
        func u64(_ v: UInt64) { withUnsafeBytes(of: v.littleEndian) { bytes.append(contentsOf: $0) } }
        func string(_ s: String) { u64(UInt64(s.utf8.count)); bytes.append(contentsOf: Array(s.utf8)) }
        let integers: [(String, UInt32)] = [
            ("llama.context_length", 64), ("llama.embedding_length", 8), ("llama.block_count", 1),
            ("llama.feed_forward_length", 16), ("llama.attention.head_count", 2),
        ]
        u32(3)                                   // version
        u64(1)                                   // tensors
        u64(UInt64(1 + integers.count))          // metadata entries
        string("general.architecture"); u32(8); string("llama")
        for (key, value) in integers { string(key); u32(4); u32(value) }
        string("token_embd.weight"); u32(0); u32(0); u64(0)  // no dimensions, F32, offset 0
        bytes.append(contentsOf: [UInt8](repeating: 0, count: (32 - bytes.count % 32) % 32))
        u32(0)                                   // the scalar's one element
        let url = folder.appendingPathComponent("scalar-embedding.gguf")
        try bytes.write(to: url)
        let file = try GGUFFile(url: url)
        #expect(file.tensor(named: "token_embd.weight")?.shape == [])
        let error = expectModelIOError { _ = try LlamaConfiguration(gguf: file) }
        #expect(error?.path == url.path)
        #expect(error?.reason.contains("token_embd.weight has no dimensions") == true, "\(String(describing: error))")
    }
}

private let smolLM2Path: URL = {
    let cache = ProcessInfo.processInfo.environment["ALIGN_CACHE"]
        ?? FileManager.default.homeDirectoryForCurrentUser.appendingPathComponent(".cache/align").path
    return URL(fileURLWithPath: cache).appendingPathComponent("smollm2/SmolLM2-135M-Instruct.Q4_1.gguf")
}()

/// The real SmolLM2-135M-Instruct Q4_1 GGUF (fetched by scripts/fetch-assets.sh) through the Llama
/// mapping, checked against transformers' loading of the same file (checksums in AlignModelIOTests'
/// Fixtures/smollm2_checksums.json).
@Suite("SmolLM2 GGUF mapping (real file)",
       .enabled(if: FileManager.default.fileExists(atPath: smolLM2Path.path), "SmolLM2 GGUF absent: run scripts/fetch-assets.sh"))
struct SmolLM2MappingTests {
    @Test("the configuration is transformers'")
    func configuration() throws {
        let file = try GGUFFile(url: smolLM2Path)
        let config = try LlamaConfiguration(gguf: file)
        let data = try Data(contentsOf: modelIOFixtures.appendingPathComponent("smollm2_checksums.json"))
        let want = (try JSONSerialization.jsonObject(with: data) as! [String: Any])["config"] as! [String: Any]
        let got = try JSONSerialization.jsonObject(with: config.huggingFaceConfiguration(dtype: "float32").data()) as! [String: Any]
        for (key, value) in want {
            if let flag = value as? Bool, key == "tie_word_embeddings" {
                #expect(got[key] as? Bool == flag)
            } else {
                #expect((got[key] as? NSNumber)?.intValue == (value as? NSNumber)?.intValue, "\(key)")
            }
        }
        #expect(config.rmsNormEps == 1e-5 && config.ropeTheta == 100_000)
        #expect(config.bosTokenId == 1 && config.eosTokenId == .one(2))
    }

    @Test("every tensor maps to a Hugging Face name, and sampled tensors match transformers' checksums")
    func checksums() throws {
        let file = try GGUFFile(url: smolLM2Path)
        let config = try LlamaConfiguration(gguf: file)
        let names = file.tensors.compactMap { LlamaWeightMapping.huggingFaceName(forGGUFName: $0.name) }
        #expect(names.count == 272)  // tied: no lm_head
        let data = try Data(contentsOf: modelIOFixtures.appendingPathComponent("smollm2_checksums.json"))
        let object = try JSONSerialization.jsonObject(with: data) as! [String: Any]
        #expect(object["tensor_count"] as? Int == names.count + 1)  // transformers lists the tied lm_head too
        let tensors = object["tensors"] as! [String: [String: Any]]
        for (name, want) in tensors {
            #expect(names.contains(name))
            let tensor = try LlamaWeightMapping.loadTensor(name, from: file, configuration: config)
            #expect(tensor.shape == (want["shape"] as! [NSNumber]).map(\.intValue), "\(name)")
            var sum = 0.0, squares = 0.0, weighted = 0.0
            let values = UnsafeBufferPointer(start: tensor.storage.pointer, count: tensor.storage.count)
            for i in 0..<values.count {
                let v = Double(values[i])
                sum += v
                squares += v * v
                weighted += v * Double(i % 1013)
            }
            func close(_ a: Double, _ b: Double, _ what: String) {
                #expect(abs(a - b) <= 1e-6 * max(abs(b), 1) + 1e-9 * Double(values.count), "\(name) \(what): \(a) vs \(b)")
            }
            close(sum, (want["sum"] as! NSNumber).doubleValue, "sum")
            close(squares, (want["sum_squares"] as! NSNumber).doubleValue, "sum of squares")
            close(weighted, (want["weighted_sum"] as! NSNumber).doubleValue, "weighted sum")
            let first = (want["first"] as! [NSNumber]).map { Float($0.doubleValue) }
            #expect(Array(values.prefix(first.count)) == first, "\(name)")
        }
    }
}
