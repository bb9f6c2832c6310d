import AlignKernels
import AlignModelIO
import AlignModels
import AlignTensor
import Foundation
import Testing
import TestSupport

private let ggufFolder = fixturesDirectory.appendingPathComponent("gguf")

private let smolLM2URL: URL = {
    let cache = ProcessInfo.processInfo.environment["ALIGN_CACHE"]
        ?? FileManager.default.homeDirectoryForCurrentUser.appendingPathComponent(".cache/align").path
    return URL(fileURLWithPath: cache).appendingPathComponent("smollm2/SmolLM2-135M-Instruct.Q4_1.gguf")
}()

/// Whole Llama models from GGUF files (fixtures from scripts/fixtures/make_gguf_model_fixtures.py):
/// models/llama_tied_gqa written as GGUF (F32 and Q8_0), compared with what transformers computes
/// after loading the same GGUF file, and with the original Hugging Face model.
@Suite struct GGUFModelTests {
    /// F32: the GGUF holds the HF weights exactly, so the logits match transformers (and the
    /// original HF model, which the script checked to be identical) to fp32 rounding.
    /// Q8_0: against transformers on the same (dequantised) file the bound stays 1e-5; against the
    /// original fp32 model the quantisation error is real: the script measured 0.031 (logits) and
    /// 0.019 (sequence log-probs), so the bounds there are 0.05 and 0.03.
    @Test(arguments: [("f32", Float(1e-5), Float(1e-5)), ("q8_0", Float(0.05), Float(0.03))])
    func tinyLlamaMatchesTransformers(_ variant: String, _ logitBound: Float, _ logpBound: Float) throws {
        let model = try LlamaForCausalLM(gguf: ggufFolder.appendingPathComponent("tiny-llama.\(variant).gguf"))
        let c = model.configuration
        #expect(c.tieWordEmbeddings && model.lmHead == nil && c.numKeyValueHeads == 2 && c.vocabSize == 300)
        #expect(c.rmsNormEps == 1e-5 && c.ropeTheta == 10_000 && c.maxPositionEmbeddings == 128)
        #expect(c.bosTokenId == 0 && c.eosTokenId == .one(2) && c.padTokenId == 0)
        let expected = try GoldenFile("gguf/tiny-llama.\(variant).expected.safetensors")
        let logits = try fixtureLogits(model, expected)
        let mask = try expected.tensor("attention_mask").toArray()
        let rowMask = mask.flatMap { [Float](repeating: $0, count: 300) }
        func real(_ values: [Float]) -> [Float] { zip(values, rowMask).map { $1 == 0 ? 0 : $0 } }
        let ours = real(logits.toArray())
        expectClose(ours, real(try expected.tensor("logits").toArray()), atol: 1e-5, rtol: 1e-5, "\(variant) logits vs transformers(GGUF)")
        expectClose(ours, real(try expected.tensor("hf_logits").toArray()), atol: logitBound, rtol: 0, "\(variant) logits vs original HF")
        let logps = sequenceLogProbs(logits, ids: try expected.ints("input_ids"), completion: try expected.tensor("completion_mask").toArray())
        expectClose(logps, try expected.tensor("seq_logps").toArray(), atol: 1e-5, rtol: 1e-5, "\(variant) log-probs vs transformers(GGUF)")
        expectClose(logps, try expected.tensor("hf_seq_logps").toArray(), atol: logpBound, rtol: 0, "\(variant) log-probs vs original HF")
    }

    /// The loader takes a `.gguf` path; a Q8_0 model really is quantised (differs from F32).
    @Test func loaderAcceptsGGUFPaths() throws {
        let f32 = try loadCausalLanguageModel(directory: ggufFolder.appendingPathComponent("tiny-llama.f32.gguf"))
        let q8 = try loadCausalLanguageModel(directory: ggufFolder.appendingPathComponent("tiny-llama.q8_0.gguf"))
        #expect(f32 is LlamaForCausalLM && q8 is LlamaForCausalLM)
        let ids: [Int32] = [264, 293, 86, 266]
        #expect(withNoGrad { f32.logits(ids: ids, batch: 1, seq: 4) }.toArray() != withNoGrad { q8.logits(ids: ids, batch: 1, seq: 4) }.toArray())
        // A GGUF of another architecture is refused by name.
        do {
            _ = try loadCausalLanguageModel(directory: fixturesDirectory.appendingPathComponent("../AlignModelIOTests/Fixtures/gguf/quants.gguf"))
            Issue.record("a non-llama GGUF loaded")
        } catch let error as ModelError {
            #expect(error.description.contains("GGUF architecture"))
        }
    }

    /// A GGUF-loaded model saves as a Hugging Face folder (generated config) with the F32 weights
    /// of the original checkpoint: the same tensors, bit for bit.
    @Test func ggufModelSavesAsHuggingFaceFolder() throws {
        let model = try LlamaForCausalLM(gguf: ggufFolder.appendingPathComponent("tiny-llama.f32.gguf"))
        let scratch = try makeScratchFolder()
        defer { try? FileManager.default.removeItem(at: scratch) }
        let folder = scratch.appendingPathComponent("from-gguf")
        try saveCausalLanguageModel(model, to: folder)
        let saved = try SafetensorsFile(url: folder.appendingPathComponent("model.safetensors"))
        let original = try SafetensorsFile(url: fixturesDirectory.appendingPathComponent("models/llama_tied_gqa/model.safetensors"))
        #expect(saved.tensorNames == original.tensorNames)
        for name in original.tensorNames {
            #expect(try saved.loadFloat32(name).storage.toArray() == original.loadFloat32(name).storage.toArray(), "\(name)")
        }
        let reloaded = try loadCausalLanguageModel(directory: folder)
        let expected = try GoldenFile("gguf/tiny-llama.f32.expected.safetensors")
        #expect(try fixtureLogits(reloaded, expected).toArray() == fixtureLogits(model, expected).toArray())
    }

    /// The real SmolLM2-135M-Instruct Q4_1 file: summed log-probs of a short chat exchange within
    /// 1e-3 of transformers loading the same GGUF (which dequantises to fp32 as Align does).
    @Test(.enabled(if: FileManager.default.fileExists(atPath: smolLM2URL.path), "SmolLM2 GGUF absent: run scripts/fetch-assets.sh"))
    func smolLM2LogProbsMatchTransformers() throws {
        let start = Date()
        let model = try LlamaForCausalLM(gguf: smolLM2URL)
        let loadSeconds = Date().timeIntervalSince(start)
        print("SmolLM2-135M Q4_1 GGUF load (dequantise to fp32): \(String(format: "%.2f", loadSeconds)) s")
        #expect(model.configuration.numHiddenLayers == 30 && model.configuration.tieWordEmbeddings)
        let data = try Data(contentsOf: ggufFolder.appendingPathComponent("smollm2_logprobs.json"))
        let want = try JSONSerialization.jsonObject(with: data) as! [String: Any]
        let ids = (want["ids"] as! [NSNumber]).map { Int32($0.intValue) }
        let seq = ids.count
        let logits = withNoGrad { model(ids: ids, batch: 1, seq: seq) }
        var targets = [Int32](repeating: -100, count: seq)
        for t in 0..<(seq - 1) { targets[t] = ids[t + 1] }
        let tokenLogps = withNoGrad { logits.logSoftmaxGather(targets: targets) }.toArray()
        let sum = tokenLogps.reduce(0, +)
        let wantSum = (want["sum_logps"] as! NSNumber).floatValue
        print("SmolLM2 summed log-probs: Align \(sum), transformers \(wantSum), |diff| \(abs(sum - wantSum))")
        #expect(abs(sum - wantSum) <= 1e-3, "summed log-probs \(sum) vs transformers \(wantSum)")
        let wantTokens = (want["token_logps"] as! [NSNumber]).map(\.floatValue)
        expectClose(Array(tokenLogps.prefix(seq - 1)), wantTokens, atol: 1e-3, rtol: 0, "SmolLM2 per-token log-probs")
        let lastLogits = Array(logits.toArray()[((seq - 1) * model.configuration.vocabSize)...].prefix(16))
        expectClose(lastLogits, (want["last_logits_first16"] as! [NSNumber]).map(\.floatValue), atol: 1e-3, rtol: 1e-4, "SmolLM2 last logits")
    }
}

/// Summed log-probs of the tokens the completion mask selects (target t+1 from position t).
func sequenceLogProbs(_ logits: Tensor, ids: [Int32], completion: [Float]) -> [Float] {
    let (batch, seq) = (logits.shape[0], logits.shape[1])
    var targets = [Int32](repeating: -100, count: batch * seq)
    for b in 0..<batch { for t in 0..<(seq - 1) where completion[b * seq + t + 1] != 0 {
        targets[b * seq + t] = ids[b * seq + t + 1]
    } }
    return withNoGrad { logits.logSoftmaxGather(targets: targets).reshaped([batch, seq]).sum(axis: 1) }.toArray()
}
